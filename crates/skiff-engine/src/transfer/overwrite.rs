//! What to do when a file's destination already exists: the overwrite policies of a job,
//! decided from the sizes and modification times of both sides. Pure decisions, no I/O.

use crate::error::{Error, ErrorKind, Result};
use crate::job::OverwritePolicy;

/// The outcome for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Transfer,
    Skip,
    /// Transfer under this other name (same folder).
    RenameTo(String),
    /// The destination is a shorter copy: keep its first bytes and send the rest.
    ResumeFrom(u64),
}

/// Size and modification time (unix seconds) of one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub size: u64,
    pub mtime: Option<u32>,
}

/// Decide for a file called `name` whose destination is `existing` (None: absent).
/// `taken` says whether a candidate name already exists beside it (for Rename).
pub fn decide(
    policy: OverwritePolicy,
    source: Stamp,
    existing: Option<Stamp>,
    name: &str,
    mut taken: impl FnMut(&str) -> bool,
) -> Result<Decision> {
    let Some(dest) = existing else { return Ok(Decision::Transfer) };
    Ok(match policy {
        OverwritePolicy::Overwrite => Decision::Transfer,
        OverwritePolicy::Skip => Decision::Skip,
        OverwritePolicy::OverwriteIfNewer => match (source.mtime, dest.mtime) {
            (Some(s), Some(d)) if s <= d => Decision::Skip,
            _ => Decision::Transfer,
        },
        OverwritePolicy::OverwriteIfSizeDiffers => {
            if source.size == dest.size {
                Decision::Skip
            } else {
                Decision::Transfer
            }
        }
        // Resume, like `sftp reget`/`reput`: a shorter destination is taken as the start of
        // the file and only the rest is sent; the same size is complete; a longer one is not
        // a partial copy of this source, so it is replaced whole.
        OverwritePolicy::Resume => match dest.size {
            d if d == source.size => Decision::Skip,
            0 => Decision::Transfer,
            d if d < source.size => Decision::ResumeFrom(d),
            _ => Decision::Transfer,
        },
        OverwritePolicy::Rename => Decision::RenameTo(free_name(name, &mut taken)),
        OverwritePolicy::Ask => {
            return Err(Error::new(ErrorKind::Config, "overwrite", format!("{name} exists and the policy is \"ask\""))
                .hint("the command line cannot ask; choose overwrite, skip, overwrite-if-newer, overwrite-if-size-differs, resume or rename"))
        }
    })
}

/// `name (1).ext`, `name (2).ext`, ... : the first that is not taken.
pub(super) fn free_name(name: &str, taken: &mut impl FnMut(&str) -> bool) -> String {
    (1u32..).map(|n| numbered(name, n)).find(|c| !taken(c)).expect("some candidate name is free")
}

/// `name (n).ext` (a leading dot is part of the name, not an extension).
pub fn numbered(name: &str, n: u32) -> String {
    match name.rfind('.') {
        Some(i) if i > 0 => format!("{} ({n}){}", &name[..i], &name[i..]),
        _ => format!("{name} ({n})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(size: u64, mtime: u32) -> Stamp {
        Stamp { size, mtime: Some(mtime) }
    }

    #[test]
    fn policies() {
        use OverwritePolicy::*;
        let none = |_: &str| false;
        let src = st(10, 100);
        assert_eq!(decide(Skip, src, None, "a", none).unwrap(), Decision::Transfer);
        assert_eq!(decide(Skip, src, Some(st(1, 1)), "a", none).unwrap(), Decision::Skip);
        assert_eq!(decide(Overwrite, src, Some(st(10, 100)), "a", none).unwrap(), Decision::Transfer);
        assert_eq!(decide(OverwriteIfNewer, src, Some(st(10, 100)), "a", none).unwrap(), Decision::Skip);
        assert_eq!(decide(OverwriteIfNewer, src, Some(st(10, 99)), "a", none).unwrap(), Decision::Transfer);
        assert_eq!(decide(OverwriteIfSizeDiffers, src, Some(st(10, 1)), "a", none).unwrap(), Decision::Skip);
        assert_eq!(decide(OverwriteIfSizeDiffers, src, Some(st(9, 1)), "a", none).unwrap(), Decision::Transfer);
        assert_eq!(decide(Resume, src, Some(st(10, 1)), "a", none).unwrap(), Decision::Skip);
        assert_eq!(decide(Resume, src, Some(st(4, 1)), "a", none).unwrap(), Decision::ResumeFrom(4));
        assert_eq!(decide(Resume, src, Some(st(0, 1)), "a", none).unwrap(), Decision::Transfer);
        assert_eq!(decide(Resume, src, Some(st(11, 1)), "a", none).unwrap(), Decision::Transfer);
        assert!(decide(Ask, src, Some(st(1, 1)), "a", none).is_err());
        assert_eq!(decide(Ask, src, None, "a", none).unwrap(), Decision::Transfer);
    }

    #[test]
    fn rename_finds_a_free_name() {
        let taken = |c: &str| c == "report (1).pdf";
        assert_eq!(
            decide(OverwritePolicy::Rename, st(1, 1), Some(st(1, 1)), "report.pdf", taken).unwrap(),
            Decision::RenameTo("report (2).pdf".into())
        );
        assert_eq!(free_name(".bashrc", &mut |_| false), ".bashrc (1)");
        assert_eq!(free_name("noext", &mut |_| false), "noext (1)");
    }
}
