//! `hostile-sftp-server [--case CASE]... [ROOTDIR]`: an SFTP v3 server on stdin/stdout that
//! serves the filesystem honestly except for directories named `evil`, whose listings also
//! carry hostile names (`..`, `a/b`, absolute paths, NUL), and for the misbehaviours chosen
//! with `--case` (links listed first, size lies, tiny limits, a v3 RENAME; see
//! `skiff_tests::hostile::Case`). Meant to run as sshd's `Subsystem sftp`; see
//! `skiff_tests::hostile`.

use std::path::PathBuf;
use std::process::ExitCode;

use skiff_tests::hostile::{Case, Cases};

fn main() -> ExitCode {
    let mut cases = Vec::new();
    let mut start = None;
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        if a == "--case" {
            let Some(name) = args.next() else {
                eprintln!("hostile-sftp-server: --case needs a name");
                return ExitCode::from(2);
            };
            match Case::parse(&name.to_string_lossy()) {
                Ok(c) => cases.push(c),
                Err(e) => {
                    eprintln!("hostile-sftp-server: {e}");
                    return ExitCode::from(2);
                }
            }
        } else {
            start = Some(PathBuf::from(a));
        }
    }
    let start = start.unwrap_or_else(|| std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")));
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    match skiff_tests::hostile::serve_cases(&mut stdin, &mut stdout, &start, Cases(cases)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hostile-sftp-server: {e}");
            ExitCode::FAILURE
        }
    }
}
