//! The worker's sending side: events on a bounded channel with back-pressure, and the wake-up
//! call that makes the UI look.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::Duration;

use super::protocol::{Event, Waker};

/// Room for this many events between two UI drains.
pub const EVENT_CAPACITY: usize = 1024;

/// The sending side of the event channel.
pub struct Outbox {
    pub events: SyncSender<Event>,
    /// Raised when the worker is being stopped: nothing waits for room any more.
    pub stop: Arc<AtomicBool>,
    pub wake: Waker,
}

impl Outbox {
    /// Send an event; a step event is dropped if the UI is behind, any other waits for room
    /// (unless the worker is being stopped).
    pub fn emit(&self, event: Event) {
        let droppable = matches!(event, Event::Step { .. });
        let mut event = event;
        loop {
            match self.events.try_send(event) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return,
                Err(TrySendError::Full(back)) => {
                    if droppable || self.stopping() {
                        break;
                    }
                    (self.wake)();
                    std::thread::sleep(Duration::from_millis(5));
                    event = back;
                }
            }
        }
        (self.wake)();
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}
