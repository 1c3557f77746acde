//! The one host of every background job the app runs. A panel submits a [`Job`] with where it
//! runs — on a frozen copy of the training run's network, between training steps on the worker
//! ([`JobHost::on_network`]), or on a named thread of its own ([`JobHost::on_thread`]) — and gets
//! a [`JobId`]; it cancels by that id and reads the job's output and state from one board
//! ([`JobHost::output`], [`JobHost::state`]). Every change to the board wakes the UI, whichever
//! road the job took. Failures are collected for the status bar ([`JobHost::take_failures`]).
//!
//! Adding a background job is one file with its [`Job`] impl and one submit call in the panel
//! that shows it; the worker, the protocol and the snapshot do not change (ARCHITECTURE.md).

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use super::job::{Job, JobError, Stopped, panic_message};
use super::wake::UiWaker;
use crate::config::Config;
use crate::model::{ParamSet, Pathway};

/// A job's number, unique in the app's lifetime.
pub type JobId = u64;

/// Where a job stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobState {
    /// Queued or running.
    Running,
    Done,
    Failed(String),
    Cancelled,
}

impl JobState {
    pub fn ended(&self) -> bool {
        *self != JobState::Running
    }
}

/// The network a between-steps job works on: a frozen copy of the run at the moment the worker
/// takes the job, with the lesions in force then.
pub struct Frozen {
    pub config: Config,
    pub params: ParamSet,
    pub step: u64,
    pub lesioned: Vec<Pathway>,
}

/// A job of any kind, its output type erased (the board keeps outputs as `Any`).
pub trait HostedJob: Send {
    fn name(&self) -> &'static str;
    fn unit(&mut self, cancel: &AtomicBool) -> Result<bool, JobError>;
    fn output_any(&self) -> Arc<dyn Any + Send + Sync>;
    fn stop(&mut self, why: Stopped);
}

impl<J> HostedJob for J
where
    J: Job + Send,
    J::Output: Send + Sync + 'static,
{
    fn name(&self) -> &'static str {
        Job::name(self)
    }
    fn unit(&mut self, cancel: &AtomicBool) -> Result<bool, JobError> {
        Job::unit(self, cancel)
    }
    fn output_any(&self) -> Arc<dyn Any + Send + Sync> {
        Arc::new(Job::output(self).clone())
    }
    fn stop(&mut self, why: Stopped) {
        Job::stop(self, why)
    }
}

/// Builds a between-steps job from the frozen network (an error says why it cannot start).
pub type BuildJob = Box<dyn FnOnce(Frozen) -> Result<Box<dyn HostedJob>, String> + Send>;

struct Entry {
    output: Option<Arc<dyn Any + Send + Sync>>,
    state: JobState,
    cancel: Arc<AtomicBool>,
}

#[derive(Default)]
struct Entries {
    /// By id; ordered, so "the latest job with this output" is the last that has one.
    jobs: BTreeMap<JobId, Entry>,
    /// Failure messages not shown yet.
    failures: Vec<String>,
}

/// Where jobs publish: shared by the host, the worker and the job threads. Every change wakes
/// the UI.
#[derive(Clone)]
pub struct Board {
    entries: Arc<Mutex<Entries>>,
    wake: UiWaker,
}

impl Board {
    pub fn new(wake: UiWaker) -> Self {
        Board { entries: Arc::default(), wake }
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // a job thread that panicked while publishing leaves consistent entries (each write is one assignment)
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn add(&self, id: JobId, cancel: Arc<AtomicBool>) {
        self.lock().jobs.insert(id, Entry { output: None, state: JobState::Running, cancel });
    }

    /// A job's new output (and its state when it ended); a forgotten job's is dropped.
    pub fn publish(&self, id: JobId, output: Arc<dyn Any + Send + Sync>, state: JobState) {
        {
            let mut entries = self.lock();
            let Some(entry) = entries.jobs.get_mut(&id) else { return };
            entry.output = Some(output);
            entry.state = state;
        }
        self.wake.changed();
    }

    /// Record that a job failed (with its last output, if any) and why, for the status bar: one
    /// change, so a panel never sees the output without the state.
    pub fn fail(&self, id: JobId, output: Option<Arc<dyn Any + Send + Sync>>, message: String) {
        let mut entries = self.lock();
        if let Some(entry) = entries.jobs.get_mut(&id) {
            if output.is_some() {
                entry.output = output;
            }
            entry.state = JobState::Failed(message.clone());
            entries.failures.push(message);
        }
        drop(entries);
        self.wake.changed();
    }

    /// Keep of `ids` those still on the board (the others were forgotten by their panels).
    pub fn retain_present(&self, ids: &mut Vec<JobId>) {
        let entries = self.lock();
        ids.retain(|id| entries.jobs.contains_key(id));
    }

    /// Drop jobs from the board (a reset network's analyses); they are cancelled too.
    pub fn forget(&self, ids: &[JobId]) {
        let mut entries = self.lock();
        let removed: Vec<Entry> = ids.iter().filter_map(|id| entries.jobs.remove(id)).collect();
        drop(entries);
        // raised, and the outputs freed, outside the lock (a large output takes a while)
        removed.iter().for_each(|entry| entry.cancel.store(true, Ordering::Relaxed));
        drop(removed);
        self.wake.changed();
    }
}

/// A job with its id and its cancel flag, as a runner holds it.
pub struct Running {
    pub id: JobId,
    job: Box<dyn HostedJob>,
    cancel: Arc<AtomicBool>,
    /// Where it publishes.
    pub board: Board,
}

impl Running {
    /// One unit of work under the one failure policy ([`super::job`]), its output published; whether
    /// the job has ended (done, failed or cancelled). A long unit watches the job's cancel flag,
    /// which the host raises when it is dropped. A panic anywhere in the job (its unit, its
    /// output's copy, its stop) ends the job as failed, never the thread that runs it.
    pub fn turn(&mut self) -> bool {
        match catch_unwind(AssertUnwindSafe(|| self.turn_unguarded())) {
            Ok(ended) => ended,
            Err(payload) => {
                let message = format!("{} failed: it panicked: {}", self.job.name(), panic_message(&*payload));
                self.board.fail(self.id, None, message);
                true
            }
        }
    }

    fn turn_unguarded(&mut self) -> bool {
        let board = &self.board;
        // the board's entry shares this flag: cancelling or forgetting the job raises it
        if self.cancel.load(Ordering::Relaxed) {
            self.job.stop(Stopped::Cancelled);
            board.publish(self.id, self.job.output_any(), JobState::Cancelled);
            return true;
        }
        let unit = catch_unwind(AssertUnwindSafe(|| self.job.unit(&self.cancel)));
        let outcome = match unit {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(payload) => Err(format!("it panicked: {}", panic_message(&*payload))),
        };
        match outcome {
            Ok(done) => {
                let state = if done { JobState::Done } else { JobState::Running };
                board.publish(self.id, self.job.output_any(), state);
                done
            }
            Err(message) => {
                self.job.stop(Stopped::Failed(message.clone()));
                board.fail(self.id, Some(self.job.output_any()), format!("{} failed: {message}", self.job.name()));
                true
            }
        }
    }
}

/// A between-steps job on its way to the worker (the app sends it as `Command::Job`).
pub struct NetworkJob {
    pub id: JobId,
    /// What the job is, for "… not started" messages.
    pub name: &'static str,
    pub build: BuildJob,
    pub cancel: Arc<AtomicBool>,
    pub board: Board,
}

impl std::fmt::Debug for NetworkJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NetworkJob({} {})", self.id, self.name)
    }
}

impl NetworkJob {
    /// Build the job on `frozen` (a panic while building is a failure like an error); `None`
    /// when it cannot start, with the reason on the board.
    pub fn start(self, frozen: Frozen) -> Option<Running> {
        let NetworkJob { id, name, build, cancel, board } = self;
        let built = match catch_unwind(AssertUnwindSafe(|| build(frozen))) {
            Ok(result) => result,
            Err(payload) => Err(format!("it panicked: {}", panic_message(&*payload))),
        };
        match built {
            Ok(job) => {
                board.publish(id, job.output_any(), JobState::Running);
                Some(Running { id, job, cancel, board })
            }
            Err(message) => {
                board.fail(id, None, format!("{name} not started: {message}"));
                None
            }
        }
    }

    /// There is no network to build on.
    pub fn refuse(self, why: &str) {
        self.board.fail(self.id, None, format!("{} not started: {why}", self.name));
    }
}

/// A named thread running its jobs one after another.
struct Lane {
    jobs: Option<Sender<Running>>,
    /// The job running now's cancel flag, raised on drop so a long unit stops early too.
    current: Arc<Mutex<Option<Arc<AtomicBool>>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Lane {
    fn spawn(name: &str) -> std::io::Result<Lane> {
        // unbounded, and bounded in practice: jobs come from the user's clicks
        let (jobs, queue): (Sender<Running>, Receiver<Running>) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let current: Arc<Mutex<Option<Arc<AtomicBool>>>> = Arc::default();
        let (stop_flag, running) = (stop.clone(), current.clone());
        let handle = std::thread::Builder::new().name(name.into()).spawn(move || {
            while let Ok(mut job) = queue.recv() {
                if let Ok(mut running) = running.lock() {
                    *running = Some(job.cancel.clone());
                }
                while !stop_flag.load(Ordering::Relaxed) {
                    if job.turn() {
                        break;
                    }
                }
                // the job's threads and buffers are gone: their memory goes back too
                crate::release_freed_memory();
            }
        })?;
        Ok(Lane { jobs: Some(jobs), current, stop, handle: Some(handle) })
    }
}

impl Drop for Lane {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Ok(current) = self.current.lock()
            && let Some(cancel) = current.as_ref()
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

/// The app's one host of background jobs.
pub struct JobHost {
    board: Board,
    next: JobId,
    lanes: HashMap<&'static str, Lane>,
    /// Between-steps jobs submitted this frame, for the worker.
    outgoing: Vec<NetworkJob>,
}

impl JobHost {
    pub fn new(wake: UiWaker) -> Self {
        JobHost { board: Board::new(wake), next: 1, lanes: HashMap::new(), outgoing: Vec::new() }
    }

    fn register(&mut self) -> (JobId, Arc<AtomicBool>) {
        let (id, cancel) = (self.next, Arc::new(AtomicBool::new(false)));
        self.next += 1;
        self.board.add(id, cancel.clone());
        (id, cancel)
    }

    /// Run a job on a frozen copy of the training run's network, between training steps (the
    /// worker takes it after this frame). `build` makes the job from the network; `name` says
    /// what it is if it cannot start.
    pub fn on_network<J, F>(&mut self, name: &'static str, build: F) -> JobId
    where
        J: Job + Send + 'static,
        J::Output: Send + Sync + 'static,
        F: FnOnce(Frozen) -> Result<J, String> + Send + 'static,
    {
        let (id, cancel) = self.register();
        let build: BuildJob = Box::new(move |frozen| build(frozen).map(|job| Box::new(job) as Box<dyn HostedJob>));
        self.outgoing.push(NetworkJob { id, name, build, cancel, board: self.board.clone() });
        id
    }

    /// [`JobHost::on_network`] in place of a panel's current job: the job in `slot` (if any) is
    /// cancelled and forgotten, and the new one's id goes into `slot` (a new Sweep, switch test
    /// or analysis replaces the one under way).
    pub fn replace_on_network<J, F>(&mut self, slot: &mut Option<JobId>, name: &'static str, build: F)
    where
        J: Job + Send + 'static,
        J::Output: Send + Sync + 'static,
        F: FnOnce(Frozen) -> Result<J, String> + Send + 'static,
    {
        if let Some(old) = slot.take() {
            self.forget(old);
        }
        *slot = Some(self.on_network(name, build));
    }

    /// Run a job on the thread named `lane` (started with its first job; jobs on one lane run
    /// one after another).
    pub fn on_thread<J>(&mut self, lane: &'static str, job: J) -> Result<JobId, String>
    where
        J: Job + Send + 'static,
        J::Output: Send + Sync + 'static,
    {
        if !self.lanes.contains_key(lane) {
            let started = Lane::spawn(lane).map_err(|e| format!("cannot start the {lane} thread: {e}"))?;
            self.lanes.insert(lane, started);
        }
        let (id, cancel) = self.register();
        let output = job.output().clone();
        self.board.publish(id, Arc::new(output), JobState::Running);
        let sent = self
            .lanes
            .get(lane)
            .and_then(|l| l.jobs.as_ref())
            .is_some_and(|jobs| jobs.send(Running { id, job: Box::new(job), cancel, board: self.board.clone() }).is_ok());
        if sent {
            Ok(id)
        } else {
            self.lanes.remove(lane);
            self.board.forget(&[id]);
            Err(format!("the {lane} thread stopped; restart the app"))
        }
    }

    /// Stop a job at its next unit (or inside a long unit that watches its flag); what it
    /// computed so far stays on the board.
    pub fn cancel(&self, id: JobId) {
        if let Some(entry) = self.board.lock().jobs.get(&id) {
            entry.cancel.store(true, Ordering::Relaxed);
        }
    }

    /// Cancel a job and drop it from the board (its panel no longer shows it).
    pub fn forget(&self, id: JobId) {
        self.board.forget(&[id]);
    }

    /// The job's latest output, if it has one of type `O`.
    pub fn output<O: Send + Sync + 'static>(&self, id: JobId) -> Option<Arc<O>> {
        let output = self.board.lock().jobs.get(&id)?.output.clone()?;
        output.downcast::<O>().ok()
    }

    /// Where the job stands and its latest output, read together (a job that ends between two
    /// separate reads would leave its final output unread).
    pub fn snapshot<O: Send + Sync + 'static>(&self, id: JobId) -> Option<(JobState, Option<Arc<O>>)> {
        let entries = self.board.lock();
        let entry = entries.jobs.get(&id)?;
        Some((entry.state.clone(), entry.output.clone().and_then(|o| o.downcast::<O>().ok())))
    }

    /// The output of the most recently submitted job that has an output of type `O`.
    pub fn latest<O: Send + Sync + 'static>(&self) -> Option<Arc<O>> {
        let entries = self.board.lock();
        entries.jobs.values().rev().find_map(|e| e.output.clone()?.downcast::<O>().ok())
    }

    /// Where the job stands (`None`: never submitted, or forgotten).
    pub fn state(&self, id: JobId) -> Option<JobState> {
        Some(self.board.lock().jobs.get(&id)?.state.clone())
    }

    /// The failure messages since the last call, for the status bar.
    pub fn take_failures(&self) -> Vec<String> {
        std::mem::take(&mut self.board.lock().failures)
    }

    /// The between-steps jobs submitted since the last call, for the worker.
    pub fn take_network_jobs(&mut self) -> Vec<NetworkJob> {
        std::mem::take(&mut self.outgoing)
    }

    /// Cancel every job and join the job threads (the app is closing).
    pub fn stop(&mut self) {
        let ids: Vec<JobId> = self.board.lock().jobs.keys().copied().collect();
        ids.iter().for_each(|id| self.cancel(*id));
        self.lanes.clear();
    }
}

impl Drop for JobHost {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::runner::job::counter::Counter;

    fn until(host: &JobHost, id: JobId, what: impl Fn(&JobState) -> bool) -> JobState {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let state = host.state(id).expect("on the board");
            if what(&state) {
                return state;
            }
            assert!(Instant::now() < deadline, "job {id} stuck at {state:?}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn thread_jobs_run_in_order_and_publish_every_unit_with_a_wake_up() {
        let waker = UiWaker::none();
        let mut host = JobHost::new(waker.clone());
        let first = host.on_thread("test-lane", Counter::new(3, 1, None)).expect("submitted");
        let second = host.on_thread("test-lane", Counter::new(2, 0, None)).expect("submitted");
        assert_ne!(first, second);
        until(&host, second, JobState::ended);
        assert_eq!(host.state(first), Some(JobState::Done));
        assert_eq!(host.output::<(u32, Option<Stopped>)>(first).expect("output").0, 3);
        assert_eq!(host.output::<(u32, Option<Stopped>)>(second).expect("output").0, 2);
        assert!(host.output::<String>(first).is_none(), "the output's type is checked");
        assert_eq!(host.latest::<(u32, Option<Stopped>)>().expect("latest").0, 2);
        // one change per unit and per submission at least: every one woke the UI
        assert!(waker.changes() >= 5, "{} changes", waker.changes());
        assert!(host.take_failures().is_empty());
    }

    #[test]
    fn a_failing_or_panicking_job_reports_once_and_the_next_one_runs() {
        let mut host = JobHost::new(UiWaker::none());
        for panics in [false, true] {
            let failing = host.on_thread("test-lane", Counter::new(5, 0, Some((2, panics)))).expect("submitted");
            let next = host.on_thread("test-lane", Counter::new(1, 0, None)).expect("submitted");
            until(&host, next, JobState::ended);
            let state = host.state(failing).expect("state");
            assert!(matches!(&state, JobState::Failed(m) if m.starts_with("counter failed: ") && m.contains("at 2")), "{state:?}");
            let output = host.output::<(u32, Option<Stopped>)>(failing).expect("output");
            assert!(matches!(&output.1, Some(Stopped::Failed(_))));
            assert_eq!(host.take_failures().len(), 1);
            assert_eq!(host.state(next), Some(JobState::Done));
        }
    }

    /// An output whose copy panics once its job has armed it.
    #[derive(Debug)]
    struct Bomb(bool);

    impl Clone for Bomb {
        fn clone(&self) -> Self {
            assert!(!self.0, "the output's copy exploded");
            Bomb(false)
        }
    }

    struct Arming(Bomb);

    impl Job for Arming {
        type Output = Bomb;
        fn name(&self) -> &'static str {
            "arming"
        }
        fn unit(&mut self, _cancel: &AtomicBool) -> Result<bool, JobError> {
            self.0.0 = true;
            Ok(false)
        }
        fn output(&self) -> &Bomb {
            &self.0
        }
        fn stop(&mut self, _why: Stopped) {}
    }

    /// A panic outside the unit (here in copying the output) fails that job only: the lane
    /// thread lives on and runs the next job.
    #[test]
    fn a_panic_anywhere_in_a_job_fails_it_and_the_lane_goes_on() {
        let mut host = JobHost::new(UiWaker::none());
        let bomb = host.on_thread("test-lane", Arming(Bomb(false))).expect("submitted");
        let next = host.on_thread("test-lane", Counter::new(1, 0, None)).expect("submitted");
        until(&host, next, JobState::ended);
        let state = host.state(bomb).expect("state");
        assert!(matches!(&state, JobState::Failed(m) if m.starts_with("arming failed: it panicked")), "{state:?}");
        assert_eq!(host.state(next), Some(JobState::Done));
    }

    #[test]
    fn cancel_stops_a_job_with_its_output_kept_and_forget_drops_it() {
        let mut host = JobHost::new(UiWaker::none());
        let id = host.on_thread("test-lane", Counter::new(100_000, 1, None)).expect("submitted");
        until(&host, id, |_| host.output::<(u32, Option<Stopped>)>(id).is_some_and(|o| o.0 > 0));
        host.cancel(id);
        until(&host, id, JobState::ended);
        assert_eq!(host.state(id), Some(JobState::Cancelled));
        assert_eq!(host.output::<(u32, Option<Stopped>)>(id).expect("kept").1, Some(Stopped::Cancelled));
        host.forget(id);
        assert!(host.state(id).is_none() && host.output::<(u32, Option<Stopped>)>(id).is_none());
        // a long job still running when the host goes: dropping it returns within a unit
        host.on_thread("test-lane", Counter::new(100_000, 1, None)).expect("submitted");
        std::thread::sleep(Duration::from_millis(20));
        let started = Instant::now();
        drop(host);
        assert!(started.elapsed() < Duration::from_secs(10), "drop took {:?}", started.elapsed());
    }

    #[test]
    fn a_network_job_goes_to_the_worker_as_a_command_and_reports_a_refusal() {
        let mut host = JobHost::new(UiWaker::none());
        let id = host.on_network("counter", |_frozen| Ok(Counter::new(1, 0, None)));
        let mut jobs = host.take_network_jobs();
        assert_eq!(jobs.len(), 1);
        assert!(host.take_network_jobs().is_empty(), "taken once");
        assert_eq!(host.state(id), Some(JobState::Running));
        let job = jobs.remove(0);
        job.refuse("no network");
        assert_eq!(host.state(id), Some(JobState::Failed("counter not started: no network".into())));
        assert_eq!(host.take_failures(), ["counter not started: no network"]);
    }

    #[test]
    fn a_replaced_network_job_is_cancelled_and_forgotten_and_its_slot_holds_the_new_one() {
        let mut host = JobHost::new(UiWaker::none());
        let mut slot = None;
        host.replace_on_network(&mut slot, "counter", |_frozen| Ok(Counter::new(1, 0, None)));
        let first = slot.expect("submitted");
        let jobs = host.take_network_jobs();
        host.replace_on_network(&mut slot, "counter", |_frozen| Ok(Counter::new(1, 0, None)));
        let second = slot.expect("submitted");
        assert_ne!(first, second);
        assert!(host.state(first).is_none(), "the old job left the board");
        assert!(jobs[0].cancel.load(Ordering::Relaxed), "and was told to stop");
        assert_eq!(host.state(second), Some(JobState::Running));
        // the worker's list of its jobs keeps only those still on the board
        let mut hosted = vec![first, second];
        host.board.retain_present(&mut hosted);
        assert_eq!(hosted, [second]);
    }
}
