//! Every overwrite policy against every destination state, spelled out cell by cell, plus
//! folders, links, type conflicts, files done before, own copies and deletions.

use super::*;
use OverwritePolicy::{Ask, Overwrite, OverwriteIfNewer, OverwriteIfSizeDiffers, Rename, Skip};

const SOURCE: Stamp = Stamp { size: 100, mtime: Some(1000) };

fn file(rel: &str) -> Entry<'_> {
    let name = rel.rsplit('/').next().unwrap();
    Entry { rel, name, source: Source::File(SOURCE), done_before: false }
}

fn rules(policy: OverwritePolicy) -> Rules {
    Rules { policy, continued: false, cheap_look: true }
}

fn saved() -> PartialRecord {
    PartialRecord { temp: "f.txt.skiffpart".into(), dev: 1, ino: 2, source_size: 100, source_mtime: Some(1000), ranges: vec![(0, 30), (50, 60)] }
}

/// The six destination states of the table.
#[derive(Debug, Clone, Copy)]
enum State {
    Missing,
    Older,
    Newer,
    Same,
    DifferentSize,
    /// Nothing at the name, and a saved partial of this source.
    Partial,
}

fn plan_in(state: State, policy: OverwritePolicy) -> Action {
    let (dest, partial) = match state {
        State::Missing => (Dest::Missing, None),
        State::Older => (Dest::File(Stamp { size: 100, mtime: Some(900) }), None),
        State::Newer => (Dest::File(Stamp { size: 100, mtime: Some(1100) }), None),
        State::Same => (Dest::File(SOURCE), None),
        State::DifferentSize => (Dest::File(Stamp { size: 40, mtime: Some(1000) }), None),
        State::Partial => (Dest::Missing, Some(saved())),
    };
    plan(&file("d/f.txt"), dest, partial.as_ref(), rules(policy), |c| c == "f (9).txt")
}

fn whole() -> Action {
    Action::Transfer { to: Target::Own, resume: Resume::None }
}
fn ranges() -> Action {
    Action::Transfer { to: Target::Own, resume: Resume::Ranges(saved()) }
}
fn prefix(have: u64) -> Action {
    Action::Transfer { to: Target::Own, resume: Resume::FromPrefix(have) }
}
fn skip(why: SkipReason) -> Action {
    Action::Skip { why }
}
fn renamed() -> Action {
    Action::Transfer { to: Target::Renamed("f (1).txt".into()), resume: Resume::None }
}

#[test]
fn every_policy_in_every_destination_state() {
    use SkipReason::*;
    use State::*;
    #[rustfmt::skip]
    let table: [(OverwritePolicy, [Action; 6]); 7] = [
        //                        Missing  Older            Newer            Same             DifferentSize                                              Partial
        (Overwrite,              [whole(), whole(),         whole(),         whole(),         whole(),                                                   ranges()]),
        (Skip,                   [whole(), skip(Exists),    skip(Exists),    skip(Exists),    skip(Exists),                                              ranges()]),
        (OverwriteIfNewer,       [whole(), whole(),         skip(NotNewer),  skip(NotNewer),  skip(NotNewer),                                            ranges()]),
        (OverwriteIfSizeDiffers, [whole(), skip(SameSize),  skip(SameSize),  skip(SameSize),  whole(),                                                   ranges()]),
        (OverwritePolicy::Resume,[whole(), skip(Complete),  skip(Complete),  skip(Complete),  prefix(40),                                                ranges()]),
        (Rename,                 [whole(), renamed(),       renamed(),       renamed(),       renamed(),                                                 ranges()]),
        (Ask,                    [whole(), Action::Ask,     Action::Ask,     Action::Ask,     Action::Ask,                                               ranges()]),
    ];
    let states = [Missing, Older, Newer, Same, DifferentSize, Partial];
    let mut cells = 0;
    for (policy, row) in table {
        for (state, want) in states.into_iter().zip(row) {
            assert_eq!(plan_in(state, policy), want, "{policy:?} with the destination {state:?}");
            cells += 1;
        }
    }
    assert_eq!(cells, 42);
}

#[test]
fn resume_replaces_a_longer_or_empty_destination_whole() {
    let longer = Dest::File(Stamp { size: 101, mtime: Some(1) });
    assert_eq!(plan(&file("f.txt"), longer, None, rules(OverwritePolicy::Resume), |_| false), whole());
    let empty = Dest::File(Stamp { size: 0, mtime: Some(1) });
    assert_eq!(plan(&file("f.txt"), empty, None, rules(OverwritePolicy::Resume), |_| false), whole());
}

#[test]
fn newer_without_times_is_sent() {
    let untimed = Dest::File(Stamp { size: 100, mtime: None });
    assert_eq!(plan(&file("f.txt"), untimed, None, rules(OverwriteIfNewer), |_| false), whole());
}

#[test]
fn a_stale_or_empty_partial_starts_over_and_a_renamed_file_never_resumes() {
    let changed = PartialRecord { source_mtime: Some(999), ..saved() };
    assert_eq!(plan(&file("f.txt"), Dest::Missing, Some(&changed), rules(Overwrite), |_| false), whole());
    let resized = PartialRecord { source_size: 101, ..saved() };
    assert_eq!(plan(&file("f.txt"), Dest::Missing, Some(&resized), rules(Overwrite), |_| false), whole());
    let empty = PartialRecord { ranges: vec![], ..saved() };
    assert_eq!(plan(&file("f.txt"), Dest::Missing, Some(&empty), rules(Overwrite), |_| false), whole());
    // An existing destination replaced whole under Overwrite still takes the partial up.
    assert_eq!(plan(&file("f.txt"), Dest::File(Stamp { size: 7, mtime: None }), Some(&saved()), rules(Overwrite), |_| false), ranges());
    let dest = Dest::File(Stamp { size: 7, mtime: None });
    assert_eq!(plan(&file("f.txt"), dest, Some(&saved()), rules(Rename), |_| false), renamed());
}

#[test]
fn rename_takes_the_first_free_name() {
    let taken = |c: &str| c == "report (1).pdf";
    let got = plan(&file("report.pdf"), Dest::File(SOURCE), None, rules(Rename), taken);
    assert_eq!(got, Action::Transfer { to: Target::Renamed("report (2).pdf".into()), resume: Resume::None });
    assert_eq!(free_name(".bashrc", &mut |_| false), ".bashrc (1)");
    assert_eq!(free_name("noext", &mut |_| false), "noext (1)");
}

#[test]
fn an_unseen_destination_is_looked_at_unless_overwrite_needs_no_look() {
    assert_eq!(plan(&file("f.txt"), Dest::Unseen, None, rules(Overwrite), |_| false), whole());
    assert_eq!(plan(&file("f.txt"), Dest::Unseen, Some(&saved()), rules(Overwrite), |_| false), ranges());
    for policy in [Skip, OverwriteIfNewer, OverwriteIfSizeDiffers, OverwritePolicy::Resume, Rename, Ask] {
        assert_eq!(plan(&file("f.txt"), Dest::Unseen, None, rules(policy), |_| false), Action::Look, "{policy:?}");
    }
    // A continued run looks for its own copies when looking is cheap, not when it costs a round trip.
    let continued = Rules { policy: Overwrite, continued: true, cheap_look: true };
    assert_eq!(plan(&file("f.txt"), Dest::Unseen, None, continued, |_| false), Action::Look);
    let remote = Rules { cheap_look: false, ..continued };
    assert_eq!(plan(&file("f.txt"), Dest::Unseen, None, remote, |_| false), whole());
}

#[test]
fn an_own_copy_of_a_continued_run_counts_as_done_whatever_the_policy() {
    for policy in [Overwrite, Skip, OverwriteIfNewer, OverwriteIfSizeDiffers, OverwritePolicy::Resume, Rename, Ask] {
        let continued = Rules { policy, continued: true, cheap_look: true };
        assert_eq!(plan(&file("f.txt"), Dest::File(SOURCE), None, continued, |_| false), skip(SkipReason::OwnCopy), "{policy:?}");
    }
    // Not on a fresh run, and not without a source time to compare.
    assert_eq!(plan(&file("f.txt"), Dest::File(SOURCE), None, rules(Overwrite), |_| false), whole());
    let untimed = Entry { source: Source::File(Stamp { size: 100, mtime: None }), ..file("f.txt") };
    let continued = Rules { policy: Overwrite, continued: true, cheap_look: true };
    assert_eq!(plan(&untimed, Dest::File(Stamp { size: 100, mtime: None }), None, continued, |_| false), whole());
}

#[test]
fn a_file_done_before_is_skipped_without_looking() {
    let done = Entry { done_before: true, ..file("f.txt") };
    for policy in [Overwrite, Skip, Ask, Rename] {
        assert_eq!(plan(&done, Dest::Unseen, Some(&saved()), rules(policy), |_| panic!("no name asked")), skip(SkipReason::AlreadyDone));
    }
}

#[test]
fn something_else_in_the_way_of_a_file_is_never_resumed_from() {
    for dest in [Dest::Link { target: None }, Dest::Other] {
        assert_eq!(plan(&file("f.txt"), dest, None, rules(Overwrite), |_| false), whole());
        assert_eq!(plan(&file("f.txt"), dest, None, rules(Skip), |_| false), skip(SkipReason::Exists));
        assert_eq!(plan(&file("f.txt"), dest, None, rules(OverwritePolicy::Resume), |_| false), whole());
        assert_eq!(plan(&file("f.txt"), dest, None, rules(Ask), |_| false), Action::Ask);
    }
}

#[test]
fn type_conflicts_replace_nothing() {
    for policy in [Overwrite, Skip, Rename, Ask] {
        assert_eq!(plan(&file("f.txt"), Dest::Dir, None, rules(policy), |_| false), Action::TypeConflict { source: Kind::File, dest: Kind::Dir });
    }
    let dir = Entry { rel: "d", name: "d", source: Source::Dir, done_before: false };
    assert_eq!(plan(&dir, Dest::File(SOURCE), None, rules(Overwrite), |_| false), Action::TypeConflict { source: Kind::Dir, dest: Kind::File });
    assert_eq!(plan(&dir, Dest::Link { target: None }, None, rules(Overwrite), |_| false), Action::TypeConflict { source: Kind::Dir, dest: Kind::Link });
    let e = type_conflict(Kind::Dir, Kind::File, "/srv/d");
    assert_eq!(e.kind, ErrorKind::WrongType);
    assert_eq!(e.path.as_deref(), Some("/srv/d"));
    assert!(e.to_string().contains("a file is where a folder goes"), "{e}");
}

#[test]
fn folders_are_created_or_used() {
    let dir = Entry { rel: "a/d", name: "d", source: Source::Dir, done_before: false };
    for dest in [Dest::Unseen, Dest::Missing, Dest::Dir] {
        assert_eq!(plan(&dir, dest, None, rules(Skip), |_| false), Action::CreateDir);
    }
}

#[test]
fn links_stay_inside_and_follow_the_policy() {
    let link = |target| Entry { rel: "a/l", name: "l", source: Source::Link { target }, done_before: false };
    let make = |to, replace| Action::Link { target: "../b".into(), to, replace };
    assert_eq!(plan(&link("../b"), Dest::Missing, None, rules(Skip), |_| false), make(Target::Own, false));
    assert_eq!(plan(&link("../b"), Dest::Unseen, None, rules(Skip), |_| false), make(Target::Own, false));
    assert_eq!(plan(&link("../b"), Dest::Link { target: Some("../b") }, None, rules(Overwrite), |_| false), skip(SkipReason::SameLink));
    let other = Dest::Link { target: Some("x") };
    assert_eq!(plan(&link("../b"), other, None, rules(Overwrite), |_| false), make(Target::Own, true));
    assert_eq!(plan(&link("../b"), Dest::File(SOURCE), None, rules(Rename), |c| c == "l (1)"), make(Target::Renamed("l (2)".into()), false));
    for policy in [Skip, OverwriteIfNewer, OverwriteIfSizeDiffers, OverwritePolicy::Resume, Ask] {
        assert_eq!(plan(&link("../b"), Dest::File(SOURCE), None, rules(policy), |_| false), skip(SkipReason::LinkKept), "{policy:?}");
    }
    assert_eq!(plan(&link("../b"), Dest::Dir, None, rules(Overwrite), |_| false), Action::TypeConflict { source: Kind::Link, dest: Kind::Dir });
    for out in ["../../out", "/etc/passwd", ""] {
        assert!(matches!(plan(&link(out), Dest::Missing, None, rules(Overwrite), |_| false), Action::RefuseLink { .. }), "{out:?}");
    }
}

#[test]
fn links_must_stay_inside_the_tree() {
    assert!(link_stays_inside("a/link", "b"));
    assert!(link_stays_inside("a/link", "../top"));
    assert!(!link_stays_inside("a/link", "../../out"));
    assert!(!link_stays_inside("link", "../x"));
    assert!(!link_stays_inside("link", "/etc/passwd"));
    assert!(link_stays_inside("link", "./x/../y"));
}

#[test]
fn deletions_remove_what_the_source_lacks_children_first() {
    let source = ["keep", "big.iso", "d"];
    let dest = [
        ("keep", Kind::File),
        ("old", Kind::Dir),
        ("old/sub", Kind::Dir),
        ("old/sub/x", Kind::File),
        ("old/l", Kind::Link),
        ("stray.txt", Kind::File),
        ("big.iso.skiffpart", Kind::File),
        ("big.iso.2.skiffpart", Kind::File),
        ("gone.skiffpart", Kind::File),
        ("d", Kind::Dir),
    ];
    let got = plan_deletions(dest, |rel| source.contains(&rel));
    let want = vec![
        ("old/sub/x", Action::Delete { kind: Kind::File }),
        ("old/sub", Action::Delete { kind: Kind::Dir }),
        ("old/l", Action::Delete { kind: Kind::Link }),
        ("old", Action::Delete { kind: Kind::Dir }),
        ("stray.txt", Action::Delete { kind: Kind::File }),
        ("gone.skiffpart", Action::Delete { kind: Kind::File }),
    ];
    assert_eq!(got, want);
    assert!(plan_deletions(dest, |_| true).is_empty());
}

#[test]
fn nobody_to_ask_names_the_file_and_the_way_out() {
    let e = nobody_to_ask("f.txt");
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(e.to_string().contains("f.txt exists"), "{e}");
}
