//! Who is running a job: a token naming this process (its pid and start time), stored with a
//! Running job, and the test of whether the process a token names is still alive. The start
//! time makes a token unique across pid reuse, so a reboot or a recycled pid never makes a
//! dead job look alive.

/// This process's token: `pid:start`, where `start` is the process start time in clock
/// ticks since boot (Linux), so a recycled pid gives a different token.
pub fn this_process() -> String {
    let pid = std::process::id();
    format!("{pid}:{}", start_time(pid).unwrap_or(0))
}

/// Whether the process named by `token` (from [`this_process`]) is still running.
/// Unreadable or malformed tokens count as dead, so their jobs are re-queued.
pub fn is_alive(token: &str) -> bool {
    let Some((pid, start)) = token.split_once(':') else { return false };
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else { return false };
    start_time(pid) == Some(start)
}

/// Field 22 of `/proc/PID/stat`. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted after its last `)`.
#[cfg(target_os = "linux")]
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    // After the name: field 3 (state) is index 0, so field 22 is index 19.
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// Elsewhere only the pid can be checked; the start time is reported as 0.
#[cfg(not(target_os = "linux"))]
fn start_time(pid: u32) -> Option<u64> {
    // `kill(pid, 0)` through the shell-free std API is not available; probe with `ps`.
    let out = std::process::Command::new("ps").args(["-p", &pid.to_string()]).output().ok()?;
    out.status.success().then_some(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive() {
        let me = this_process();
        assert!(is_alive(&me), "{me}");
    }

    #[test]
    fn a_dead_or_recycled_process_is_not_alive() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let token = format!("{pid}:{}", start_time(pid).unwrap_or(1));
        child.wait().unwrap();
        assert!(!is_alive(&token));
        // Same pid as this process, other start time: a recycled pid.
        let me = std::process::id();
        assert!(!is_alive(&format!("{me}:{}", start_time(me).unwrap() + 1)));
        assert!(!is_alive("garbage"));
        assert!(!is_alive("12:x"));
    }
}
