//! Probe trials: a fixed set of trials per task run through the current network, for the
//! Trajectories and PCA panels (docs/MODEL.md §4C).
//!
//! The trials are drawn once per run from their own random stream, so successive evaluations
//! show the SAME trials: a student watches one trial's outputs improve as the network learns,
//! and the PCA trajectories move because the network changed, not the stimuli. They are run
//! without recurrent noise (trajectories are the network's mean behaviour; input noise is part
//! of the stimulus and kept).

use burn::tensor::Device;

use super::{TrainError, batch_input, device, rnn_spec};
use crate::analysis::{Ambiguity, Covariance, Pca, PcaError};
use crate::config::Config;
use crate::model::{ParamSet, Pathway, Rnn};
use crate::rng::Rng;
use crate::tasks::{self, Epoch, Task, TrialBatch};

/// Probe trials per task (20 tasks × 16 trials × ≤ 209 steps keeps the PCA well under a second).
pub const PROBE_TRIALS: usize = 16;
/// Principal axes kept for display.
pub const PCA_COMPONENTS: usize = 10;
/// Separates the probe's random stream from training and evaluation.
const PROBE_STREAM: u64 = 0x7072_6f62;

/// The probe trials of a run: one batch per trained task, in the order of `train.tasks`.
#[derive(Clone, Debug)]
pub struct ProbeTrials {
    pub batches: Vec<TrialBatch>,
}

impl ProbeTrials {
    /// Draw the probe trials for `config` (the same ones for the same seed).
    pub fn draw(config: &Config) -> Result<Self, TrainError> {
        Self::draw_from(config, PROBE_TRIALS, PROBE_STREAM)
    }

    /// `trials` trials of every trained task from the evaluation stream labelled `stream`.
    pub fn draw_from(config: &Config, trials: usize, stream: u64) -> Result<Self, TrainError> {
        let alpha = rnn_spec(config).alpha;
        let mut rng = Rng::seed_from(config.train.seed ^ 0x5EED_E7A1).fork(stream);
        let batches = config
            .train
            .tasks
            .iter()
            .map(|task| tasks::generate(*task, &config.tasks, trials, alpha, &mut rng))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { batches })
    }
}

/// One task's probe trials and what the network did on them. Arrays are row-major
/// `[trials, steps, units]`.
#[derive(Clone, Debug)]
pub struct TaskTrajectories {
    pub task: Task,
    pub trials: usize,
    pub steps: usize,
    pub n_in: usize,
    pub n_out: usize,
    pub n_units: usize,
    pub dt_ms: f32,
    pub epochs: Vec<Epoch>,
    pub inputs: Vec<f32>,
    pub targets: Vec<f32>,
    pub outputs: Vec<f32>,
    /// Hidden rates r [trials, steps, N].
    pub rates: Vec<f32>,
    /// Per trial: 1 if correct at the last step (docs/MODEL.md §3 metric), else 0.
    pub correct: Vec<f32>,
}

impl TaskTrajectories {
    pub fn input(&self, trial: usize, step: usize) -> &[f32] {
        let at = (trial * self.steps + step) * self.n_in;
        &self.inputs[at..at + self.n_in]
    }

    pub fn target(&self, trial: usize, step: usize) -> &[f32] {
        let at = (trial * self.steps + step) * self.n_out;
        &self.targets[at..at + self.n_out]
    }

    pub fn output(&self, trial: usize, step: usize) -> &[f32] {
        let at = (trial * self.steps + step) * self.n_out;
        &self.outputs[at..at + self.n_out]
    }

    /// r of every unit at one step.
    pub fn rate(&self, trial: usize, step: usize) -> &[f32] {
        let at = (trial * self.steps + step) * self.n_units;
        &self.rates[at..at + self.n_units]
    }

    /// The trial-averaged rates [steps, N] (all probe trials of a task share their timing).
    pub fn mean_rates(&self) -> Vec<f32> {
        let per_trial = self.steps * self.n_units;
        let mut mean = vec![0.0f32; per_trial];
        for trial in self.rates.chunks_exact(per_trial) {
            mean.iter_mut().zip(trial).for_each(|(m, r)| *m += r);
        }
        mean.iter_mut().for_each(|m| *m /= self.trials.max(1) as f32);
        mean
    }
}

/// The probe trials of every task run through the network at one step.
#[derive(Clone, Debug)]
pub struct Trajectories {
    pub step: u64,
    pub ambiguity: Ambiguity,
    pub lesioned: Vec<Pathway>,
    pub tasks: Vec<TaskTrajectories>,
    /// The units' cell types and time constants, for views that group or sort them.
    pub units: UnitKinds,
}

/// What kind each hidden unit is: under Dale's law the first `n_excitatory` units are excitatory
/// and the rest inhibitory; with per-unit time constants each has its τ_i (ms).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UnitKinds {
    pub n_excitatory: Option<usize>,
    pub taus: Option<Vec<f32>>,
}

impl UnitKinds {
    pub fn of(config: &Config, params: &ParamSet) -> Self {
        let model = &config.model;
        Self { n_excitatory: model.dale.then(|| model.n_excitatory()), taus: model.per_unit_tau().then(|| params.unit_taus(model)) }
    }

    /// Is unit `u` excitatory (`Some(true)`), inhibitory (`Some(false)`), or untyped (`None`)?
    pub fn excitatory(&self, u: usize) -> Option<bool> {
        self.n_excitatory.map(|n_e| u < n_e)
    }

    /// "E unit 3 (τ 87 ms)": the unit's index with its type and τ where the network has them.
    pub fn name(&self, u: usize) -> String {
        let kind = match self.excitatory(u) {
            Some(true) => "E ",
            Some(false) => "I ",
            None => "",
        };
        let tau = self.taus.as_ref().and_then(|t| t.get(u)).map_or(String::new(), |t| format!(" (τ {t:.0} ms)"));
        format!("{kind}unit {u}{tau}")
    }

    /// The units in display order: excitatory then inhibitory under Dale's law (index order),
    /// each group by increasing τ when `by_tau` (and the units have their own τ).
    pub fn order(&self, n: usize, by_tau: bool) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        if let (true, Some(taus)) = (by_tau, &self.taus) {
            // stable: the type first (E before I), then τ
            order.sort_by(|a, b| {
                let group = |u: usize| self.excitatory(u).map_or(0, |e| usize::from(!e));
                group(*a).cmp(&group(*b)).then(taus[*a].total_cmp(&taus[*b]))
            });
        }
        order
    }
}

/// Run the probe trials through the network given by `params`, with the context made ambiguous
/// and pathways lesioned as asked.
#[allow(clippy::expect_used, reason = "cannot fail: the model runs in f32")]
pub fn run_probe(
    config: &Config,
    params: &ParamSet,
    step: u64,
    probe: &ProbeTrials,
    ambiguity: Ambiguity,
    lesioned: &[Pathway],
) -> Result<Trajectories, TrainError> {
    let device: Device = device(config.runtime.backend, false);
    let spec = rnn_spec(config);
    let n_units = spec.dims.n_units;
    let model = Rnn::from_params(params, spec, &device);
    let k = config.train.tasks.len();
    let mut out = Vec::with_capacity(probe.batches.len());
    for (index, trials) in probe.batches.iter().enumerate() {
        // the same contexts every time (the noise kind draws from this fixed stream)
        let mut rng = Rng::seed_from(config.train.seed ^ 0x5EED_E7A1).fork(PROBE_STREAM).fork(index as u64 + 1);
        let (context, shared) = ambiguity.contexts(index, k, trials.batch, &mut rng);
        let forward = model.forward(batch_input(trials, context, shared, None, &device), lesioned);
        let outputs = forward.outputs.into_data().try_into_vec::<f32>().expect("f32 outputs");
        let rates = forward.rates.into_data().try_into_vec::<f32>().expect("f32 rates");
        let correct = tasks::performance(&outputs, trials, &config.tasks);
        out.push(TaskTrajectories {
            task: trials.task,
            trials: trials.batch,
            steps: trials.steps,
            n_in: trials.n_in,
            n_out: trials.n_out,
            n_units,
            dt_ms: trials.dt_ms,
            epochs: trials.epochs.clone(),
            inputs: trials.inputs.clone(),
            targets: trials.targets.clone(),
            outputs,
            rates,
            correct,
        });
    }
    Ok(Trajectories { step, ambiguity, lesioned: lesioned.to_vec(), tasks: out, units: UnitKinds::of(config, params) })
}

/// Fit PCA on every hidden state of every probe trial of every task (pooled).
pub fn fit_pca(trajectories: &Trajectories) -> Result<Pca, PcaError> {
    let n = trajectories.tasks.first().map_or(0, |t| t.n_units);
    let mut cov = Covariance::new(n.max(1));
    for task in &trajectories.tasks {
        cov.add_rows(&task.rates);
    }
    cov.fit(PCA_COMPONENTS)
}

/// What the PCA panel draws: each task's mean trajectory on the shared axes.
#[derive(Clone, Debug)]
pub struct PcaView {
    /// The step of the network the axes were fitted on.
    pub fitted_step: u64,
    /// The step of the network whose states are projected.
    pub step: u64,
    /// Axes kept (≤ [`PCA_COMPONENTS`]).
    pub components: usize,
    /// Fraction of the fitted states' variance along each kept axis.
    pub explained: Vec<f64>,
    /// Participation ratio of the fitted states' spectrum.
    pub participation_ratio: f64,
    /// Fraction of the CURRENT states' variance along each kept axis (differs from `explained`
    /// after a lesion or an ambiguity change re-projects without re-fitting).
    pub captured: Vec<f64>,
    /// Per task: the trial-averaged trajectory on the axes, [steps, components] row-major.
    pub tasks: Vec<(Task, Vec<f32>)>,
    pub ambiguity: Ambiguity,
    pub lesioned: Vec<Pathway>,
}

/// Project the trajectories on the axes of `pca` (fitted at `fitted_step`).
pub fn pca_view(pca: &Pca, fitted_step: u64, trajectories: &Trajectories) -> PcaView {
    let k = pca.n_components();
    let mean = pca.mean();
    // the current states' total variance and their variance along each axis, about the fit's
    // mean (so a lesion that shifts the states shows up as variance the axes do not capture)
    let (mut total, mut along, mut count) = (0.0f64, vec![0.0f64; k], 0usize);
    for task in &trajectories.tasks {
        let projected = pca.project(&task.rates);
        for (row, coords) in task.rates.chunks_exact(task.n_units).zip(projected.chunks_exact(k)) {
            total += row.iter().zip(mean).map(|(x, m)| (*x as f64 - m).powi(2)).sum::<f64>();
            along.iter_mut().zip(coords).for_each(|(a, c)| *a += (*c as f64).powi(2));
            count += 1;
        }
    }
    let captured = if total > 0.0 && count > 0 { along.iter().map(|a| a / total).collect() } else { vec![0.0; k] };
    let tasks = trajectories.tasks.iter().map(|t| (t.task, pca.project(&t.mean_rates()))).collect();
    PcaView {
        fitted_step,
        step: trajectories.step,
        components: k,
        explained: pca.explained_variance_ratio().into_iter().take(k).collect(),
        participation_ratio: pca.participation_ratio(),
        captured,
        tasks,
        ambiguity: trajectories.ambiguity,
        lesioned: trajectories.lesioned.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::Trainer;
    use crate::train::eval::{EvalOptions, evaluate};
    use std::time::Instant;

    /// How long the app's analyses take for the largest preset (20 tasks, 256 units): run with
    /// `cargo test --release -- --ignored analysis_timing --nocapture`.
    #[test]
    #[ignore]
    fn analysis_timing_yang20() {
        let config = Config::from_preset("yang20", &[]).expect("preset");
        let trainer = Trainer::new(config.clone());
        let started = Instant::now();
        let probe = ProbeTrials::draw(&config).expect("probe");
        let draw = started.elapsed();
        let started = Instant::now();
        let trajectories = run_probe(&config, &trainer.params, 0, &probe, Ambiguity::none(), &[]).expect("probe");
        let forward = started.elapsed();
        let started = Instant::now();
        let pca = fit_pca(&trajectories).expect("pca");
        let fit = started.elapsed();
        let started = Instant::now();
        let _view = pca_view(&pca, 0, &trajectories);
        let project = started.elapsed();
        let started = Instant::now();
        let ambiguity = Ambiguity { kind: crate::analysis::AmbiguityKind::Mixture, level: 0.5 };
        let options = EvalOptions { trials: Some(32), ambiguity, ..EvalOptions::default() };
        evaluate(&trainer, &options).expect("eval");
        let eval = started.elapsed();
        let states: usize = trajectories.tasks.iter().map(|t| t.trials * t.steps).sum();
        eprintln!(
            "yang20: draw {draw:?}, probe forward {forward:?}, PCA fit of {states} states {fit:?}, projection {project:?}, \
             ambiguity evaluation (32 trials × 20 tasks) {eval:?}"
        );
    }
}
