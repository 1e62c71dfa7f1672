//! [`SegmentQueue`]: the not-yet-transferred parts of one file, cut into segments that the
//! channel workers take one at a time, so fast channels take more. Pure data structure.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Mutex;

#[derive(Debug)]
pub struct SegmentQueue {
    /// Missing ranges not handed out yet; segments are cut from the front one as asked
    /// for, so the table's size never grows with the file's (claimed) size.
    ranges: Mutex<VecDeque<Range<u64>>>,
    segment: u64,
}

impl SegmentQueue {
    /// Cut each missing range into pieces of at most `segment` bytes.
    pub fn new(missing: Vec<Range<u64>>, segment: u64) -> Self {
        let ranges = missing.into_iter().filter(|r| r.start < r.end).collect();
        SegmentQueue { ranges: Mutex::new(ranges), segment: segment.max(1) }
    }

    pub fn next(&self) -> Option<Range<u64>> {
        let mut ranges = self.ranges.lock().expect("segment queue poisoned");
        let front = ranges.front_mut()?;
        let start = front.start;
        let end = front.end.min(start.saturating_add(self.segment));
        front.start = end;
        if front.start >= front.end {
            ranges.pop_front();
        }
        Some(start..end)
    }

    /// Segments left (saturating).
    pub fn len(&self) -> usize {
        let ranges = self.ranges.lock().expect("segment queue poisoned");
        ranges.iter().fold(0usize, |n, r| n.saturating_add(usize::try_from((r.end - r.start).div_ceil(self.segment)).unwrap_or(usize::MAX)))
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.lock().expect("segment queue poisoned").is_empty()
    }

    /// Drop everything at or after `end` (the file ended there).
    pub fn truncate(&self, end: u64) {
        let mut ranges = self.ranges.lock().expect("segment queue poisoned");
        ranges.retain(|r| r.start < end);
        for r in ranges.iter_mut() {
            r.end = r.end.min(end);
        }
    }
}

/// Hands out `(offset, len)` chunks of at most `block` bytes, pulling segments from a queue.
#[derive(Debug)]
pub struct ChunkCursor {
    current: Range<u64>,
    block: u64,
}

impl ChunkCursor {
    pub fn new(block: u32) -> Self {
        ChunkCursor { current: 0..0, block: u64::from(block.max(1)) }
    }

    pub fn next(&mut self, queue: &SegmentQueue) -> Option<(u64, u32)> {
        if self.current.start >= self.current.end {
            self.current = queue.next()?;
        }
        let off = self.current.start;
        let len = (self.current.end - off).min(self.block);
        self.current.start += len;
        Some((off, len as u32))
    }

    /// Forget the rest of the current segment (the file ended before it).
    pub fn clear(&mut self) {
        self.current = 0..0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_and_hands_out_in_order() {
        let q = SegmentQueue::new(vec![0..10, 20..25], 4);
        assert_eq!(q.len(), 5);
        let mut c = ChunkCursor::new(3);
        let mut got = vec![];
        while let Some(x) = c.next(&q) {
            got.push(x);
        }
        assert_eq!(got, vec![(0, 3), (3, 1), (4, 3), (7, 1), (8, 2), (20, 3), (23, 1), (24, 1)]);
    }

    #[test]
    fn a_huge_claimed_size_costs_no_memory() {
        let q = SegmentQueue::new(std::iter::once(0..(1u64 << 62)).collect(), 1 << 20);
        assert_eq!(q.len(), 1 << 42);
        assert_eq!(q.next(), Some(0..(1 << 20)));
        q.truncate(100);
        assert!(q.is_empty());
    }

    #[test]
    fn empty_queue_gives_nothing() {
        let q = SegmentQueue::new(vec![], 4);
        assert!(ChunkCursor::new(3).next(&q).is_none());
    }
}
