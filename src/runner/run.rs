//! The worker thread's run: the state machine (ready, training, paused, finished, failed), the
//! command handling, and the loop that gives each unit of work its turn.
//!
//! Commands are drained in bursts and the analysis they ask for (re-evaluating under a new
//! ambiguity, after a lesion) is done once per burst, so dragging a slider costs one
//! re-evaluation per burst, not one per frame. Background [`Job`](super::job::Job)s (an
//! ambiguity sweep, a switch test, a dynamics analysis) run on frozen copies of the network, one
//! unit at a time, taking turns with training steps ([`super::scheduler`]); a failed job ends
//! with its error shown, never the training run.
//!
//! Training is deterministic like the CLI's [`crate::train::run`]: both advance through the same
//! [`cadence::advance`], so the steps, evaluations and `metrics.csv` rows are the same (evaluation draws
//! from its own random stream), plus one evaluation of the untrained network after every reset
//! so the curves start at chance level. A panic while training becomes an [`Event::Failed`]; the
//! worker then waits for a [`Command::Reset`].

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::checkpointing::{self, RestoredRun};
use super::history::ParamHistory;
use super::host::{Board, Frozen, JobId, NetworkJob, Running};
use super::job::panic_message;
use super::live::{self, LiveAnalysis, Refit};
use super::outbox::Outbox;
use super::protocol::{Command, EvalResult, Event, LiveViews, LoadedRun, LookedBack, RunState, Snapshot};
use super::scheduler::{Turn, Turns};
use crate::config::Config;
use crate::model::Pathway;
use crate::train::eval::{EvalOptions, Evaluation, evaluate};
use crate::train::exchange;
use crate::train::metrics::MetricsRow;
use crate::train::{RunEnd, TrainError, Trainer, cadence};

/// How long the worker sleeps waiting for commands when it has nothing to do.
const IDLE_POLL: Duration = Duration::from_millis(100);
/// Steps/s is measured over the last this many steps.
const RATE_WINDOW: usize = 32;

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
    /// The step looked back at changed (or the lesions or ambiguity it is shown under).
    look_back: bool,
}

impl Dirty {
    fn any(self) -> bool {
        self.lesions || self.ambiguity || self.probe || self.look_back
    }
}

/// Everything the worker thread owns.
pub struct Run {
    commands: Receiver<Command>,
    outbox: Outbox,
    slot: Arc<Mutex<Option<Snapshot>>>,
    /// `None` after a failure, until the next reset.
    trainer: Option<Trainer>,
    config: Config,
    state: RunState,
    lesions: Vec<Pathway>,
    step_times: VecDeque<Instant>,
    /// Seconds spent training in this run (pauses excluded).
    train_secs: f64,
    /// One row per evaluation during training, for `metrics.csv` when the run is saved.
    history: Vec<MetricsRow>,
    /// The network at earlier evaluations, and the step the app looks back at.
    earlier: ParamHistory,
    look_back: Option<u64>,
    /// Analysis asked for by commands and not done yet.
    dirty: Dirty,
    live: LiveAnalysis,
    /// The live analyses on screen (only these are redone after an evaluation) ...
    views: LiveViews,
    /// ... and those skipped since they were last done, redone when shown again.
    stale: LiveViews,
    /// What was last put in the slot (kept to update one part at a time).
    latest: Snapshot,
    turns: Turns,
    /// The jobs on this network, taking turns with training and each other.
    jobs: VecDeque<Running>,
    /// The jobs of this network still on the board (dropped from it when the network goes); ids
    /// their panels forgot meanwhile are pruned with each new job, so the list stays as short as
    /// the board.
    hosted: Vec<JobId>,
    /// Where they publish (the app's board, from the first job).
    board: Option<Board>,
}

impl Run {
    pub fn new(commands: Receiver<Command>, outbox: Outbox, slot: Arc<Mutex<Option<Snapshot>>>, config: Config) -> Self {
        Run {
            commands,
            outbox,
            slot,
            trainer: None,
            config,
            state: RunState::Ready,
            lesions: Vec::new(),
            step_times: VecDeque::with_capacity(RATE_WINDOW + 1),
            train_secs: 0.0,
            history: Vec::new(),
            earlier: ParamHistory::default(),
            look_back: None,
            dirty: Dirty::default(),
            live: LiveAnalysis::default(),
            views: LiveViews::ALL,
            stale: LiveViews::NONE,
            latest: Snapshot::default(),
            turns: Turns::default(),
            jobs: VecDeque::new(),
            hosted: Vec::new(),
            board: None,
        }
    }

    /// The thread's loop: every queued command is handled before any work, then one unit of work.
    pub fn main(&mut self) {
        self.reset(self.config.clone());
        loop {
            let busy = self.state == RunState::Running || self.dirty.any() || !self.jobs.is_empty();
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
            if self.outbox.stopping() {
                return;
            }
            match command {
                Some(Command::Stop) => return,
                // a burst of slider moves leads to one re-evaluation
                Some(command) => self.handle(command),
                None => self.work(),
            }
        }
    }

    /// One unit of work, most urgent first: answer an analysis request, then training and the
    /// jobs in turn.
    fn work(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        if dirty.look_back {
            self.guarded(|run| run.analyse_look_back());
            // the other analyses asked for are still due
            self.dirty = Dirty { look_back: false, ..dirty };
            return;
        }
        if self.trainer.is_some() && dirty.lesions {
            self.guarded(|run| run.evaluate_and_publish(Refit::Never).map(|_| ()));
            return;
        }
        if self.trainer.is_some() && dirty.ambiguity {
            self.guarded(|run| {
                if run.analyse_ambiguity()? {
                    run.publish();
                }
                Ok(())
            });
            self.dirty.probe = true;
            return;
        }
        if self.trainer.is_some() && dirty.probe {
            // after skipped evaluations the axes may be due for a re-fit; else only the
            // ambiguity or lesions changed and the states move on the old axes
            let refit = if self.stale.probe { Refit::IfStale } else { Refit::Never };
            self.guarded(|run| {
                if run.analyse_probe(refit)? {
                    run.publish();
                }
                Ok(())
            });
            return;
        }
        let running = self.state == RunState::Running;
        let jobs = self.jobs.len();
        match self.turns.next(running, jobs) {
            Some(Turn::Train) => self.guarded_step(),
            Some(Turn::Job) => {
                // the jobs go round: the one at the front takes its unit and goes to the back
                let Some(mut job) = self.jobs.pop_front() else { return };
                if job.turn() {
                    crate::release_freed_memory();
                } else {
                    self.jobs.push_back(job);
                }
            }
            None => {}
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Start => match self.state {
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
                if self.state == RunState::Running {
                    self.set_state(RunState::Paused);
                }
            }
            Command::StepOnce => match self.state {
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
                self.dirty.look_back |= self.look_back.is_some();
            }
            Command::SetAmbiguity(ambiguity) => {
                if ambiguity != self.live.ambiguity {
                    self.live.ambiguity = ambiguity;
                    self.dirty.ambiguity = true;
                    self.dirty.look_back |= self.look_back.is_some();
                }
            }
            Command::LookBack(step) => {
                if step != self.look_back {
                    self.look_back = step;
                    self.dirty.look_back = true;
                }
            }
            Command::SetLiveViews(views) => {
                self.views = views;
                // a view shown again catches up at once
                self.dirty.ambiguity |= views.ambiguity && self.stale.ambiguity;
                self.dirty.probe |= views.probe && self.stale.probe;
            }
            Command::Job(job) => self.start_job(job),
            Command::SaveCheckpoint(dir) => self.save_checkpoint(dir),
            Command::ExportNetwork(path) => self.export_network(path),
            Command::LoadCheckpoint(path) => self.load_checkpoint(path),
            Command::Stop => {}
            Command::InjectPanic => {
                self.guarded(|_| -> Result<(), TrainError> { panic!("injected panic (test)") });
            }
        }
    }

    /// Forget what belonged to the previous network: the speed window, the snapshot and every analysis (lesions and ambiguity are kept, like the UI's).
    fn forget_network(&mut self) {
        self.step_times.clear();
        if let Ok(mut slot) = self.slot.lock() {
            *slot = None;
        }
        self.latest = Snapshot::default();
        self.earlier.clear();
        self.live.forget_network();
        self.stale = LiveViews::NONE;
        // the old network's analyses go with it, from the worker and from the board
        self.jobs.clear();
        if let Some(board) = &self.board {
            board.forget(&std::mem::take(&mut self.hosted));
        }
        // the app may still look back at a step the new network also has (step 0 after a reset)
        self.dirty = Dirty { look_back: self.look_back.is_some(), ..Dirty::default() };
    }

    fn reset(&mut self, config: Config) {
        self.config = config;
        self.train_secs = 0.0;
        self.history.clear();
        self.forget_network();
        self.outbox.emit(Event::Reset(Box::new(self.config.clone())));
        let config = self.config.clone();
        match catch_unwind(AssertUnwindSafe(|| Trainer::new(config))) {
            Ok(trainer) => {
                self.trainer = Some(trainer);
                self.set_state(RunState::Ready);
                // the untrained network's score (chance level), so the curves start at step 0;
                // evaluation has its own random stream, so training is unchanged
                self.guarded(|run| run.evaluate_and_publish(Refit::WhenDue).map(|_| ()));
            }
            Err(payload) => self.fail(format!("could not build the network: {}", panic_message(&*payload))),
        }
    }

    fn set_state(&mut self, state: RunState) {
        if self.state != state || state == RunState::Ready {
            // a network that stops training can afford the live ambiguity evaluation's full count
            let redo = self.state == RunState::Running && state != RunState::Running;
            self.state = state;
            self.outbox.emit(Event::State(state));
            if redo && self.trainer.is_some() {
                self.dirty.ambiguity |= self.views.ambiguity;
                self.stale.ambiguity |= !self.views.ambiguity;
            }
        }
    }

    fn fail(&mut self, message: String) {
        self.trainer = None;
        self.set_state(RunState::Failed);
        self.outbox.emit(Event::Failed(message));
    }

    /// Run `f` on the training run with errors and panics turned into [`Event::Failed`].
    fn guarded<T>(&mut self, f: impl FnOnce(&mut Run) -> Result<T, TrainError>) -> Option<T> {
        match catch_unwind(AssertUnwindSafe(|| f(self))) {
            Ok(Ok(value)) => Some(value),
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

    /// One training step under [`Run::guarded`]; the run is finished when the cadence says so.
    fn guarded_step(&mut self) {
        if let Some(Some(end)) = self.guarded(Run::step) {
            let step = self.trainer.as_ref().map_or(0, |t| t.step);
            self.set_state(RunState::Finished);
            self.outbox.emit(Event::Finished { step, end });
        }
    }

    /// One step through the shared cadence; `Some(end)` when the run ends with it.
    fn step(&mut self) -> Result<Option<RunEnd>, TrainError> {
        let Some(trainer) = self.trainer.as_mut() else { return Ok(Some(RunEnd::Finished)) };
        if trainer.is_done() {
            return Ok(Some(if trainer.plateau.stopped_at.is_some() { RunEnd::Plateau } else { RunEnd::Finished }));
        }
        let started = Instant::now();
        let train_secs = self.train_secs;
        // the row records training time without pauses: the time so far plus this step's
        let advanced = cadence::advance(trainer, &|_| train_secs + started.elapsed().as_secs_f64())?;
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
        let loss = advanced.report.loss;
        self.outbox.emit(Event::Step { step, loss, steps_per_sec, trials, train_secs: self.train_secs });
        if let Some((intact, row)) = advanced.evaluation {
            self.history.push(row);
            self.publish_evaluation(intact, Refit::WhenDue)?;
            // what the evaluation and the steps since the last one freed, back to the OS: kept,
            // it rose by ~20 MB in an hour of the soak (the live heap stayed flat)
            crate::release_freed_memory();
        }
        Ok(advanced.end)
    }

    /// Write the run into `dir` as a run directory; report success or failure.
    fn save_checkpoint(&mut self, dir: PathBuf) {
        let Some(trainer) = self.trainer.as_mut() else {
            self.outbox.emit(Event::FileFailed("there is no network to save (training failed): press Reset first".into()));
            return;
        };
        let step = trainer.step;
        match checkpointing::save_run(&dir, trainer, &self.history, self.train_secs) {
            Ok(()) => self.outbox.emit(Event::CheckpointSaved { dir, step }),
            Err(e) => self.outbox.emit(Event::FileFailed(format!("could not save the checkpoint: {e}"))),
        }
    }

    /// Write the network and its probe trials' activity for Python; report success or failure.
    fn export_network(&mut self, path: PathBuf) {
        let Some(trainer) = self.trainer.as_ref() else {
            self.outbox.emit(Event::FileFailed("there is no network to export (training failed): press Reset first".into()));
            return;
        };
        let step = trainer.step;
        match exchange::export_network(&path, &trainer.config, &trainer.params, step, true) {
            Ok(()) => self.outbox.emit(Event::NetworkExported { path, step }),
            Err(e) => self.outbox.emit(Event::FileFailed(format!("could not export the network: {e}"))),
        }
    }

    /// Read and check the checkpoint behind `path` completely, then (only then) replace the run.
    fn load_checkpoint(&mut self, path: PathBuf) {
        let RestoredRun { trainer, train_secs, history, history_problem } = match checkpointing::load_run(&path) {
            Ok(restored) => restored,
            Err(e) => return self.outbox.emit(Event::FileFailed(format!("could not load: {e}; the current run is kept"))),
        };
        let (step, trials) = (trainer.step, trainer.trials);
        // from here on the loaded run is the run
        let state = if trainer.is_done() {
            RunState::Finished
        } else if step == 0 {
            RunState::Ready
        } else {
            RunState::Paused
        };
        self.config = trainer.config.clone();
        self.trainer = Some(trainer);
        self.state = state;
        self.train_secs = train_secs;
        self.history = history.clone();
        self.forget_network();
        let loaded = LoadedRun { path, config: self.config.clone(), state, step, trials, train_secs, history, history_problem };
        self.outbox.emit(Event::CheckpointLoaded(Box::new(loaded)));
        // the loaded network's current score (also with the lesions in force)
        self.guarded(|run| run.evaluate_and_publish(Refit::WhenDue).map(|_| ()));
        // the run it replaced is gone
        crate::release_freed_memory();
    }

    /// Evaluate the current network, then publish it like a periodic evaluation.
    fn evaluate_and_publish(&mut self, refit: Refit) -> Result<EvalResult, TrainError> {
        let Some(trainer) = self.trainer.as_ref() else { return Err(TrainError::NoNetwork) };
        let intact = evaluate(trainer, &EvalOptions::default())?;
        self.publish_evaluation(intact, refit)
    }

    /// Beside the intact evaluation, the lesioned one (when lesions are set) and the live
    /// analyses; send the result and fill the slot.
    fn publish_evaluation(&mut self, intact: Evaluation, refit: Refit) -> Result<EvalResult, TrainError> {
        let active = self.active_lesions();
        let Some(trainer) = self.trainer.as_ref() else { return Err(TrainError::NoNetwork) };
        let lesioned = if active.is_empty() {
            None
        } else {
            let options = EvalOptions { lesioned: active.clone(), ..EvalOptions::default() };
            Some((active, evaluate(trainer, &options)?.perf))
        };
        let result = EvalResult { step: trainer.step, perf: intact.perf, lesioned };
        self.earlier.record(trainer.step, &trainer.params);
        self.latest.step = trainer.step;
        self.latest.trials = trainer.trials;
        self.latest.train_secs = self.train_secs;
        self.latest.evaluation = Some(result.clone());
        let model = &trainer.config.model;
        self.latest.unit_taus = model.per_unit_tau().then(|| Arc::new(trainer.params.unit_taus(model)));
        // the analyses go into the same snapshot, which the evaluation event wakes the UI for
        self.analyse_ambiguity()?;
        self.analyse_probe(refit)?;
        self.store();
        self.outbox.emit(Event::Evaluation(result.clone()));
        Ok(result)
    }

    /// The lesions that apply to this network (pathways it has).
    fn active_lesions(&self) -> Vec<Pathway> {
        let has = |p: &Pathway| self.trainer.as_ref().is_some_and(|t| t.config.model.has(*p));
        self.lesions.iter().copied().filter(has).collect()
    }

    /// Redo the live ambiguity evaluation if its view is on screen (else mark it stale);
    /// whether it was redone.
    fn analyse_ambiguity(&mut self) -> Result<bool, TrainError> {
        let lesioned = self.active_lesions();
        let Some(trainer) = self.trainer.as_ref() else { return Ok(false) };
        if !self.views.ambiguity {
            self.stale.ambiguity = true;
            return Ok(false);
        }
        let trials = live::ambiguity_trials(self.state == RunState::Running);
        self.latest.ambiguity = Some(self.live.ambiguity_eval(trainer, &lesioned, trials, self.latest.ambiguity.as_ref())?);
        self.stale.ambiguity = false;
        Ok(true)
    }

    /// Redo the probe trials and their projection if their view is on screen (else mark them
    /// stale); whether they were redone.
    fn analyse_probe(&mut self, refit: Refit) -> Result<bool, TrainError> {
        let lesioned = self.active_lesions();
        let Some(trainer) = self.trainer.as_ref() else { return Ok(false) };
        if !self.views.probe {
            self.stale.probe = true;
            if refit == Refit::WhenDue {
                self.live.skip_evaluation();
            }
            return Ok(false);
        }
        let view = self.live.probe(trainer, &lesioned, refit)?;
        if let Some(warning) = view.warning {
            self.outbox.emit(Event::Warning(warning));
        }
        self.latest.pca = view.pca.map(Arc::new);
        self.latest.trajectories = Some(Arc::new(view.trajectories));
        self.stale.probe = false;
        Ok(true)
    }

    /// The probe trials of the network at the step looked back at (or none when not looking
    /// back, or when no network that early is kept), published at once.
    fn analyse_look_back(&mut self) -> Result<(), TrainError> {
        let lesioned = self.active_lesions();
        self.latest.looked_back = match (self.look_back, self.trainer.as_ref()) {
            (Some(asked), Some(trainer)) => Some(Arc::new(match self.earlier.at_or_before(asked) {
                Some((step, params)) => {
                    let view = self.live.probe_earlier(&trainer.config, params, step, &lesioned)?;
                    if let Some(warning) = view.warning {
                        self.outbox.emit(Event::Warning(warning));
                    }
                    LookedBack { asked, step: Some(step), trajectories: Some(Arc::new(view.trajectories)), pca: view.pca.map(Arc::new) }
                }
                None => LookedBack { asked, step: None, trajectories: None, pca: None },
            })),
            _ => None,
        };
        self.publish();
        Ok(())
    }

    /// Put the latest snapshot in the slot and wake the UI.
    fn publish(&mut self) {
        self.store();
        self.outbox.wake();
    }

    /// Put the latest snapshot in the slot (an event about to be sent wakes the UI).
    fn store(&mut self) {
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some(self.latest.clone());
        }
        self.outbox.note();
    }

    /// Build a job on a frozen copy of the network and give it turns.
    fn start_job(&mut self, job: NetworkJob) {
        let lesioned = self.active_lesions();
        let Some(trainer) = self.trainer.as_ref() else {
            job.refuse("there is no network (training failed): press Reset");
            return;
        };
        let frozen = Frozen { config: trainer.config.clone(), params: trainer.params.clone(), step: trainer.step, lesioned };
        let board = self.board.get_or_insert_with(|| job.board.clone());
        board.retain_present(&mut self.hosted);
        self.hosted.push(job.id);
        if let Some(running) = job.start(frozen) {
            self.jobs.push_back(running);
        }
    }
}
