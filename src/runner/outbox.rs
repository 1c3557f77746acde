//! The worker's sending side: events on a bounded channel with back-pressure, and the wake-up
//! call that makes the UI look.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::{Duration, Instant};

use super::protocol::Event;
use super::wake::UiWaker;

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
    wake: UiWaker,
    /// When training progress last woke (or is due to wake) the UI.
    progress_wake: Cell<Option<Instant>>,
}

impl Outbox {
    pub fn new(events: SyncSender<Event>, stop: Arc<AtomicBool>, wake: UiWaker) -> Self {
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
        self.wake.note();
        if progress { self.wake_paced() } else { self.wake.request(Duration::ZERO) }
    }

    /// Wake the UI now, or at the next paced wake-up if one woke it less than an interval ago.
    /// The paced wake-up is asked for again with every event: the UI keeps only its earliest
    /// pending wake-up, so one asked for before a sooner one (a message, a job's result) was
    /// used up by the sooner frame, and an event sent after that frame would wait for the
    /// user's next input (the bug of issue 28: a loaded lesson's results not drawn).
    fn wake_paced(&self) {
        let now = Instant::now();
        let due = match self.progress_wake.get() {
            Some(due) if now < due => due,
            Some(last) if now < last + PROGRESS_WAKE_INTERVAL => last + PROGRESS_WAKE_INTERVAL,
            _ => now,
        };
        self.progress_wake.set(Some(due));
        self.wake.request(due - now);
    }

    /// New data is in the snapshot slot (counted; an event about to be sent, or [`Outbox::wake`],
    /// wakes the UI for it).
    pub fn note(&self) {
        self.wake.note();
    }

    /// Wake the UI now (new data in the snapshot slot).
    pub fn wake(&self) {
        self.wake.request(Duration::ZERO);
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
        let waker = UiWaker::new(move |after| record.lock().unwrap().push(after));
        let outbox = Outbox::new(events, Arc::new(AtomicBool::new(false)), waker.clone());

        // a burst of steps: the first wakes the UI now, every later one asks again for the one
        // wake-up an interval after the first (never later, never skipped)
        for n in 1..=50 {
            outbox.emit(step(n));
        }
        let burst = wakes.lock().unwrap().clone();
        assert_eq!(burst.len(), 50, "{burst:?}");
        assert_eq!(burst[0], Duration::ZERO);
        assert!(burst[1..].iter().all(|after| *after > Duration::ZERO && *after <= PROGRESS_WAKE_INTERVAL), "{burst:?}");
        assert!(burst[1..].windows(2).all(|pair| pair[1] <= pair[0]), "the same due time, nearer each call: {burst:?}");
        assert_eq!(waker.changes(), 50, "every event is counted as a change");
        assert_eq!(received.try_iter().count(), 50, "no step is dropped while the UI keeps up");

        // a message is not paced
        outbox.emit(Event::Warning("look".into()));
        assert_eq!(wakes.lock().unwrap().last(), Some(&Duration::ZERO));
        assert_eq!(wakes.lock().unwrap().len(), 51);

        // after the interval, progress wakes at once again
        std::thread::sleep(2 * PROGRESS_WAKE_INTERVAL);
        outbox.emit(step(51));
        assert_eq!(wakes.lock().unwrap().len(), 52);
        assert_eq!(wakes.lock().unwrap().last(), Some(&Duration::ZERO));
    }
}
