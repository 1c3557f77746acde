//! Jobs on a thread of their own: the ones that are not interleaved with training (a packing
//! sweep trains networks itself; compared runs are read from disk and swept while the worker
//! trains). One named thread per queue runs its jobs one after another, unit by unit, under the
//! one failure policy of [`super::job`], and sends every new output back with the job's id. The
//! thread is stopped and joined when the queue is dropped (within one unit of work).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::job::{self, Job};
use super::wake::UiWaker;

/// A job's new output.
pub struct Update<O> {
    /// The id the job was submitted with.
    pub id: u64,
    pub output: Arc<O>,
    /// Why the job failed (it is gone), for the status bar.
    pub failure: Option<String>,
    /// The job has ended (done, failed or cancelled): no more updates for this id.
    pub ended: bool,
}

struct Submitted<J> {
    id: u64,
    job: J,
    cancel: Arc<AtomicBool>,
}

/// The app's handle on a job thread.
pub struct JobQueue<J: Job> {
    jobs: Option<Sender<Submitted<J>>>,
    updates: Receiver<Update<J::Output>>,
    /// Raised on drop: every job stops after its current unit.
    shutdown: Arc<AtomicBool>,
    /// The cancel flag of the job running now, raised on drop so a long unit stops early too.
    running: Arc<Mutex<Option<Arc<AtomicBool>>>>,
    handle: Option<JoinHandle<()>>,
}

impl<J> JobQueue<J>
where
    J: Job + Send + 'static,
    J::Output: Send + Sync + 'static,
{
    /// Start the thread `name`; `wake` is called after every update (the app repaints).
    pub fn spawn(name: &str, wake: UiWaker) -> std::io::Result<Self> {
        // unbounded, and bounded in practice: jobs come from the user's clicks, and updates one
        // per unit of work (a level, a cell: milliseconds at least), drained every frame
        let (jobs, job_rx) = mpsc::channel::<Submitted<J>>();
        let (update_tx, updates) = mpsc::channel();
        let shutdown = Arc::new(AtomicBool::new(false));
        let stop = shutdown.clone();
        let running: Arc<Mutex<Option<Arc<AtomicBool>>>> = Arc::default();
        let current = running.clone();
        let handle = std::thread::Builder::new().name(name.into()).spawn(move || {
            let send = |update: Update<J::Output>| {
                let sent = update_tx.send(update).is_ok();
                wake.changed();
                sent
            };
            while let Ok(Submitted { id, job, cancel }) = job_rx.recv() {
                if let Ok(mut current) = current.lock() {
                    *current = Some(cancel.clone());
                }
                let mut slot = Some(job);
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    if cancel.load(Ordering::Relaxed) {
                        if let Some(output) = job::cancel(&mut slot) {
                            send(Update { id, output, failure: None, ended: true });
                        }
                        break;
                    }
                    let Some(turn) = job::turn(&mut slot, &cancel) else { break };
                    let ended = slot.is_none();
                    if !send(Update { id, output: turn.output, failure: turn.failure, ended }) {
                        return; // the app is gone
                    }
                    if ended {
                        break;
                    }
                }
                // the job's threads and buffers are gone: their memory goes back too
                crate::release_freed_memory();
            }
        })?;
        Ok(JobQueue { jobs: Some(jobs), updates, shutdown, running, handle: Some(handle) })
    }

    /// Queue `job` under `id`; raising `cancel` stops it (at its next unit, or inside a long
    /// unit that watches the flag). False if the thread has ended.
    pub fn submit(&self, id: u64, job: J, cancel: Arc<AtomicBool>) -> bool {
        self.jobs.as_ref().is_some_and(|jobs| jobs.send(Submitted { id, job, cancel }).is_ok())
    }

    /// The updates sent since the last call.
    pub fn updates(&self) -> Vec<Update<J::Output>> {
        self.updates.try_iter().collect()
    }
}

impl<J: Job> Drop for JobQueue<J> {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::Relaxed);
        if let Ok(running) = self.running.lock()
            && let Some(cancel) = running.as_ref()
        {
            cancel.store(true, Ordering::Relaxed);
        }
        // a closed channel ends the thread's wait for the next job
        self.jobs = None;
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::runner::job::Stopped;
    use crate::runner::job::counter::Counter;

    fn counter(until: u32, unit_ms: u64, fail_at: Option<u32>) -> Counter {
        Counter::new(until, unit_ms, fail_at.map(|at| (at, false)))
    }

    /// Every update until job `id` has ended.
    fn until_ended(queue: &JobQueue<Counter>, id: u64) -> Vec<Update<(u32, Option<Stopped>)>> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = Vec::new();
        while !seen.iter().any(|u: &Update<_>| u.id == id && u.ended) {
            assert!(Instant::now() < deadline, "job {id} did not end");
            seen.extend(queue.updates());
            std::thread::sleep(Duration::from_millis(2));
        }
        seen
    }

    #[test]
    fn jobs_run_in_order_with_an_update_per_unit() {
        let queue = JobQueue::spawn("test-queue", UiWaker::none()).expect("thread");
        assert!(queue.submit(1, counter(3, 0, None), Arc::default()));
        assert!(queue.submit(2, counter(2, 0, None), Arc::default()));
        let seen = until_ended(&queue, 2);
        let trail: Vec<(u64, u32, bool)> = seen.iter().map(|u| (u.id, u.output.0, u.ended)).collect();
        assert_eq!(trail, [(1, 1, false), (1, 2, false), (1, 3, true), (2, 1, false), (2, 2, true)]);
    }

    #[test]
    fn a_failed_job_reports_and_the_next_one_runs() {
        let queue = JobQueue::spawn("test-queue", UiWaker::none()).expect("thread");
        queue.submit(1, counter(5, 0, Some(2)), Arc::default());
        queue.submit(2, counter(1, 0, None), Arc::default());
        let seen = until_ended(&queue, 2);
        let failed = seen.iter().find(|u| u.id == 1 && u.ended).expect("job 1 ended");
        assert_eq!(failed.failure.as_deref(), Some("counter failed: error at 2"));
        assert_eq!(failed.output.1, Some(Stopped::Failed("error at 2".into())));
        assert!(seen.iter().any(|u| u.id == 2 && u.ended && u.failure.is_none()));
    }

    #[test]
    fn a_cancelled_job_ends_marked_stopped_and_drop_joins_quickly() {
        let queue = JobQueue::spawn("test-queue", UiWaker::none()).expect("thread");
        let cancel = Arc::new(AtomicBool::new(false));
        queue.submit(1, counter(10_000, 1, None), cancel.clone());
        std::thread::sleep(Duration::from_millis(20));
        cancel.store(true, Ordering::Relaxed);
        let seen = until_ended(&queue, 1);
        let last = seen.last().expect("updates");
        assert_eq!(last.output.1, Some(Stopped::Cancelled));
        // a long job still running: dropping the queue stops it within a unit
        queue.submit(2, counter(10_000, 1, None), Arc::default());
        std::thread::sleep(Duration::from_millis(20));
        let started = Instant::now();
        drop(queue);
        assert!(started.elapsed() < Duration::from_secs(10), "drop took {:?}", started.elapsed());
    }
}
