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

/// While training, the UI is woken at most this often for training progress (steps and periodic
/// evaluations); every other event (a state change, a message, a job's result) wakes it at once.
/// Training progress changes the loss and performance curves and the status bar, which read well
/// at a few frames a second, and every frame costs CPU that training needs: on a machine without
/// a GPU the renderer (Mesa llvmpipe) rasterises on the same two cores as the training step's
/// two threads, and a step waits for the slower of them.
pub const PROGRESS_WAKE_INTERVAL: Duration = Duration::from_millis(333);

/// The sending side of the event channel.
pub struct Outbox {
    events: SyncSender<Event>,
    /// Raised when the worker is being stopped: nothing waits for room any more.
    stop: Arc<AtomicBool>,
    wake: Waker,
    /// When training progress last woke (or is due to wake) the UI.
    progress_wake: Cell<Option<Instant>>,
}

impl Outbox {
    pub fn new(events: SyncSender<Event>, stop: Arc<AtomicBool>, wake: Waker) -> Self {
        Outbox { events, stop, wake, progress_wake: Cell::new(None) }
    }

    /// Send an event; a step event is dropped if the UI is behind, any other waits for room
    /// (unless the worker is being stopped). Training progress wakes the UI paced (see
    /// [`PROGRESS_WAKE_INTERVAL`]), never later: the last step and evaluation are always shown.
    pub fn emit(&self, event: Event) {
        let droppable = matches!(event, Event::Step { .. });
        let progress = droppable || matches!(event, Event::Evaluation(_));
        let mut event = event;
        loop {
            match self.events.try_send(event) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return,
                Err(TrySendError::Full(back)) => {
                    if droppable || self.stopping() {
                        break;
                    }
                    self.wake();
                    std::thread::sleep(Duration::from_millis(5));
                    event = back;
                }
            }
        }
        if progress { self.wake_paced() } else { self.wake() }
    }

    /// Wake the UI now, or at the next paced wake-up if one woke it less than an interval ago
    /// (a wake-up already due later covers this event too).
    fn wake_paced(&self) {
        let now = Instant::now();
        match self.progress_wake.get() {
            Some(due) if now < due => {} // a wake-up is scheduled and will show this
            Some(last) if now < last + PROGRESS_WAKE_INTERVAL => {
                let due = last + PROGRESS_WAKE_INTERVAL;
                self.progress_wake.set(Some(due));
                (self.wake)(due - now);
            }
            _ => {
                self.progress_wake.set(Some(now));
                (self.wake)(Duration::ZERO);
            }
        }
    }

    /// Wake the UI (new data in the snapshot slot).
    pub fn wake(&self) {
        (self.wake)(Duration::ZERO);
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Raised when the worker is being stopped (long job units watch it).
    pub fn stop_flag(&self) -> &AtomicBool {
        &self.stop
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::mpsc::sync_channel;

    use super::*;

    fn step(step: u64) -> Event {
        Event::Step { step, loss: 0.5, steps_per_sec: 100.0, trials: step, train_secs: 0.0 }
    }

    #[test]
    fn training_progress_wakes_paced_and_everything_else_at_once() {
        let wakes = Arc::new(Mutex::new(Vec::<Duration>::new()));
        let record = wakes.clone();
        let (events, received) = sync_channel(EVENT_CAPACITY);
        let outbox = Outbox::new(events, Arc::new(AtomicBool::new(false)), Box::new(move |after| record.lock().unwrap().push(after)));

        // a burst of steps: the first wakes the UI now, the rest share one wake-up an interval later
        for n in 1..=50 {
            outbox.emit(step(n));
        }
        let burst = wakes.lock().unwrap().clone();
        assert_eq!(burst.len(), 2, "{burst:?}");
        assert_eq!(burst[0], Duration::ZERO);
        assert!(burst[1] > Duration::ZERO && burst[1] <= PROGRESS_WAKE_INTERVAL, "{burst:?}");
        assert_eq!(received.try_iter().count(), 50, "no step is dropped while the UI keeps up");

        // a message is not paced
        outbox.emit(Event::Warning("look".into()));
        assert_eq!(wakes.lock().unwrap().last(), Some(&Duration::ZERO));
        assert_eq!(wakes.lock().unwrap().len(), 3);

        // after the interval, progress wakes at once again
        std::thread::sleep(2 * PROGRESS_WAKE_INTERVAL);
        outbox.emit(step(51));
        assert_eq!(wakes.lock().unwrap().len(), 4);
        assert_eq!(wakes.lock().unwrap().last(), Some(&Duration::ZERO));
    }
}
