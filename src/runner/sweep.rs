//! The app's ambiguity sweep as a [`Job`]: a frozen copy of the network scored at each level of
//! one ambiguity kind, one level (every task) per unit, as every sweep scores a level
//! ([`score_level`]; docs/MODEL.md §4A).

use std::sync::atomic::AtomicBool;

use super::job::{Job, JobError, Stopped};
use crate::analysis::{Ambiguity, AmbiguityKind};
use crate::config::Config;
use crate::experiments::sweep::score_level;
use crate::model::{ParamSet, Pathway};
use crate::tasks::Task;

/// Trials per task and level in an ambiguity sweep.
pub const SWEEP_TRIALS: usize = 32;

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
    /// Set when the sweep ended before every unit was measured.
    pub stopped: Option<Stopped>,
}

impl SweepResult {
    /// (levels × tasks scored, levels × tasks).
    pub fn progress(&self) -> (usize, usize) {
        let done = self.perf.iter().flatten().filter(|p| p.is_some()).count();
        (done, self.levels.len() * self.tasks.len())
    }

    pub fn is_complete(&self) -> bool {
        let (done, total) = self.progress();
        done == total
    }

    /// Still being computed: neither complete nor stopped.
    pub fn is_running(&self) -> bool {
        self.stopped.is_none() && !self.is_complete()
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

/// A sweep in progress, on a frozen copy of the network.
pub struct SweepJob {
    config: Config,
    params: ParamSet,
    /// The next level to score.
    next: usize,
    result: SweepResult,
}

impl SweepJob {
    /// A sweep of a copy of the network (`step`, scored with `lesioned` off) at the finite
    /// `levels` of `kind`; `None` when no level is finite.
    pub fn new(config: Config, params: ParamSet, step: u64, lesioned: Vec<Pathway>, kind: AmbiguityKind, levels: Vec<f32>) -> Option<Self> {
        let levels: Vec<f32> = levels.into_iter().filter(|l| l.is_finite()).collect();
        if levels.is_empty() {
            return None;
        }
        let tasks = config.train.tasks.clone();
        let result = SweepResult {
            kind,
            step,
            lesioned,
            perf: vec![vec![None; tasks.len()]; levels.len()],
            levels,
            tasks,
            trials: SWEEP_TRIALS,
            stopped: None,
        };
        Some(Self { config, params, next: 0, result })
    }
}

impl Job for SweepJob {
    type Output = SweepResult;

    fn name(&self) -> &'static str {
        "ambiguity sweep"
    }

    /// Score one level (every task).
    fn unit(&mut self, _cancel: &AtomicBool) -> Result<bool, JobError> {
        let r = &mut self.result;
        let ambiguity = Ambiguity { kind: r.kind, level: r.levels[self.next] };
        // one context draw per trial for noise, as a compared run's sweep
        let scores = score_level(&self.config, &self.params, r.step, &r.lesioned, ambiguity, Some(SWEEP_TRIALS), 1)?;
        for (slot, task) in r.perf[self.next].iter_mut().zip(&r.tasks) {
            *slot = scores.iter().find(|(t, _)| t == task).map(|(_, p)| *p);
        }
        self.next += 1;
        Ok(self.next >= r.levels.len())
    }

    fn output(&self) -> &SweepResult {
        &self.result
    }

    fn stop(&mut self, why: Stopped) {
        self.result.stopped = Some(why);
    }
}
