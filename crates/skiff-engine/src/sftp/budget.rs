//! [`InFlightBudget`]: a byte budget for requests in flight, shared by whoever holds a clone.
//!
//! A READ costs its requested length, a WRITE its payload; the permit is released when the
//! reply is routed. When the budget is spent, senders wait: that is the backpressure that keeps
//! memory bounded however many files and channels are busy. Owns only the accounting.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Clone, Debug)]
pub struct InFlightBudget {
    sem: Arc<Semaphore>,
    total: u32,
}

impl InFlightBudget {
    /// A budget of `bytes` in flight at once.
    pub fn new(bytes: u32) -> Self {
        InFlightBudget { sem: Arc::new(Semaphore::new(bytes as usize)), total: bytes }
    }

    pub fn total(&self) -> u32 {
        self.total
    }

    pub fn available(&self) -> usize {
        self.sem.available_permits()
    }

    /// Take `cost` bytes (clamped to the whole budget so one huge request cannot deadlock).
    pub async fn acquire(&self, cost: u32) -> OwnedSemaphorePermit {
        let cost = cost.min(self.total).max(1);
        self.sem
            .clone()
            .acquire_many_owned(cost)
            .await
            .expect("in-flight budget semaphore is never closed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn blocks_until_released() {
        let b = InFlightBudget::new(100);
        let p1 = b.acquire(60).await;
        assert_eq!(b.available(), 40);
        let b2 = b.clone();
        let waiter = tokio::spawn(async move { b2.acquire(60).await });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(p1);
        let _p2 = waiter.await.unwrap();
        assert_eq!(b.available(), 40);
    }

    #[tokio::test]
    async fn oversized_request_is_clamped() {
        let b = InFlightBudget::new(10);
        let _p = b.acquire(1000).await;
        assert_eq!(b.available(), 0);
    }
}
