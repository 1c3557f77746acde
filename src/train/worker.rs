//! The training worker: a named background thread that owns the [`Trainer`] for the desktop app.
//!
//! The UI never holds a tensor and never waits on the worker:
//! - UI → worker: [`Command`]s on an unbounded channel (sending never blocks).
//! - worker → UI: small [`Event`]s on a bounded channel; a step event is dropped when the
//!   channel is full (the UI is behind), every other event waits for room.
//! - heavy data (the latest per-task performance) goes into a [`Snapshot`] slot that is
//!   overwritten, never queued, so a slow frame cannot back it up.
//!
//! After every event the worker calls the `wake` callback (the app passes
//! `egui::Context::request_repaint_after`). A panic while training becomes an
//! [`Event::Failed`]; the worker then waits for a [`Command::Reset`]. Dropping the [`Worker`]
//! stops and joins the thread.
//!
//! Training is deterministic like the CLI's [`super::run`]: the same steps in the same order,
//! evaluations at the same steps (evaluation draws from its own random stream), plus one of the
//! untrained network after every reset so the curves start at chance level.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::eval::{EvalOptions, evaluate};
use super::{TrainError, Trainer};
use crate::config::Config;
use crate::model::Pathway;
use crate::tasks::Task;

/// Room for this many events between two UI drains.
const EVENT_CAPACITY: usize = 1024;
/// How long the worker sleeps waiting for commands when it is not training.
const IDLE_POLL: Duration = Duration::from_millis(100);
/// Steps/s is measured over the last this many steps.
const RATE_WINDOW: usize = 32;

/// What the UI asks the worker to do.
#[derive(Clone, Debug)]
pub enum Command {
    /// Start training, or resume after a pause.
    Start,
    /// Stop stepping after the current step; the network is kept.
    Pause,
    /// One optimiser step (and the evaluation due at it), then stay paused.
    StepOnce,
    /// Throw the network away and start over (not training) with this configuration.
    Reset(Box<Config>),
    /// Evaluate with these pathways lesioned (test time only; training is not affected).
    /// Applies at once: the current network is re-evaluated.
    SetLesions(Vec<Pathway>),
    /// End the thread.
    Stop,
    /// Panic inside the training code (to test that a panic becomes [`Event::Failed`]).
    #[doc(hidden)]
    InjectPanic,
}

/// What the run is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    /// A fresh network, not trained yet.
    Ready,
    Running,
    Paused,
    /// All `train.steps` done, or every task reached `train.stop_at_perf`.
    Finished,
    /// Training failed; reset to go on.
    Failed,
}

impl RunState {
    pub fn label(self) -> &'static str {
        match self {
            RunState::Ready => "ready",
            RunState::Running => "training",
            RunState::Paused => "paused",
            RunState::Finished => "finished",
            RunState::Failed => "failed",
        }
    }
}

/// One evaluation: per-task performance of the intact network, and of the lesioned one when
/// lesions are set.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalResult {
    pub step: u64,
    pub perf: Vec<(Task, f32)>,
    /// The lesioned pathways and the performance with them removed.
    pub lesioned: Option<(Vec<Pathway>, Vec<(Task, f32)>)>,
}

impl EvalResult {
    pub fn perf_mean(&self) -> f32 {
        self.perf.iter().map(|(_, p)| p).sum::<f32>() / self.perf.len().max(1) as f32
    }

    pub fn perf_min(&self) -> f32 {
        self.perf.iter().map(|(_, p)| *p).fold(f32::INFINITY, f32::min)
    }
}

/// A small message from the worker.
#[derive(Clone, Debug)]
pub enum Event {
    /// The worker started over with a new configuration (the UI clears its run data).
    Reset(Box<Config>),
    State(RunState),
    Step { step: u64, loss: f32, steps_per_sec: f64, trials: u64, train_secs: f64 },
    Evaluation(EvalResult),
    Warning(String),
    /// Training failed (an error or a panic); the message says why.
    Failed(String),
    /// All steps done, or converged.
    Finished { step: u64, converged: bool },
}

/// The latest state of the run, overwritten after every evaluation.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub step: u64,
    pub trials: u64,
    pub train_secs: f64,
    pub evaluation: Option<EvalResult>,
}

/// Called after the worker sent something (the app wakes its UI with it).
pub type Waker = Box<dyn Fn() + Send>;

/// The UI's handle on the worker thread. Dropping it stops and joins the thread.
pub struct Worker {
    commands: Sender<Command>,
    events: Receiver<Event>,
    snapshot: Arc<Mutex<Option<Snapshot>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Start the thread with a fresh (untrained) network for `config`.
    pub fn spawn(config: Config, wake: Waker) -> std::io::Result<Worker> {
        let (commands, command_rx) = mpsc::channel();
        let (event_tx, events) = mpsc::sync_channel(EVENT_CAPACITY);
        let snapshot = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let mut state = WorkerState {
            commands: command_rx,
            outbox: Outbox { events: event_tx, stop: stop.clone(), wake },
            snapshot: snapshot.clone(),
            trainer: None,
            config,
            run_state: RunState::Ready,
            lesions: Vec::new(),
            step_times: VecDeque::with_capacity(RATE_WINDOW + 1),
            train_secs: 0.0,
        };
        let thread = std::thread::Builder::new()
            .name("modulab-training".into())
            .spawn(move || state.main())?;
        Ok(Worker { commands, events, snapshot, stop, thread: Some(thread) })
    }

    /// Send a command; `false` if the worker has ended.
    pub fn send(&self, command: Command) -> bool {
        self.commands.send(command).is_ok()
    }

    /// The next event, if any (never blocks).
    pub fn try_recv(&self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// The latest snapshot, taken out of the slot (`None` if nothing new since the last take).
    pub fn take_snapshot(&self) -> Option<Snapshot> {
        self.snapshot.lock().ok().and_then(|mut slot| slot.take())
    }

    /// Whether the thread is still running.
    pub fn is_alive(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.commands.send(Command::Stop);
        if let Some(thread) = self.thread.take() {
            // the thread catches panics in training; a panic elsewhere is already reported
            let _ = thread.join();
        }
    }
}

/// The sending side of the event channel.
struct Outbox {
    events: SyncSender<Event>,
    stop: Arc<AtomicBool>,
    wake: Waker,
}

impl Outbox {
    /// Send an event; a step event is dropped if the UI is behind, any other waits for room
    /// (unless the worker is being stopped).
    fn emit(&self, event: Event) {
        let droppable = matches!(event, Event::Step { .. });
        let mut event = event;
        loop {
            match self.events.try_send(event) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return,
                Err(TrySendError::Full(back)) => {
                    if droppable || self.stop.load(Ordering::Relaxed) {
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
}

struct WorkerState {
    commands: Receiver<Command>,
    outbox: Outbox,
    snapshot: Arc<Mutex<Option<Snapshot>>>,
    /// `None` after a failure, until the next reset.
    trainer: Option<Trainer>,
    config: Config,
    run_state: RunState,
    lesions: Vec<Pathway>,
    step_times: VecDeque<Instant>,
    /// Seconds spent training in this run (pauses excluded).
    train_secs: f64,
}

/// What one attempt to step did.
enum StepOutcome {
    Stepped,
    Done { converged: bool },
}

impl WorkerState {
    fn main(&mut self) {
        self.reset(self.config.clone());
        loop {
            let command = if self.run_state == RunState::Running {
                match self.commands.try_recv() {
                    Ok(c) => Some(c),
                    Err(mpsc::TryRecvError::Empty) => None,
                    Err(mpsc::TryRecvError::Disconnected) => return,
                }
            } else {
                match self.commands.recv_timeout(IDLE_POLL) {
                    Ok(c) => Some(c),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            };
            if self.outbox.stop.load(Ordering::Relaxed) {
                return;
            }
            match command {
                Some(Command::Stop) => return,
                Some(command) => self.handle(command),
                None if self.run_state == RunState::Running => self.guarded_step(),
                None => {}
            }
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Start => match self.run_state {
                RunState::Ready | RunState::Paused => {
                    self.step_times.clear();
                    self.set_state(RunState::Running);
                }
                RunState::Running => {}
                RunState::Finished => self.outbox.emit(Event::Warning(
                    "this run is finished: press Reset to start a new one, or raise the number of steps".into(),
                )),
                RunState::Failed => self.outbox.emit(Event::Warning("training failed: press Reset to start over".into())),
            },
            Command::Pause => {
                if self.run_state == RunState::Running {
                    self.set_state(RunState::Paused);
                }
            }
            Command::StepOnce => match self.run_state {
                RunState::Ready | RunState::Paused | RunState::Running => {
                    self.set_state(RunState::Paused);
                    self.step_times.clear();
                    self.guarded_step();
                }
                RunState::Finished | RunState::Failed => {
                    self.outbox.emit(Event::Warning("nothing to step: press Reset to start a new run".into()))
                }
            },
            Command::Reset(config) => self.reset(*config),
            Command::SetLesions(lesions) => {
                self.lesions = lesions;
                if self.trainer.is_some() {
                    self.guarded(|state| state.evaluate_and_publish().map(|_| StepOutcome::Stepped));
                }
            }
            Command::Stop => {}
            Command::InjectPanic => {
                self.guarded(|_| panic!("injected panic (test)"));
            }
        }
    }

    fn reset(&mut self, config: Config) {
        self.config = config;
        self.train_secs = 0.0;
        self.step_times.clear();
        if let Ok(mut slot) = self.snapshot.lock() {
            *slot = None;
        }
        self.outbox.emit(Event::Reset(Box::new(self.config.clone())));
        let config = self.config.clone();
        let created = catch_unwind(AssertUnwindSafe(|| Trainer::new(config)));
        match created {
            Ok(trainer) => {
                self.trainer = Some(trainer);
                self.set_state(RunState::Ready);
                // the untrained network's score (chance level), so the curves start at step 0;
                // evaluation has its own random stream, so training is unchanged
                self.guarded(|state| state.evaluate_and_publish().map(|_| StepOutcome::Stepped));
            }
            Err(payload) => self.fail(format!("could not build the network: {}", panic_message(&*payload))),
        }
    }

    fn set_state(&mut self, state: RunState) {
        if self.run_state != state || state == RunState::Ready {
            self.run_state = state;
            self.outbox.emit(Event::State(state));
        }
    }

    fn fail(&mut self, message: String) {
        self.trainer = None;
        self.set_state(RunState::Failed);
        self.outbox.emit(Event::Failed(message));
    }

    /// One training step with panics and errors turned into [`Event::Failed`].
    fn guarded_step(&mut self) {
        if let Some(StepOutcome::Done { converged }) = self.guarded(WorkerState::step) {
            let step = self.trainer.as_ref().map_or(0, |t| t.step);
            self.set_state(RunState::Finished);
            self.outbox.emit(Event::Finished { step, converged });
        }
    }

    fn guarded(&mut self, f: impl FnOnce(&mut WorkerState) -> Result<StepOutcome, TrainError>) -> Option<StepOutcome> {
        match catch_unwind(AssertUnwindSafe(|| f(self))) {
            Ok(Ok(outcome)) => Some(outcome),
            Ok(Err(error)) => {
                self.fail(error.to_string());
                None
            }
            Err(payload) => {
                self.fail(format!("the training thread panicked: {}", panic_message(&*payload)));
                None
            }
        }
    }

    /// One step as [`super::run`] does it: step, evaluate when due, stop when done or converged.
    fn step(&mut self) -> Result<StepOutcome, TrainError> {
        let Some(trainer) = self.trainer.as_mut() else {
            return Ok(StepOutcome::Done { converged: false });
        };
        let total = trainer.config.train.steps;
        if trainer.step >= total {
            return Ok(StepOutcome::Done { converged: false });
        }
        let started = Instant::now();
        let report = trainer.step()?;
        self.train_secs += started.elapsed().as_secs_f64();
        let now = Instant::now();
        self.step_times.push_back(now);
        if self.step_times.len() > RATE_WINDOW {
            self.step_times.pop_front();
        }
        let steps_per_sec = match (self.step_times.front(), self.step_times.len()) {
            (Some(first), n) if n >= 2 => (n - 1) as f64 / (now - *first).as_secs_f64().max(1e-9),
            _ => 0.0,
        };
        let (step, trials) = (trainer.step, trainer.trials);
        let eval_every = trainer.config.train.eval_every;
        let stop_at = trainer.config.train.stop_at_perf;
        self.outbox.emit(Event::Step { step, loss: report.loss, steps_per_sec, trials, train_secs: self.train_secs });
        let last = step == total;
        if step % eval_every == 0 || last {
            let result = self.evaluate_and_publish()?;
            if stop_at > 0.0 && result.perf_min() as f64 >= stop_at {
                return Ok(StepOutcome::Done { converged: true });
            }
        }
        Ok(if last { StepOutcome::Done { converged: false } } else { StepOutcome::Stepped })
    }

    /// Evaluate the current network (and the lesioned one), send the result and fill the slot.
    fn evaluate_and_publish(&mut self) -> Result<EvalResult, TrainError> {
        let Some(trainer) = self.trainer.as_ref() else {
            return Err(TrainError::Task(crate::tasks::TaskError::UnknownTask {
                name: "(no network)".into(),
                valid: String::new(),
            }));
        };
        let intact = evaluate(trainer, &EvalOptions::default())?;
        let active: Vec<Pathway> = self.lesions.iter().copied().filter(|p| trainer.config.model.has(*p)).collect();
        let lesioned = if active.is_empty() {
            None
        } else {
            let options = EvalOptions { lesioned: active.clone(), ..EvalOptions::default() };
            Some((active, evaluate(trainer, &options)?.perf))
        };
        let result = EvalResult { step: trainer.step, perf: intact.perf, lesioned };
        let snapshot = Snapshot {
            step: trainer.step,
            trials: trainer.trials,
            train_secs: self.train_secs,
            evaluation: Some(result.clone()),
        };
        if let Ok(mut slot) = self.snapshot.lock() {
            *slot = Some(snapshot);
        }
        self.outbox.emit(Event::Evaluation(result.clone()));
        Ok(result)
    }
}

/// The text of a panic payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A network small enough to step in a few milliseconds.
    fn tiny() -> Config {
        Config::from_preset(
            "quick",
            &[
                "model.n_units=16".into(),
                "train.batch_size=8".into(),
                "train.eval_every=3".into(),
                "train.eval_trials=8".into(),
                "train.steps=12".into(),
            ],
        )
        .expect("tiny config")
    }

    /// Wait for an event matching `want`, collecting everything seen.
    fn wait_for(worker: &Worker, seen: &mut Vec<Event>, want: impl Fn(&Event) -> bool) -> Event {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            while let Some(event) = worker.try_recv() {
                seen.push(event.clone());
                if want(&event) {
                    return event;
                }
            }
            assert!(Instant::now() < deadline, "timed out; seen {seen:?}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn losses(events: &[Event]) -> Vec<(u64, f32)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Step { step, loss, .. } => Some((*step, *loss)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn lifecycle_start_pause_resume_reset_and_drop() {
        let worker = Worker::spawn(tiny(), Box::new(|| {})).expect("spawn");
        let mut seen = Vec::new();
        wait_for(&worker, &mut seen, |e| matches!(e, Event::State(RunState::Ready)));

        // step once: one step, then paused
        worker.send(Command::StepOnce);
        wait_for(&worker, &mut seen, |e| matches!(e, Event::Step { step: 1, .. }));

        // start, then pause somewhere before the end
        worker.send(Command::Start);
        wait_for(&worker, &mut seen, |e| matches!(e, Event::State(RunState::Running)));
        worker.send(Command::Pause);
        wait_for(&worker, &mut seen, |e| matches!(e, Event::State(RunState::Paused | RunState::Finished)));

        // resume to the end
        worker.send(Command::Start);
        let finished = wait_for(&worker, &mut seen, |e| matches!(e, Event::Finished { .. }));
        assert!(matches!(finished, Event::Finished { step: 12, converged: false }), "{finished:?}");

        // every step exactly once, and evaluations at 3, 6, 9, 12
        let steps: Vec<u64> = losses(&seen).iter().map(|(s, _)| *s).collect();
        assert_eq!(steps, (1..=12).collect::<Vec<_>>());
        let evals: Vec<u64> = seen
            .iter()
            .filter_map(|e| if let Event::Evaluation(r) = e { Some(r.step) } else { None })
            .collect();
        assert_eq!(evals, vec![0, 3, 6, 9, 12]);
        let snapshot = worker.take_snapshot().expect("a snapshot after evaluations");
        assert_eq!(snapshot.step, 12);
        assert_eq!(snapshot.evaluation.map(|e| e.perf.len()), Some(4));

        // the same run as stepping a Trainer by hand: deterministic like the CLI
        let mut trainer = Trainer::new(tiny());
        let by_hand: Vec<(u64, f32)> = (0..12).map(|_| trainer.step().map(|r| (r.step, r.loss)).expect("step")).collect();
        assert_eq!(losses(&seen), by_hand);

        // lesions re-evaluate at once
        worker.send(Command::SetLesions(vec![Pathway::Bias]));
        let lesioned = wait_for(&worker, &mut seen, |e| matches!(e, Event::Evaluation(_)));
        match lesioned {
            Event::Evaluation(r) => assert_eq!(r.lesioned.map(|(p, perf)| (p, perf.len())), Some((vec![Pathway::Bias], 4))),
            other => panic!("{other:?}"),
        }

        // reset starts over, ready again
        let mut config = tiny();
        config.model.n_units = 12;
        worker.send(Command::Reset(Box::new(config)));
        wait_for(&worker, &mut seen, |e| matches!(e, Event::Reset(c) if c.model.n_units == 12));
        wait_for(&worker, &mut seen, |e| matches!(e, Event::State(RunState::Ready)));

        // drop joins within a timeout, even while training
        worker.send(Command::Start);
        wait_for(&worker, &mut seen, |e| matches!(e, Event::Step { .. }));
        let started = Instant::now();
        drop(worker);
        assert!(started.elapsed() < Duration::from_secs(10), "drop took {:?}", started.elapsed());
    }

    #[test]
    fn a_panic_becomes_a_failed_event_and_reset_recovers() {
        let worker = Worker::spawn(tiny(), Box::new(|| {})).expect("spawn");
        let mut seen = Vec::new();
        wait_for(&worker, &mut seen, |e| matches!(e, Event::Evaluation(r) if r.step == 0));
        worker.send(Command::InjectPanic);
        let failed = wait_for(&worker, &mut seen, |e| matches!(e, Event::Failed(_)));
        assert!(matches!(&failed, Event::Failed(m) if m.contains("injected panic")), "{failed:?}");
        assert!(worker.is_alive(), "the worker survives a panic");
        worker.send(Command::Start);
        wait_for(&worker, &mut seen, |e| matches!(e, Event::Warning(m) if m.contains("Reset")));
        worker.send(Command::Reset(Box::new(tiny())));
        worker.send(Command::StepOnce);
        wait_for(&worker, &mut seen, |e| matches!(e, Event::Step { step: 1, .. }));
    }

    #[test]
    fn a_full_event_channel_never_blocks_drop() {
        // nobody drains: steps are dropped, the evaluation waits, and drop still joins
        let mut config = tiny();
        config.train.steps = 5000;
        config.train.eval_every = 1;
        let worker = Worker::spawn(config, Box::new(|| {})).expect("spawn");
        worker.send(Command::Start);
        std::thread::sleep(Duration::from_millis(500));
        let started = Instant::now();
        drop(worker);
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
