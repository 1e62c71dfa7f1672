//! The misbehaviours the hostile server can be started with ([`Case`]), how they are named
//! on its command line (`--case NAME`, repeatable), and the pure rules each one applies to
//! attributes, limits and reads. No I/O here: the server in `super` applies them.

use std::time::Duration;

use skiff_sftp::FileAttrs;

/// A size no real file has: 2^62 bytes.
pub const HUGE_SIZE: u64 = 1 << 62;

/// Extra bytes a [`Case::DataLong`] READ reply carries beyond what was asked for.
pub const DATA_LONG_EXTRA: usize = 64;

/// The pause before each READDIR reply of a [`Case::LinksFirst`] listing that carries
/// something other than a link, so the client has made the links before it sees the rest.
pub const LISTING_PAUSE: Duration = Duration::from_millis(300);

/// One selectable misbehaviour. Several may be combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// READDIR answers one entry per reply: symbolic links first, then names ending in
    /// `.skiffpart`, then everything else, each non-link reply after [`LISTING_PAUSE`].
    LinksFirst,
    /// Every symbolic link in a listing is listed a second time, at the end, as a
    /// directory; OPENDIR of a path that is a link on disk lists one regular file `x`
    /// (content [`super::PWNED`]), which STAT/OPEN serve.
    LinkThenDir,
    /// Regular files claim [`HUGE_SIZE`] bytes (STAT, LSTAT, FSTAT, READDIR) and READ
    /// answers EOF at once.
    SizeHuge,
    /// Regular files carry no size attribute at all (the SIZE flag is not set).
    SizeAbsent,
    /// Regular files claim half their real size (the file "grew" since it was listed).
    SizeSmaller,
    /// Regular files claim twice their real size plus 4096 (the file "shrank").
    SizeBigger,
    /// Every READ that has data answers [`DATA_LONG_EXTRA`] bytes more than asked for.
    DataLong,
    /// `limits@openssh.com` says this max read and write length; the server then serves
    /// at most that many bytes per READ and refuses longer WRITEs (0: refuses every READ
    /// and WRITE that carries data).
    Limits(u64),
    /// No `posix-rename@openssh.com`; plain RENAME fails (SSH_FX_FAILURE) when the target
    /// exists, as classic v3 servers do. REMOVE works.
    RenameV3,
    /// As [`Case::RenameV3`], and a RENAME onto a path this session has REMOVEd fails too:
    /// remove-then-rename cannot replace a file.
    RenameStuck,
    /// No posix-rename and every plain RENAME fails; REMOVE works.
    RenameRefused,
}

impl Case {
    /// Every case with a fixed name, for `--help` and parsing.
    pub const NAMED: &'static [(&'static str, Case)] = &[
        ("links-first", Case::LinksFirst),
        ("link-then-dir", Case::LinkThenDir),
        ("size-huge", Case::SizeHuge),
        ("size-absent", Case::SizeAbsent),
        ("size-smaller", Case::SizeSmaller),
        ("size-bigger", Case::SizeBigger),
        ("data-long", Case::DataLong),
        ("rename-v3", Case::RenameV3),
        ("rename-stuck", Case::RenameStuck),
        ("rename-refused", Case::RenameRefused),
    ];

    /// `links-first`, `limits=100`, ...
    pub fn parse(s: &str) -> Result<Case, String> {
        if let Some(n) = s.strip_prefix("limits=") {
            return n.parse().map(Case::Limits).map_err(|e| format!("--case {s}: {e}"));
        }
        Case::NAMED
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, c)| *c)
            .ok_or_else(|| {
                let names: Vec<&str> = Case::NAMED.iter().map(|(n, _)| *n).collect();
                format!("unknown case {s:?}; known: {}, limits=N", names.join(", "))
            })
    }

    /// The command-line name ([`Case::parse`] reads it back).
    pub fn name(&self) -> String {
        match self {
            Case::Limits(n) => format!("limits={n}"),
            other => Case::NAMED.iter().find(|(_, c)| c == other).map(|(n, _)| n.to_string()).expect("every case is named"),
        }
    }
}

/// The cases a server runs with, and what they decide.
#[derive(Debug, Clone, Default)]
pub struct Cases(pub Vec<Case>);

impl Cases {
    pub fn has(&self, c: Case) -> bool {
        self.0.contains(&c)
    }

    /// The limit from a [`Case::Limits`], if any.
    pub fn limit(&self) -> Option<u64> {
        self.0.iter().find_map(|c| match c {
            Case::Limits(n) => Some(*n),
            _ => None,
        })
    }

    /// Whether VERSION offers posix-rename.
    pub fn posix_rename(&self) -> bool {
        !(self.has(Case::RenameV3) || self.has(Case::RenameStuck) || self.has(Case::RenameRefused))
    }

    /// The attributes claimed for a regular file whose honest attributes are `a`.
    pub fn claim(&self, mut a: FileAttrs) -> FileAttrs {
        let real = a.size.unwrap_or(0);
        if self.has(Case::SizeHuge) {
            a.size = Some(HUGE_SIZE);
        } else if self.has(Case::SizeAbsent) {
            a.size = None;
        } else if self.has(Case::SizeSmaller) {
            a.size = Some(real / 2);
        } else if self.has(Case::SizeBigger) {
            a.size = Some(real * 2 + 4096);
        }
        a
    }

    /// How many bytes a READ of `len` may return (before [`Case::DataLong`] padding);
    /// `Err` with the refusal text when none may.
    pub fn read_len(&self, len: u32) -> Result<u32, String> {
        match self.limit() {
            Some(0) => Err("reads are limited to 0 bytes (limits@openssh.com)".into()),
            Some(n) => Ok(u64::from(len).min(n) as u32),
            None => Ok(len),
        }
    }

    /// `Err` with the refusal text when a WRITE of `len` bytes breaks the limit.
    pub fn check_write(&self, len: usize) -> Result<(), String> {
        match self.limit() {
            Some(n) if len as u64 > n => {
                Err(format!("a WRITE of {len} bytes is longer than max-write-length {n} (limits@openssh.com)"))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (_, c) in Case::NAMED {
            assert_eq!(Case::parse(&c.name()).unwrap(), *c);
        }
        assert_eq!(Case::parse("limits=100").unwrap(), Case::Limits(100));
        assert_eq!(Case::Limits(1).name(), "limits=1");
        assert!(Case::parse("nope").unwrap_err().contains("links-first"));
        assert!(Case::parse("limits=x").is_err());
    }

    #[test]
    fn claims_and_limits() {
        let a = FileAttrs::default().with_size(1000);
        assert_eq!(Cases(vec![Case::SizeHuge]).claim(a.clone()).size, Some(HUGE_SIZE));
        assert_eq!(Cases(vec![Case::SizeAbsent]).claim(a.clone()).size, None);
        assert_eq!(Cases(vec![Case::SizeSmaller]).claim(a.clone()).size, Some(500));
        assert_eq!(Cases(vec![Case::SizeBigger]).claim(a.clone()).size, Some(6096));
        assert_eq!(Cases::default().claim(a).size, Some(1000));
        let l = Cases(vec![Case::Limits(100)]);
        assert_eq!(l.read_len(4096), Ok(100));
        assert!(l.check_write(101).is_err() && l.check_write(100).is_ok());
        assert!(Cases(vec![Case::Limits(0)]).read_len(1).is_err());
        assert!(!Cases(vec![Case::RenameStuck]).posix_rename());
        assert!(Cases(vec![Case::SizeHuge]).posix_rename());
    }
}
