//! CPU time and resident memory of a process, read from Linux `/proc`, so a benchmark can say
//! what the hub (and the generator itself) cost while it ran.

use std::fs;
use std::time::Instant;

/// Clock ticks per second of `/proc/*/stat` times (`sysconf(_SC_CLK_TCK)`); 100 on every Linux
/// architecture the project runs on, and reading it properly would need `libc`.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// Which process to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessId {
    /// This process (`/proc/self`).
    Current,
    /// Another process.
    Pid(u32),
}

impl ProcessId {
    fn path(self, file: &str) -> String {
        match self {
            ProcessId::Current => format!("/proc/self/{file}"),
            ProcessId::Pid(pid) => format!("/proc/{pid}/{file}"),
        }
    }
}

/// User + system CPU time of the process so far, seconds; `None` if it cannot be read.
pub fn cpu_secs(process: ProcessId) -> Option<f64> {
    let stat = fs::read_to_string(process.path("stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // After the name: state is field 3, utime field 14, stime field 15.
    let utime: f64 = fields.nth(11)?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / CLOCK_TICKS_PER_SEC)
}

/// Resident set size, MiB (`VmRSS` of `/proc/PID/status`).
pub fn rss_mib(process: ProcessId) -> Option<f64> {
    let status = fs::read_to_string(process.path("status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Samples one process's CPU use: average over the whole run and peak between two samples.
#[derive(Debug, Clone)]
pub struct CpuSampler {
    process: ProcessId,
    first: Option<(Instant, f64)>,
    last: Option<(Instant, f64)>,
    peak_pct: f64,
    peak_rss_mib: f64,
}

impl CpuSampler {
    /// Starts sampling `process` now.
    pub fn start(process: ProcessId) -> Self {
        let now = cpu_secs(process).map(|cpu| (Instant::now(), cpu));
        CpuSampler {
            process,
            first: now,
            last: now,
            peak_pct: 0.0,
            peak_rss_mib: rss_mib(process).unwrap_or(0.0),
        }
    }

    /// Takes a sample (call about once a second).
    pub fn sample(&mut self) {
        if let Some(rss) = rss_mib(self.process) {
            self.peak_rss_mib = self.peak_rss_mib.max(rss);
        }
        let Some(cpu) = cpu_secs(self.process) else {
            return;
        };
        let now = Instant::now();
        if let Some((then, cpu_then)) = self.last {
            let wall_secs = now.duration_since(then).as_secs_f64();
            if wall_secs > 0.2 {
                self.peak_pct = self.peak_pct.max(100.0 * (cpu - cpu_then) / wall_secs);
                self.last = Some((now, cpu));
            }
        } else {
            self.first = Some((now, cpu));
            self.last = Some((now, cpu));
        }
    }

    /// Average CPU since the start, percent of one core (200 = two cores busy).
    pub fn average_pct(&self) -> Option<f64> {
        let (start, cpu_start) = self.first?;
        let cpu_now = cpu_secs(self.process)?;
        let wall_secs = start.elapsed().as_secs_f64();
        (wall_secs > 0.0).then(|| 100.0 * (cpu_now - cpu_start) / wall_secs)
    }

    /// Highest CPU between two samples, percent of one core.
    pub fn peak_pct(&self) -> f64 {
        self.peak_pct
    }

    /// Highest resident memory seen, MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        self.peak_rss_mib
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_has_cpu_time_and_memory() {
        let before = cpu_secs(ProcessId::Current).unwrap();
        // Burn a little CPU so the counter must move (ticks are 10 ms).
        let mut sum = 0u64;
        let started = Instant::now();
        while started.elapsed().as_millis() < 60 {
            sum = sum.wrapping_add(std::hint::black_box(sum ^ 0x9e37_79b9));
        }
        std::hint::black_box(sum);
        let after = cpu_secs(ProcessId::Current).unwrap();
        assert!(after > before, "{before} → {after}");
        let rss = rss_mib(ProcessId::Current).unwrap();
        assert!(rss > 1.0 && rss < 10_000.0, "{rss}");
        assert_eq!(cpu_secs(ProcessId::Pid(u32::MAX)), None);
    }
}
