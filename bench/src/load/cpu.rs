//! CPU time of the processes under load (`--cpu-of`), read from procfs at
//! the start and the end of the measured window, so a run reports what each
//! request cost the server as well as how fast it answered. CPU time per
//! request moves far less than requests/s on a shared VM.

use std::time::Duration;

use procfs::process::Process;
use serde::Serialize;

use crate::error::{BenchError, Result};

/// A process whose CPU time the run reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watched {
    pid: i32,
}

impl Watched {
    /// Checks that `pid` is a process whose CPU time can be read now.
    pub fn new(pid: u32) -> Result<Self> {
        let pid = i32::try_from(pid).map_err(|_| BenchError::CpuOf {
            pid,
            reason: "not a process id".into(),
        })?;
        let watched = Self { pid };
        watched.cpu_time()?;
        Ok(watched)
    }

    /// The process id.
    pub fn pid(self) -> u32 {
        self.pid.unsigned_abs()
    }

    /// User plus system time used so far by all the process's threads,
    /// including threads that have ended.
    pub fn cpu_time(self) -> Result<Duration> {
        let stat =
            Process::new(self.pid)
                .and_then(|p| p.stat())
                .map_err(|e| BenchError::CpuOf {
                    pid: self.pid(),
                    reason: e.to_string(),
                })?;
        let ticks = stat.utime.saturating_add(stat.stime);
        let per_second = procfs::ticks_per_second().max(1);
        Ok(Duration::from_secs(ticks / per_second)
            + Duration::from_nanos((ticks % per_second) * 1_000_000_000 / per_second))
    }
}

/// CPU time of each watched process at one moment.
pub fn sample(watched: &[Watched]) -> Result<Vec<Duration>> {
    watched.iter().map(|w| w.cpu_time()).collect()
}

/// What one watched process spent while the run measured.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessCpu {
    /// The process id given with `--cpu-of`.
    pub pid: u32,
    /// User plus system CPU seconds over the measured window.
    pub cpu_secs: f64,
    /// Microseconds of its CPU per measured request (none without requests).
    pub us_per_request: Option<f64>,
}

/// Per-process CPU over the window from two samples taken in `watched` order.
pub fn spent(
    watched: &[Watched],
    start: &[Duration],
    end: &[Duration],
    requests: u64,
) -> Vec<ProcessCpu> {
    watched
        .iter()
        .zip(start.iter().zip(end))
        .map(|(w, (start, end))| {
            let cpu = end.saturating_sub(*start);
            ProcessCpu {
                pid: w.pid(),
                cpu_secs: cpu.as_secs_f64(),
                us_per_request: per_request_us(cpu.as_secs_f64(), requests),
            }
        })
        .collect()
}

/// Microseconds of `cpu_secs` per request, if there were any.
pub fn per_request_us(cpu_secs: f64, requests: u64) -> Option<f64> {
    (requests > 0).then(|| cpu_secs * 1e6 / requests as f64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn own_process_cpu_grows_while_it_works() {
        let me = Watched::new(std::process::id()).unwrap();
        let before = sample(&[me]).unwrap();
        // Busy for more than one clock tick (10 ms at USER_HZ 100).
        let until = std::time::Instant::now() + Duration::from_millis(60);
        let mut x = 0u64;
        while std::time::Instant::now() < until {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let after = sample(&[me]).unwrap();
        let spent = spent(&[me], &before, &after, 1000);
        assert_eq!(spent.len(), 1);
        assert_eq!(spent[0].pid, std::process::id());
        assert!(spent[0].cpu_secs >= 0.02, "{spent:?}");
        let per = spent[0].us_per_request.unwrap();
        assert!((per - spent[0].cpu_secs * 1e3).abs() < 1e-6, "{spent:?}");
    }

    #[test]
    fn a_missing_process_is_refused_by_pid() {
        // Above the kernel's pid_max limit (2^22), so never a live process.
        let err = Watched::new(4_194_305).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot read the CPU time of process 4194305: "),
            "{err}"
        );
        assert_eq!(err.exit_code(), 2);
        let err = Watched::new(u32::MAX).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read the CPU time of process 4294967295: not a process id"
        );
    }

    #[test]
    fn no_requests_no_ratio() {
        assert_eq!(per_request_us(1.0, 0), None);
        let us = per_request_us(0.003, 1000).unwrap();
        assert!((us - 3.0).abs() < 1e-9, "{us}");
    }
}
