//! One way to run work off the UI thread: a named thread whose results come back over a
//! bounded channel, whose panic becomes an error, that can be asked to stop, and that wakes
//! the UI when it has something. Dataset jobs, layout workers and linear probes are all
//! [`Worker`]s; the trainer adds its command channel and event queue on top.
//!
//! A thread that cannot be started is a failed worker, not a job that never finishes.
//! Either failure reaches the owner as a `Report::Failed` naming the thread, shown where
//! the result would be. `Outbox::send` waits while the channel is full; `Outbox::offer`
//! drops an item a newer one will replace (layouts). Dropping a `Worker` asks its work to
//! stop and detaches the thread.
//!
//! The workers, by thread name:
//! - "linear-probe" (`engine::probe_runner`): one per probe, polled by the session between
//!   steps, reported in start order, all before `Finished`;
//! - "t-sne" and "umap" (`app::layout_worker`): each takes every evaluation's embeddings,
//!   continues from its last layout, publishes a layout every 40 ms and rests when settled
//!   or paused; the frame loop starts and feeds them, drawing code only reads;
//! - "file-dialog", "dataset-inspect" and "dataset-load" (`app::dataset_jobs`): a result
//!   channel of one and an `Arc<LoadProgress>` the progress bar reads and cancels through.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError, bounded};

/// Called when a worker has sent something (egui's `request_repaint`).
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// A wake that wakes nobody (headless use, tests).
pub fn no_wake() -> Wake {
    Arc::new(|| {})
}

/// What a worker's channel carries.
#[derive(Debug)]
pub enum Report<T> {
    Item(T),
    /// The thread could not start or its work panicked: the message says which.
    Failed(String),
}

/// The worker's side: send results, see whether it was asked to stop.
pub struct Outbox<T> {
    tx: Sender<Report<T>>,
    stop: Arc<AtomicBool>,
    wake: Wake,
}

impl<T> Outbox<T> {
    /// Sends `item`, waiting while the channel is full; false once the UI dropped the
    /// worker (the work should end).
    pub fn send(&self, item: T) -> bool {
        let sent = self.tx.send(Report::Item(item)).is_ok();
        (self.wake)();
        sent
    }

    /// Sends `item` unless the channel is full (a newer one will follow: layouts);
    /// false once the UI dropped the worker.
    pub fn offer(&self, item: T) -> bool {
        match self.tx.try_send(Report::Item(item)) {
            Ok(()) => {
                (self.wake)();
                true
            }
            Err(TrySendError::Full(_)) => true,
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// The owner asked the work to stop (or dropped the worker).
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// The owner's side. Dropping it asks the work to stop and detaches the thread.
pub struct Worker<T> {
    pub name: String,
    rx: Receiver<Report<T>>,
    stop: Arc<AtomicBool>,
    /// Set when the work has returned (or panicked, or never started).
    ended: Arc<AtomicBool>,
}

impl<T: Send + 'static> Worker<T> {
    /// Starts `work` on a thread called `name`, with room for `capacity` unread results.
    pub fn spawn(
        name: &str,
        capacity: usize,
        wake: Wake,
        work: impl FnOnce(&Outbox<T>) + Send + 'static,
    ) -> Self {
        let (tx, rx) = bounded(capacity.max(1));
        let stop = Arc::new(AtomicBool::new(false));
        let ended = Arc::new(AtomicBool::new(false));
        let ended_by_thread = Arc::clone(&ended);
        let outbox = Outbox {
            tx: tx.clone(),
            stop: Arc::clone(&stop),
            wake: Arc::clone(&wake),
        };
        let thread_name = name.to_string();
        let spawned = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(|| work(&outbox))) {
                    let message = panic_message(panic.as_ref());
                    let _ = outbox.tx.send(Report::Failed(format!(
                        "the {thread_name} thread crashed: {message}"
                    )));
                    (outbox.wake)();
                }
                ended_by_thread.store(true, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            let _ = tx.try_send(Report::Failed(format!("cannot start a {name} thread: {e}")));
            ended.store(true, Ordering::SeqCst);
            wake();
        }
        Self {
            name: name.into(),
            rx,
            stop,
            ended,
        }
    }
}

impl<T> Worker<T> {
    /// The next report, if one is waiting.
    pub fn poll(&self) -> Option<Report<T>> {
        self.rx.try_recv().ok()
    }

    /// The next report, waiting for it.
    pub fn wait(&self) -> Option<Report<T>> {
        self.rx.recv().ok()
    }

    /// The newest item waiting (older ones are dropped), or the failure if there is one.
    pub fn latest(&self) -> Option<Report<T>> {
        let mut newest = None;
        loop {
            match self.rx.try_recv() {
                Ok(Report::Failed(e)) => return Some(Report::Failed(e)),
                Ok(item) => newest = Some(item),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return newest,
            }
        }
    }

    /// The work has ended and everything it sent was read.
    pub fn is_done(&self) -> bool {
        self.ended.load(Ordering::SeqCst) && self.rx.is_empty()
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl<T> Drop for Worker<T> {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The text of a caught panic.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[test]
    fn results_arrive_in_order_and_wake_the_owner() {
        let wakes = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&wakes);
        let w = Worker::spawn(
            "test-worker",
            4,
            Arc::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            }),
            |out| {
                for i in 0..3 {
                    out.send(i);
                }
            },
        );
        let got: Vec<i32> = std::iter::from_fn(|| match w.wait() {
            Some(Report::Item(i)) => Some(i),
            _ => None,
        })
        .collect();
        assert_eq!(got, vec![0, 1, 2]);
        assert_eq!(wakes.load(Ordering::SeqCst), 3);
        while !w.ended.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        assert!(w.is_done());
    }

    #[test]
    fn a_panic_becomes_a_failure_naming_the_thread() {
        let w: Worker<()> = Worker::spawn("doomed", 1, no_wake(), |_| panic!("boom"));
        match w.wait() {
            Some(Report::Failed(e)) => assert!(e.contains("doomed") && e.contains("boom"), "{e}"),
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn dropping_the_worker_asks_the_work_to_stop() {
        let (seen_tx, seen_rx) = bounded(1);
        let w: Worker<()> = Worker::spawn("stoppable", 1, no_wake(), move |out| {
            while !out.stopped() {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            let _ = seen_tx.send(());
        });
        drop(w);
        assert!(
            seen_rx
                .recv_timeout(std::time::Duration::from_secs(10))
                .is_ok()
        );
    }

    #[test]
    fn latest_skips_to_the_newest_item() {
        let w = Worker::spawn("latest", 8, no_wake(), |out| {
            for i in 0..5 {
                out.send(i);
            }
        });
        while !w.ended.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        assert!(matches!(w.latest(), Some(Report::Item(4))));
    }
}
