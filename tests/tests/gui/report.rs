//! The steps' report: what happened to each step (with its screenshot), printed at the
//! end; the test fails if any step failed. Also the `Gui` methods that run one step.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;

use super::*;

// -----------------------------------------------------------------------------------------
// Steps and the report

/// What happened to each step; the test fails at the end if any step failed.
#[derive(Default)]
pub struct Report {
    pub lines: Vec<(String, Result<String, String>, Option<PathBuf>)>,
}

impl Report {
    pub fn passed(&self, step: &str) -> bool {
        self.lines.iter().any(|(s, r, _)| s == step && r.is_ok())
    }

    pub fn failures(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter_map(|(s, r, shot)| {
                r.as_ref().err().map(|e| {
                    format!(
                        "step {s}: {e}{}",
                        shot.as_ref()
                            .map(|p| format!("\n    screenshot: {}", p.display()))
                            .unwrap_or_default()
                    )
                })
            })
            .collect()
    }

    pub fn summary(&self) -> String {
        let mut out = String::new();
        for (s, r, shot) in &self.lines {
            let shot = shot
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "(no screenshot)".into());
            match r {
                Ok(note) => out.push_str(&format!("  ok    {s:<28} {note} [{shot}]\n")),
                Err(e) => out.push_str(&format!(
                    "  FAIL  {s:<28} {} [{shot}]\n",
                    e.lines().next().unwrap_or("")
                )),
            }
        }
        out
    }
}

impl Gui {
    /// Record a step's outcome and take its screenshot.
    pub async fn finish(
        &self,
        report: &mut Report,
        step: &str,
        started: Instant,
        r: Result<String>,
    ) {
        let secs = started.elapsed().as_secs_f64();
        let r = match r {
            Ok(note) => {
                eprintln!(
                    "STEP {step}: ok ({secs:.1} s){}",
                    if note.is_empty() {
                        String::new()
                    } else {
                        format!(" — {note}")
                    }
                );
                Ok(note)
            }
            Err(e) => {
                let banner = self.error_banner().await;
                let mut msg = if banner.trim().is_empty() {
                    format!("{e:#}")
                } else {
                    format!("{e:#} [error-banner: {}]", banner.trim())
                };
                let page: String = self.page_text().await.chars().take(400).collect();
                msg.push_str(&format!("\n    page text: {:?}", page));
                eprintln!("STEP {step}: FAILED ({secs:.1} s): {msg}");
                Err(msg)
            }
        };
        let name = if r.is_ok() {
            step.to_string()
        } else {
            format!("{step}-FAILED")
        };
        let shot = self.shot(&name).await;
        report.lines.push((step.to_string(), r, shot));
    }

    /// Record a step that did not run because an earlier one failed.
    pub fn skip(&self, report: &mut Report, step: &str, because: &str) {
        eprintln!("STEP {step}: not run (needs {because})");
        report.lines.push((
            step.to_string(),
            Err(format!("not run: needs step `{because}`, which failed")),
            None,
        ));
    }
}
