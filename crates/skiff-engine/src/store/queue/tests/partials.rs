//! Partial records saved, replaced and forgotten with their job.

use super::*;
use crate::job::PartialRecord;
use std::sync::Arc;

#[test]
fn partials_are_saved_replaced_forgotten_and_go_with_their_job() {
    let q = Arc::new(Queue::open_in_memory().unwrap());
    let id = q.add(&spec("p"), 0).unwrap();
    let rec = PartialRecord { temp: "f.skiffpart".into(), dev: 1, ino: 2, source_size: 100, source_mtime: Some(5), ranges: vec![(0, 10)] };
    assert_eq!(q.partial(id, "a/f").unwrap(), None);
    q.save_partial(id, "a/f", &rec).unwrap();
    assert_eq!(q.partial(id, "a/f").unwrap(), Some(rec.clone()));
    let more = PartialRecord { ranges: vec![(0, 10), (20, 30)], ..rec.clone() };
    let p = q.partials_of(id);
    p.save("a/f", &more);
    assert_eq!(p.load("a/f"), Some(more));
    p.forget("a/f");
    assert_eq!(q.partial(id, "a/f").unwrap(), None);
    q.save_partial(id, "b", &rec).unwrap();
    q.set_state(id, JobState::Done, None).unwrap();
    q.clear_finished().unwrap();
    assert_eq!(q.partial(id, "b").unwrap(), None, "removed with the job");
}
