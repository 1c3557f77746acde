//! What the app and the worker thread say to each other (brush's two channels):
//! - UI → worker: [`Command`]s;
//! - worker → UI: small [`Event`]s on a bounded channel, and the heavy data in a [`Snapshot`]
//!   slot that is overwritten, never queued, so a slow frame cannot back it up.

use std::path::PathBuf;
use std::sync::Arc;

use super::host::NetworkJob;
use crate::analysis::Ambiguity;
use crate::config::Config;
use crate::model::Pathway;
use crate::tasks::Task;
use crate::train::RunEnd;
use crate::train::metrics::MetricsRow;
use crate::train::probe::{PcaView, Trajectories};

/// The live analyses a view on screen shows (see [`super::live`]). The worker starts with all
/// of them; the app narrows them to the tab shown, so training is not slowed by analyses nobody
/// looks at (on yang20 the ambiguity re-evaluation alone takes a good fraction of a second).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveViews {
    /// Performance under the current ambiguity beside the clear cue's.
    pub ambiguity: bool,
    /// The probe trials' trajectories and their PCA projection.
    pub probe: bool,
}

impl LiveViews {
    pub const ALL: LiveViews = LiveViews { ambiguity: true, probe: true };
    pub const NONE: LiveViews = LiveViews { ambiguity: false, probe: false };

    /// Either of `self` and `other`.
    pub fn or(self, other: LiveViews) -> LiveViews {
        LiveViews { ambiguity: self.ambiguity || other.ambiguity, probe: self.probe || other.probe }
    }
}

/// What the UI asks the worker to do.
#[derive(Debug)]
#[allow(clippy::manual_non_exhaustive, reason = "the hidden variant is a test hook, not a marker against exhaustive matches")]
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
    /// Write the current network to a NumPy .npz or .safetensors file (docs/EXCHANGE.md), with
    /// its probe trials' activity. Training goes on.
    ExportNetwork(PathBuf),
    /// Replace the current run with a saved one: a run directory, a checkpoint directory or a
    /// `state.bin` file. The current run is kept if the checkpoint cannot be read or is invalid.
    /// The loaded run is paused (or finished), ready to train on.
    LoadCheckpoint(PathBuf),
    /// Score the network with its context made ambiguous this way (applies at once; a burst of
    /// these is answered once, for the last).
    SetAmbiguity(Ambiguity),
    /// Which live analyses are on screen: only these are redone after each evaluation; one
    /// skipped meanwhile is redone as soon as it is shown again.
    SetLiveViews(LiveViews),
    /// Show the probe trials of the network as it was at this evaluation step (or the latest
    /// kept before it; see [`super::history`]), under the current lesions and ambiguity, in
    /// [`Snapshot::looked_back`]; `None` goes back to the latest network only.
    LookBack(Option<u64>),
    /// Run a job on a frozen copy of the current network, one unit at a time interleaved with
    /// training ([`super::host::JobHost::on_network`]); a reset or a loaded run drops it.
    Job(NetworkJob),
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

/// Per-task performance: (task, fraction correct).
pub type TaskPerf = Vec<(Task, f32)>;

/// One evaluation: per-task performance of the intact network, and of the lesioned one when
/// lesions are set.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalResult {
    pub step: u64,
    pub perf: Vec<(Task, f32)>,
    /// The lesioned pathways and the performance with them removed.
    pub lesioned: Option<(Vec<Pathway>, TaskPerf)>,
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
    /// All steps done, converged, or stopped at a plateau: `end` says which.
    Finished {
        step: u64,
        end: RunEnd,
    },
    /// [`Command::SaveCheckpoint`] wrote the run at `step` into `dir`.
    CheckpointSaved {
        dir: PathBuf,
        step: u64,
    },
    /// [`Command::ExportNetwork`] wrote the network at `step` to `path`.
    NetworkExported {
        path: PathBuf,
        step: u64,
    },
    /// [`Command::LoadCheckpoint`] replaced the run; an evaluation of it follows.
    CheckpointLoaded(Box<LoadedRun>),
    /// Saving, exporting or loading failed; the current run is unchanged. The message says why.
    FileFailed(String),
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
    /// The probe trials run through the network (current ambiguity and lesions).
    pub trajectories: Option<Arc<Trajectories>>,
    /// The probe trials' hidden states on shared principal axes.
    pub pca: Option<Arc<PcaView>>,
    /// Each unit's τ_i in ms at the latest evaluation, for networks with per-unit time constants.
    pub unit_taus: Option<Arc<Vec<f32>>>,
    /// The probe trials of an earlier network, while the app looks back ([`Command::LookBack`]).
    pub looked_back: Option<Arc<LookedBack>>,
}

/// The probe trials through the network as it was at an earlier evaluation, and their
/// projection on principal axes fitted to that network (intact, clear cue).
#[derive(Debug)]
pub struct LookedBack {
    /// The step asked for ...
    pub asked: u64,
    /// ... and the step of the network kept for it (the same, or the latest kept before it;
    /// `None` when none that early is kept, e.g. before the step a saved run was loaded at).
    pub step: Option<u64>,
    pub trajectories: Option<Arc<Trajectories>>,
    pub pca: Option<Arc<PcaView>>,
}
