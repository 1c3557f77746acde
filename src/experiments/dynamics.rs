//! The app's dynamics analysis (docs/MODEL.md §4C), on a frozen copy of the network one unit at
//! a time (the app runs it between training steps, `runner/dynamics.rs`): first the trajectories,
//! their shared PCA, the normalised task variance and the connectivity spectrum of every task
//! context; then the fixed points of one task along the context interpolation toward another
//! task, one α per unit (α = 0 is the task itself), continued from α to α.

use super::analyze::{AnalyzeOptions, TaskSubspaces, TaskVariance, trajectories};
use super::bifurcation::{self, BifurcationPoint, Continuation};
use super::search_start::TaskEpoch;
use crate::analysis::dynamics::{FixedPointOptions, StepMap};
use crate::analysis::{Covariance, Pca};
use crate::config::Config;
use crate::model::{ParamSet, Pathway};
use crate::tasks::Task;
use crate::train::TrainError;
use crate::train::probe::{Trajectories, UnitKinds};

/// Test trials per task (fewer than `modulab analyze`'s 32: the app answers within seconds).
pub const DYNAMICS_TRIALS: usize = 8;
/// Fresh starts of the fixed-point search at each α.
pub const DYNAMICS_STARTS: usize = 24;
/// Principal axes kept.
const COMPONENTS: usize = 3;

/// What the app asks for: fixed points of `task` along the context interpolation toward
/// `other` (indices into the run's tasks), at `alphas` evenly spaced values of α from 0 to 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DynamicsRequest {
    pub task: usize,
    pub other: usize,
    pub alphas: usize,
    /// The epoch of `task` whose input the fixed points are searched under.
    pub epoch: TaskEpoch,
}

/// A [`DynamicsRequest`] the analysis cannot answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadRequest {
    #[error("pick two different trained tasks")]
    Tasks,
    #[error("the interpolation needs at least 2 values of α")]
    Alphas,
}

/// What the analysis found so far.
#[derive(Clone, Debug, Default)]
pub struct DynamicsResult {
    pub step: u64,
    pub lesioned: Vec<Pathway>,
    pub tasks: Vec<Task>,
    pub task: usize,
    pub other: usize,
    pub epoch: TaskEpoch,
    /// Fraction of the variance on PC1–3.
    pub explained: Vec<f64>,
    /// Each task's trial-averaged trajectory on PC1–3.
    pub trajectories: Vec<Vec<[f64; 3]>>,
    pub variance: Option<TaskVariance>,
    /// Each task's PC1–3 subspace: participation ratios and principal angles between tasks.
    pub subspaces: Option<TaskSubspaces>,
    /// Participation ratio of every task's states pooled.
    pub pooled_participation: f64,
    /// Eigenvalues (re, im) of diag(g(c)) W(c) under each task's context.
    pub spectra: Vec<Vec<[f64; 2]>>,
    pub alphas: Vec<f64>,
    /// The fixed points at each α computed so far (in α order).
    pub slices: Vec<Vec<BifurcationPoint>>,
    /// Set when the analysis failed (the message).
    pub error: Option<String>,
    /// The units' cell types and time constants (the task-variance rows can be ordered by them).
    pub units: UnitKinds,
}

impl DynamicsResult {
    /// (units done, total units): the setup, then one per α.
    pub fn progress(&self) -> (usize, usize) {
        let setup = usize::from(self.variance.is_some());
        (setup + self.slices.len(), 1 + self.alphas.len())
    }

    pub fn is_complete(&self) -> bool {
        let (done, total) = self.progress();
        done == total || self.error.is_some()
    }
}

/// The analysis in progress.
pub struct DynamicsJob {
    config: Config,
    params: ParamSet,
    traj: Option<Trajectories>,
    pca: Option<Pca>,
    continuation: Continuation,
    result: DynamicsResult,
}

impl DynamicsJob {
    /// A job on a copy of the network (`step`, `lesioned`); the request is checked here.
    pub fn new(config: Config, params: ParamSet, step: u64, lesioned: Vec<Pathway>, request: DynamicsRequest) -> Result<Self, BadRequest> {
        let tasks = config.train.tasks.clone();
        if request.task >= tasks.len() || request.other >= tasks.len() || request.task == request.other {
            return Err(BadRequest::Tasks);
        }
        if request.alphas < 2 {
            return Err(BadRequest::Alphas);
        }
        let result = DynamicsResult {
            step,
            lesioned,
            tasks,
            task: request.task,
            other: request.other,
            epoch: request.epoch,
            alphas: bifurcation::alpha_grid(request.alphas),
            units: UnitKinds::of(&config, &params),
            ..DynamicsResult::default()
        };
        Ok(Self { config, params, traj: None, pca: None, continuation: Continuation::default(), result })
    }

    /// Do the next unit of work; true when everything is done.
    /// What the analysis found so far.
    pub fn result(&self) -> &DynamicsResult {
        &self.result
    }

    /// Record that the analysis ended early, and why.
    pub fn stop(&mut self, why: String) {
        self.result.error = Some(why);
    }

    /// Do the next unit (the set-up, then one α); `Ok(true)` once every α is done.
    pub fn next_unit(&mut self) -> Result<bool, TrainError> {
        if self.result.is_complete() {
            return Ok(true);
        }
        match (&self.traj, &self.pca) {
            (Some(traj), Some(pca)) => {
                let index = self.result.slices.len();
                let alpha = self.result.alphas[index];
                let indices = (self.result.task, self.result.other);
                let (from, to) = (&traj.tasks[indices.0], &traj.tasks[indices.1]);
                let (map, drive) =
                    bifurcation::map_at(&self.config, &self.params, &self.result.lesioned, self.result.epoch, from, indices, alpha);
                let fresh = bifurcation::fresh_starts(from, to, DYNAMICS_STARTS);
                let slice = self.continuation.next(alpha, &map, &drive, &fresh, &FixedPointOptions::default());
                self.result.slices.push(bifurcation::place(&slice, &map, pca));
            }
            _ => self.setup()?,
        }
        Ok(self.result.is_complete())
    }

    /// Trajectories, PCA, task variance and spectra.
    fn setup(&mut self) -> Result<(), TrainError> {
        let options = AnalyzeOptions { trials: DYNAMICS_TRIALS, lesioned: self.result.lesioned.clone(), ..AnalyzeOptions::default() };
        let traj = trajectories(&self.config, &self.params, self.result.step, &options)?;
        let n = self.config.model.n_units;
        let mut pooled = Covariance::new(n);
        traj.tasks.iter().for_each(|t| pooled.add_rows(&t.rates));
        let pca = match pooled.fit(COMPONENTS.min(n)) {
            Ok(pca) => pca,
            Err(e) => {
                self.result.error = Some(format!("PCA failed: {e}"));
                return Ok(());
            }
        };
        let k = pca.n_components();
        self.result.explained = pca.explained_variance_ratio().into_iter().take(k).collect();
        self.result.trajectories = traj
            .tasks
            .iter()
            .map(|t| {
                pca.project(&t.mean_rates())
                    .chunks_exact(k)
                    .map(|c| std::array::from_fn(|i| c.get(i).copied().unwrap_or(0.0) as f64))
                    .collect()
            })
            .collect();
        self.result.pooled_participation = pca.participation_ratio();
        match TaskSubspaces::new(&traj.tasks, n, COMPONENTS) {
            Ok(subspaces) => self.result.subspaces = Some(subspaces),
            Err(e) => {
                self.result.error = Some(format!("PCA of a task failed: {e}"));
                return Ok(());
            }
        }
        let tasks = self.result.tasks.len();
        self.result.spectra = (0..tasks)
            .map(|t| {
                let mut c = vec![0.0f32; tasks];
                c[t] = 1.0;
                StepMap::new(&self.config, &self.params, &c, &self.result.lesioned)
                    .connectivity_spectrum()
                    .iter()
                    .map(|e| [e.re, e.im])
                    .collect()
            })
            .collect();
        // last: the panel draws once this is set, so everything else must be there by then
        self.result.variance = Some(TaskVariance::new(&traj.tasks));
        self.traj = Some(traj);
        self.pca = Some(pca);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn a_job_runs_setup_then_one_unit_per_alpha() {
        let config = Config::from_preset("quick", &["model.n_units=16".into()]).unwrap();
        let params = ParamSet::init(&config.model, config.dims(), config.readout(), &mut Rng::seed_from(1));
        assert!(
            DynamicsJob::new(
                config.clone(),
                params.clone(),
                0,
                Vec::new(),
                DynamicsRequest { task: 0, other: 0, alphas: 3, epoch: TaskEpoch::Stimulus }
            )
            .is_err()
        );
        assert!(
            DynamicsJob::new(
                config.clone(),
                params.clone(),
                0,
                Vec::new(),
                DynamicsRequest { task: 0, other: 9, alphas: 3, epoch: TaskEpoch::Stimulus }
            )
            .is_err()
        );
        let mut job = DynamicsJob::new(
            config.clone(),
            params,
            0,
            Vec::new(),
            DynamicsRequest { task: 0, other: 1, alphas: 3, epoch: TaskEpoch::Delay },
        )
        .unwrap();
        assert_eq!(job.result().progress(), (0, 4));
        assert!(!job.next_unit().unwrap());
        let r = job.result();
        assert_eq!(r.progress(), (1, 4));
        assert_eq!(r.trajectories.len(), config.train.tasks.len());
        assert_eq!(r.spectra.len(), config.train.tasks.len());
        assert!(r.spectra.iter().all(|s| s.len() == 16));
        assert!(!job.next_unit().unwrap());
        assert!(!job.next_unit().unwrap());
        assert!(job.next_unit().unwrap());
        let r = job.result();
        assert!(r.is_complete());
        assert_eq!(r.alphas, vec![0.0, 0.5, 1.0]);
        assert_eq!(r.slices.len(), 3);
        for (slice, alpha) in r.slices.iter().zip(&r.alphas) {
            assert!(slice.iter().all(|p| p.alpha == *alpha && p.pcs.len() == 3 && p.speed <= 1e-10));
        }
    }
}
