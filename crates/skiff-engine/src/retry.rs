//! The one retry policy: how often a job may try again after the network broke, and how long
//! it waits before each try. Whether a failure is worth another try is the error's own
//! [`Recovery`](crate::error::Recovery); this module only counts and waits.
//!
//! Retries never nest. A job has one [`RetryBudget`] for as long as it is being run: the
//! transfer's in-place reconnects (a dropped connection mid-file, a pool rebuilt under a
//! tree) and the scheduler's re-runs of the whole job draw from it alike, so a job that may
//! retry 10 times tries at most 10 times, not 10 reconnects inside each of 10 re-runs.
//! Browsing sessions reconnect by the same policy.
//!
//! Pure counting and arithmetic: time is the caller's (tokio time, paused in tests).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How many tries, and the waits before them: the first wait, doubling each time, capped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries after the first failure (0: fail at once).
    pub attempts: u32,
    /// The wait before the first try.
    pub first_backoff: Duration,
    /// The longest wait between two tries.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 10 tries over about 75 s (0.25, 0.5, 1, 2, 4, 8, then 15 s each): a server that
    /// restarts, or Wi-Fi that comes back, is waited for; one that stays away fails the job
    /// with the network error after a minute or so.
    fn default() -> Self {
        RetryPolicy { attempts: 10, first_backoff: Duration::from_millis(250), max_backoff: Duration::from_secs(15) }
    }
}

impl RetryPolicy {
    /// A policy with `attempts` tries and the default waits.
    pub fn attempts(attempts: u32) -> RetryPolicy {
        RetryPolicy { attempts, ..RetryPolicy::default() }
    }

    /// The wait before try number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        self.first_backoff.saturating_mul(factor).min(self.max_backoff)
    }

    /// A fresh budget of this policy's tries.
    pub fn budget(&self) -> RetryBudget {
        RetryBudget { policy: *self, used: Arc::new(AtomicU32::new(0)) }
    }
}

/// The tries one job (or one session) has left. Clones share the count: hand the same
/// budget to everything that retries on the job's behalf.
#[derive(Debug, Clone)]
pub struct RetryBudget {
    policy: RetryPolicy,
    used: Arc<AtomicU32>,
}

/// One try granted from a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Try {
    /// Which try this is (1-based, over everything sharing the budget).
    pub number: u32,
    /// How long to wait before making it.
    pub wait: Duration,
}

impl RetryBudget {
    /// Take one try, or `None` when the budget is spent (then the failure stands).
    pub fn take(&self) -> Option<Try> {
        let attempts = self.policy.attempts;
        let number = self.used.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < attempts).then_some(n + 1)).ok()? + 1;
        Some(Try { number, wait: self.policy.backoff(number) })
    }

    /// Tries taken so far.
    pub fn used(&self) -> u32 {
        self.used.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_and_cap() {
        let p = RetryPolicy { attempts: 30, first_backoff: Duration::from_millis(250), max_backoff: Duration::from_secs(8) };
        let waits: Vec<u64> = [1, 2, 3, 4, 5, 6, 7, 30].iter().map(|&a| p.backoff(a).as_millis() as u64).collect();
        assert_eq!(waits, [250, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
        let total: Duration = (1..=RetryPolicy::default().attempts).map(|a| RetryPolicy::default().backoff(a)).sum();
        assert!((60..=90).contains(&total.as_secs()), "the default waits about a minute in all: {total:?}");
    }

    #[test]
    fn clones_share_one_count_and_it_runs_out() {
        let budget = RetryPolicy::attempts(3).budget();
        let transfer = budget.clone();
        assert_eq!(transfer.take().map(|t| t.number), Some(1));
        assert_eq!(budget.take().map(|t| t.number), Some(2));
        assert_eq!(transfer.take(), Some(Try { number: 3, wait: Duration::from_secs(1) }));
        assert_eq!(budget.take(), None);
        assert_eq!(transfer.take(), None);
        assert_eq!(budget.used(), 3);
        assert_eq!(RetryPolicy::attempts(0).budget().take(), None, "no tries: fail at once");
    }

    #[test]
    fn separate_budgets_are_separate() {
        let p = RetryPolicy::attempts(1);
        let (a, b) = (p.budget(), p.budget());
        assert!(a.take().is_some());
        assert!(b.take().is_some());
        assert!(a.take().is_none());
    }
}
