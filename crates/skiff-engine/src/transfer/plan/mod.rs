//! The plan for one entry of a transfer: given what the source has at a path (a file with
//! its size and time, a folder, a link and its target), what the destination has there,
//! the job's overwrite policy and what an earlier run of the job did, the [`Action`] to
//! take. Pure: no I/O at all. The executors (`tree`, `tree_download`, the single-file
//! `download` / `upload`, through `conflict`) look at the destination, call [`plan`] and
//! carry out what it says, so every direction and every kind of job decides the same way.
//!
//! Looking at the destination can cost a round trip (an SFTP STAT for uploads), so a caller
//! may first plan with [`Dest::Unseen`]: the plan then says [`Action::Look`] when what is
//! there matters. Likewise [`Action::Ask`] says a person must choose: the caller asks, then
//! plans again with the answered policy. Names that might be taken beside the destination
//! (for Rename) are asked of a closure, as the caller alone can look.
//!
//! Entries only the destination has are planned by [`plan_deletions`] (mirror sync).

use std::path::{Component, Path};

use crate::job::PartialRecord;
use crate::error::{Error, ErrorKind};
use crate::job::OverwritePolicy;

#[cfg(test)]
mod tests;

/// Size and modification time (unix seconds) of one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub size: u64,
    pub mtime: Option<u32>,
}

/// What the source has at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'a> {
    File(Stamp),
    Dir,
    /// A symbolic link and what it points to (never followed).
    Link { target: &'a str },
}

/// What the destination has at a path, looked at without following a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest<'a> {
    /// Not looked at (yet): the plan says [`Action::Look`] when it matters.
    Unseen,
    Missing,
    File(Stamp),
    Dir,
    /// A link, with its target when the caller read it (a link source compares it).
    Link { target: Option<&'a str> },
    /// A socket, fifo or device.
    Other,
}

/// One entry to plan.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// Its path relative to the tree's root, with `/` (the link rule measures from it).
    pub rel: &'a str,
    /// Its name at the destination (the last component).
    pub name: &'a str,
    pub source: Source<'a>,
    /// An earlier run of the job finished this file (`TreeOptions::already_done`).
    pub done_before: bool,
}

/// The job-wide rules an entry is planned by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub policy: OverwritePolicy,
    /// The run continues an earlier one of the same job into the same root, which gave its
    /// copies their source's modification time (`TreeOptions::own_copy`): a destination
    /// identical to its source in size and time is the job's own copy, finished before the
    /// stop but not yet recorded, and counts as done whatever the policy.
    pub continued: bool,
    /// Looking at the destination costs nothing (local files). When it costs a round trip
    /// the Overwrite policy sends without looking, even on a continued run: sending an own
    /// copy again is harmless.
    pub cheap_look: bool,
}

/// Where the bytes of a file transfer start from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// From byte 0.
    None,
    /// The destination is a shorter copy (the Resume policy): keep its first bytes, send the rest.
    FromPrefix(u64),
    /// The saved partial of an earlier run is for this very source: continue from its
    /// ranges, once the caller has checked that its temp file still holds them.
    Ranges(PartialRecord),
}

/// The name a file or link goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Its own name.
    Own,
    /// This free name beside it (`name (1).ext`): the Rename policy.
    Renamed(String),
}

/// Why an entry is left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// An earlier run of the job finished it.
    AlreadyDone,
    /// It is the job's own copy from an earlier run (see [`Rules::continued`]).
    OwnCopy,
    /// The policy is Skip and the destination exists.
    Exists,
    /// Overwrite-if-newer and the source is not newer.
    NotNewer,
    /// Overwrite-if-size-differs and the sizes are equal.
    SameSize,
    /// Resume and the destination is as long as the source: complete.
    Complete,
    /// The same link is already there.
    SameLink,
    /// Something is where a link goes and the policy does not replace it (a link has no
    /// size or time to compare: only Overwrite and Rename act).
    LinkKept,
}

/// What kind of thing is at a path, for type conflicts and deletions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Link,
    Other,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::File => "a file",
            Kind::Dir => "a folder",
            Kind::Link => "a symbolic link",
            Kind::Other => "a special file (socket, fifo or device)",
        }
    }
}

/// What to do with one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Look at the destination and plan again (it was [`Dest::Unseen`] and it matters).
    Look,
    /// Create the folder, or use the one that is there.
    CreateDir,
    /// Send the file to `to`, starting as `resume` says.
    Transfer { to: Target, resume: Resume },
    Skip { why: SkipReason },
    /// Create the link `to -> target`; `replace`: over what is there (never through it).
    Link { target: String, to: Target, replace: bool },
    /// The link is not recreated.
    RefuseLink { why: String },
    /// The destination exists and the policy is Ask: put the question, then plan again with
    /// the answer as the policy.
    Ask,
    /// The source has one kind of thing and the destination another at this path; nothing
    /// is replaced ([`type_conflict`] is the error to report).
    TypeConflict { source: Kind, dest: Kind },
    /// Remove this destination-only entry (mirror sync; see [`plan_deletions`]).
    Delete { kind: Kind },
}

/// The action for `entry` whose destination is `dest`; `partial` is the saved partial of an
/// earlier run for this file, if any; `taken` says whether a name beside the destination is
/// taken (asked only for Rename).
pub fn plan(entry: &Entry<'_>, dest: Dest<'_>, partial: Option<&PartialRecord>, rules: Rules, taken: impl FnMut(&str) -> bool) -> Action {
    if entry.done_before {
        return Action::Skip { why: SkipReason::AlreadyDone };
    }
    match entry.source {
        Source::Dir => plan_dir(dest),
        Source::Link { target } => plan_link(entry, target, dest, rules, taken),
        Source::File(source) => plan_file(entry.name, source, dest, partial, rules, taken),
    }
}

fn plan_dir(dest: Dest<'_>) -> Action {
    match dest {
        // Creating is how an unseen folder is looked at: what is in the way shows then.
        Dest::Unseen | Dest::Missing | Dest::Dir => Action::CreateDir,
        Dest::File(_) => Action::TypeConflict { source: Kind::Dir, dest: Kind::File },
        Dest::Link { .. } => Action::TypeConflict { source: Kind::Dir, dest: Kind::Link },
        Dest::Other => Action::TypeConflict { source: Kind::Dir, dest: Kind::Other },
    }
}

fn plan_link(entry: &Entry<'_>, target: &str, dest: Dest<'_>, rules: Rules, mut taken: impl FnMut(&str) -> bool) -> Action {
    if !link_stays_inside(entry.rel, target) {
        return Action::RefuseLink { why: format!("the link points outside the tree ({target}); not followed") };
    }
    let link = |to, replace| Action::Link { target: target.to_string(), to, replace };
    match dest {
        // Unseen (a remote destination): created, and creating fails when something is there.
        Dest::Unseen | Dest::Missing => link(Target::Own, false),
        Dest::Link { target: Some(there) } if there == target => Action::Skip { why: SkipReason::SameLink },
        Dest::Dir => Action::TypeConflict { source: Kind::Link, dest: Kind::Dir },
        Dest::File(_) | Dest::Link { .. } | Dest::Other => match rules.policy {
            OverwritePolicy::Overwrite => link(Target::Own, true),
            OverwritePolicy::Rename => link(Target::Renamed(free_name(entry.name, &mut taken)), false),
            // It must never destroy a file it was not asked to replace.
            _ => Action::Skip { why: SkipReason::LinkKept },
        },
    }
}

fn plan_file(name: &str, source: Stamp, dest: Dest<'_>, partial: Option<&PartialRecord>, rules: Rules, mut taken: impl FnMut(&str) -> bool) -> Action {
    let whole = || Action::Transfer { to: Target::Own, resume: saved_ranges(source, partial) };
    let existing = match dest {
        Dest::Unseen if rules.policy == OverwritePolicy::Overwrite && !(rules.continued && rules.cheap_look) => return whole(),
        Dest::Unseen => return Action::Look,
        Dest::Missing => return whole(),
        Dest::File(stamp) => stamp,
        Dest::Dir => return Action::TypeConflict { source: Kind::File, dest: Kind::Dir },
        // Something else in the way counts as an empty file with no time: replaced by
        // Overwrite, left alone by Skip, never resumed from.
        Dest::Link { .. } | Dest::Other => Stamp { size: 0, mtime: None },
    };
    if rules.continued && source.mtime.is_some() && existing == source {
        return Action::Skip { why: SkipReason::OwnCopy };
    }
    let skip = |why| Action::Skip { why };
    match rules.policy {
        OverwritePolicy::Overwrite => whole(),
        OverwritePolicy::Skip => skip(SkipReason::Exists),
        OverwritePolicy::OverwriteIfNewer => match (source.mtime, existing.mtime) {
            (Some(s), Some(d)) if s <= d => skip(SkipReason::NotNewer),
            _ => whole(),
        },
        OverwritePolicy::OverwriteIfSizeDiffers if source.size == existing.size => skip(SkipReason::SameSize),
        OverwritePolicy::OverwriteIfSizeDiffers => whole(),
        // Resume, like `sftp reget`/`reput`: a shorter destination is taken as the start of
        // the file and only the rest is sent; the same size is complete; a longer one is not
        // a partial copy of this source, so it is replaced whole.
        OverwritePolicy::Resume => match existing.size {
            d if d == source.size => skip(SkipReason::Complete),
            d if d > 0 && d < source.size => Action::Transfer { to: Target::Own, resume: Resume::FromPrefix(d) },
            _ => whole(),
        },
        // A new name of this run: an earlier run's partial was for the file's own name.
        OverwritePolicy::Rename => Action::Transfer { to: Target::Renamed(free_name(name, &mut taken)), resume: Resume::None },
        OverwritePolicy::Ask => Action::Ask,
    }
}

/// [`Resume::Ranges`] when `partial` was saved for this very source (same size and time)
/// and holds something; otherwise the file starts from byte 0 (and the caller drops the
/// stale partial).
fn saved_ranges(source: Stamp, partial: Option<&PartialRecord>) -> Resume {
    match partial {
        Some(rec) if rec.source_size == source.size && rec.source_mtime == source.mtime && rec.ranges.iter().any(|r| r.0 < r.1) => {
            Resume::Ranges(rec.clone())
        }
        _ => Resume::None,
    }
}

/// The deletions a mirror sync makes: every destination entry (relative path with `/`,
/// kind) the source does not have (`in_source`), children before their folder so each
/// folder is empty when its turn comes. A temp file (`NAME.skiffpart`) of a file the source
/// has is kept: it may be an unfinished copy that a run takes up.
pub fn plan_deletions<'a>(dest_entries: impl IntoIterator<Item = (&'a str, Kind)>, in_source: impl Fn(&str) -> bool) -> Vec<(&'a str, Action)> {
    let mut gone: Vec<(&'a str, Action)> = dest_entries
        .into_iter()
        .filter(|(rel, _)| !in_source(rel))
        .filter(|(rel, kind)| !(*kind == Kind::File && partial_of(rel).is_some_and(&in_source)))
        .map(|(rel, kind)| (rel, Action::Delete { kind }))
        .collect();
    // Deeper first; the order among equals stays as listed.
    gone.sort_by_key(|(rel, _)| std::cmp::Reverse(rel.matches('/').count()));
    gone
}

/// The file a temp file `x.skiffpart` (or `x.3.skiffpart`) belongs to.
fn partial_of(rel: &str) -> Option<&str> {
    let stem = rel.strip_suffix(super::PART_SUFFIX)?;
    let stem = match stem.rsplit_once('.') {
        Some((s, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => s,
        _ => stem,
    };
    (!stem.is_empty() && !stem.ends_with('/')).then_some(stem)
}

/// Whether a link at `rel` pointing to `target` stays inside the tree, read as written:
/// relative, and never above the tree's root on the way.
pub fn link_stays_inside(rel: &str, target: &str) -> bool {
    if target.starts_with('/') || target.is_empty() {
        return false;
    }
    let mut depth: i64 = rel.matches('/').count() as i64; // the link's directory depth
    for c in Path::new(target).components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            _ => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

/// The error for a [`Action::TypeConflict`] at `path` (the caller adds the host).
pub fn type_conflict(source: Kind, dest: Kind, path: &str) -> Error {
    let op = match source {
        Kind::Dir => "create directory",
        Kind::Link => "copy link",
        _ => "copy file",
    };
    Error::new(ErrorKind::WrongType, op, format!("{} is where {} goes; nothing was replaced", dest.noun(), source.noun()))
        .path(path)
        .hint(format!("remove or rename {} in the destination, then run the transfer again", dest.noun()))
}

/// The error for an [`Action::Ask`] that nobody can answer (the command line).
pub fn nobody_to_ask(name: &str) -> Error {
    Error::new(ErrorKind::Config, "overwrite", format!("{name} exists and the policy is \"ask\""))
        .hint("the command line cannot ask; choose overwrite, skip, overwrite-if-newer, overwrite-if-size-differs, resume or rename")
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
