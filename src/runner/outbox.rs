//! The worker's sending side: events on a bounded channel with back-pressure, and the wake-up
//! call that makes the UI look.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::{Duration, Instant};

use super::protocol::{Event, Waker};

/// Room for this many events between two UI drains.
pub const EVENT_CAPACITY: usize = 1024;

/// Step events wake the UI at most this often. Every other event (an evaluation, a state
/// change, a message) wakes it at once. A step changes only the loss curve and the status
/// bar, which need no more than a few frames a second, and every frame costs CPU that training
/// needs: on a machine without a GPU the renderer (Mesa llvmpipe) draws on the same two cores.
pub const STEP_WAKE_INTERVAL: Duration = Duration::from_millis(250);

/// The sending side of the event channel.
pub struct Outbox {
    events: SyncSender<Event>,
    /// Raised when the worker is being stopped: nothing waits for room any more.
    stop: Arc<AtomicBool>,
    wake: Waker,
    /// When a step event last woke the UI.
    last_step_wake: Cell<Option<Instant>>,
}

impl Outbox {
    pub fn new(events: SyncSender<Event>, stop: Arc<AtomicBool>, wake: Waker) -> Self {
        Outbox { events, stop, wake, last_step_wake: Cell::new(None) }
    }

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
        if droppable {
            let now = Instant::now();
            if self.last_step_wake.get().is_some_and(|last| now - last < STEP_WAKE_INTERVAL) {
                return;
            }
            self.last_step_wake.set(Some(now));
        }
        (self.wake)();
    }

    /// Wake the UI (new data in the snapshot slot).
    pub fn wake(&self) {
        (self.wake)();
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Raised when the worker is being stopped (long job units watch it).
    pub fn stop_flag(&self) -> &AtomicBool {
        &self.stop
    }
}
