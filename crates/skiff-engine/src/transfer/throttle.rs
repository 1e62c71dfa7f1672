//! Speed limits: [`RateLimit`], a token bucket whose rate can change while transfers run,
//! and [`Throttle`], the set of limits (e.g. global and per-job) one transfer obeys.
//!
//! Every READ (download) and WRITE (upload) request takes its size from the transfer's
//! [`Throttle`] before it is sent. With no limit set that is a few atomic loads and never
//! yields, so an unlimited transfer pays nothing for it.
//!
//! A bucket holds at most [`burst_for`] bytes (about 100 ms of rate, at least
//! [`MIN_BURST`]). A request may take more than the bucket holds: it goes through once the
//! bucket is full (or holds its whole size) and leaves the bucket in debt, which later
//! requests wait out. That is how a 255 KiB block passes under a 10 KiB/s limit.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Smallest burst, whatever the rate: a whole 64 KiB request passes without debt.
pub const MIN_BURST: u64 = 64 * 1024;

/// Longest a waiter sleeps before it looks at the rate again, so a rate change reaches
/// transfers already waiting within this time.
const RECHECK_EVERY: Duration = Duration::from_millis(100);

/// Bytes a bucket at `rate` bytes/second can hold: ~100 ms of rate, at least [`MIN_BURST`].
pub fn burst_for(rate: u64) -> u64 {
    (rate / 10).max(MIN_BURST)
}

/// A token bucket of bytes per second, shared (via `Arc`) by every transfer it limits.
pub struct RateLimit {
    /// Bytes per second; 0 = unlimited.
    rate: AtomicU64,
    /// Waiters queue on this lock in turn (tokio's mutex is first come, first served).
    bucket: Mutex<Bucket>,
}

struct Bucket {
    /// Bytes that may go now; negative = debt left by a request bigger than the bucket.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    updated: Instant,
}

impl Bucket {
    /// Add what `rate` earned since the last refill, up to the burst.
    fn refill(&mut self, rate: u64) {
        let now = Instant::now();
        let earned = now.saturating_duration_since(self.updated).as_secs_f64() * rate as f64;
        self.tokens = (self.tokens + earned).min(burst_for(rate) as f64);
        self.updated = now;
    }
}

impl RateLimit {
    /// A limit of `rate` bytes/second (`None` = unlimited), starting with a full bucket.
    pub fn new(rate: Option<u64>) -> Arc<RateLimit> {
        let rate = encode_rate(rate);
        Arc::new(RateLimit {
            rate: AtomicU64::new(rate),
            bucket: Mutex::new(Bucket { tokens: burst_for(rate) as f64, updated: Instant::now() }),
        })
    }

    /// Change the rate (`None` = unlimited; `Some(0)` counts as 1 byte/s). Transfers already
    /// waiting see it within 100 ms.
    pub fn set_rate(&self, rate: Option<u64>) {
        self.rate.store(encode_rate(rate), Ordering::Relaxed);
    }

    /// Bytes per second, `None` when unlimited.
    pub fn rate(&self) -> Option<u64> {
        decode_rate(self.rate.load(Ordering::Relaxed))
    }

    /// Wait until `n` bytes may go, then take them (possibly leaving the bucket in debt).
    /// Returns at once, without yielding, while the limit is unlimited.
    pub async fn take(&self, n: u64) {
        if self.rate().is_none() {
            return;
        }
        let mut bucket = self.bucket.lock().await;
        loop {
            let Some(rate) = self.rate() else { return };
            bucket.refill(rate);
            // A request bigger than the bucket goes once the bucket is full.
            let needed = n.min(burst_for(rate)) as f64;
            if bucket.tokens >= needed {
                bucket.tokens -= n as f64;
                return;
            }
            let wait = Duration::from_secs_f64((needed - bucket.tokens) / rate as f64);
            // At least 1 ms, so that (paused) time always moves between two looks.
            tokio::time::sleep(wait.clamp(Duration::from_millis(1), RECHECK_EVERY)).await;
        }
    }
}

fn encode_rate(rate: Option<u64>) -> u64 {
    rate.map_or(0, |r| r.max(1))
}

fn decode_rate(raw: u64) -> Option<u64> {
    (raw != 0).then_some(raw)
}

impl fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit").field("rate", &self.rate()).finish()
    }
}

/// The limits one transfer obeys, e.g. the global limit and its job's own. Cloning shares
/// the limits; every request takes its bytes from each of them.
#[derive(Clone, Default, Debug)]
pub struct Throttle {
    limits: Vec<Arc<RateLimit>>,
}

impl Throttle {
    /// No limit at all.
    pub fn none() -> Throttle {
        Throttle::default()
    }

    /// Obey `limit`.
    pub fn with(limit: Arc<RateLimit>) -> Throttle {
        Throttle { limits: vec![limit] }
    }

    /// Obey `limit` as well as the limits already here.
    pub fn and(mut self, limit: Arc<RateLimit>) -> Throttle {
        self.limits.push(limit);
        self
    }

    /// The limits obeyed, in the order they were added.
    pub fn limits(&self) -> &[Arc<RateLimit>] {
        &self.limits
    }

    /// Wait until every limit lets `n` bytes go, taking them from each. Never yields while
    /// every limit is unlimited.
    pub async fn take(&self, n: u64) {
        for limit in &self.limits {
            limit.take(n).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    const BLOCK: u64 = 255 * KIB;

    /// Take `total` bytes in `BLOCK` requests (the last one shorter).
    async fn move_bytes(throttle: &Throttle, total: u64) {
        let mut left = total;
        while left > 0 {
            let n = left.min(BLOCK);
            throttle.take(n).await;
            left -= n;
        }
    }

    fn assert_secs_near(elapsed: Duration, want: f64) {
        let got = elapsed.as_secs_f64();
        assert!((got - want).abs() <= want * 0.10, "took {got:.3} s of virtual time, wanted {want:.3} s ±10 %");
    }

    #[tokio::test(start_paused = true)]
    async fn one_mib_per_second_moves_ten_mib_in_ten_seconds() {
        let throttle = Throttle::with(RateLimit::new(Some(MIB)));
        let start = Instant::now();
        move_bytes(&throttle, 10 * MIB).await;
        assert_secs_near(start.elapsed(), 10.0);
    }

    #[tokio::test(start_paused = true)]
    async fn tasks_sharing_a_limit_get_the_combined_rate() {
        let shared = RateLimit::new(Some(MIB));
        let start = Instant::now();
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let throttle = Throttle::with(shared.clone());
                tokio::spawn(async move { move_bytes(&throttle, 5 * MIB).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        // 10 MiB in all at 1 MiB/s, not 5 MiB each at 1 MiB/s each.
        assert_secs_near(start.elapsed(), 10.0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_lower_of_global_and_per_job_limits_wins() {
        let global = RateLimit::new(Some(8 * MIB));
        let job = RateLimit::new(Some(MIB));
        let start = Instant::now();
        move_bytes(&Throttle::with(global.clone()).and(job.clone()), 5 * MIB).await;
        assert_secs_near(start.elapsed(), 5.0);

        // And the other way round: a generous job under a tight global limit.
        global.set_rate(Some(MIB));
        job.set_rate(Some(8 * MIB));
        let start = Instant::now();
        move_bytes(&Throttle::with(global).and(job), 5 * MIB).await;
        assert_secs_near(start.elapsed(), 5.0);
    }

    #[tokio::test(start_paused = true)]
    async fn raising_the_rate_mid_transfer_speeds_it_up() {
        let limit = RateLimit::new(Some(10 * KIB));
        let start = Instant::now();
        let raise = {
            let limit = limit.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                limit.set_rate(Some(2 * MIB));
            })
        };
        // At 10 KiB/s the first block passes (in debt) and the second would wait 25 s; after
        // the raise at 1 s the other ~3.75 MiB take under 2 s at 2 MiB/s.
        move_bytes(&Throttle::with(limit), 4 * MIB).await;
        raise.await.unwrap();
        let took = start.elapsed().as_secs_f64();
        assert!((2.5..3.2).contains(&took), "took {took:.3} s; the raise did not take effect at once");
    }

    #[tokio::test(start_paused = true)]
    async fn lifting_the_limit_releases_a_waiter_within_100_ms() {
        let limit = RateLimit::new(Some(KIB));
        let throttle = Throttle::with(limit.clone());
        throttle.take(BLOCK).await; // the bucket is now deep in debt (minutes at 1 KiB/s)
        let start = Instant::now();
        let lift = {
            let limit = limit.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                limit.set_rate(None);
            })
        };
        throttle.take(BLOCK).await;
        lift.await.unwrap();
        let took = start.elapsed();
        assert!(took >= Duration::from_secs(1) && took <= Duration::from_millis(1100), "released after {took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn unlimited_takes_no_time_and_never_yields() {
        let start = Instant::now();
        for throttle in [Throttle::none(), Throttle::with(RateLimit::new(None)).and(RateLimit::new(None))] {
            for _ in 0..10_000 {
                assert!(throttle.take(BLOCK).now_or_never().is_some(), "an unlimited take yielded");
            }
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_block_bigger_than_the_bucket_passes_in_debt_and_the_next_one_waits() {
        let rate = 10 * KIB;
        let throttle = Throttle::with(RateLimit::new(Some(rate)));
        let start = Instant::now();
        throttle.take(BLOCK).await;
        assert!(start.elapsed() < Duration::from_millis(10), "the first block waited {:?}", start.elapsed());
        throttle.take(BLOCK).await;
        // The debt (BLOCK - burst) and a full bucket again must be earned at 10 KiB/s.
        let want = BLOCK as f64 / rate as f64;
        assert_secs_near(start.elapsed(), want);
    }

    #[test]
    fn burst_is_a_tenth_of_a_second_but_at_least_64_kib() {
        assert_eq!(burst_for(1), MIN_BURST);
        assert_eq!(burst_for(10 * MIB), MIB);
        assert_eq!(RateLimit::new(Some(0)).rate(), Some(1));
        assert_eq!(RateLimit::new(None).rate(), None);
    }
}
