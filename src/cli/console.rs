//! Lines for the terminal that never panic. `println!` panics when stdout is a pipe whose
//! reader left (`train ... | head -n 1`), a terminal that closed (SIGHUP) or a file on a
//! full disk; a run must not die of that. A line that cannot be written is dropped and
//! noted: the work goes on, and the exit status says output was lost
//! ([`OUTPUT_LOST_STATUS`]).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static LOST: AtomicBool = AtomicBool::new(false);

/// The exit status of a run that did its work but could not write all of its output:
/// 128 + SIGPIPE, what a shell shows for a writer whose reader went away.
pub const OUTPUT_LOST_STATUS: u8 = 141;

/// Writes `line` and a newline to stdout, flushed.
pub fn out(line: &str) {
    write_line(&mut std::io::stdout().lock(), line);
}

/// Writes `line` and a newline to stderr.
pub fn err(line: &str) {
    write_line(&mut std::io::stderr().lock(), line);
}

fn write_line(w: &mut impl Write, line: &str) {
    if writeln!(w, "{line}").and_then(|()| w.flush()).is_err() {
        LOST.store(true, Ordering::Relaxed);
    }
}

/// Whether a line could not be written since the process started.
pub fn output_lost() -> bool {
    LOST.load(Ordering::Relaxed)
}

/// `println!` that never panics (see the module).
#[macro_export]
macro_rules! outln {
    () => {
        $crate::cli::console::out("")
    };
    ($($arg:tt)*) => {
        $crate::cli::console::out(&format!($($arg)*))
    };
}

/// `eprintln!` that never panics (see the module).
#[macro_export]
macro_rules! errln {
    () => {
        $crate::cli::console::err("")
    };
    ($($arg:tt)*) => {
        $crate::cli::console::err(&format!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_line_to_a_closed_pipe_is_noted_not_a_panic() {
        let mut fine = Vec::new();
        write_line(&mut fine, "kept");
        assert_eq!(fine, b"kept\n");
        assert!(!output_lost());
        write_line(&mut Broken, "dropped");
        assert!(output_lost());
    }
}
