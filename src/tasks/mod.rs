//! The Yang et al. (2019) battery of 20 cognitive tasks, as trial batches for a rate RNN.
//!
//! Spec: `docs/MODEL.md` §3. A batch holds trials of ONE task that share their timing and stimulus
//! modality (drawn once per batch, Yang's "random" mode); only locations and strengths vary per
//! trial, so every trial of a batch has the same length and no padding is needed.
//!
//! Two encodings of the stimulus rings and the response ([`Encoding`]):
//! - `ring` (default, Yang 2019): population codes of `ring_units` units per ring;
//! - `compact` (Driscoll et al. 2024): (cos θ, sin θ) per ring; 15 of the 20 tasks.
//!
//! [`generate`] draws a batch, [`performance`] / [`performance_last`] score network outputs.

mod battery;
mod metric;
mod render;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use metric::{CHANCE_TRIALS, chance_performance, circular_distance, performance, performance_last, response_angle};

/// Peak height of a stimulus bump and of a target bump on a ring (Yang's 0.8: the sigmoid
/// readout saturates at 1, so targets stay below it).
pub const BUMP_PEAK: f32 = 0.8;
/// Width (standard deviation, radians) of a stimulus or target bump on a ring.
pub const BUMP_WIDTH: f32 = std::f32::consts::PI / 8.0;
/// Target of the fixation output while the network must fixate (both encodings).
pub const FIXATION_TARGET: f32 = 0.8;
/// Fixation output above this counts as fixating when scoring.
pub const FIXATING_THRESHOLD: f32 = 0.5;
/// Baseline target of every output in the ring encoding (the sigmoid cannot reach 0).
pub const RING_BASELINE: f32 = 0.05;
/// Cost-mask weight before the go cue.
pub const MASK_PRE_GO: f32 = 1.0;
/// Cost-mask weight in the response period (after the grace window).
pub const MASK_RESPONSE: f32 = 5.0;
/// The fixation output channel's mask is multiplied by this throughout.
pub const MASK_FIXATION_FACTOR: f32 = 2.0;
/// The cost mask is 0 during the first this-many ms of the trial (the network settles) ...
pub const MASK_SETTLE_MS: f32 = 100.0;
/// ... and during this-many ms after the go cue (grace window for the saccade).
pub const MASK_GRACE_MS: f32 = 100.0;

/// How stimuli and responses are coded on the input and output units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Yang 2019: 1 fixation input + 2 rings of 32 units; outputs 1 fixation + 32 ring units
    /// (sigmoid readout), decoded by population vector. All 20 tasks.
    #[default]
    Ring,
    /// Driscoll 2024: 1 fixation input and 2 rings of (cos θ, sin θ)·strength; outputs are the
    /// fixation unit and (cos θ*, sin θ*) (linear readout), decoded by atan2. Targets: 0
    /// baselines, the fixation output 0.8 while fixating (as in the ring encoding, so the 0.5
    /// threshold sits in the middle), a unit vector (cos θ*, sin θ*) when responding. 15 tasks:
    /// the five with two simultaneous stimuli on one ring are refused.
    Compact,
}

impl Encoding {
    /// Both encodings, default first.
    pub const ALL: [Encoding; 2] = [Encoding::Ring, Encoding::Compact];

    /// Input size with the default 32 units per ring: ring 1 + 2·32 = 65, compact 1 + 2·2 = 5.
    /// Use [`TaskSettings::n_inputs`] when `ring_units` may differ from 32.
    pub fn n_inputs(self) -> usize {
        1 + 2 * self.units_per_ring(DEFAULT_RING_UNITS)
    }

    /// Output size with the default 32 units per ring: ring 1 + 32 = 33, compact 1 + 2 = 3.
    /// Use [`TaskSettings::n_outputs`] when `ring_units` may differ from 32.
    pub fn n_outputs(self) -> usize {
        1 + self.units_per_ring(DEFAULT_RING_UNITS)
    }

    /// "ring" or "compact", as in settings files.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Ring => "ring",
            Encoding::Compact => "compact",
        }
    }

    /// Units one ring (input modality or response ring) occupies.
    pub fn units_per_ring(self, ring_units: usize) -> usize {
        match self {
            Encoding::Ring => ring_units,
            Encoding::Compact => 2,
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

const DEFAULT_RING_UNITS: usize = 32;

/// One task of the battery. Serialised as its short lowercase name ("fdgo", "contextdm1", ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    FdGo,
    ReactGo,
    DelayGo,
    FdAnti,
    ReactAnti,
    DelayAnti,
    Dm1,
    Dm2,
    ContextDm1,
    ContextDm2,
    MultiDm,
    DelayDm1,
    DelayDm2,
    ContextDelayDm1,
    ContextDelayDm2,
    MultiDelayDm,
    DmsGo,
    DmsNogo,
    DmcGo,
    DmcNogo,
}

/// Why the compact encoding refuses the five simultaneous decision tasks.
const COMPACT_SIMULTANEOUS_REASON: &str = "two simultaneous stimuli on one ring add into one \
     vector, so the decision is ill-posed";

impl Task {
    /// All 20 tasks in Yang's order (which is also the order of the context one-hot).
    pub const ALL: [Task; 20] = [
        Task::FdGo,
        Task::ReactGo,
        Task::DelayGo,
        Task::FdAnti,
        Task::ReactAnti,
        Task::DelayAnti,
        Task::Dm1,
        Task::Dm2,
        Task::ContextDm1,
        Task::ContextDm2,
        Task::MultiDm,
        Task::DelayDm1,
        Task::DelayDm2,
        Task::ContextDelayDm1,
        Task::ContextDelayDm2,
        Task::MultiDelayDm,
        Task::DmsGo,
        Task::DmsNogo,
        Task::DmcGo,
        Task::DmcNogo,
    ];

    /// Short lowercase name, as in Yang's code and in settings files.
    pub fn name(self) -> &'static str {
        match self {
            Task::FdGo => "fdgo",
            Task::ReactGo => "reactgo",
            Task::DelayGo => "delaygo",
            Task::FdAnti => "fdanti",
            Task::ReactAnti => "reactanti",
            Task::DelayAnti => "delayanti",
            Task::Dm1 => "dm1",
            Task::Dm2 => "dm2",
            Task::ContextDm1 => "contextdm1",
            Task::ContextDm2 => "contextdm2",
            Task::MultiDm => "multidm",
            Task::DelayDm1 => "delaydm1",
            Task::DelayDm2 => "delaydm2",
            Task::ContextDelayDm1 => "contextdelaydm1",
            Task::ContextDelayDm2 => "contextdelaydm2",
            Task::MultiDelayDm => "multidelaydm",
            Task::DmsGo => "dmsgo",
            Task::DmsNogo => "dmsnogo",
            Task::DmcGo => "dmcgo",
            Task::DmcNogo => "dmcnogo",
        }
    }

    /// The task with this short name (case and surrounding spaces ignored).
    pub fn from_name(s: &str) -> Result<Task, TaskError> {
        let wanted = s.trim();
        Task::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| TaskError::UnknownTask { name: s.to_string(), valid: Task::ALL.map(Task::name).join(", ") })
    }

    /// Position in [`Task::ALL`] (Yang's rule index).
    pub fn index(self) -> usize {
        self as usize
    }

    /// Yang's display label ("Go", "RT Go", "Ctx DM 1", ...), for plot axes.
    pub fn label(self) -> &'static str {
        match self {
            Task::FdGo => "Go",
            Task::ReactGo => "RT Go",
            Task::DelayGo => "Dly Go",
            Task::FdAnti => "Anti",
            Task::ReactAnti => "RT Anti",
            Task::DelayAnti => "Dly Anti",
            Task::Dm1 => "DM 1",
            Task::Dm2 => "DM 2",
            Task::ContextDm1 => "Ctx DM 1",
            Task::ContextDm2 => "Ctx DM 2",
            Task::MultiDm => "MultSen DM",
            Task::DelayDm1 => "Dly DM 1",
            Task::DelayDm2 => "Dly DM 2",
            Task::ContextDelayDm1 => "Ctx Dly DM 1",
            Task::ContextDelayDm2 => "Ctx Dly DM 2",
            Task::MultiDelayDm => "MultSen Dly DM",
            Task::DmsGo => "DMS",
            Task::DmsNogo => "DNMS",
            Task::DmcGo => "DMC",
            Task::DmcNogo => "DNMC",
        }
    }

    /// Family, for grouping in the UI: "Go", "Anti", "Decision making",
    /// "Delayed decision making" or "Matching".
    pub fn family(self) -> &'static str {
        match self {
            Task::FdGo | Task::ReactGo | Task::DelayGo => "Go",
            Task::FdAnti | Task::ReactAnti | Task::DelayAnti => "Anti",
            Task::Dm1 | Task::Dm2 | Task::ContextDm1 | Task::ContextDm2 | Task::MultiDm => "Decision making",
            Task::DelayDm1 | Task::DelayDm2 | Task::ContextDelayDm1 | Task::ContextDelayDm2 | Task::MultiDelayDm => {
                "Delayed decision making"
            }
            Task::DmsGo | Task::DmsNogo | Task::DmcGo | Task::DmcNogo => "Matching",
        }
    }

    /// One plain-English line describing what the network must do.
    pub fn description(self) -> &'static str {
        match self {
            Task::FdGo => "A stimulus appears while the network fixates; when the fixation cue goes off, point to the stimulus.",
            Task::ReactGo => "Keep fixating; as soon as a stimulus appears, point to it straight away.",
            Task::DelayGo => "A stimulus flashes briefly; remember where it was and point there when the fixation cue goes off.",
            Task::FdAnti => "A stimulus appears while the network fixates; when the fixation cue goes off, point to the opposite side.",
            Task::ReactAnti => "Keep fixating; as soon as a stimulus appears, point to the opposite side straight away.",
            Task::DelayAnti => "A stimulus flashes briefly; remember it and point to the opposite side when the fixation cue goes off.",
            Task::Dm1 => "Two stimuli on ring 1 at once; point to the stronger one when the fixation cue goes off.",
            Task::Dm2 => "Two stimuli on ring 2 at once; point to the stronger one when the fixation cue goes off.",
            Task::ContextDm1 => "Two stimuli on both rings; judge only ring 1 and point to its stronger stimulus, ignoring ring 2.",
            Task::ContextDm2 => "Two stimuli on both rings; judge only ring 2 and point to its stronger stimulus, ignoring ring 1.",
            Task::MultiDm => "Two stimuli on both rings; add up each stimulus's strength over the two rings and point to the stronger.",
            Task::DelayDm1 => "Two stimuli on ring 1, one after the other with a delay; point to the stronger one.",
            Task::DelayDm2 => "Two stimuli on ring 2, one after the other with a delay; point to the stronger one.",
            Task::ContextDelayDm1 => "Two stimuli in sequence on both rings; judge only ring 1 and point to its stronger stimulus.",
            Task::ContextDelayDm2 => "Two stimuli in sequence on both rings; judge only ring 2 and point to its stronger stimulus.",
            Task::MultiDelayDm => "Two stimuli in sequence on both rings; add up the two rings and point to the stronger stimulus.",
            Task::DmsGo => {
                "A sample, a delay, then a test stimulus; point to the test only if it is at the same place as the sample, else keep fixating."
            }
            Task::DmsNogo => {
                "A sample, a delay, then a test stimulus; point to the test only if it is at a different place, else keep fixating."
            }
            Task::DmcGo => {
                "A sample, a delay, then a test; point to the test only if it is in the same category (upper or lower half), else keep fixating."
            }
            Task::DmcNogo => "A sample, a delay, then a test; point to the test only if it is in the other category, else keep fixating.",
        }
    }

    /// Whether this task is well posed in `enc`. The compact encoding refuses the five tasks
    /// with two simultaneous stimuli on one ring (dm1, dm2, contextdm1, contextdm2, multidm).
    pub fn supports(self, enc: Encoding) -> bool {
        self.unsupported_reason(enc).is_none()
    }

    /// The tasks available in `enc`, in Yang's order.
    pub fn all_for(enc: Encoding) -> Vec<Task> {
        Task::ALL.into_iter().filter(|t| t.supports(enc)).collect()
    }

    /// `Ok` if the task runs in `enc`, else the error explaining why not.
    pub fn check_supported(self, enc: Encoding) -> Result<(), TaskError> {
        match self.unsupported_reason(enc) {
            None => Ok(()),
            Some(reason) => Err(TaskError::Unsupported { task: self, encoding: enc, reason }),
        }
    }

    fn unsupported_reason(self, enc: Encoding) -> Option<&'static str> {
        let simultaneous = matches!(self, Task::Dm1 | Task::Dm2 | Task::ContextDm1 | Task::ContextDm2 | Task::MultiDm);
        (enc == Encoding::Compact && simultaneous).then_some(COMPACT_SIMULTANEOUS_REASON)
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Task {
    type Err = TaskError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Task::from_name(s)
    }
}

/// What can go wrong when naming a task or generating trials.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TaskError {
    /// The name matches none of the 20 tasks.
    #[error("unknown task '{name}'; valid tasks are: {valid}")]
    UnknownTask { name: String, valid: String },
    /// The task exists but is ill-posed in this encoding.
    #[error("task '{task}' is not available in the {encoding} encoding: {reason}; use encoding = \"ring\"")]
    Unsupported { task: Task, encoding: Encoding, reason: &'static str },
    /// A setting or argument is out of range.
    #[error("invalid task settings: {0}")]
    InvalidSettings(String),
}

/// Settings of the task battery (the `[tasks]` table of a run's settings).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskSettings {
    /// How stimuli and responses are coded: "ring" (Yang 2019, all 20 tasks, the faithful
    /// default) or "compact" (Driscoll 2024: (cos, sin) per ring, 15 tasks, cheaper).
    pub encoding: Encoding,
    /// Length of one simulation step in milliseconds. Yang's value is 20; every task timing is
    /// given in ms and rounded down to whole steps, so other values rescale trials in steps.
    pub dt_ms: f32,
    /// Units per ring in the ring encoding (preferred angles 2πi/ring_units); Yang used 32.
    /// Ignored by the compact encoding.
    pub ring_units: usize,
    /// Input noise σ_x: every input, fixation included, gets Gaussian noise of standard
    /// deviation sqrt(2/α)·σ_x at every step (α = dt/τ of the network). Yang's value is 0.01.
    pub input_noise: f32,
    /// A response counts as correct when its angle is within tolerance_pi·π of the target.
    /// Yang's criterion is 0.2; 0.1 is Driscoll's stricter variant.
    pub tolerance_pi: f32,
}

impl Default for TaskSettings {
    fn default() -> Self {
        Self { encoding: Encoding::Ring, dt_ms: 20.0, ring_units: DEFAULT_RING_UNITS, input_noise: 0.01, tolerance_pi: 0.2 }
    }
}

impl TaskSettings {
    /// Network input size: 1 fixation unit + 2 rings.
    pub fn n_inputs(&self) -> usize {
        1 + 2 * self.encoding.units_per_ring(self.ring_units)
    }

    /// Network output size: 1 fixation unit + 1 response ring.
    pub fn n_outputs(&self) -> usize {
        1 + self.encoding.units_per_ring(self.ring_units)
    }

    /// Standard deviation of the input noise actually added for the network's α = dt/τ.
    pub fn input_noise_std(&self, alpha: f32) -> f32 {
        (2.0 / alpha).sqrt() * self.input_noise
    }

    /// The tasks these settings can generate.
    pub fn tasks(&self) -> Vec<Task> {
        Task::all_for(self.encoding)
    }

    /// Check every field is in range (`generate` does this too).
    pub fn validate(&self) -> Result<(), TaskError> {
        let bad = |msg: String| Err(TaskError::InvalidSettings(msg));
        if !(self.dt_ms.is_finite() && self.dt_ms > 0.0 && self.dt_ms <= 100.0) {
            return bad(format!("dt_ms must be in (0, 100], got {}", self.dt_ms));
        }
        if self.encoding == Encoding::Ring && self.ring_units < 4 {
            return bad(format!("ring_units must be at least 4, got {}", self.ring_units));
        }
        if !(self.input_noise.is_finite() && self.input_noise >= 0.0) {
            return bad(format!("input_noise must be >= 0, got {}", self.input_noise));
        }
        if !(self.tolerance_pi > 0.0 && self.tolerance_pi <= 1.0) {
            return bad(format!("tolerance_pi must be in (0, 1], got {}", self.tolerance_pi));
        }
        Ok(())
    }

    /// Milliseconds to whole steps, rounded down as in Yang's `int(ms/dt)` (exact for the
    /// battery's round numbers at dt = 20 ms, which f32 and f64 represent exactly).
    pub fn steps(&self, ms: f64) -> usize {
        (ms / self.dt_ms as f64).floor() as usize
    }
}

/// A named period of a trial, in steps [start, end), shared by the whole batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Epoch {
    /// "fixation", "stimulus", "delay", "stimulus 2", "delay 2" or "response".
    pub name: &'static str,
    /// First step.
    pub start: usize,
    /// One past the last step.
    pub end: usize,
}

/// A batch of trials of one task, ready to feed a network. Arrays are row-major
/// `[batch, steps, units]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrialBatch {
    /// The task all trials belong to.
    pub task: Task,
    /// How the arrays are coded.
    pub encoding: Encoding,
    /// Number of trials.
    pub batch: usize,
    /// Steps per trial (the same for all trials of the batch).
    pub steps: usize,
    /// Input units per step.
    pub n_in: usize,
    /// Output units per step (fixation first, then the response ring).
    pub n_out: usize,
    /// Step length in ms.
    pub dt_ms: f32,
    /// `[batch, steps, n_in]` inputs, input noise already added. Unit 0 is the fixation cue,
    /// then ring 1, then ring 2.
    pub inputs: Vec<f32>,
    /// `[batch, steps, n_out]` target outputs.
    pub targets: Vec<f32>,
    /// `[batch, steps, n_out]` cost mask, to multiply the error BEFORE squaring:
    /// 0 during the first 100 ms, 1 until the go cue, 0 for 100 ms after it, 5 afterwards;
    /// doubled on the fixation channel.
    pub mask: Vec<f32>,
    /// First step of the response period (the go cue), shared by the batch.
    pub go_step: usize,
    /// Per trial, the correct response angle in radians in [0, 2π) at the end of the trial;
    /// `None` where the right answer is to keep fixating (non-matching trials of the matching
    /// tasks).
    pub target_angle: Vec<Option<f32>>,
    /// Shared timing, for shading plots.
    pub epochs: Vec<Epoch>,
}

impl TrialBatch {
    /// Inputs of trial `b` at step `t`.
    pub fn input(&self, b: usize, t: usize) -> &[f32] {
        let at = (b * self.steps + t) * self.n_in;
        &self.inputs[at..at + self.n_in]
    }

    /// Targets of trial `b` at step `t`.
    pub fn target(&self, b: usize, t: usize) -> &[f32] {
        let at = (b * self.steps + t) * self.n_out;
        &self.targets[at..at + self.n_out]
    }

    /// Cost mask of trial `b` at step `t`.
    pub fn mask_at(&self, b: usize, t: usize) -> &[f32] {
        let at = (b * self.steps + t) * self.n_out;
        &self.mask[at..at + self.n_out]
    }

    /// Duration of a trial in ms.
    pub fn duration_ms(&self) -> f32 {
        self.steps as f32 * self.dt_ms
    }
}

/// Draw a batch of `batch` trials of `task`. `alpha` = dt/τ of the network, which scales the
/// input noise (std sqrt(2/α)·`input_noise`). Everything random comes from `rng`, so the same
/// generator state gives the same batch.
pub fn generate(task: Task, settings: &TaskSettings, batch: usize, alpha: f32, rng: &mut crate::rng::Rng) -> Result<TrialBatch, TaskError> {
    settings.validate()?;
    task.check_supported(settings.encoding)?;
    if batch == 0 {
        return Err(TaskError::InvalidSettings("batch size must be at least 1".into()));
    }
    if !(alpha.is_finite() && alpha > 0.0 && alpha <= 1.0) {
        return Err(TaskError::InvalidSettings(format!("alpha must be in (0, 1], got {alpha}")));
    }
    let plan = battery::plan(task, settings, batch, rng);
    Ok(render::render(task, settings, &plan, alpha, rng))
}
