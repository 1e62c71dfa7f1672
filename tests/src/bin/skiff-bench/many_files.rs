//! The many-files case: a tree of small files copied up and down by `skiff cp -r` and the
//! tree-copying peers (sftp, scp, rsync, rclone, lftp), and its own table.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Result};
use skiff_tests::sshd::HOST_ALIAS;
use skiff_tests::tree;

use super::*;
use crate::measure::*;

// ---------------------------------------------------------------------------
// Many files: a tree of small files, up and down, against tree-copying peers.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TreeTool {
    Skiff,
    Sftp,
    Scp,
    Rsync,
    Rclone,
    Lftp,
}

impl TreeTool {
    fn name(self) -> &'static str {
        match self {
            TreeTool::Skiff => "skiff cp -r",
            TreeTool::Sftp => "sftp -r",
            TreeTool::Scp => "scp -r",
            TreeTool::Rsync => "rsync -a",
            TreeTool::Rclone => "rclone --transfers 16",
            TreeTool::Lftp => "lftp mirror --parallel=16",
        }
    }

    fn short(self) -> &'static str {
        match self {
            TreeTool::Skiff => "skiff",
            TreeTool::Sftp => "sftp",
            TreeTool::Scp => "scp",
            TreeTool::Rsync => "rsync",
            TreeTool::Rclone => "rclone",
            TreeTool::Lftp => "lftp",
        }
    }

    fn parse(s: &str) -> Result<TreeTool> {
        Ok(match s.trim() {
            "sftp" => TreeTool::Sftp,
            "scp" => TreeTool::Scp,
            "rsync" => TreeTool::Rsync,
            "rclone" => TreeTool::Rclone,
            "lftp" => TreeTool::Lftp,
            other => {
                bail!("unknown tree peer {other:?} (known: sftp, scp, rsync, rclone, lftp)")
            }
        })
    }
}

/// Name of the tree's top directory, on both sides.
pub(crate) const TREE_NAME: &str = "mf";

pub(crate) struct TreeRow {
    scenario: String,
    dir: Dir,
    files: usize,
    bytes: u64,
    runs: usize,
    cells: Vec<(TreeTool, Cell)>,
}

/// Single-quote for a shell / lftp command line.
pub(crate) fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The command line of one tree copy. `src` is the tree's top directory
/// (named [`TREE_NAME`]); `dst_parent` an existing directory that will hold
/// the copy as `dst_parent/TREE_NAME`.
pub(crate) fn tree_command(
    ctx: &Ctx,
    tool: TreeTool,
    t: &Target,
    dir: Dir,
    src: &Path,
    dst_parent: &Path,
) -> Result<Command> {
    let dst = dst_parent.join(TREE_NAME);
    let remote = |p: &Path| format!("{}:{}", t.alias, p.display());
    let ssh_cmd = format!(
        "ssh -F {} -o BatchMode=yes",
        sq(&t.config.display().to_string())
    );
    let mut c;
    match tool {
        TreeTool::Skiff => {
            c = Command::new(ctx.skiff);
            c.arg("cp").arg("-r").arg("-q").arg("-F").arg(&t.config);
            c.args(ctx.skiff_args);
            match dir {
                Dir::Put => c.arg(src).arg(format!("{}/", remote(dst_parent))),
                Dir::Get => c.arg(remote(src)).arg(format!("{}/", dst_parent.display())),
            };
        }
        TreeTool::Sftp => {
            let batch = ctx.work.join("sftp-tree.batch");
            let cmd = match dir {
                Dir::Get => "get",
                Dir::Put => "put",
            };
            fs::write(
                &batch,
                format!("{cmd} -r \"{}\" \"{}\"\n", src.display(), dst.display()),
            )?;
            c = Command::new("sftp");
            c.arg("-q")
                .arg("-F")
                .arg(&t.config)
                .args(["-o", "BatchMode=yes"]);
            c.arg("-b").arg(&batch).arg(t.alias);
        }
        TreeTool::Scp => {
            c = Command::new("scp");
            c.arg("-q").arg("-r").arg("-F").arg(&t.config);
            c.args(["-o", "BatchMode=yes"]);
            match dir {
                Dir::Put => c.arg(src).arg(format!("{}/", remote(dst_parent))),
                Dir::Get => c.arg(remote(src)).arg(format!("{}/", dst_parent.display())),
            };
        }
        TreeTool::Rsync => {
            c = Command::new("rsync");
            c.arg("-a").arg("-e").arg(&ssh_cmd);
            // No trailing slash on the source: the copy lands in dst_parent/mf.
            match dir {
                Dir::Put => c.arg(src).arg(format!("{}/", remote(dst_parent))),
                Dir::Get => c.arg(remote(src)).arg(format!("{}/", dst_parent.display())),
            };
        }
        TreeTool::Rclone => {
            let sshd = ctx.sshd;
            let rremote = |p: &Path| {
                format!(
                    ":sftp,host=127.0.0.1,port={},user={},key_file={},known_hosts_file={},\
                     key_use_agent=false,disable_hashcheck=true,shell_type=none:{}",
                    t.port,
                    sshd.user,
                    sshd.user_key.display(),
                    sshd.known_hosts.display(),
                    p.display()
                )
            };
            let (from, to) = match dir {
                Dir::Get => (rremote(src), dst.display().to_string()),
                Dir::Put => (src.display().to_string(), rremote(&dst)),
            };
            c = Command::new("rclone");
            c.arg("copy").arg("--config").arg(&ctx.rclone_config).args([
                "-q",
                "--transfers",
                "16",
                "--create-empty-src-dirs",
            ]);
            c.arg(from).arg(to);
        }
        TreeTool::Lftp => {
            let mirror = match dir {
                Dir::Get => format!(
                    "mirror --parallel=16 {} {}",
                    sq(&src.display().to_string()),
                    sq(&dst.display().to_string())
                ),
                Dir::Put => format!(
                    "mirror -R --parallel=16 {} {}",
                    sq(&src.display().to_string()),
                    sq(&dst.display().to_string())
                ),
            };
            let script = format!(
                "set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 30; \
                 set sftp:auto-confirm no; \
                 set sftp:connect-program \"ssh -a -x -F {} -o BatchMode=yes\"; \
                 open sftp://{}@{}; {mirror}",
                sq(&t.config.display().to_string()),
                ctx.sshd.user,
                t.alias
            );
            c = Command::new("lftp");
            c.arg("-c").arg(script);
        }
    }
    c.stdin(Stdio::null());
    Ok(c)
}

/// Run the many-files scenarios; returns the Markdown section and whether
/// skiff failed anywhere.
pub(crate) fn many_files(
    args: &Args,
    ctx: &Ctx,
    targets: &[Target],
    timeout: Duration,
) -> Result<(String, bool)> {
    let (tools, skipped) =
        installed_peers(TreeTool::Skiff, &args.tree_peers, TreeTool::parse, |t| (t.short(), t.name()), " in the many-files case")?;

    let rtt_runs = args.runs.saturating_sub(1).max(1);
    let mut rows = Vec::new();
    let mut skiff_failed = false;
    let mut notes: Vec<String> = Vec::new();
    for target in targets {
        let loopback = target.alias == HOST_ALIAS;
        let (n, runs) = if loopback {
            (args.many_files, args.runs)
        } else {
            (args.many_files_rtt, rtt_runs)
        };
        if n == 0 {
            continue;
        }
        // Same seed on both sides: identical trees, no copy needed.
        let spec = tree::TreeSpec::many_small(n, 0x7EE + n as u64);
        let base = format!("tree{n}");
        let local_src_parent = ctx.work.join(format!("{base}-src"));
        let remote_src_parent = ctx.sshd.root.join(format!("{base}-src"));
        let local_src = local_src_parent.join(TREE_NAME);
        let remote_src = remote_src_parent.join(TREE_NAME);
        if !local_src.exists() {
            eprintln!("skiff-bench: making a tree of {n} files (local and remote)");
            tree::make_tree(&local_src, &spec)?;
            tree::make_tree(&remote_src, &spec)?;
        }
        let want = tree::manifest(&local_src)?;
        if tree::manifest(&remote_src)? != want {
            bail!("the remote copy of the {n}-file source tree differs from the local one");
        }
        let files = tree::manifest_files(&want);
        let bytes: u64 = {
            let mut b = 0;
            let mut stack = vec![local_src.clone()];
            while let Some(d) = stack.pop() {
                for e in fs::read_dir(&d)? {
                    let e = e?;
                    let m = e.metadata()?;
                    if m.is_dir() {
                        stack.push(e.path());
                    } else {
                        b += m.len();
                    }
                }
            }
            b
        };
        let local_dst_parent = ctx.work.join(format!("{base}-down"));
        let remote_dst_parent = ctx.sshd.root.join(format!("{base}-up"));

        for dir in [Dir::Get, Dir::Put] {
            let (src, dst_parent) = match dir {
                Dir::Get => (&remote_src, &local_dst_parent),
                Dir::Put => (&local_src, &remote_dst_parent),
            };
            let dst = dst_parent.join(TREE_NAME);
            let label = format!("[{} {} {n} files]", target.name, dir.name());
            let mut cells: Vec<(TreeTool, Cell)> =
                tools.iter().map(|&t| (t, Cell::default())).collect();
            for run in 1..=runs {
                for (tool, cell) in cells.iter_mut() {
                    if cell.failed.is_some() {
                        continue;
                    }
                    let _ = fs::remove_dir_all(dst_parent);
                    fs::create_dir_all(dst_parent)?;
                    let cmd = tree_command(ctx, *tool, target, dir, src, dst_parent)?;
                    match time_command(cmd, &ctx.work.join("stderr.txt"), timeout) {
                        Ok(secs) => {
                            if run == 1 {
                                let got = tree::manifest(&dst).unwrap_or_default();
                                if let Some(diff) = tree::manifest_diff(&want, &got) {
                                    let msg = format!(
                                        "{label} {} copied the tree wrongly: {diff}",
                                        tool.name()
                                    );
                                    eprintln!("{msg}");
                                    notes.push(msg);
                                    if *tool == TreeTool::Skiff {
                                        skiff_failed = true;
                                    }
                                    cell.failed = Some("wrong copy".into());
                                    continue;
                                }
                            }
                            eprintln!(
                                "{label} {} run {run}/{runs}: {secs:.2} s ({:.0} files/s)",
                                tool.name(),
                                files as f64 / secs
                            );
                            cell.times.push(secs);
                        }
                        Err(e) => {
                            let msg =
                                format!("{label} {} run {run}/{runs}: FAILED: {e:#}", tool.name());
                            eprintln!("{msg}");
                            let first = msg.lines().take(6).collect::<Vec<_>>().join(" / ");
                            notes.push(first);
                            if *tool == TreeTool::Skiff {
                                skiff_failed = true;
                            }
                            let timed_out = format!("{e:#}").starts_with("timed out");
                            if timed_out && cell.times.is_empty() {
                                cell.timed_out = Some(timeout.as_secs_f64());
                            }
                            cell.failed = Some(if timed_out {
                                format!("timeout > {} s", timeout.as_secs())
                            } else {
                                format!("run {run}")
                            });
                        }
                    }
                }
            }
            let _ = fs::remove_dir_all(dst_parent);
            rows.push(TreeRow {
                scenario: target.name.clone(),
                dir,
                files,
                bytes,
                runs,
                cells,
            });
        }
    }
    let section = tree_report(args, &tools, &skipped, &rows, &notes, rtt_runs);
    Ok((section, skiff_failed))
}

pub(crate) fn tree_report(
    args: &Args,
    tools: &[TreeTool],
    skipped: &[&str],
    rows: &[TreeRow],
    notes: &[String],
    rtt_runs: usize,
) -> String {
    let peers: Vec<TreeTool> = tools
        .iter()
        .copied()
        .filter(|&t| t != TreeTool::Skiff)
        .collect();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## skiff-bench: many files ({} on loopback, {} at {} ms round trip)\n",
        args.many_files, args.many_files_rtt, args.rtt_ms
    );
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let _ = writeln!(
        s,
        "Files of 1 B–8 KiB (uniform) in 100 directories nested up to 3 deep, plus a few empty \
         directories; the whole tree uploaded (put) and downloaded (get). Median wall-clock time \
         of the whole command over {} run(s) on loopback and {rtt_runs} run(s) through the relay \
         (max(1, runs − 1): the slow peers take minutes there); tools interleaved within each \
         run; every tool's first copy checked against a sha256 manifest (a wrong copy is \
         reported, not timed); {cpus} CPUs; server: private OpenSSH sshd (internal-sftp) on \
         127.0.0.1.\n",
        args.runs
    );
    let _ = writeln!(
        s,
        "- skiff cp -r: `skiff cp -r -q -F CFG DIR host:PARENT/`, `skiff cp -r -q -F CFG host:DIR PARENT/`"
    );
    for t in &peers {
        let (how, v) = match t {
            TreeTool::Sftp => (
                "batch `put -r` / `get -r`",
                version_of(Path::new("ssh"), &["-V"]),
            ),
            TreeTool::Scp => ("`scp -r`", version_of(Path::new("ssh"), &["-V"])),
            TreeTool::Rsync => (
                "`rsync -a -e \"ssh -F CFG\"`",
                version_of(Path::new("rsync"), &["--version"]),
            ),
            TreeTool::Rclone => (
                "`rclone copy --transfers 16 --create-empty-src-dirs`, on-the-fly sftp remote",
                version_of(Path::new("rclone"), &["version"]),
            ),
            TreeTool::Lftp => (
                "`lftp -c \"open sftp://…; mirror [-R] --parallel=16\"` over `ssh -F CFG`",
                version_of(Path::new("lftp"), &["--version"]),
            ),
            TreeTool::Skiff => ("", String::new()),
        };
        let _ = writeln!(s, "- {}: {how} ({v})", t.name());
    }
    for name in skipped {
        let _ = writeln!(s, "- {name}: not installed, skipped");
    }
    s.push('\n');

    let mut header = String::from("| scenario | dir | files | skiff |");
    let mut rule = String::from("|---|---|---:|---:|");
    for p in &peers {
        let _ = write!(header, " {} |", p.short());
        rule.push_str("---:|");
    }
    for p in &peers {
        let _ = write!(header, " skiff vs {} |", p.short());
        rule.push_str("---:|");
    }
    header.push_str(" skiff vs fastest peer |");
    rule.push_str("---:|");
    let _ = writeln!(s, "{header}\n{rule}");
    for row in rows {
        let cell_text = |c: &Cell| match (c.median(), &c.failed) {
            (_, Some(_)) if c.timed_out.is_some() => {
                format!("> {:.0} s (killed)", c.timed_out.unwrap_or_default())
            }
            (_, Some(why)) => format!("failed ({why})"),
            (Some(m), None) => format!("{m:.2} s, {:.0} files/s", row.files as f64 / m),
            (None, None) => "–".into(),
        };
        let skiff_cell = &row.cells[0].1;
        let mut line = format!(
            "| {} | {} | {} ({:.1} MB) |",
            row.scenario,
            row.dir.name(),
            row.files,
            row.bytes as f64 / 1e6
        );
        let _ = write!(line, " {} |", cell_text(skiff_cell));
        for (_, c) in &row.cells[1..] {
            let _ = write!(line, " {} |", cell_text(c));
        }
        let ratio = |p: Option<f64>| match (skiff_cell.median(), p) {
            (Some(k), Some(p)) => format!("{:.2}×", p / k),
            _ => "–".into(),
        };
        for (_, c) in &row.cells[1..] {
            let r = match (c.timed_out, skiff_cell.median()) {
                (Some(t), Some(k)) => format!("> {:.1}×", t / k),
                _ => ratio(c.median()),
            };
            let _ = write!(line, " {r} |");
        }
        let fastest = row.cells[1..]
            .iter()
            .filter_map(|(t, c)| c.median().map(|m| (m, *t)))
            .min_by(|a, b| a.0.total_cmp(&b.0));
        match fastest {
            Some((m, t)) => {
                let _ = write!(line, " {} ({}) |", ratio(Some(m)), t.short());
            }
            None => line.push_str(" – |"),
        }
        let _ = writeln!(s, "{line}");
        let _ = row.runs;
    }
    s.push_str(
        "\n\"skiff vs X\" = X's time / skiff's time: above 1× skiff is faster. \
         \"fastest peer\" = the peer with the lowest median in that row.\n",
    );
    if !notes.is_empty() {
        s.push_str("\nFailures:\n\n");
        for n in notes {
            let _ = writeln!(s, "- {}", n.replace('\n', " "));
        }
    }
    s
}
