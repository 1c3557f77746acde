//! Where a fixed-point search looks: the task epoch whose constant input defines the dynamics,
//! and starting states spread over the trajectories. Shared by `analyze` and the bifurcation view.

use nalgebra::DVector;

use crate::train::probe::TaskTrajectories;

/// The task epoch whose constant input defines the dynamics a fixed-point search looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TaskEpoch {
    Fixation,
    #[default]
    Stimulus,
    Delay,
    Response,
}

impl TaskEpoch {
    pub const ALL: [TaskEpoch; 4] = [TaskEpoch::Fixation, TaskEpoch::Stimulus, TaskEpoch::Delay, TaskEpoch::Response];

    /// The epoch's name in the task generator (and on the command line).
    pub fn name(self) -> &'static str {
        match self {
            TaskEpoch::Fixation => "fixation",
            TaskEpoch::Stimulus => "stimulus",
            TaskEpoch::Delay => "delay",
            TaskEpoch::Response => "response",
        }
    }
}

/// An epoch name that is none of [`TaskEpoch::ALL`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown epoch {0:?}: one of fixation, stimulus, delay, response")]
pub struct UnknownEpoch(pub String);

impl std::str::FromStr for TaskEpoch {
    type Err = UnknownEpoch;

    fn from_str(s: &str) -> Result<Self, UnknownEpoch> {
        Self::ALL.into_iter().find(|e| e.name() == s).ok_or_else(|| UnknownEpoch(s.to_string()))
    }
}

/// The input mid-way through the first trial's `epoch` (the first epoch of that name; the
/// trial's middle step when the task has none, e.g. no delay in fdgo): the constant input whose
/// fixed points organise that period's dynamics.
pub fn epoch_input(t: &TaskTrajectories, epoch: TaskEpoch) -> &[f32] {
    let step = t.epochs.iter().find(|e| e.name == epoch.name()).map_or(t.steps / 2, |e| (e.start + e.end) / 2);
    t.input(0, step.min(t.steps - 1))
}

/// `2·count` states spread evenly over the task's trials and steps whose first `count` are
/// exactly [`sample_states`]`(t, count)` (the even picks of `2·count` first, then the odd ones):
/// a search from all of them shows what doubling the starts adds.
pub fn sample_states_doubled(t: &TaskTrajectories, count: usize) -> Vec<DVector<f64>> {
    let all = sample_states(t, 2 * count);
    let (even, odd): (Vec<_>, Vec<_>) = all.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
    even.into_iter().chain(odd).map(|(_, s)| s).collect()
}

/// The RMS distance of the task's states from their mean (√ of the summed variance over units):
/// the scale [`crate::analysis::dynamics::slow_point_tolerance`] ties slow points to.
pub fn state_spread(t: &TaskTrajectories) -> f64 {
    let n = t.n_units;
    let count = (t.rates.len() / n.max(1)).max(1) as f64;
    let mut mean = vec![0.0f64; n];
    for row in t.rates.chunks_exact(n) {
        mean.iter_mut().zip(row).for_each(|(m, r)| *m += *r as f64 / count);
    }
    let total: f64 = t.rates.chunks_exact(n).map(|row| row.iter().zip(&mean).map(|(r, m)| (*r as f64 - m).powi(2)).sum::<f64>()).sum();
    (total / count).sqrt()
}

/// `count` states spread evenly over the task's trials and steps (deterministic). They are
/// rates; in the voltage form they serve as starting guesses for x, which the search corrects.
pub fn sample_states(t: &TaskTrajectories, count: usize) -> Vec<DVector<f64>> {
    let total = t.trials * t.steps;
    (0..count.min(total))
        .map(|i| {
            let at = i * total / count.min(total);
            let row = &t.rates[at * t.n_units..(at + 1) * t.n_units];
            DVector::from_iterator(t.n_units, row.iter().map(|v| *v as f64))
        })
        .collect()
}
