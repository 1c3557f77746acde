//! One run of the study trained and measured, and the sweep of runs the sweep driver runs.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use crate::analysis::AmbiguityKind;
use crate::analysis::dynamics::{FixedPointOptions, StepMap, find_fixed_points, slow_point_tolerance, trajectory_radii};
use crate::config::Config;
use crate::experiments::analyze::{AnalyzeOptions, TaskSubspaces, trajectories};
use crate::experiments::search_start::{TaskEpoch, epoch_input, sample_states_doubled, state_spread};
use crate::experiments::sweep::{self, TrainedRun};
use crate::experiments::switching::{SwitchJob, SwitchSpec};
use crate::io::write_atomic;
use crate::tasks::Task;
use crate::train::checkpoint::{self};
use crate::train::{self, ProgressSink, RunEnd, StepReport, Trainer};

use super::*;
use crate::experiments::driver::{CellContext, Sweep};

/// The study's switch: from Go to Anti when both are trained (the answer reverses, so the
/// network must follow the new context to get it right), else the first two tasks.
fn switch_spec(config: &Config, trials: usize) -> SwitchSpec {
    let tasks = &config.train.tasks;
    let spec = SwitchSpec { trials, ..SwitchSpec::default_for(config) };
    if tasks.contains(&Task::FdGo) && tasks.contains(&Task::FdAnti) {
        SwitchSpec { from: Task::FdGo, to: Task::FdAnti, ..spec }
    } else {
        spec
    }
}

/// Work of one ambiguity level, in training steps (for the progress bar's estimate: a level
/// evaluates every task once or a few times, forward only).
pub const LEVEL_WORK: u64 = 10;

/// The work of one run in progress units: a training step is one, a sweep level [`LEVEL_WORK`]
/// (a packing run is measured at one level).
pub fn unit_work(plan: &Plan, unit: &Unit) -> u64 {
    let levels = match unit.packing_size {
        Some(_) => 1,
        None => AmbiguityKind::ALL.iter().map(|k| plan.scale.levels(*k).len() as u64).sum::<u64>(),
    };
    plan.base.train.steps + LEVEL_WORK * levels
}

/// Reports training steps to the progress callback.
struct StepCounter<'a>(&'a (dyn Fn(u64) + Sync));
impl ProgressSink for StepCounter<'_> {
    fn on_step(&mut self, _trainer: &Trainer, _report: &StepReport) {
        (self.0)(1);
    }
}

/// Train `unit` (continuing from its checkpoint if one is there), sweep every ambiguity kind
/// and analyse its dynamics (a packing run: measure the clear cue only); write its files. `None` when `cancel` stopped the training (the
/// checkpoint keeps what was done). `progress` receives the work done (see [`unit_work`]).
pub fn run_unit(
    plan: &Plan,
    unit: &Unit,
    out: &Path,
    threads: usize,
    cancel: &AtomicBool,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Option<UnitResult>, ReproduceError> {
    let name = unit.name();
    let dir = unit_dir(out, unit);
    let checkpoint_dir = dir.join(CHECKPOINT_DIR);
    let mut config = plan.config_for(unit);
    config.runtime.threads = threads;
    let train_err = |source| ReproduceError::Train { run: name.clone(), source };
    let ckpt_err = |source| ReproduceError::Checkpoint { run: name.clone(), source };
    // the file, not the directory: a run killed during its first save leaves the directory empty
    let mut trainer = if checkpoint_dir.join(checkpoint::STATE_FILE).exists() {
        let ckpt = checkpoint::load(&checkpoint_dir).map_err(ckpt_err)?;
        let mut expected = config.clone();
        expected.runtime = ckpt.config.runtime.clone();
        if expected != ckpt.config {
            return Err(ReproduceError::Mismatch { run: name, dir: dir.display().to_string() });
        }
        ckpt.into_trainer().with_config(config.clone())
    } else {
        Trainer::new(config.clone())
    };
    if trainer.is_done() {
        progress(config.train.steps);
    } else {
        std::fs::create_dir_all(&dir).map_err(|source| ReproduceError::Write { path: dir.display().to_string(), source })?;
        progress(trainer.step);
        if train::run(&mut trainer, &mut StepCounter(progress), cancel, Some(&checkpoint_dir)).map_err(train_err)? == RunEnd::Cancelled {
            return Ok(None);
        }
        // the steps the plateau rule saved count as done for the progress bar
        progress(config.train.steps.saturating_sub(trainer.step));
    }
    let training = TrainingRow {
        run: name.clone(),
        pathways: unit.set.to_string(),
        seed: unit.seed,
        size: plan.size_of(unit),
        steps: trainer.step,
        plateau: trainer.plateau.stopped_at.is_some(),
    };
    write(&dir.join(TRAINING_FILE), &training_csv(std::slice::from_ref(&training)))?;
    let run = TrainedRun { name: name.clone(), config: trainer.config.clone(), params: trainer.params.clone(), step: trainer.step };

    // B: a packing run needs only how well each task is done
    if unit.packing_size.is_some() {
        let clean = [AmbiguityKind::Mixture.clean_level()];
        let rows = sweep::sweep_run(&run, AmbiguityKind::Mixture, &clean, Some(plan.scale.sweep_trials()), 1, &mut || progress(LEVEL_WORK))
            .map_err(train_err)?;
        write(&dir.join(CLEAR_CUE_FILE), &sweep::ambiguity_csv(&rows))?;
        return Ok(Some(UnitResult { unit: unit.clone(), training, ambiguity: rows, switching: Vec::new(), dynamics: None }));
    }

    // A: every ambiguity kind, on the same trials at every level
    let mut ambiguity = Vec::new();
    for kind in AmbiguityKind::ALL {
        let levels = plan.scale.levels(kind);
        let rows =
            sweep::sweep_run(&run, kind, &levels, Some(plan.scale.sweep_trials()), plan.scale.noise_draws(), &mut || progress(LEVEL_WORK))
                .map_err(train_err)?;
        ambiguity.extend(rows);
    }
    write(&dir.join(AMBIGUITY_FILE), &sweep::ambiguity_csv(&ambiguity))?;

    // D: a switch at stimulus onset, each pathway in turn slowed to each τ
    let mut switching = Vec::new();
    if !unit.set.0.is_empty() {
        let spec = switch_spec(&run.config, plan.scale.switch_trials());
        let taus = plan.scale.switch_taus_ms();
        let job = SwitchJob::new(run.config.clone(), run.params.clone(), run.step, &spec, taus.clone(), None)
            .map_err(|source| ReproduceError::Switch { run: name.clone(), source })?;
        let result = job.run_all(&mut || {});
        for sweep in &result.pathways {
            for (tau_ms, outcome) in taus.iter().zip(&sweep.outcomes) {
                let Some(outcome) = outcome else { continue };
                switching.push(SwitchRow {
                    run: name.clone(),
                    pathways: unit.set.to_string(),
                    seed: unit.seed,
                    from: spec.from.name().to_string(),
                    to: spec.to.name().to_string(),
                    pathway: sweep.pathway,
                    tau_ms: *tau_ms,
                    perf: outcome.perf,
                    transient: outcome.mean_distance(),
                });
            }
        }
    }
    write(&dir.join(SWITCHING_FILE), &switching_csv(&switching))?;

    // C: the tasks' states: their dimension and how far apart their subspaces lie
    let options = AnalyzeOptions { trials: plan.scale.analysis_trials(), ..AnalyzeOptions::default() };
    let states = trajectories(&run.config, &run.params, run.step, &options).map_err(train_err)?;
    let subspaces = TaskSubspaces::new(&states.tasks, run.config.model.n_units, SUBSPACE_DIM)
        .map_err(|source| ReproduceError::Pca { run: name.clone(), source })?;
    let k = states.tasks.len();
    let pairs: Vec<f64> = (0..k).flat_map(|a| (a + 1..k).map(move |b| (a, b))).map(|(a, b)| subspaces.mean_angle(a, b)).collect();
    // under each task's context: the connectivity's spectrum (a description of the weights),
    // the Jacobian's along the task's own trials (what the dynamics do), and the fixed and slow
    // points under its stimulus input, from the study's starts and from twice as many
    let starts = plan.scale.fixed_point_starts();
    let (mut radii, mut jacobian) = (Vec::with_capacity(k), Vec::with_capacity(k));
    let (mut fixed, mut slow, mut fixed_2x, mut slow_2x, mut stable) = (0usize, 0usize, 0usize, 0usize, 0usize);
    for (index, t) in states.tasks.iter().enumerate() {
        let mut c = vec![0.0f32; k];
        c[index] = 1.0;
        let map = StepMap::new(&run.config, &run.params, &c, &[]);
        radii.push(map.connectivity_spectrum().iter().map(|e| e.norm()).fold(0.0, f64::max));
        let along: Vec<f64> = (0..t.trials)
            .flat_map(|trial| trajectory_radii(&map, (0..t.steps).map(|step| t.input(trial, step)), JACOBIAN_STRIDE))
            .collect();
        jacobian.push(along.iter().sum::<f64>() / along.len().max(1) as f64);
        let options =
            FixedPointOptions { threads, slow_tolerance: slow_point_tolerance(state_spread(t), t.steps), ..FixedPointOptions::default() };
        let drive = map.drive_with_input(epoch_input(t, TaskEpoch::Stimulus));
        for point in find_fixed_points(&map, &drive, &sample_states_doubled(t, starts), &options) {
            let from_first_half = point.first_start < starts;
            match point.fixed {
                true => {
                    fixed_2x += 1;
                    if from_first_half {
                        fixed += 1;
                        stable += usize::from(point.is_stable());
                    }
                }
                false => {
                    slow_2x += 1;
                    slow += usize::from(from_first_half);
                }
            }
        }
    }
    let spread = |values: &[f64]| values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len().max(1) as f64;
    let per_task = |count: usize| count as f64 / k.max(1) as f64;
    let ((r_low, r_high), (j_low, j_high)) = (spread(&radii), spread(&jacobian));
    let dynamics = DynamicsRow {
        run: name,
        pathways: unit.set.to_string(),
        seed: unit.seed,
        participation_ratio: subspaces.participation.iter().sum::<f64>() / k.max(1) as f64,
        subspace_angle_deg: mean(&pairs),
        spectral_radius: mean(&radii),
        spectral_spread: if radii.is_empty() { 0.0 } else { r_high - r_low },
        jacobian_radius: mean(&jacobian),
        jacobian_spread: if jacobian.is_empty() { 0.0 } else { j_high - j_low },
        fixed_points: per_task(fixed),
        slow_points: per_task(slow),
        fixed_points_2x: per_task(fixed_2x),
        slow_points_2x: per_task(slow_2x),
        stable_fraction: if fixed == 0 { 0.0 } else { stable as f64 / fixed as f64 },
    };
    // written last: its presence marks the run finished
    write(&dir.join(DYNAMICS_FILE), &dynamics_csv(std::slice::from_ref(&dynamics)))?;
    Ok(Some(UnitResult { unit: unit.clone(), training, ambiguity, switching, dynamics: Some(dynamics) }))
}

fn write(path: &Path, text: &str) -> Result<(), ReproduceError> {
    write_atomic(path, text.as_bytes()).map_err(|source| ReproduceError::Write { path: path.display().to_string(), source })
}

/// The study's runs, each kept in its own directory under `out` (written by [`run_unit`]).
pub struct ReproduceSweep<'a> {
    pub plan: &'a Plan,
    pub out: &'a Path,
}

impl Sweep for ReproduceSweep<'_> {
    type Cell = Unit;
    type Row = UnitResult;
    type Error = ReproduceError;

    fn cells(&self) -> Vec<Unit> {
        self.plan.units()
    }

    fn resume(&self, units: Vec<Unit>) -> Result<(Vec<UnitResult>, Vec<Unit>), ReproduceError> {
        let (mut done, mut todo) = (Vec::new(), Vec::new());
        for unit in units {
            match load_finished(self.out, &unit)? {
                Some(result) => done.push(result),
                None => todo.push(unit),
            }
        }
        Ok((done, todo))
    }

    fn work(&self, unit: &Unit) -> u64 {
        unit_work(self.plan, unit)
    }

    fn run(&self, unit: &Unit, context: &CellContext) -> Result<Option<UnitResult>, ReproduceError> {
        run_unit(self.plan, unit, self.out, context.threads, context.cancel, &|work| context.progress(work))
    }

    fn describe(&self, result: &UnitResult) -> String {
        format!("{} done", result.unit.name())
    }
}
