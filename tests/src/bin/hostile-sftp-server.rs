//! `hostile-sftp-server [ROOTDIR]`: an SFTP v3 server on stdin/stdout that
//! serves the filesystem honestly except for directories named `evil`, whose
//! listings also carry hostile names (`..`, `a/b`, absolute paths, NUL).
//! Meant to run as sshd's `Subsystem sftp`; see `skiff_tests::hostile`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let start = match std::env::args_os().nth(1) {
        Some(p) => PathBuf::from(p),
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
    };
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    match skiff_tests::hostile::serve(&mut stdin, &mut stdout, &start) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hostile-sftp-server: {e}");
            ExitCode::FAILURE
        }
    }
}
