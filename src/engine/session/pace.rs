//! A speed limit on training (steps per second), so a class can follow each step: the
//! session waits before a step until it is due, and a command cuts the wait short.

use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use super::super::protocol::Command;

/// How long a wait sleeps between looks at the command channel.
const SLICE: Duration = Duration::from_millis(20);

#[derive(Debug, Default)]
pub struct Pace {
    /// Steps per second at most; `None` runs at full speed.
    limit: Option<f32>,
    last_step: Option<Instant>,
}

impl Pace {
    /// Sets the limit (a non-positive or non-finite one turns it off).
    pub fn set(&mut self, limit: Option<f32>) {
        self.limit = limit.filter(|l| l.is_finite() && *l > 0.0);
    }

    /// Blocks until the next step is due under the limit (true: take it now), or until a
    /// command arrives first (false: handle it, then wait again for the same step).
    pub fn wait(&mut self, commands: &Receiver<Command>) -> bool {
        if let (Some(limit), Some(last)) = (self.limit, self.last_step) {
            let due = last + Duration::from_secs_f32(1.0 / limit);
            while Instant::now() < due {
                if !commands.is_empty() {
                    return false;
                }
                std::thread::sleep(SLICE.min(due.saturating_duration_since(Instant::now())));
            }
        }
        self.last_step = Some(Instant::now());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_spaced_by_the_limit_and_a_command_ends_the_wait() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut pace = Pace::default();
        pace.set(Some(20.0));
        let start = Instant::now();
        for _ in 0..5 {
            assert!(pace.wait(&rx));
        }
        // Four gaps of 50 ms after the first step.
        assert!(
            start.elapsed() >= Duration::from_millis(200),
            "{:?}",
            start.elapsed()
        );
        // At one step a minute, a waiting command cuts the wait short.
        pace.set(Some(1.0 / 60.0));
        tx.send(Command::Pause).unwrap();
        let t = Instant::now();
        assert!(!pace.wait(&rx), "the command comes first");
        assert!(t.elapsed() < Duration::from_secs(30));
        // Off: no waiting at all.
        pace.set(Some(0.0));
        assert_eq!(pace.limit, None);
    }
}
