//! The single-file benchmark's Markdown table: one row per scenario × direction × tool,
//! with the tools' versions and the memory line.

use std::fmt::Write as _;
use std::path::Path;


use super::*;
use crate::measure::*;

pub(crate) fn report(
    args: &Args,
    skiff: &Path,
    tools: &[Tool],
    skipped: &[&str],
    rows: &[Row],
    mem_line: Option<&str>,
) -> String {
    let size = args.size_mib * MIB;
    let peers: Vec<Tool> = tools
        .iter()
        .copied()
        .filter(|&t| t != Tool::Skiff)
        .collect();
    let mut s = String::new();
    let _ = writeln!(s, "## skiff-bench: one {} MiB file\n", args.size_mib);
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let _ = writeln!(
        s,
        "{} run(s) per cell, median wall-clock time of the whole command (connect + copy), \
         MB/s = 10^6 bytes/s; tools interleaved within each run; {cpus} CPUs; \
         server: private OpenSSH sshd (internal-sftp) on 127.0.0.1; \
         rtt scenario: relay adding {} ms round trip.\n",
        args.runs, args.rtt_ms
    );
    let _ = writeln!(
        s,
        "- skiff: `{}` ({})",
        skiff.display(),
        version_of(skiff, &["--version"])
    );
    if !args.skiff_args.is_empty() {
        let _ = writeln!(s, "- skiff extra args: `{}`", args.skiff_args.join(" "));
    }
    for t in &peers {
        let v = match t {
            Tool::Rclone => version_of(Path::new("rclone"), &["version"]),
            _ => version_of(Path::new("ssh"), &["-V"]),
        };
        let _ = writeln!(s, "- {}: {v}", t.name());
    }
    for name in skipped {
        let _ = writeln!(s, "- {name}: not installed, skipped");
    }
    s.push('\n');

    let mut header = String::from("| scenario | dir | skiff |");
    let mut rule = String::from("|---|---|---:|");
    for p in &peers {
        let _ = write!(header, " {} |", p.name());
        rule.push_str("---:|");
    }
    for p in &peers {
        let _ = write!(header, " skiff vs {} |", p.name());
        rule.push_str("---:|");
    }
    let _ = writeln!(s, "{header}\n{rule}");
    let cell_text = |c: &Cell| match (c.median(), &c.failed) {
        (_, Some(why)) => format!("failed ({why})"),
        (Some(m), None) => format!("{m:.2} s, {:.0} MB/s", mbps(size, m)),
        (None, None) => "–".into(),
    };
    for row in rows {
        let skiff_cell = &row.cells[0].1;
        let mut line = format!(
            "| {} | {} | {} |",
            row.scenario,
            row.dir.name(),
            cell_text(skiff_cell)
        );
        for (_, c) in &row.cells[1..] {
            let _ = write!(line, " {} |", cell_text(c));
        }
        for (_, c) in &row.cells[1..] {
            let ratio = match (skiff_cell.median(), c.median()) {
                (Some(k), Some(p)) => format!("{:.2}×", p / k),
                _ => "–".into(),
            };
            let _ = write!(line, " {ratio} |");
        }
        let _ = writeln!(s, "{line}");
    }
    s.push_str("\n\"skiff vs X\" = X's time / skiff's time: above 1× skiff is faster.\n\n");

    if peers.contains(&Tool::Sftp) {
        for row in rows {
            let skiff_cell = &row.cells[0].1;
            let sftp = row
                .cells
                .iter()
                .find(|(t, _)| *t == Tool::Sftp)
                .map(|(_, c)| c);
            let text = match (skiff_cell, sftp) {
                (k, Some(p)) => match (k.median(), p.median(), k.best(), p.best()) {
                    (Some(km), Some(pm), Some(kb), Some(pb)) => format!(
                        "skiff is {:.2}× sftp (median {km:.2} s vs {pm:.2} s; best run {:.2}×: {kb:.2} s vs {pb:.2} s)",
                        pm / km,
                        pb / kb
                    ),
                    _ => "no comparison (a tool failed)".into(),
                },
                _ => "no comparison".into(),
            };
            let _ = writeln!(s, "- {} {}: {text}", row.scenario, row.dir.name());
        }
        s.push('\n');
    }
    if let Some(m) = mem_line {
        let _ = writeln!(s, "{m}");
    }
    s
}
