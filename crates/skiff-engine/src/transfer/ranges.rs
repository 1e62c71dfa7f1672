//! [`RangeSet`]: which byte ranges of a file are done. Replies arrive out of order and
//! segments run in parallel, so "done" is a set of ranges, not an offset; after a dropped
//! connection only [`RangeSet::missing`] is transferred again. Pure data structure.

use std::collections::BTreeMap;
use std::ops::Range;

/// Disjoint, coalesced half-open byte ranges.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RangeSet {
    /// start -> end, never overlapping or touching.
    map: BTreeMap<u64, u64>,
}

impl RangeSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, r: Range<u64>) {
        if r.start >= r.end {
            return;
        }
        let (mut start, mut end) = (r.start, r.end);
        // Merge with a range that starts before and reaches us.
        if let Some((&s, &e)) = self.map.range(..=start).next_back() {
            if e >= start {
                start = s;
                end = end.max(e);
                self.map.remove(&s);
            }
        }
        // Merge with ranges that start inside [start, end].
        let inside: Vec<(u64, u64)> = self.map.range(start..=end).map(|(&s, &e)| (s, e)).collect();
        for (s, e) in inside {
            end = end.max(e);
            self.map.remove(&s);
        }
        self.map.insert(start, end);
    }

    /// Total bytes covered.
    pub fn len(&self) -> u64 {
        self.map.iter().map(|(s, e)| e - s).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The set of (start, end) pairs (the inverse of [`RangeSet::ranges`]); empty or
    /// reversed pairs add nothing.
    pub fn from_pairs(pairs: &[(u64, u64)]) -> RangeSet {
        let mut set = RangeSet::new();
        for &(start, end) in pairs {
            set.insert(start..end);
        }
        set
    }

    /// The ranges as (start, end) pairs, in order.
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        self.map.iter().map(|(s, e)| (*s, *e)).collect()
    }

    /// The parts of `0..total` not yet covered, in order.
    pub fn missing(&self, total: u64) -> Vec<Range<u64>> {
        let mut out = Vec::new();
        let mut pos = 0;
        for (&s, &e) in &self.map {
            if s >= total {
                break;
            }
            if s > pos {
                out.push(pos..s);
            }
            pos = pos.max(e);
        }
        if pos < total {
            out.push(pos..total);
        }
        out
    }

    /// Insert `r` and return how many of its bytes were new (the rest had been moved before,
    /// i.e. were sent again after a reconnect).
    pub fn insert_counting(&mut self, r: Range<u64>) -> u64 {
        let before = self.len();
        self.insert(r);
        self.len() - before
    }

    /// Length of the contiguous prefix starting at 0.
    pub fn prefix(&self) -> u64 {
        match self.map.iter().next() {
            Some((&0, &e)) => e,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coalesces_out_of_order_inserts() {
        let mut s = RangeSet::new();
        s.insert(10..20);
        s.insert(30..40);
        s.insert(0..10);
        assert_eq!(s.missing(50), vec![20..30, 40..50]);
        s.insert(15..35);
        assert_eq!(s.missing(50), vec![40..50]);
        assert_eq!(s.len(), 40);
        assert_eq!(s.prefix(), 40);
        s.insert(40..50);
        assert!(s.missing(50).is_empty());
        assert_eq!(s.insert_counting(45..60), 10, "only 50..60 is new");
    }

    #[test]
    fn empty_and_overlapping() {
        let mut s = RangeSet::new();
        assert_eq!(s.missing(0), Vec::<Range<u64>>::new());
        assert_eq!(s.missing(5), vec![0..5]);
        s.insert(5..5);
        assert!(s.is_empty());
        s.insert(2..8);
        s.insert(1..9);
        s.insert(3..4);
        assert_eq!(s.missing(10), vec![0..1, 9..10]);
        assert_eq!(s.prefix(), 0);
    }
}
