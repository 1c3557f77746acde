//! Independent units of work (packing cells, reproduce runs) on a few threads at once, each
//! outcome handed back to the calling thread as soon as its unit ends.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

/// Run `work` on every item on `jobs` threads at once and hand every outcome to `on_outcome` on
/// the calling thread, in the order units finish. No new unit starts once `cancel` is raised
/// (`on_outcome` may raise it, e.g. after a failure); a thread stops after an error. Returns when
/// every thread has stopped.
pub fn run_each<T: Sync, O: Send, E: Send>(
    items: &[T],
    jobs: usize,
    cancel: &AtomicBool,
    work: impl Fn(&T) -> Result<O, E> + Sync,
    mut on_outcome: impl FnMut(Result<O, E>),
) {
    let next = AtomicUsize::new(0);
    // one message per unit, all of which the caller collects: unbounded is bounded by the units
    let (tx, rx) = mpsc::channel::<Result<O, E>>();
    let work = &work;
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= items.len() || cancel.load(Ordering::Relaxed) {
                        break;
                    }
                    let outcome = work(&items[i]);
                    let stop = outcome.is_err();
                    if tx.send(outcome).is_err() || stop {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for outcome in rx {
            on_outcome(outcome);
        }
    });
}
