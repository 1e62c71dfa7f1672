//! Small helpers for steps: `data-testid` and file-row selectors, CSS escaping, reading a
//! log file lossily.

use std::io::Read;
use std::path::Path;



/// `[data-testid="id"]`.
pub fn tid(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

/// A row named `name` in a pane (`pane-local` / `pane-remote`).
pub fn row(pane: &str, name: &str) -> String {
    format!(
        "[data-testid=\"{pane}\"] [data-testid=\"row\"][data-name=\"{}\"]",
        css_escape(name)
    )
}

pub fn css_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

pub fn read_to_string_lossy(p: &Path) -> String {
    let mut v = Vec::new();
    if let Ok(mut f) = std::fs::File::open(p) {
        let _ = f.read_to_end(&mut v);
    }
    String::from_utf8_lossy(&v).into_owned()
}
