//! The process's peak resident memory over a stretch of work, from Linux's /proc: writing
//! "5" to /proc/self/clear_refs resets the high-water mark (VmHWM) that /proc/self/status
//! reports. Read by hand because it is two file accesses; no crate reports a resettable
//! peak. Elsewhere (or when /proc refuses), the figure is simply not measured.

/// A stretch whose peak memory is measured from its start.
pub struct PeakMemory {
    reset: bool,
}

impl PeakMemory {
    /// Resets the high-water mark now.
    pub fn start() -> Self {
        Self {
            reset: std::fs::write("/proc/self/clear_refs", "5").is_ok(),
        }
    }

    /// The highest resident memory since `start`, in MiB; `None` where not measurable.
    pub fn peak_mib(&self) -> Option<f32> {
        if !self.reset {
            return None;
        }
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        vm_hwm_mib(&status)
    }
}

/// VmHWM from the text of /proc/self/status (`VmHWM:    123456 kB`), in MiB.
fn vm_hwm_mib(status: &str) -> Option<f32> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f32 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_high_water_mark_line() {
        let status = "Name:\tx\nVmPeak:\t  999 kB\nVmHWM:\t    2048 kB\nVmRSS:\t 1024 kB\n";
        assert_eq!(vm_hwm_mib(status), Some(2.0));
        assert_eq!(vm_hwm_mib("Name:\tx\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_held_allocation_is_within_the_peak() {
        // Other tests share the process, so only what holds whatever they do is checked:
        // the peak since the reset covers the memory resident now, our 64 MiB included.
        let peak = PeakMemory::start();
        let big = vec![1u8; 64 << 20];
        std::hint::black_box(&big);
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        let rss_mib = line
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<f32>()
            .unwrap()
            / 1024.0;
        let high = peak.peak_mib().expect("Linux reports VmHWM");
        assert!(
            high >= rss_mib && high >= 64.0,
            "peak {high} MiB, resident {rss_mib} MiB"
        );
    }
}
