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
//! Checkpoints: [`Command::SaveCheckpoint`] writes a run directory (`DIR/checkpoint/`,
//! `DIR/config.toml`, `DIR/metrics.csv`, the layout `modulab train` writes) between two steps;
//! [`Command::LoadCheckpoint`] reads and checks one completely before it replaces the current
//! run, so a corrupt or mismatched checkpoint costs nothing but an
//! [`Event::CheckpointFailed`] message.
//!
//! Training is deterministic like the CLI's [`super::run`]: the same steps in the same order,
//! evaluations at the same steps (evaluation draws from its own random stream), plus one of the
//! untrained network after every reset so the curves start at chance level.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::checkpoint::{self, RUN_CHECKPOINT_DIR, write_atomic};
use super::eval::{EvalOptions, evaluate};
use super::metrics::{self, METRICS_FILE, MetricsRow};
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
    /// Save the current run into this run directory (created if needed): the checkpoint in
    /// `DIR/checkpoint/`, plus `DIR/config.toml` and `DIR/metrics.csv`. Training goes on.
    SaveCheckpoint(PathBuf),
    /// Replace the current run with a saved one: a run directory, a checkpoint directory or a
    /// `state.bin` file. The current run is kept if the checkpoint cannot be read or is invalid.
    /// The loaded run is paused (or finished), ready to train on.
    LoadCheckpoint(PathBuf),
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

/// A run loaded from a checkpoint: replaces everything the UI knew about the previous run (one
/// event, so the UI never sees half a switch).
#[derive(Clone, Debug)]
pub struct LoadedRun {
    /// What the user pointed at.
    pub path: PathBuf,
    pub config: Config,
    pub state: RunState,
    pub step: u64,
    pub trials: u64,
    pub train_secs: f64,
    /// The run's evaluations before the checkpoint (from its `metrics.csv`, when there is one).
    pub history: Vec<MetricsRow>,
    /// Why the history could not be read, if it could not.
    pub history_problem: Option<String>,
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
    /// [`Command::SaveCheckpoint`] wrote the run at `step` into `dir`.
    CheckpointSaved { dir: PathBuf, step: u64 },
    /// [`Command::LoadCheckpoint`] replaced the run; an evaluation of it follows.
    CheckpointLoaded(Box<LoadedRun>),
    /// Saving or loading failed; the current run is unchanged. The message says why.
    CheckpointFailed(String),
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
            history: Vec::new(),
            loss_sum: 0.0,
            loss_count: 0,
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
    /// One row per evaluation during training, for `metrics.csv` when the run is saved.
    history: Vec<MetricsRow>,
    /// Loss summed over the steps since the last evaluation (the row's mean loss).
    loss_sum: f64,
    loss_count: u64,
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
            Command::SaveCheckpoint(dir) => self.save_checkpoint(dir),
            Command::LoadCheckpoint(path) => self.load_checkpoint(path),
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
        self.history.clear();
        (self.loss_sum, self.loss_count) = (0.0, 0);
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
        self.loss_sum += report.loss as f64;
        self.loss_count += 1;
        let last = step == total;
        if step % eval_every == 0 || last {
            let result = self.evaluate_and_publish()?;
            // the same row `modulab train` writes for this evaluation
            self.history.push(MetricsRow {
                step,
                trials,
                loss: self.loss_sum / self.loss_count.max(1) as f64,
                elapsed_secs: self.train_secs,
                perf: result.perf.clone(),
            });
            (self.loss_sum, self.loss_count) = (0.0, 0);
            if stop_at > 0.0 && result.perf_min() as f64 >= stop_at {
                return Ok(StepOutcome::Done { converged: true });
            }
        }
        Ok(if last { StepOutcome::Done { converged: false } } else { StepOutcome::Stepped })
    }

    /// Write the run into `dir` as a run directory; report success or failure.
    fn save_checkpoint(&mut self, dir: PathBuf) {
        let history = &self.history;
        let train_secs = self.train_secs;
        let Some(trainer) = self.trainer.as_mut() else {
            self.outbox.emit(Event::CheckpointFailed("there is no network to save (training failed): press Reset first".into()));
            return;
        };
        // the checkpoint records training time, not the time the network has existed
        trainer.set_elapsed_secs(train_secs);
        let step = trainer.step;
        let written = (|| -> Result<(), String> {
            checkpoint::save(&dir.join(RUN_CHECKPOINT_DIR), trainer).map_err(|e| e.to_string())?;
            let write = |name: &str, text: String| {
                let path = dir.join(name);
                write_atomic(&path, text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))
            };
            write("config.toml", trainer.config.to_toml())?;
            write(METRICS_FILE, metrics::to_csv(&trainer.config.train.tasks, history))
        })();
        match written {
            Ok(()) => self.outbox.emit(Event::CheckpointSaved { dir, step }),
            Err(e) => self.outbox.emit(Event::CheckpointFailed(format!("could not save the checkpoint: {e}"))),
        }
    }

    /// Read and check the checkpoint behind `path` completely, then (only then) replace the run.
    fn load_checkpoint(&mut self, path: PathBuf) {
        let failed = |e: &dyn std::fmt::Display| Event::CheckpointFailed(format!("could not load: {e}; the current run is kept"));
        let located = checkpoint::locate(&path);
        let ckpt = match checkpoint::load(&located.checkpoint) {
            Ok(ckpt) => ckpt,
            Err(e) => return self.outbox.emit(failed(&e)),
        };
        if let Err(e) = ckpt.config.validate() {
            return self.outbox.emit(failed(&format!("checkpoint {} has an invalid configuration: {e}", located.checkpoint.display())));
        }
        let (step, trials, train_secs) = (ckpt.step, ckpt.trials, ckpt.elapsed_secs);
        let tasks = ckpt.config.train.tasks.clone();
        let (history, history_problem) = match &located.run_dir {
            Some(dir) => match std::fs::read_to_string(dir.join(METRICS_FILE)) {
                Ok(text) => match metrics::parse(&text, &tasks) {
                    // a run saved later than its checkpoint may have rows past it: they are not part of this run
                    Ok(rows) => (rows.into_iter().filter(|r| r.step <= step).collect(), None),
                    Err(e) => (Vec::new(), Some(format!("its {METRICS_FILE} was not read ({e}), so the curves start here"))),
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Vec::new(), None),
                Err(e) => (Vec::new(), Some(format!("its {METRICS_FILE} was not read ({e}), so the curves start here"))),
            },
            None => (Vec::new(), None),
        };
        let trainer = match catch_unwind(AssertUnwindSafe(|| ckpt.into_trainer())) {
            Ok(trainer) => trainer,
            Err(payload) => return self.outbox.emit(failed(&format!("could not build its network: {}", panic_message(&*payload)))),
        };
        // from here on the loaded run is the run
        let state = if step >= trainer.config.train.steps {
            RunState::Finished
        } else if step == 0 {
            RunState::Ready
        } else {
            RunState::Paused
        };
        self.config = trainer.config.clone();
        self.trainer = Some(trainer);
        self.run_state = state;
        self.train_secs = train_secs;
        self.step_times.clear();
        self.history = history.clone();
        (self.loss_sum, self.loss_count) = (0.0, 0);
        if let Ok(mut slot) = self.snapshot.lock() {
            *slot = None;
        }
        self.outbox.emit(Event::CheckpointLoaded(Box::new(LoadedRun {
            path,
            config: self.config.clone(),
            state,
            step,
            trials,
            train_secs,
            history,
            history_problem,
        })));
        // the loaded network's current score (also with the lesions in force)
        self.guarded(|state| state.evaluate_and_publish().map(|_| StepOutcome::Stepped));
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

    /// Step `n` times one step at a time (deterministic: no pause race).
    fn step_n(worker: &Worker, seen: &mut Vec<Event>, n: u64) {
        for _ in 0..n {
            let before = losses(seen).last().map_or(0, |(s, _)| *s);
            worker.send(Command::StepOnce);
            wait_for(worker, seen, |e| matches!(e, Event::Step { step, .. } if *step == before + 1));
        }
    }

    #[test]
    fn save_then_load_resumes_exactly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let run_dir = dir.path().join("run");
        let worker = Worker::spawn(tiny(), Box::new(|| {})).expect("spawn");
        let mut seen = Vec::new();
        wait_for(&worker, &mut seen, |e| matches!(e, Event::Evaluation(r) if r.step == 0));
        step_n(&worker, &mut seen, 6);
        worker.send(Command::SaveCheckpoint(run_dir.clone()));
        let saved = wait_for(&worker, &mut seen, |e| matches!(e, Event::CheckpointSaved { .. } | Event::CheckpointFailed(_)));
        assert!(matches!(&saved, Event::CheckpointSaved { step: 6, dir } if *dir == run_dir), "{saved:?}");
        // a run directory like `modulab train` writes: evaluations at 3 and 6 in metrics.csv
        assert!(run_dir.join("checkpoint").join(checkpoint::STATE_FILE).is_file());
        assert!(run_dir.join("config.toml").is_file());
        let text = std::fs::read_to_string(run_dir.join(METRICS_FILE)).expect("metrics.csv");
        let rows = metrics::parse(&text, &tiny().train.tasks).expect("parses");
        assert_eq!(rows.iter().map(|r| r.step).collect::<Vec<_>>(), vec![3, 6]);

        // train on to the end: the reference for steps 7..=12
        worker.send(Command::Start);
        wait_for(&worker, &mut seen, |e| matches!(e, Event::Finished { .. }));
        let reference: Vec<(u64, f32)> = losses(&seen).into_iter().filter(|(s, _)| *s > 6).collect();
        assert_eq!(reference.len(), 6);

        // load the saved run back (it replaces the finished one) and train on: the same losses
        let mut after = Vec::new();
        worker.send(Command::LoadCheckpoint(run_dir.clone()));
        let loaded = wait_for(&worker, &mut after, |e| matches!(e, Event::CheckpointLoaded(_) | Event::CheckpointFailed(_)));
        match &loaded {
            Event::CheckpointLoaded(l) => {
                assert_eq!((l.step, l.state, l.history.len()), (6, RunState::Paused, 2), "{l:?}");
                assert_eq!(l.history, rows);
                assert_eq!(l.config, tiny());
                assert!(l.history_problem.is_none());
            }
            other => panic!("{other:?}"),
        }
        wait_for(&worker, &mut after, |e| matches!(e, Event::Evaluation(r) if r.step == 6));
        worker.send(Command::Start);
        wait_for(&worker, &mut after, |e| matches!(e, Event::Finished { step: 12, .. }));
        assert_eq!(losses(&after), reference, "a loaded run continues exactly where it was saved");

        // the checkpoint directory itself (and its state.bin) load too, with the history next to it
        for path in [run_dir.join("checkpoint"), run_dir.join("checkpoint").join(checkpoint::STATE_FILE)] {
            worker.send(Command::LoadCheckpoint(path));
            let loaded = wait_for(&worker, &mut after, |e| matches!(e, Event::CheckpointLoaded(_) | Event::CheckpointFailed(_)));
            assert!(matches!(&loaded, Event::CheckpointLoaded(l) if l.step == 6 && l.history.len() == 2), "{loaded:?}");
        }
    }

    #[test]
    fn a_corrupt_mismatched_or_missing_checkpoint_keeps_the_current_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let worker = Worker::spawn(tiny(), Box::new(|| {})).expect("spawn");
        let mut seen = Vec::new();
        wait_for(&worker, &mut seen, |e| matches!(e, Event::Evaluation(r) if r.step == 0));
        step_n(&worker, &mut seen, 2);

        // a truncated state.bin: corrupt
        worker.send(Command::SaveCheckpoint(dir.path().join("good")));
        wait_for(&worker, &mut seen, |e| matches!(e, Event::CheckpointSaved { .. }));
        let state = dir.path().join("good").join("checkpoint").join(checkpoint::STATE_FILE);
        let bytes = std::fs::read(&state).expect("read");
        let bad = dir.path().join("bad").join("checkpoint");
        std::fs::create_dir_all(&bad).expect("mkdir");
        std::fs::write(bad.join(checkpoint::STATE_FILE), &bytes[..bytes.len() / 2]).expect("write");
        worker.send(Command::LoadCheckpoint(dir.path().join("bad")));
        let failed = wait_for(&worker, &mut seen, |e| matches!(e, Event::CheckpointFailed(_) | Event::CheckpointLoaded(_)));
        assert!(matches!(&failed, Event::CheckpointFailed(m) if m.contains("corrupt") && m.contains("kept")), "{failed:?}");

        // parameters that do not fit the configuration they claim: mismatched
        let mut other = Trainer::new({
            let mut c = tiny();
            c.model.n_units = 12;
            c
        });
        other.config = tiny();
        checkpoint::save(&dir.path().join("mismatched"), &other).expect("save");
        worker.send(Command::LoadCheckpoint(dir.path().join("mismatched")));
        let failed = wait_for(&worker, &mut seen, |e| matches!(e, Event::CheckpointFailed(_) | Event::CheckpointLoaded(_)));
        assert!(matches!(&failed, Event::CheckpointFailed(m) if m.contains("does not match")), "{failed:?}");

        // nothing there at all
        worker.send(Command::LoadCheckpoint(dir.path().join("nothing")));
        let failed = wait_for(&worker, &mut seen, |e| matches!(e, Event::CheckpointFailed(_) | Event::CheckpointLoaded(_)));
        assert!(matches!(&failed, Event::CheckpointFailed(m) if m.contains("no checkpoint")), "{failed:?}");

        // an unwritable place to save: an error, and the run goes on
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").expect("write");
        worker.send(Command::SaveCheckpoint(blocker.join("run")));
        let failed = wait_for(&worker, &mut seen, |e| matches!(e, Event::CheckpointFailed(_) | Event::CheckpointSaved { .. }));
        assert!(matches!(&failed, Event::CheckpointFailed(m) if m.contains("could not save")), "{failed:?}");

        // the run is the same run: the next step is step 3
        worker.send(Command::StepOnce);
        wait_for(&worker, &mut seen, |e| matches!(e, Event::Step { step: 3, .. }));
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
