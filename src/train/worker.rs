//! The training worker: a named background thread that owns the [`Trainer`] for the desktop app.
//!
//! The UI never holds a tensor and never waits on the worker:
//! - UI → worker: [`Command`]s on an unbounded channel (sending never blocks).
//! - worker → UI: small [`Event`]s on a bounded channel; a step event is dropped when the
//!   channel is full (the UI is behind), every other event waits for room.
//! - heavy data (the latest per-task performance, performance under context ambiguity, the
//!   probe trials' trajectories and their PCA, an ambiguity sweep's curve) goes into a
//!   [`Snapshot`] slot that is overwritten, never queued, so a slow frame cannot back it up.
//!
//! Analysis requests are coalesced: commands are drained in bursts and the work they ask for
//! (re-evaluating under a new ambiguity, after a lesion) is done once per burst, so dragging a
//! slider costs one re-evaluation per burst, not one per frame. An ambiguity sweep runs one
//! (level, task) unit at a time, alternating with training steps, on a frozen copy of the
//! network taken when it started; a dynamics analysis ([`super::dynamics`]) runs the same way,
//! one part (the trajectories, then one α of its fixed-point continuation) at a time.
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
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::checkpoint::{self, RUN_CHECKPOINT_DIR, write_atomic};
use super::dynamics::{DynamicsJob, DynamicsRequest, DynamicsResult};
use super::eval::{EvalOptions, evaluate, evaluate_params};
use super::metrics::{self, METRICS_FILE, MetricsRow};
use super::probe::{PcaView, ProbeTrials, Trajectories, fit_pca, pca_view, run_probe};
use super::{TrainError, Trainer};
use crate::analysis::switching::{SwitchJob, SwitchRequest, SwitchResult};
use crate::analysis::{Ambiguity, AmbiguityKind, Pca};
use crate::config::Config;
use crate::model::{ParamSet, Pathway};
use crate::tasks::Task;

/// Room for this many events between two UI drains.
const EVENT_CAPACITY: usize = 1024;
/// How long the worker sleeps waiting for commands when it is not training.
const IDLE_POLL: Duration = Duration::from_millis(100);
/// Steps/s is measured over the last this many steps.
const RATE_WINDOW: usize = 32;
/// Trials per task for the live ambiguity re-evaluation: fewer than a full evaluation, so a
/// slider move is answered within a fraction of a second even with 20 tasks and 256 units
/// (measured: 32 trials × 20 tasks took 1.3 s on a 2-core machine under a load of 7, so 16 take
/// about 0.65 s there and well under that on an idle one; see `probe::tests`). The sweep, which
/// is not interactive, uses more.
pub const AMBIGUITY_TRIALS: usize = 16;
/// Trials per task and level in an ambiguity sweep.
pub const SWEEP_TRIALS: usize = 32;
/// The PCA axes are re-fitted every this many periodic evaluations (in between, and after a
/// lesion or ambiguity change, the new states are projected on the old axes).
pub const PCA_REFIT_EVERY: u32 = 3;
/// Random streams of the analysis evaluations (apart from the periodic evaluation's stream 0).
const AMBIGUITY_STREAM: u64 = 0xA4B1;
const SWEEP_STREAM: u64 = 0x5EE9;

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
    /// Score the network with its context made ambiguous this way (applies at once; a burst of
    /// these is answered once, for the last).
    SetAmbiguity(Ambiguity),
    /// Score a frozen copy of the current network at each of these levels of one ambiguity
    /// kind, interleaved with training; replaces a sweep in progress.
    Sweep { kind: AmbiguityKind, levels: Vec<f32> },
    /// Stop a sweep in progress (what it measured so far stays in the snapshot).
    CancelSweep,
    /// Run task-switch trials on a frozen copy of the current network, one (pathway, τ) point
    /// at a time interleaved with training; replaces a switch test in progress.
    Switching(Box<SwitchRequest>),
    /// Stop a switch test in progress (its computed points stay in the snapshot).
    CancelSwitching,
    /// Analyse the dynamics of a frozen copy of the current network (task variance, spectra,
    /// fixed points along a context interpolation; see [`super::dynamics`]), one unit at a time
    /// interleaved with training; replaces an analysis in progress.
    AnalyzeDynamics(DynamicsRequest),
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
    Step {
        step: u64,
        loss: f32,
        steps_per_sec: f64,
        trials: u64,
        train_secs: f64,
    },
    Evaluation(EvalResult),
    Warning(String),
    /// Training failed (an error or a panic); the message says why.
    Failed(String),
    /// All steps done, or converged.
    Finished {
        step: u64,
        converged: bool,
    },
    /// [`Command::SaveCheckpoint`] wrote the run at `step` into `dir`.
    CheckpointSaved {
        dir: PathBuf,
        step: u64,
    },
    /// [`Command::LoadCheckpoint`] replaced the run; an evaluation of it follows.
    CheckpointLoaded(Box<LoadedRun>),
    /// Saving or loading failed; the current run is unchanged. The message says why.
    CheckpointFailed(String),
}

/// Per-task performance under one ambiguity, beside the unambiguous performance on the same
/// trials (both with the current lesions).
#[derive(Clone, Debug, PartialEq)]
pub struct AmbiguityEval {
    pub step: u64,
    pub ambiguity: Ambiguity,
    pub lesioned: Vec<Pathway>,
    /// Trials per task.
    pub trials: usize,
    pub clean: Vec<(Task, f32)>,
    pub ambiguous: Vec<(Task, f32)>,
    /// How long the re-evaluation took on the worker.
    pub secs: f64,
}

/// An ambiguity sweep: performance per level and task, filled in as it goes.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepResult {
    pub kind: AmbiguityKind,
    /// The step of the network swept (a frozen copy: training goes on meanwhile).
    pub step: u64,
    pub lesioned: Vec<Pathway>,
    pub levels: Vec<f32>,
    pub tasks: Vec<Task>,
    /// perf[level][task]; `None` where not measured yet.
    pub perf: Vec<Vec<Option<f32>>>,
    pub trials: usize,
    pub cancelled: bool,
}

impl SweepResult {
    /// (level units done, total units): one unit is one level of one task.
    pub fn progress(&self) -> (usize, usize) {
        let done = self.perf.iter().flatten().filter(|p| p.is_some()).count();
        (done, self.levels.len() * self.tasks.len())
    }

    pub fn is_complete(&self) -> bool {
        let (done, total) = self.progress();
        done == total
    }

    /// (level, mean, min) over tasks for every level measured for all tasks.
    pub fn summary(&self) -> Vec<(f32, f32, f32)> {
        self.levels
            .iter()
            .zip(&self.perf)
            .filter(|(_, row)| row.iter().all(Option::is_some))
            .map(|(level, row)| {
                let values: Vec<f32> = row.iter().flatten().copied().collect();
                let mean = values.iter().sum::<f32>() / values.len().max(1) as f32;
                let min = values.iter().copied().fold(f32::INFINITY, f32::min);
                (*level, mean, min)
            })
            .collect()
    }
}

/// The latest state of the run, overwritten after every evaluation or analysis. Large parts are
/// behind `Arc`s, so publishing and taking a snapshot never copies them.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub step: u64,
    pub trials: u64,
    pub train_secs: f64,
    pub evaluation: Option<EvalResult>,
    /// Performance under the current ambiguity (re-evaluated with every evaluation and every
    /// ambiguity or lesion change).
    pub ambiguity: Option<AmbiguityEval>,
    /// The latest (or current) ambiguity sweep.
    pub sweep: Option<Arc<SweepResult>>,
    /// The probe trials run through the network (current ambiguity and lesions).
    pub trajectories: Option<Arc<Trajectories>>,
    /// The probe trials' hidden states on shared principal axes.
    pub pca: Option<Arc<PcaView>>,
    /// The latest (or current) task-switch test.
    pub switching: Option<Arc<SwitchResult>>,
    /// The latest (or current) dynamics analysis.
    pub dynamics: Option<Arc<DynamicsResult>>,
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
            ambiguity: Ambiguity::none(),
            dirty: Dirty::default(),
            latest: Snapshot::default(),
            probe: None,
            pca: None,
            evals_since_fit: 0,
            sweep: None,
            sweep_turn: false,
            switching: None,
            dynamics: None,
            dynamics_turn: false,
        };
        let thread = std::thread::Builder::new().name("modulab-training".into()).spawn(move || state.main())?;
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
    ambiguity: Ambiguity,
    /// Analysis asked for by commands and not done yet.
    dirty: Dirty,
    /// What was last put in the slot (kept to update one part at a time).
    latest: Snapshot,
    /// This run's probe trials (drawn at reset).
    probe: Option<ProbeTrials>,
    /// The PCA axes and the step they were fitted at.
    pca: Option<(Pca, u64)>,
    /// Periodic evaluations since the axes were fitted.
    evals_since_fit: u32,
    sweep: Option<SweepJob>,
    /// While training, sweep units and steps take turns.
    sweep_turn: bool,
    /// A task-switch test in progress (takes turns with training like a sweep).
    switching: Option<SwitchJob>,
    dynamics: Option<DynamicsJob>,
    /// While training, dynamics units and the rest take turns.
    dynamics_turn: bool,
}

/// Work a command asked for, done once the command queue is empty.
#[derive(Clone, Copy, Debug, Default)]
struct Dirty {
    /// Lesions changed: everything is re-evaluated.
    lesions: bool,
    /// Ambiguity changed: its evaluation is redone ...
    ambiguity: bool,
    /// ... and then, unless the ambiguity changes again first, the probe trials and their
    /// projection (so the bars answer a slider move as early as possible).
    probe: bool,
}

/// A sweep in progress, on a frozen copy of the network.
struct SweepJob {
    config: Config,
    params: ParamSet,
    /// The next (level, task) unit, counted level-major.
    next: usize,
    result: SweepResult,
}

/// Whether an analysis pass may re-fit the PCA axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refit {
    /// A periodic evaluation: re-fit when due.
    WhenDue,
    /// The network is unchanged (lesions or ambiguity changed): project on the old axes.
    Never,
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
            let busy = self.run_state == RunState::Running
                || self.dirty.lesions
                || self.dirty.ambiguity
                || self.dirty.probe
                || self.sweep.is_some()
                || self.switching.is_some()
                || self.dynamics.is_some();
            let command = if busy {
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
                // handle it, then loop: every command already queued is handled before any
                // work, so a burst of slider moves leads to one re-evaluation
                Some(command) => self.handle(command),
                None => self.work(),
            }
        }
    }

    /// One unit of work, most urgent first: answer an analysis request, then a sweep unit and
    /// a training step taking turns.
    fn work(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        if self.trainer.is_some() && dirty.lesions {
            self.guarded(|state| state.evaluate_and_publish(Refit::Never).map(|_| StepOutcome::Stepped));
            return;
        }
        if self.trainer.is_some() && dirty.ambiguity {
            self.guarded(|state| {
                state.analyse_ambiguity()?;
                state.publish();
                Ok(StepOutcome::Stepped)
            });
            self.dirty.probe = true;
            return;
        }
        if self.trainer.is_some() && dirty.probe {
            self.guarded(|state| {
                state.analyse_probe(Refit::Never)?;
                state.publish();
                Ok(StepOutcome::Stepped)
            });
            return;
        }
        let running = self.run_state == RunState::Running;
        if self.dynamics.is_some() && (!running || self.dynamics_turn) {
            self.dynamics_turn = false;
            self.dynamics_unit();
            return;
        }
        self.dynamics_turn = true;
        if self.sweep.is_some() && (!running || self.sweep_turn) {
            self.sweep_turn = false;
            self.guarded(|state| state.sweep_unit().map(|_| StepOutcome::Stepped));
        } else if self.switching.is_some() && (!running || self.sweep_turn) {
            self.sweep_turn = false;
            self.switching_unit();
        } else if running {
            self.sweep_turn = true;
            self.guarded_step();
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
                RunState::Finished => self
                    .outbox
                    .emit(Event::Warning("this run is finished: press Reset to start a new one, or raise the number of steps".into())),
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
                self.dirty.lesions = true;
            }
            Command::SetAmbiguity(ambiguity) => {
                if ambiguity != self.ambiguity {
                    self.ambiguity = ambiguity;
                    self.dirty.ambiguity = true;
                }
            }
            Command::Sweep { kind, levels } => self.start_sweep(kind, levels),
            Command::AnalyzeDynamics(request) => self.start_dynamics(request),
            Command::CancelSweep => {
                if let Some(mut job) = self.sweep.take() {
                    job.result.cancelled = true;
                    self.latest.sweep = Some(Arc::new(job.result));
                    self.publish();
                }
            }
            Command::Switching(request) => self.start_switching(*request),
            Command::CancelSwitching => {
                if self.switching.take().is_some() {
                    self.stop_switching();
                    self.outbox.emit(Event::Warning("switch test cancelled; the points computed so far stay on the plots".into()));
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

    /// Forget what belonged to the previous network: the speed window, the loss accumulator,
    /// the snapshot and every analysis (lesions and ambiguity are kept, like the UI's).
    fn forget_network(&mut self) {
        self.step_times.clear();
        (self.loss_sum, self.loss_count) = (0.0, 0);
        if let Ok(mut slot) = self.snapshot.lock() {
            *slot = None;
        }
        self.latest = Snapshot::default();
        self.pca = None;
        self.evals_since_fit = 0;
        self.sweep = None;
        self.switching = None;
        self.dynamics = None;
        self.dirty = Dirty::default();
        self.probe = None;
    }

    fn reset(&mut self, config: Config) {
        self.config = config;
        self.train_secs = 0.0;
        self.history.clear();
        self.forget_network();
        self.outbox.emit(Event::Reset(Box::new(self.config.clone())));
        let config = self.config.clone();
        let created = catch_unwind(AssertUnwindSafe(|| Trainer::new(config)));
        match created {
            Ok(trainer) => {
                self.trainer = Some(trainer);
                self.set_state(RunState::Ready);
                // the untrained network's score (chance level), so the curves start at step 0;
                // evaluation has its own random stream, so training is unchanged
                self.guarded(|state| {
                    state.probe = Some(ProbeTrials::draw(&state.config)?);
                    state.evaluate_and_publish(Refit::WhenDue).map(|_| StepOutcome::Stepped)
                });
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
            let result = self.evaluate_and_publish(Refit::WhenDue)?;
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
        self.history = history.clone();
        self.forget_network();
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
        self.guarded(|state| {
            state.probe = Some(ProbeTrials::draw(&state.config)?);
            state.evaluate_and_publish(Refit::WhenDue).map(|_| StepOutcome::Stepped)
        });
    }

    /// Evaluate the current network (and the lesioned one) and analyse it (ambiguity,
    /// trajectories, PCA), send the result and fill the slot.
    fn evaluate_and_publish(&mut self, refit: Refit) -> Result<EvalResult, TrainError> {
        let Some(trainer) = self.trainer.as_ref() else {
            return Err(TrainError::Task(crate::tasks::TaskError::UnknownTask { name: "(no network)".into(), valid: String::new() }));
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
        self.latest.step = trainer.step;
        self.latest.trials = trainer.trials;
        self.latest.train_secs = self.train_secs;
        self.latest.evaluation = Some(result.clone());
        // the analyses go into the same snapshot, published once with the evaluation event
        self.analyse(refit)?;
        self.publish();
        self.outbox.emit(Event::Evaluation(result.clone()));
        Ok(result)
    }

    /// Performance under the current ambiguity, the probe trajectories and their PCA.
    fn analyse(&mut self, refit: Refit) -> Result<(), TrainError> {
        self.analyse_ambiguity()?;
        self.analyse_probe(refit)
    }

    fn active_lesions(&self) -> Vec<Pathway> {
        let has = |p: &Pathway| self.trainer.as_ref().is_some_and(|t| t.config.model.has(*p));
        self.lesions.iter().copied().filter(has).collect()
    }

    /// Per-task performance under the current ambiguity, beside the clear cue's on the same trials.
    fn analyse_ambiguity(&mut self) -> Result<(), TrainError> {
        let lesioned = self.active_lesions();
        let Some(trainer) = self.trainer.as_ref() else { return Ok(()) };
        let started = Instant::now();
        let options =
            EvalOptions { trials: Some(AMBIGUITY_TRIALS), lesioned: lesioned.clone(), stream: AMBIGUITY_STREAM, ..EvalOptions::default() };
        // the unambiguous score on the same trials; reused while only the ambiguity moves
        let clean = match &self.latest.ambiguity {
            Some(previous) if previous.step == trainer.step && previous.lesioned == lesioned => previous.clean.clone(),
            _ => evaluate(trainer, &options)?.perf,
        };
        let ambiguous = if self.ambiguity.level == self.ambiguity.kind.clean_level() {
            clean.clone() // the context is exactly e_i: the same trials give the same score
        } else {
            evaluate(trainer, &EvalOptions { ambiguity: self.ambiguity, ..options })?.perf
        };
        self.latest.ambiguity = Some(AmbiguityEval {
            step: trainer.step,
            ambiguity: self.ambiguity,
            lesioned,
            trials: AMBIGUITY_TRIALS,
            clean,
            ambiguous,
            secs: started.elapsed().as_secs_f64(),
        });
        Ok(())
    }

    /// The probe trials through the network (current ambiguity and lesions), and their PCA:
    /// re-fitted when due, else projected on the current axes.
    fn analyse_probe(&mut self, refit: Refit) -> Result<(), TrainError> {
        let lesioned = self.active_lesions();
        let Some(trainer) = self.trainer.as_ref() else { return Ok(()) };
        let probe = match &self.probe {
            Some(probe) => probe,
            None => self.probe.insert(ProbeTrials::draw(&trainer.config)?),
        };
        let trajectories = run_probe(&trainer.config, &trainer.params, trainer.step, probe, self.ambiguity, &lesioned)?;
        let due = self.pca.is_none() || (refit == Refit::WhenDue && self.evals_since_fit + 1 >= PCA_REFIT_EVERY);
        if due {
            // the axes always describe the intact network with the clear cue, so that lesions
            // and ambiguity show up as moves in a fixed space; when those are set, the clear
            // intact states are computed for the fit (only at a re-fit)
            let clear = Ambiguity { kind: self.ambiguity.kind, level: self.ambiguity.kind.clean_level() };
            let fitted = if lesioned.is_empty() && self.ambiguity == clear {
                fit_pca(&trajectories)
            } else {
                fit_pca(&run_probe(&trainer.config, &trainer.params, trainer.step, probe, clear, &[])?)
            };
            match fitted {
                Ok(pca) => {
                    self.pca = Some((pca, trainer.step));
                    self.evals_since_fit = 0;
                }
                // e.g. a diverging network's NaN rates: keep the old axes and say why
                Err(e) => self.outbox.emit(Event::Warning(format!("PCA not updated: {e}"))),
            }
        } else if refit == Refit::WhenDue {
            self.evals_since_fit += 1;
        }
        self.latest.pca = self.pca.as_ref().map(|(pca, fitted)| Arc::new(pca_view(pca, *fitted, &trajectories)));
        self.latest.trajectories = Some(Arc::new(trajectories));
        Ok(())
    }

    /// Put the latest snapshot in the slot and wake the UI.
    fn publish(&mut self) {
        if let Ok(mut slot) = self.snapshot.lock() {
            *slot = Some(self.latest.clone());
        }
        (self.outbox.wake)();
    }

    fn start_sweep(&mut self, kind: AmbiguityKind, levels: Vec<f32>) {
        let Some(trainer) = self.trainer.as_ref() else {
            self.outbox.emit(Event::Warning("no network to sweep: press Reset".into()));
            return;
        };
        let levels: Vec<f32> = levels.into_iter().filter(|l| l.is_finite()).collect();
        if levels.is_empty() {
            return;
        }
        let lesioned: Vec<Pathway> = self.lesions.iter().copied().filter(|p| trainer.config.model.has(*p)).collect();
        let tasks = trainer.config.train.tasks.clone();
        let result = SweepResult {
            kind,
            step: trainer.step,
            lesioned,
            perf: vec![vec![None; tasks.len()]; levels.len()],
            levels,
            tasks,
            trials: SWEEP_TRIALS,
            cancelled: false,
        };
        // a frozen copy: training may go on while the sweep runs
        self.sweep = Some(SweepJob { config: trainer.config.clone(), params: trainer.params.clone(), next: 0, result });
        self.sweep_turn = true;
        self.latest.sweep = self.sweep.as_ref().map(|job| Arc::new(job.result.clone()));
        self.publish();
    }

    fn start_switching(&mut self, request: SwitchRequest) {
        let Some(trainer) = self.trainer.as_ref() else {
            self.outbox.emit(Event::Warning("no network to test: press Reset".into()));
            return;
        };
        let SwitchRequest { spec, taus_ms, combination } = request;
        let (config, params, step) = (trainer.config.clone(), trainer.params.clone(), trainer.step);
        // a frozen copy: training may go on while the test runs
        let created = catch_unwind(AssertUnwindSafe(|| SwitchJob::new(config, params, step, &spec, taus_ms, combination)));
        match created {
            Ok(Ok(job)) => {
                self.latest.switching = Some(Arc::new(job.result.clone()));
                self.switching = Some(job);
                self.sweep_turn = true;
                self.publish();
            }
            Ok(Err(e)) => self.outbox.emit(Event::Warning(format!("switch test not started: {e}"))),
            Err(payload) => self.outbox.emit(Event::Warning(format!("switch test failed: {}", panic_message(&*payload)))),
        }
    }

    /// Compute one point of the switch test in progress. A failure ends the test, not the run.
    fn switching_unit(&mut self) {
        let Some(mut job) = self.switching.take() else { return };
        match catch_unwind(AssertUnwindSafe(|| {
            let done = job.run_unit();
            (job, done)
        })) {
            Ok((job, done)) => {
                self.latest.switching = Some(Arc::new(job.result.clone()));
                if !done {
                    self.switching = Some(job);
                }
                self.publish();
            }
            Err(payload) => {
                self.stop_switching();
                self.outbox.emit(Event::Warning(format!("switch test failed: {}", panic_message(&*payload))));
            }
        }
    }

    /// Mark the published switch test as stopped (cancelled or failed), so the UI stops waiting.
    fn stop_switching(&mut self) {
        if let Some(result) = self.latest.switching.as_mut() {
            Arc::make_mut(result).stopped = true;
            self.publish();
        }
    }

    fn start_dynamics(&mut self, request: DynamicsRequest) {
        let Some(trainer) = self.trainer.as_ref() else {
            self.outbox.emit(Event::Warning("no network to analyse: press Reset".into()));
            return;
        };
        let lesioned: Vec<Pathway> = self.lesions.iter().copied().filter(|p| trainer.config.model.has(*p)).collect();
        // a frozen copy: training may go on while the analysis runs
        match DynamicsJob::new(trainer.config.clone(), trainer.params.clone(), trainer.step, lesioned, request) {
            Ok(job) => {
                self.latest.dynamics = Some(job.snapshot());
                self.dynamics = Some(job);
                self.dynamics_turn = true;
                self.publish();
            }
            Err(message) => self.outbox.emit(Event::Warning(message)),
        }
    }

    /// One unit of the dynamics analysis in progress. A failure (or panic) ends the analysis
    /// with its message in the result, not the run: the network itself is fine.
    fn dynamics_unit(&mut self) {
        let Some(job) = self.dynamics.as_mut() else { return };
        let outcome = match catch_unwind(AssertUnwindSafe(|| job.unit())) {
            Ok(Ok(done)) => Ok(done),
            Ok(Err(error)) => Err(error.to_string()),
            Err(payload) => Err(format!("the analysis panicked: {}", panic_message(&*payload))),
        };
        let mut result = job.snapshot();
        let done = match outcome {
            Ok(done) => done,
            Err(message) => {
                Arc::make_mut(&mut result).error = Some(message.clone());
                self.outbox.emit(Event::Warning(format!("dynamics analysis failed: {message}")));
                true
            }
        };
        self.latest.dynamics = Some(result);
        if done {
            self.dynamics = None;
        }
        self.publish();
    }

    /// Score one level of one task of the sweep in progress.
    fn sweep_unit(&mut self) -> Result<(), TrainError> {
        let Some(job) = self.sweep.as_mut() else { return Ok(()) };
        let n_tasks = job.result.tasks.len();
        let (level_index, task_index) = (job.next / n_tasks, job.next % n_tasks);
        let options = EvalOptions {
            tasks: Some(vec![job.result.tasks[task_index]]),
            trials: Some(SWEEP_TRIALS),
            ambiguity: Ambiguity { kind: job.result.kind, level: job.result.levels[level_index] },
            lesioned: job.result.lesioned.clone(),
            // the same stream at every level: each level sees the same trials, so the curve's
            // wiggles come from the ambiguity, not from a new sample
            stream: SWEEP_STREAM,
        };
        let perf = evaluate_params(&job.config, &job.params, job.result.step, &options)?.perf;
        job.result.perf[level_index][task_index] = perf.first().map(|(_, p)| *p);
        job.next += 1;
        let done = job.next >= n_tasks * job.result.levels.len();
        self.latest.sweep = Some(Arc::new(job.result.clone()));
        if done {
            self.sweep = None;
        }
        self.publish();
        Ok(())
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
    use crate::analysis::switching::SwitchSpec;
    use crate::model::ContextTaus;

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
        let evals: Vec<u64> = seen.iter().filter_map(|e| if let Event::Evaluation(r) = e { Some(r.step) } else { None }).collect();
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

    /// Wait for a snapshot matching `want` (draining events meanwhile so the channel never fills).
    fn wait_snapshot(worker: &Worker, seen: &mut Vec<Event>, want: impl Fn(&Snapshot) -> bool) -> Snapshot {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            while let Some(event) = worker.try_recv() {
                seen.push(event);
            }
            if let Some(snapshot) = worker.take_snapshot() {
                if want(&snapshot) {
                    return snapshot;
                }
            }
            assert!(Instant::now() < deadline, "timed out waiting for a snapshot; seen {seen:?}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn a_switch_test_runs_beside_training_on_a_frozen_copy() {
        let worker = Worker::spawn(tiny(), Box::new(|| {})).expect("spawn");
        let mut seen = Vec::new();
        let config = tiny();
        let spec = SwitchSpec { trials: 4, ..SwitchSpec::default_for(&config) };
        let combination = ContextTaus { bias: 50.0, gain: 0.0, synaptic: 0.0 };
        let request = SwitchRequest { spec: spec.clone(), taus_ms: vec![0.0, 100.0], combination: Some(combination) };
        worker.send(Command::Switching(Box::new(request)));
        worker.send(Command::Start);
        let done = wait_snapshot(&worker, &mut seen, |s| s.switching.as_ref().is_some_and(|r| r.is_complete()));
        let result = done.switching.expect("switching");
        // the quick preset has the bias pathway only; the network tested is the untrained one
        assert_eq!((result.step, result.pathways.len(), result.progress()), (0, 1, (3, 3)));
        let direct = SwitchJob::new(config.clone(), Trainer::new(config).params, 0, &spec, vec![0.0, 100.0], Some(combination))
            .expect("job")
            .run_all(&mut || {});
        assert_eq!(*result, direct);
        // training was not disturbed
        wait_for(&worker, &mut seen, |e| matches!(e, Event::Finished { .. }));
        let mut by_hand = Trainer::new(tiny());
        let expected: Vec<(u64, f32)> = (0..12).map(|_| by_hand.step().map(|r| (r.step, r.loss)).expect("step")).collect();
        assert_eq!(losses(&seen), expected);
        // a request the network cannot answer is a warning, and the run goes on
        let bad = SwitchRequest { spec: SwitchSpec { from: Task::DmsGo, ..spec }, taus_ms: vec![0.0], combination: None };
        worker.send(Command::Switching(Box::new(bad)));
        let warning = wait_for(&worker, &mut seen, |e| matches!(e, Event::Warning(_)));
        assert!(matches!(&warning, Event::Warning(text) if text.contains("dmsgo")), "{warning:?}");
        // a long test cancelled after it started: marked stopped, so the UI stops waiting for it
        let long = SwitchRequest { spec: spec.clone(), taus_ms: (0..200).map(|i| i as f32).collect(), combination: None };
        worker.send(Command::Switching(Box::new(long)));
        wait_snapshot(&worker, &mut seen, |s| s.switching.as_ref().is_some_and(|r| r.taus_ms.len() == 200 && r.progress().0 > 0));
        worker.send(Command::CancelSwitching);
        let stopped = wait_snapshot(&worker, &mut seen, |s| s.switching.as_ref().is_some_and(|r| r.stopped));
        let result = stopped.switching.expect("switching");
        assert!(!result.in_progress() && !result.is_complete(), "{:?}", result.progress());
    }

    #[test]
    fn analyses_follow_ambiguity_lesions_and_training() {
        let worker = Worker::spawn(tiny(), Box::new(|| {})).expect("spawn");
        let mut seen = Vec::new();
        // the reset's evaluation comes with every analysis
        let first = wait_snapshot(&worker, &mut seen, |s| s.trajectories.is_some() && s.pca.is_some() && s.ambiguity.is_some());
        let trajectories = first.trajectories.expect("trajectories");
        assert_eq!(trajectories.tasks.len(), 4);
        for t in &trajectories.tasks {
            assert_eq!(t.trials, super::super::probe::PROBE_TRIALS);
            assert_eq!(t.rates.len(), t.trials * t.steps * 16);
            assert_eq!(t.outputs.len(), t.targets.len());
            assert!(!t.epochs.is_empty());
        }
        let pca = first.pca.expect("pca");
        assert_eq!((pca.fitted_step, pca.tasks.len()), (0, 4));
        assert!(pca.explained.iter().sum::<f64>() <= 1.0 + 1e-9 && pca.participation_ratio >= 1.0);

        // a burst of slider moves: the last one is answered (and the burst costs far less than
        // 50 re-evaluations; the worker re-evaluates once per burst it sees)
        for i in 0..50 {
            worker.send(Command::SetAmbiguity(Ambiguity { kind: AmbiguityKind::Mixture, level: i as f32 / 49.0 }));
        }
        let last = Ambiguity { kind: AmbiguityKind::Mixture, level: 1.0 };
        let answered = wait_snapshot(&worker, &mut seen, |s| s.ambiguity.as_ref().is_some_and(|a| a.ambiguity == last));
        let eval = answered.ambiguity.clone().expect("ambiguity");
        assert_eq!((eval.clean.len(), eval.ambiguous.len(), eval.trials), (4, 4, AMBIGUITY_TRIALS));
        // then the trajectories and PCA are re-run under the new cue, on the same axes
        let under_last = |s: &Snapshot| s.trajectories.as_ref().is_some_and(|t| t.ambiguity == last);
        let projected = if under_last(&answered) { answered } else { wait_snapshot(&worker, &mut seen, under_last) };
        let pca = projected.pca.expect("pca");
        assert_eq!((pca.ambiguity, pca.fitted_step), (last, 0));

        // at the clean level the same trials give the same score
        let clean = Ambiguity { kind: AmbiguityKind::Amplitude, level: 1.0 };
        worker.send(Command::SetAmbiguity(clean));
        let answered = wait_snapshot(&worker, &mut seen, |s| s.ambiguity.as_ref().is_some_and(|a| a.ambiguity == clean));
        let eval = answered.ambiguity.expect("ambiguity");
        assert_eq!(eval.ambiguous, eval.clean);

        // a lesion re-projects on the same axes
        worker.send(Command::SetLesions(vec![Pathway::Bias]));
        let lesioned = wait_snapshot(&worker, &mut seen, |s| s.pca.as_ref().is_some_and(|p| p.lesioned == [Pathway::Bias]));
        assert_eq!(lesioned.pca.expect("pca").fitted_step, 0);
        assert_eq!(lesioned.ambiguity.expect("ambiguity").lesioned, vec![Pathway::Bias]);
        worker.send(Command::SetLesions(vec![]));

        // a sweep of the untrained network, then training alongside it
        let levels = vec![0.0, 0.5, 1.0];
        worker.send(Command::Sweep { kind: AmbiguityKind::Mixture, levels: levels.clone() });
        worker.send(Command::Start);
        let swept = wait_snapshot(&worker, &mut seen, |s| s.sweep.as_ref().is_some_and(|w| w.is_complete()));
        let sweep = swept.sweep.expect("sweep");
        assert_eq!((sweep.step, sweep.levels.clone(), sweep.summary().len()), (0, levels.clone(), 3));
        // every point is what a direct evaluation of the same network gives (deterministic)
        let trainer = Trainer::new(tiny());
        for (l, level) in levels.iter().enumerate() {
            for (t, task) in trainer.config.train.tasks.iter().enumerate() {
                let options = EvalOptions {
                    tasks: Some(vec![*task]),
                    trials: Some(SWEEP_TRIALS),
                    ambiguity: Ambiguity { kind: AmbiguityKind::Mixture, level: *level },
                    lesioned: vec![],
                    stream: SWEEP_STREAM,
                };
                let direct = evaluate_params(&trainer.config, &trainer.params, 0, &options).expect("eval");
                assert_eq!(sweep.perf[l][t], direct.perf.first().map(|(_, p)| *p), "level {level} task {task}");
            }
        }

        // training went on and is unchanged by the sweep and the analyses
        wait_for(&worker, &mut seen, |e| matches!(e, Event::Finished { .. }));
        let mut by_hand = Trainer::new(tiny());
        let expected: Vec<(u64, f32)> = (0..12).map(|_| by_hand.step().map(|r| (r.step, r.loss)).expect("step")).collect();
        assert_eq!(losses(&seen), expected);
        // axes fitted at reset (step 0), then every third periodic evaluation: 3, 6, 9 → re-fit at 9
        let end = wait_snapshot(&worker, &mut seen, |s| s.step == 12 && s.pca.is_some());
        let pca = end.pca.expect("pca");
        assert_eq!((pca.fitted_step, pca.step), (9, 12));
    }

    #[test]
    fn pca_axes_are_fitted_on_the_intact_network_with_the_clear_cue() {
        // the same training with and without a lesion and an ambiguous cue set all along: the
        // axes (fitted at reset and at step 9) are the same, only the projected activity differs
        let run = |lesions: Vec<Pathway>, ambiguity: Ambiguity| {
            let worker = Worker::spawn(tiny(), Box::new(|| {})).expect("spawn");
            worker.send(Command::SetLesions(lesions));
            worker.send(Command::SetAmbiguity(ambiguity));
            worker.send(Command::Start);
            let mut seen = Vec::new();
            wait_for(&worker, &mut seen, |e| matches!(e, Event::Finished { .. }));
            let end = wait_snapshot(&worker, &mut seen, |s| s.step == 12 && s.pca.is_some());
            end.pca.expect("pca")
        };
        let plain = run(vec![], Ambiguity::none());
        let altered = run(vec![Pathway::Bias], Ambiguity { kind: AmbiguityKind::Uniform, level: 0.7 });
        assert_eq!((plain.fitted_step, altered.fitted_step), (9, 9));
        assert_eq!(plain.explained, altered.explained);
        assert_eq!(plain.participation_ratio, altered.participation_ratio);
        assert_ne!(plain.tasks, altered.tasks, "the lesioned, ambiguous activity is drawn");
        assert_eq!(altered.lesioned, vec![Pathway::Bias]);
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
