//! The one way background work tells the UI that something new is ready to draw: the worker's
//! events and snapshots, the job threads' outputs, the export threads' notices. Every road calls
//! [`UiWaker::changed`] (or notes the change and requests the wake-up apart) after its data is in
//! place, so a result that arrives while the user is still is drawn without waiting for the next
//! mouse move.
//!
//! It also counts the changes and keeps the time of the last one: the app's frame log
//! (`--frame-log`) compares them with what each painted frame had taken in, which is how the
//! real-window test finds a result that was computed but never drawn.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Request = dyn Fn(Duration) + Send + Sync;

/// A cheap clone of the app's wake-up call. Without a UI (tests, benchmarks) it only counts.
#[derive(Clone)]
pub struct UiWaker {
    inner: Arc<Inner>,
}

struct Inner {
    /// Asks the UI for a frame within the delay (the app asks egui for a repaint).
    request: Box<Request>,
    /// How many changes were announced, and when the last one was.
    changes: Mutex<(u64, Option<Instant>)>,
}

impl UiWaker {
    /// A waker whose `request` makes the UI look within the given delay.
    pub fn new(request: impl Fn(Duration) + Send + Sync + 'static) -> Self {
        UiWaker { inner: Arc::new(Inner { request: Box::new(request), changes: Mutex::new((0, None)) }) }
    }

    /// A waker with no UI behind it.
    pub fn none() -> Self {
        UiWaker::new(|_| {})
    }

    /// Something new is ready: the UI looks now.
    pub fn changed(&self) {
        self.note();
        self.request(Duration::ZERO);
    }

    /// Something new is ready (counted only): a road that paces its wake-ups notes every change
    /// when its data is in place, and asks for the wake-up separately ([`UiWaker::request`]),
    /// so the frame log catches a change whose wake-up was skipped.
    pub fn note(&self) {
        if let Ok(mut changes) = self.inner.changes.lock() {
            changes.0 += 1;
            changes.1 = Some(Instant::now());
        }
    }

    /// Ask the UI to look within `delay` (paced training progress). Ask for every change, never
    /// skip one because an earlier wake-up seemed to cover it: the UI keeps only its earliest
    /// pending wake-up, and a frame that ran before this change took that wake-up with it.
    pub fn request(&self, delay: Duration) {
        (self.inner.request)(delay);
    }

    /// How many changes were announced so far.
    pub fn changes(&self) -> u64 {
        self.inner.changes.lock().map_or(0, |c| c.0)
    }

    /// When the last change was announced (`None` before the first).
    pub fn last_change(&self) -> Option<Instant> {
        self.inner.changes.lock().ok().and_then(|c| c.1)
    }
}

impl std::fmt::Debug for UiWaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UiWaker({} changes)", self.changes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_is_counted_and_requests_a_frame() {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let record = asked.clone();
        let waker = UiWaker::new(move |delay| record.lock().unwrap().push(delay));
        assert_eq!(waker.changes(), 0);
        assert!(waker.last_change().is_none());
        let clone = waker.clone();
        clone.changed();
        waker.note();
        waker.request(Duration::from_millis(200));
        assert_eq!(waker.changes(), 2, "clones share the count; a request alone is no change");
        assert!(waker.last_change().is_some());
        assert_eq!(*asked.lock().unwrap(), vec![Duration::ZERO, Duration::from_millis(200)]);
    }
}
