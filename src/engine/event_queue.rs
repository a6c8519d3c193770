//! The trainer's events on their way to the UI, arranged so that training never waits for
//! the UI (eframe stops calling a minimised window, and a run must go on regardless).
//!
//! Small events go into an append-only log (an unbounded channel: a step's metrics are
//! about a kilobyte, so even a long run in a minimised window stays in megabytes). The
//! large, superseding ones (projection frames, similarity matrices) go into latest-value
//! slots: while nobody reads, a newer one replaces the older, and the log holds only a
//! marker, placed when the first unread one was sent, where the newest one is delivered.
//! Sending never blocks and never fails: a receiver that has gone away leaves the run going.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, unbounded};

use super::protocol::Event;

/// Which slot a marker in the log points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Projection,
    Similarity,
}

enum Entry {
    Event(Event),
    Latest(Slot),
}

#[derive(Default)]
struct Latest {
    projection: Mutex<Option<Event>>,
    similarity: Mutex<Option<Event>>,
}

impl Latest {
    fn slot(&self, slot: Slot) -> &Mutex<Option<Event>> {
        match slot {
            Slot::Projection => &self.projection,
            Slot::Similarity => &self.similarity,
        }
    }
}

/// A new queue: the trainer's sender and the UI's receiver.
pub fn event_queue() -> (EventSender, EventReceiver) {
    let (tx, rx) = unbounded();
    let latest = Arc::new(Latest::default());
    (
        EventSender {
            log: tx,
            latest: Arc::clone(&latest),
        },
        EventReceiver { log: rx, latest },
    )
}

/// The trainer's side; sending never blocks. A clone sends into the same queue.
#[derive(Clone)]
pub struct EventSender {
    log: Sender<Entry>,
    latest: Arc<Latest>,
}

impl EventSender {
    /// Queues `event`; a receiver that has gone away is not an error (the run goes on and
    /// its files are written all the same).
    pub fn send(&self, event: Event) {
        let slot = match &event {
            Event::Projection(_) => Slot::Projection,
            Event::Similarity(_) => Slot::Similarity,
            _ => {
                let _ = self.log.send(Entry::Event(event));
                return;
            }
        };
        let mut held = self
            .latest
            .slot(slot)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // Only the first unread one needs a marker; later ones replace it in its slot.
        if held.replace(event).is_none() {
            let _ = self.log.send(Entry::Latest(slot));
        }
    }
}

/// The UI's side.
pub struct EventReceiver {
    log: Receiver<Entry>,
    latest: Arc<Latest>,
}

impl EventReceiver {
    fn resolve(&self, entry: Entry) -> Option<Event> {
        match entry {
            Entry::Event(event) => Some(event),
            Entry::Latest(slot) => self
                .latest
                .slot(slot)
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        }
    }

    /// The next event, if one is waiting.
    pub fn try_recv(&self) -> Result<Event, TryRecvError> {
        loop {
            let entry = self.log.try_recv()?;
            if let Some(event) = self.resolve(entry) {
                return Ok(event);
            }
        }
    }

    /// The next event, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Event, RecvTimeoutError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let entry = self.log.recv_timeout(left)?;
            if let Some(event) = self.resolve(entry) {
                return Ok(event);
            }
        }
    }

    /// Every event waiting now, in order.
    pub fn try_iter(&self) -> impl Iterator<Item = Event> + '_ {
        std::iter::from_fn(|| self.try_recv().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{ProjectionFrame, SimilarityMatrix};

    fn projection(step: u64) -> Event {
        Event::Projection(ProjectionFrame {
            step,
            ..ProjectionFrame::default()
        })
    }

    #[test]
    fn a_reader_that_falls_behind_gets_every_small_event_and_the_newest_large_one() {
        let (tx, rx) = event_queue();
        // Far more than the old 4096-event buffer, with nobody reading: never blocks.
        for step in 0..10_000 {
            tx.send(Event::Resumed { step });
            tx.send(projection(step));
        }
        tx.send(Event::Similarity(SimilarityMatrix::default()));
        tx.send(Event::Finished {
            step: 10_000,
            stopped: false,
        });
        let got: Vec<Event> = rx.try_iter().collect();
        let resumed = got
            .iter()
            .filter(|e| matches!(e, Event::Resumed { .. }))
            .count();
        assert_eq!(resumed, 10_000);
        let frames: Vec<u64> = got
            .iter()
            .filter_map(|e| match e {
                Event::Projection(f) => Some(f.step),
                _ => None,
            })
            .collect();
        assert_eq!(frames, vec![9_999], "only the newest projection is kept");
        // The newest frame sits where the first unread one was queued: after step 0.
        assert!(matches!(got[1], Event::Projection(_)));
        assert!(matches!(got.last(), Some(Event::Finished { .. })));
        assert!(got.iter().any(|e| matches!(e, Event::Similarity(_))));
    }

    #[test]
    fn a_reader_that_keeps_up_gets_every_frame() {
        let (tx, rx) = event_queue();
        for step in 0..3 {
            tx.send(projection(step));
            let Ok(Event::Projection(f)) = rx.recv_timeout(Duration::from_millis(100)) else {
                panic!("no frame")
            };
            assert_eq!(f.step, step);
        }
        assert!(rx.try_recv().is_err());
    }
}
