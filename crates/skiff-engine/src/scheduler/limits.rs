//! The scheduler's limits and the pure decision of which queued jobs start now: how many
//! jobs run at once (globally and per host), how many connections and files in flight they
//! may use (globally and per host), and which job waits for its retry backoff. No I/O and
//! no clock of its own, so every rule is unit-tested.

use std::collections::HashMap;

use tokio::time::Instant;

use crate::retry::RetryPolicy;
use crate::job::{JobId, JobRecord, JobSpec};

/// Limits and retry policy of a [`super::Scheduler`].
#[derive(Debug, Clone)]
pub struct Limits {
    /// Jobs running at once, over all hosts.
    pub max_jobs: usize,
    /// Jobs running at once on one host.
    pub max_jobs_per_host: usize,
    /// SSH connections open at once, over all hosts.
    pub max_connections: u32,
    /// SSH connections open at once to one host.
    pub max_connections_per_host: u32,
    /// Connections one job asks for (it gets fewer when the host or the total is short).
    pub connections_per_job: u32,
    /// Files moving at once, over all jobs.
    pub max_files_in_flight: usize,
    /// Files moving at once in one job.
    pub files_in_flight_per_job: usize,
    /// The tries a job has after the network broke: its transfers' reconnects and the
    /// scheduler's re-runs of it draw from one budget of this policy.
    pub retry: RetryPolicy,
}

impl Default for Limits {
    fn default() -> Self {
        // One job already fills a 100 ms link (1024 files in flight on 2 connections); a
        // second and third job on the same host share the host's 6 connections. On a LAN
        // the disk is the limit, not the number of jobs.
        Limits {
            max_jobs: 4,
            max_jobs_per_host: 3,
            max_connections: 12,
            max_connections_per_host: 6,
            connections_per_job: 2,
            max_files_in_flight: 4096,
            files_in_flight_per_job: 1024,
            retry: RetryPolicy::default(),
        }
    }
}

/// What a running job was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub connections: u32,
    pub files_in_flight: usize,
}

/// The server a job talks to: jobs with the same key share the per-host limits.
pub fn host_key(spec: &JobSpec) -> String {
    format!("{}@{}:{}", spec.user.as_deref().unwrap_or(""), spec.host, spec.port.map(|p| p.to_string()).unwrap_or_default())
}

/// A running job as far as limits go.
#[derive(Debug, Clone)]
pub struct Running {
    pub host: String,
    pub grant: Grant,
}

/// Which of `queued` (in run order) start now, and with what. A job waiting for its
/// backoff (`not_before` later than `now`) is passed over, and so is a job whose host is
/// at its limit; the jobs behind them may still start (a busy host does not block others).
pub fn plan(
    limits: &Limits,
    queued: &[JobRecord],
    running: &[Running],
    not_before: &HashMap<JobId, Instant>,
    now: Instant,
) -> Vec<(JobId, Grant)> {
    let mut jobs = running.len();
    let mut connections: u32 = running.iter().map(|r| r.grant.connections).sum();
    let mut files: usize = running.iter().map(|r| r.grant.files_in_flight).sum();
    let mut per_host: HashMap<String, (usize, u32)> = HashMap::new();
    for r in running {
        let h = per_host.entry(r.host.clone()).or_default();
        h.0 += 1;
        h.1 += r.grant.connections;
    }
    let mut out = Vec::new();
    for job in queued {
        if jobs >= limits.max_jobs {
            break;
        }
        if not_before.get(&job.id).is_some_and(|t| *t > now) {
            continue;
        }
        let host = host_key(&job.spec);
        let (host_jobs, host_conns) = per_host.get(&host).copied().unwrap_or_default();
        if host_jobs >= limits.max_jobs_per_host {
            continue;
        }
        let conns = limits
            .connections_per_job
            .min(limits.max_connections.saturating_sub(connections))
            .min(limits.max_connections_per_host.saturating_sub(host_conns));
        let job_files = limits.files_in_flight_per_job.min(limits.max_files_in_flight.saturating_sub(files));
        if conns == 0 || job_files == 0 {
            continue;
        }
        let grant = Grant { connections: conns, files_in_flight: job_files };
        jobs += 1;
        connections += conns;
        files += job_files;
        let h = per_host.entry(host).or_default();
        h.0 += 1;
        h.1 += conns;
        out.push((job.id, grant));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::job::{Direction, JobKind, JobState, OverwritePolicy};

    fn job(id: JobId, host: &str) -> JobRecord {
        JobRecord {
            id,
            spec: JobSpec {
                kind: JobKind::Copy,
                direction: Direction::Upload,
                host: host.into(),
                user: None,
                port: None,
                ssh_config: None,
                profile_id: None,
                overrides: Default::default(),
                local_path: "/tmp/x".into(),
                remote_path: "x".into(),
                recursive: true,
                overwrite: OverwritePolicy::Overwrite,
                preserve_mtime: true,
                preserve_permissions: true,
                speed_limit: None,
            },
            state: JobState::Queued,
            priority: 0,
            position: id,
            error: None,
            retries: 0,
            bytes_done: 0,
            bytes_total: 0,
            files_done: 0,
            files_total: 0,
            files_failed: 0,
            created_at: 0,
            updated_at: 0,
            finished_at: None,
            runner: None,
            roots_resolved: false,
        }
    }

    fn ids(p: &[(JobId, Grant)]) -> Vec<JobId> {
        p.iter().map(|(id, _)| *id).collect()
    }

    #[test]
    fn starts_in_run_order_up_to_the_global_job_limit() {
        let limits = Limits { max_jobs: 2, max_jobs_per_host: 9, ..Limits::default() };
        let q = [job(1, "a"), job(2, "b"), job(3, "c")];
        let p = plan(&limits, &q, &[], &HashMap::new(), Instant::now());
        assert_eq!(ids(&p), [1, 2]);
        let running = [Running { host: host_key(&q[0].spec), grant: p[0].1 }];
        assert_eq!(ids(&plan(&limits, &q[1..], &running, &HashMap::new(), Instant::now())), [2]);
    }

    #[test]
    fn a_busy_host_does_not_block_other_hosts() {
        let limits = Limits { max_jobs: 9, max_jobs_per_host: 1, ..Limits::default() };
        let q = [job(1, "a"), job(2, "a"), job(3, "b")];
        assert_eq!(ids(&plan(&limits, &q, &[], &HashMap::new(), Instant::now())), [1, 3]);
    }

    #[test]
    fn connections_are_shared_within_host_and_global_limits() {
        let limits = Limits {
            max_jobs: 9,
            max_jobs_per_host: 9,
            max_connections: 5,
            max_connections_per_host: 3,
            connections_per_job: 2,
            ..Limits::default()
        };
        let q = [job(1, "a"), job(2, "a"), job(3, "a"), job(4, "b"), job(5, "b")];
        let p = plan(&limits, &q, &[], &HashMap::new(), Instant::now());
        // a: 2 + 1 (host limit 3); b: 2 (global limit 5); job 5 gets nothing.
        let conns: Vec<(JobId, u32)> = p.iter().map(|(id, g)| (*id, g.connections)).collect();
        assert_eq!(conns, [(1, 2), (2, 1), (4, 2)]);
    }

    #[test]
    fn files_in_flight_are_shared_globally() {
        let limits = Limits { max_files_in_flight: 1500, files_in_flight_per_job: 1024, ..Limits::default() };
        let q = [job(1, "a"), job(2, "b"), job(3, "c")];
        let p = plan(&limits, &q, &[], &HashMap::new(), Instant::now());
        let files: Vec<usize> = p.iter().map(|(_, g)| g.files_in_flight).collect();
        assert_eq!(files, [1024, 476]);
    }

    #[test]
    fn a_job_in_backoff_waits_and_the_next_goes() {
        let limits = Limits::default();
        let now = Instant::now();
        let q = [job(1, "a"), job(2, "b")];
        let wait = HashMap::from([(1, now + Duration::from_secs(5))]);
        assert_eq!(ids(&plan(&limits, &q, &[], &wait, now)), [2]);
        assert_eq!(ids(&plan(&limits, &q, &[], &wait, now + Duration::from_secs(5))), [1, 2]);
    }
}
