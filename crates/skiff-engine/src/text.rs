//! Server-supplied text made safe to show in a terminal.
//!
//! A remote file name, an SFTP status message, a keyboard-interactive prompt or a banner is a
//! claim from the server, and so is any path built from one. Printed raw, a name such as
//! `ESC]0;owned BEL ESC[2J` retitles and clears the person's terminal, and a U+202E (right-to-left
//! override) makes `gpj.exe` read as `exe.jpg`. This module owns the one escaping rule every
//! front end uses before text reaches a terminal; it does no I/O.
//!
//! What is escaped, visibly and unambiguously:
//! - C0 controls and DEL: `\n`, `\r`, `\t`, otherwise `\x1b`-style (two hex digits);
//! - C1 controls (U+0080–U+009F), the bidi embeddings, overrides and isolates
//!   (U+202A–U+202E, U+2066–U+2069), and the line/paragraph separators (U+2028, U+2029):
//!   `\u{202e}`-style;
//! - bytes that are not UTF-8 (in [`escape_bytes`]): `\xff`-style (always ≥ `\x80`, so never
//!   confused with an escaped control, which is < `\x80`);
//! - a backslash that could otherwise be read as the start of one of the escapes above is
//!   doubled (`\\`); any other backslash (`C:\Users`) is kept as it is.
//!
//! Everything else, including all printable Unicode, is kept as is.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal as itself.
pub fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}'
        | '\u{2028}' | '\u{2029}')
}

/// `text` with every control character, bidi override and line separator escaped (see the
/// module docs). Borrowed when nothing needed escaping.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !needs_escaping(text) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push('\\');
            if chars.peek().is_some_and(|&n| starts_escape(n)) {
                out.push('\\');
            }
        } else {
            push_char(&mut out, c);
        }
    }
    Cow::Owned(out)
}

/// Like [`escape`], for text that is meant to span lines (a banner, keyboard-interactive
/// instructions): line feeds are kept, a carriage return right before one is dropped (SSH
/// sends CRLF), and everything else is escaped as [`escape`] does.
pub fn escape_multiline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        let last = lines.peek().is_none();
        let line = if last { line } else { line.strip_suffix('\r').unwrap_or(line) };
        out.push_str(&escape(line));
        if !last {
            out.push('\n');
        }
    }
    out
}

/// Raw bytes from the network (an SFTP file name) as safe text: valid UTF-8 is escaped as
/// [`escape`] does, every byte that is not part of valid UTF-8 becomes `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return escape(text);
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        out.push_str(&escape(valid));
        // A backslash ending the valid run is never doubled by `escape` (nothing follows it
        // there), but here an escaped invalid byte follows it.
        if !chunk.invalid().is_empty() && valid.ends_with('\\') {
            out.push('\\');
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    Cow::Owned(out)
}

/// A [`Display`](std::fmt::Display) wrapper that escapes as [`escape`] does, for `format!`.
pub struct Escaped<'a>(pub &'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&escape(self.0))
    }
}

fn needs_escaping(text: &str) -> bool {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if is_unsafe(c) || (c == '\\' && chars.peek().is_some_and(|&n| starts_escape(n))) {
            return true;
        }
    }
    false
}

/// Whether a character right after a backslash would make it read as an escape.
fn starts_escape(next: char) -> bool {
    matches!(next, '\\' | 'x' | 'u' | 'n' | 'r' | 't') || is_unsafe(next)
}

fn push_char(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x20 || c == '\u{7f}' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if is_unsafe(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the escapes back: proves the output is unambiguous.
    fn unescape(s: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'\\' {
                out.push(b[i]);
                i += 1;
                continue;
            }
            match b.get(i + 1) {
                Some(b'\\') => {
                    out.push(b'\\');
                    i += 2;
                }
                Some(b'n') => {
                    out.push(b'\n');
                    i += 2;
                }
                Some(b'r') => {
                    out.push(b'\r');
                    i += 2;
                }
                Some(b't') => {
                    out.push(b'\t');
                    i += 2;
                }
                Some(b'x') => {
                    out.push(u8::from_str_radix(&s[i + 2..i + 4], 16).unwrap());
                    i += 4;
                }
                Some(b'u') => {
                    let end = s[i..].find('}').unwrap() + i;
                    let c = char::from_u32(u32::from_str_radix(&s[i + 3..end], 16).unwrap()).unwrap();
                    out.extend_from_slice(c.to_string().as_bytes());
                    i = end + 1;
                }
                _ => {
                    out.push(b'\\');
                    i += 1;
                }
            }
        }
        out
    }

    fn no_raw_controls(s: &str) {
        assert!(!s.chars().any(is_unsafe), "raw control left in {s:?}");
    }

    #[test]
    fn terminal_escapes_become_visible() {
        let name = "\u{1b}]0;owned\u{7}\u{1b}[2Jx";
        assert_eq!(escape(name), "\\x1b]0;owned\\x07\\x1b[2Jx");
        assert_eq!(escape("a\nb\tc\rd\u{7f}\u{0}"), "a\\nb\\tc\\rd\\x7f\\x00");
        assert_eq!(escape("\u{9b}31m"), "\\u{9b}31m");
    }

    #[test]
    fn bidi_overrides_and_isolates_are_escaped() {
        assert_eq!(escape("report\u{202e}fdp.exe"), "report\\u{202e}fdp.exe");
        for c in ['\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{2028}'] {
            let s = escape(&c.to_string()).into_owned();
            assert_eq!(s, format!("\\u{{{:x}}}", c as u32));
        }
    }

    #[test]
    fn printable_unicode_is_kept_and_not_copied() {
        for s in ["plain.txt", "Grüße — 日本語 😀.pdf", "C:\\Users\\me", "a b"] {
            assert!(matches!(escape(s), Cow::Borrowed(_)), "{s} was copied");
            assert_eq!(escape(s), s);
        }
        // U+200F (RLM) and U+00A0 are printable-ish and harmless: kept.
        assert_eq!(escape("a\u{a0}b"), "a\u{a0}b");
    }

    #[test]
    fn a_backslash_that_looks_like_an_escape_is_doubled() {
        assert_eq!(escape("\\x1b"), "\\\\x1b");
        assert_eq!(escape("\\\u{1b}"), "\\\\\\x1b");
        assert_eq!(escape("\\u{202e}"), "\\\\u{202e}");
        assert_eq!(escape("dir\\sub"), "dir\\sub");
        // `\n` would read as a line feed: doubled.
        assert_eq!(escape("dir\\name"), "dir\\\\name");
        assert_eq!(escape("end\\"), "end\\");
    }

    #[test]
    fn escaping_round_trips() {
        let cases = [
            "\u{1b}]0;t\u{7}\u{1b}[2J",
            "\\x1b real",
            "\\\\\\x",
            "a\\\u{202e}b",
            "tab\there\\",
            "\\n\n\\",
            "é\u{85}\u{9f}\u{a0}",
            "\\",
        ];
        for s in cases {
            let e = escape(s);
            no_raw_controls(&e);
            assert_eq!(unescape(&e), s.as_bytes(), "{s:?} -> {e:?}");
        }
    }

    #[test]
    fn every_byte_and_char_round_trips() {
        for b in 0u8..=0x7f {
            let s = format!("a{}\\{}b", b as char, b as char);
            let e = escape(&s);
            no_raw_controls(&e);
            assert_eq!(unescape(&e), s.as_bytes(), "{s:?} -> {e:?}");
        }
        for c in ('\u{80}'..='\u{3000}').step_by(7).chain(['\u{202e}', '\u{2069}', '\u{9f}']) {
            let s = format!("\\{c}\\");
            let e = escape(&s);
            no_raw_controls(&e);
            assert_eq!(unescape(&e), s.as_bytes(), "{s:?} -> {e:?}");
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_are_hex() {
        assert_eq!(escape_bytes(b"ok"), "ok");
        assert_eq!(escape_bytes(b"a\xffb\x1b"), "a\\xffb\\x1b");
        assert_eq!(escape_bytes("é\u{1b}".as_bytes()), "é\\x1b");
        for raw in [&b"x\\\xff"[..], b"\\\\\xfe", b"\\x41\xc3", b"\xe2\x80\xae\xe2\x80"] {
            let e = escape_bytes(raw);
            no_raw_controls(&e);
            assert_eq!(unescape(&e), raw, "{raw:?} -> {e:?}");
        }
    }

    #[test]
    fn multiline_text_keeps_its_lines_only() {
        assert_eq!(escape_multiline("Welcome\r\nto \u{1b}[31mhost\n"), "Welcome\nto \\x1b[31mhost\n");
        assert_eq!(escape_multiline("one\rtwo"), "one\\rtwo");
        assert_eq!(escape_multiline(""), "");
        assert_eq!(format!("{}", Escaped("a\u{7}")), "a\\x07");
    }
}
