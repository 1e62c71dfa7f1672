//! Accounting: turns the byte counters of running transfers into what a person reads
//! (speed, ETA, totals) and publishes it as one coalesced stream of snapshots, at most
//! `rate` a second however many files and jobs are moving.
//!
//! Like rclone's `fs/accounting`, this sits beside the byte stream, not in it: transfers
//! only bump [`Progress`] counters; the [`Accountant`] samples them on its own clock. Speed
//! is a soft-start moving average: the first samples are averaged plainly (so the first
//! figure is not a wild guess), later ones are weighted exponentially. Time is passed in, so
//! the maths is testable without a clock, and the publishing loop runs on tokio time (tests
//! pause it).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use tokio::time::Instant;

use super::progress::Progress;

/// Soft-start exponentially weighted moving average of a byte rate.
#[derive(Debug, Clone)]
pub struct SpeedMeter {
    last: Option<(Instant, u64)>,
    rate: f64,
    samples: u32,
    /// After this many samples the average becomes exponential with weight 2/(window+1).
    window: u32,
}

impl SpeedMeter {
    /// `window`: how many samples the average spans once warmed up (at 10 Hz, 50 = ~5 s).
    pub fn new(window: u32) -> Self {
        SpeedMeter { last: None, rate: 0.0, samples: 0, window: window.max(1) }
    }

    /// Feed the counter's value at `now`.
    pub fn update(&mut self, now: Instant, total_bytes: u64) {
        if let Some((t0, b0)) = self.last {
            let dt = now.saturating_duration_since(t0).as_secs_f64();
            if dt <= 0.0 {
                return;
            }
            let sample = total_bytes.saturating_sub(b0) as f64 / dt;
            self.samples += 1;
            let alpha = if self.samples <= self.window {
                1.0 / f64::from(self.samples)
            } else {
                2.0 / (f64::from(self.window) + 1.0)
            };
            self.rate += alpha * (sample - self.rate);
        }
        self.last = Some((now, total_bytes));
    }

    /// Bytes per second (0 until two samples were seen).
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Time to move `remaining` bytes at the current rate; `None` while the rate is unknown.
    pub fn eta(&self, remaining: u64) -> Option<Duration> {
        if remaining == 0 {
            return Some(Duration::ZERO);
        }
        (self.rate >= 1.0).then(|| Duration::from_secs_f64(remaining as f64 / self.rate))
    }
}

/// One job's figures in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSnapshot {
    pub id: i64,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub files_done: u64,
    pub files_total: u64,
    pub files_failed: u64,
    /// Bytes per second.
    pub speed: f64,
    #[serde(rename = "etaSecs", serialize_with = "secs")]
    pub eta: Option<Duration>,
}

/// Everything that is moving, at one instant.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Increases by one per published snapshot.
    pub seq: u64,
    pub jobs: Vec<JobSnapshot>,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub speed: f64,
    #[serde(rename = "etaSecs", serialize_with = "secs")]
    pub eta: Option<Duration>,
}

/// A duration as (fractional) seconds, for front ends.
fn secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    Serialize::serialize(&d.map(|d| d.as_secs_f64()), s)
}

struct Tracked {
    progress: Arc<Progress>,
    meter: SpeedMeter,
}

/// Samples registered jobs' [`Progress`] and publishes [`Snapshot`]s.
pub struct Accountant {
    jobs: Mutex<BTreeMap<i64, Tracked>>,
    total: Mutex<SpeedMeter>,
    tx: watch::Sender<Snapshot>,
    seq: Mutex<u64>,
}

impl Accountant {
    pub fn new() -> Arc<Self> {
        Arc::new(Accountant {
            jobs: Mutex::new(BTreeMap::new()),
            total: Mutex::new(SpeedMeter::new(50)),
            tx: watch::Sender::new(Snapshot::default()),
            seq: Mutex::new(0),
        })
    }

    /// Start accounting for job `id`.
    pub fn track(&self, id: i64, progress: Arc<Progress>) {
        self.jobs.lock().expect("accountant poisoned").insert(id, Tracked { progress, meter: SpeedMeter::new(50) });
    }

    /// Stop accounting for job `id` (it finished or was removed).
    pub fn untrack(&self, id: i64) {
        self.jobs.lock().expect("accountant poisoned").remove(&id);
    }

    /// Receive snapshots; a slow receiver only ever sees the latest (coalesced).
    pub fn subscribe(&self) -> watch::Receiver<Snapshot> {
        self.tx.subscribe()
    }

    /// Take one sample at `now` and publish it.
    pub fn sample(&self, now: Instant) -> Snapshot {
        let mut jobs = self.jobs.lock().expect("accountant poisoned");
        let mut snap = Snapshot::default();
        for (&id, t) in jobs.iter_mut() {
            let p = &t.progress;
            let (done, total) = (p.done(), p.total());
            t.meter.update(now, done);
            snap.bytes_done += done;
            snap.bytes_total += total;
            snap.jobs.push(JobSnapshot {
                id,
                bytes_done: done,
                bytes_total: total,
                files_done: p.files_done(),
                files_total: p.files_total(),
                files_failed: p.files_failed(),
                speed: t.meter.rate(),
                eta: t.meter.eta(total.saturating_sub(done)),
            });
        }
        drop(jobs);
        let mut meter = self.total.lock().expect("accountant poisoned");
        meter.update(now, snap.bytes_done);
        snap.speed = meter.rate();
        snap.eta = meter.eta(snap.bytes_total.saturating_sub(snap.bytes_done));
        let mut seq = self.seq.lock().expect("accountant poisoned");
        *seq += 1;
        snap.seq = *seq;
        self.tx.send_replace(snap.clone());
        snap
    }

    /// Publish a snapshot every `1/rate_hz` seconds until `self` is the only owner left.
    pub async fn run(self: Arc<Self>, rate_hz: u32) {
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate_hz.max(1))));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let now = tick.tick().await;
            if Arc::strong_count(&self) == 1 {
                return;
            }
            self.sample(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_start_averages_then_weights() {
        let t0 = Instant::now();
        let mut m = SpeedMeter::new(4);
        m.update(t0, 0);
        assert_eq!(m.rate(), 0.0);
        assert_eq!(m.eta(100), None);
        m.update(t0 + Duration::from_secs(1), 100); // 100 B/s
        assert_eq!(m.rate(), 100.0);
        m.update(t0 + Duration::from_secs(2), 400); // 300 B/s -> plain average 200
        assert_eq!(m.rate(), 200.0);
        assert_eq!(m.eta(1000), Some(Duration::from_secs(5)));
        for i in 3..=20 {
            m.update(t0 + Duration::from_secs(i), 400 + (i - 2) * 1000);
        }
        // Converges to the steady 1000 B/s.
        assert!((m.rate() - 1000.0).abs() < 5.0, "{}", m.rate());
        assert_eq!(m.eta(0), Some(Duration::ZERO));
    }

    #[tokio::test(start_paused = true)]
    async fn publishes_at_most_the_rate_and_coalesces() {
        let acc = Accountant::new();
        let p = Arc::new(Progress::new());
        p.set_total(20_000);
        acc.track(7, p.clone());
        let mut rx = acc.subscribe();
        let runner = tokio::spawn(acc.clone().run(10));
        // A burst of 1000 updates within 10 ms must not produce 1000 snapshots.
        for _ in 0..1000 {
            p.add(1);
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let seq = rx.borrow_and_update().seq;
        assert!((9..=12).contains(&seq), "{seq} snapshots in one second");
        let snap = rx.borrow().clone();
        assert_eq!(snap.jobs.len(), 1);
        assert_eq!(snap.jobs[0].bytes_done, 1000);
        assert_eq!(snap.bytes_total, 20_000);

        // 1000 B/s steady for 6 s: speed and ETA follow (the idle second fades out).
        for _ in 0..60 {
            p.add(100);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let snap = rx.borrow().clone();
        assert!((snap.speed - 1000.0).abs() < 150.0, "speed {}", snap.speed);
        let eta = snap.eta.expect("eta known");
        // 13,000 bytes left at ~1000 B/s.
        assert!(eta > Duration::from_secs(11) && eta < Duration::from_secs(17), "eta {eta:?}");

        acc.untrack(7);
        assert!(acc.sample(Instant::now()).jobs.is_empty());
        drop(acc);
        drop(rx);
        runner.await.unwrap();
    }
}
