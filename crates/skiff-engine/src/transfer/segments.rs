//! [`SegmentQueue`]: the not-yet-transferred parts of one file, cut into segments that the
//! channel workers take one at a time, so fast channels take more. Pure data structure.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Mutex;

#[derive(Debug)]
pub struct SegmentQueue {
    queue: Mutex<VecDeque<Range<u64>>>,
}

impl SegmentQueue {
    /// Cut each missing range into pieces of at most `segment` bytes.
    pub fn new(missing: Vec<Range<u64>>, segment: u64) -> Self {
        let segment = segment.max(1);
        let mut queue = VecDeque::new();
        for r in missing {
            let mut start = r.start;
            while start < r.end {
                let end = r.end.min(start.saturating_add(segment));
                queue.push_back(start..end);
                start = end;
            }
        }
        SegmentQueue { queue: Mutex::new(queue) }
    }

    pub fn next(&self) -> Option<Range<u64>> {
        self.queue.lock().expect("segment queue poisoned").pop_front()
    }

    pub fn len(&self) -> usize {
        self.queue.lock().expect("segment queue poisoned").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
    fn empty_queue_gives_nothing() {
        let q = SegmentQueue::new(vec![], 4);
        assert!(ChunkCursor::new(3).next(&q).is_none());
    }
}
