//! Path checks for the hostile server: which requested paths are hostile names, which
//! directory is the `evil` one, and lexical normalisation of request paths.

use std::path::{Component, Path, PathBuf};


use super::*;

/// Is `path` one of the hostile names (as `…/evil/NAME`, bare, or with NUL)?
pub(super) fn is_hostile(path: &[u8]) -> bool {
    if path.contains(&0) {
        return true;
    }
    if HOSTILE_NAMES.iter().any(|h| *h == path && path.len() > 2) {
        return true;
    }
    let marker = b"evil/";
    let mut i = 0;
    while let Some(pos) = find(&path[i..], marker) {
        let at = i + pos;
        let starts_component = at == 0 || path[at - 1] == b'/';
        if starts_component {
            let rest = &path[at + marker.len()..];
            if HOSTILE_NAMES.contains(&rest) {
                return true;
            }
            // A client that joined with "//" or normalised "./".
            let trimmed = rest.strip_prefix(b"/").unwrap_or(rest);
            if trimmed.starts_with(b"etc/passwd-skiff-test") {
                return true;
            }
        }
        i = at + 1;
    }
    false
}

pub(super) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub(super) fn is_evil_dir(path: &Path) -> bool {
    path.components()
        .rfind(|c| !matches!(c, Component::CurDir))
        .is_some_and(|c| c.as_os_str() == EVIL_DIR)
}

/// Lexical normalisation: `.` dropped, `..` pops (never above `/`).
pub(super) fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
        }
    }
    out
}
