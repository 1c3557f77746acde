//! The BPTT version of `sweep subset` (Kim et al. 2023; docs/MODEL.md §7): the engine's own
//! network, initialised in the balanced state, learns the engine's tasks by BPTT with only a
//! subset of its excitatory units plastic (`model.trained_fraction`), and is then recorded on
//! repeated test trials for the spread measure.

use burn::tensor::Device;

use crate::config::Config;
use crate::model::params::{B_REC, W_REC};
use crate::model::{ParamSet, Rnn};
use crate::rng::Rng;
use crate::tasks::{self, TrialBatch};
use crate::train::{self, Trainer, batch_input, one_hot_rows, rec_noise, rnn_spec};

/// The network and its training, as one cell of the sweep builds it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BpttSettings {
    /// Units, half excitatory and half inhibitory.
    pub neurons: usize,
    /// Inputs per unit from each population.
    pub k: usize,
    pub g: f64,
    pub fraction: f64,
    pub seed: u64,
    /// Optimiser steps.
    pub steps: usize,
    /// Threads of the training step (0 = every core).
    pub threads: usize,
}

/// Optimiser steps a BPTT cell trains by default (`sweep subset`, the app's Subset tab): about
/// 40 s for 200 units on 2 cores.
pub const DEFAULT_STEPS: usize = 2000;

/// Conditions (distinct trials) recorded per task: each is repeated for the split-half measure.
pub const CONDITIONS_PER_TASK: usize = 8;
/// Steps run before each recorded trial with the trial's first input held (2 s = 20 τ at the
/// default τ = 100 ms, dt = 20 ms): the network starts a trial at rest, and the transient from
/// there to its fixation state is the same in every condition, so it would count as
/// time-dependent "task" variance in every unit, trained or not. A strongly coupled network
/// settles slowly: 25 steps left a bias of +0.1 to +0.16 at g = 2 (see the test below).
const LEAD_STEPS: usize = 100;

/// The quick preset (its four tasks, learning rate and batch) on a balanced E/I network of which
/// a fraction of the excitatory units learn.
pub fn config(s: &BpttSettings) -> Result<Config, String> {
    if !(s.g > 0.0) {
        return Err(format!("the BPTT subset needs a coupling g > 0, got {}", s.g));
    }
    let overrides = [
        format!("model.n_units={}", s.neurons),
        "model.dale=true".into(),
        "model.excitatory_fraction=0.5".into(),
        "model.recurrent_init=\"balanced\"".into(),
        format!("model.balanced_inputs={}", s.k),
        format!("model.recurrent_scale={}", s.g),
        format!("model.trained_fraction={}", s.fraction),
        format!("train.seed={}", s.seed),
        format!("train.steps={}", s.steps),
        format!("runtime.threads={}", s.threads),
    ];
    Config::from_preset("quick", &overrides).map_err(|e| e.to_string())
}

/// A cell in progress.
pub struct BpttSubset {
    pub trainer: Trainer,
    /// Why training stopped early (a diverging run), if it did.
    pub failure: Option<String>,
}

/// What the recorded test trials showed.
pub struct BpttRecord {
    /// Rates [condition][repeat][step][unit], from the trial's first step (after the lead-in).
    pub rates: Vec<Vec<Vec<Vec<f64>>>>,
    pub rate_e: f64,
    pub rate_i: f64,
    /// |mean excitatory + mean inhibitory recurrent input| / mean excitatory input, the drive
    /// b_rec counted as excitatory (task inputs and context left out).
    pub balance: f64,
    /// The task loss (masked mean squared output error) on the test trials, run from rest.
    pub loss: f64,
    /// What the loss would be for outputs that sat on each output's mean target: the masked
    /// targets' variance, which the loss is compared with (their ratio is 1 − R²).
    pub target_variance: f64,
}

impl BpttSubset {
    pub fn new(settings: &BpttSettings) -> Result<Self, String> {
        Ok(Self { trainer: Trainer::new(config(settings)?), failure: None })
    }

    /// The trained units (the first round(f·N_E)) and N_E.
    pub fn trained(&self) -> (Vec<usize>, usize) {
        let model = &self.trainer.config.model;
        ((0..model.trained_units().unwrap_or(model.n_excitatory())).collect(), model.n_excitatory())
    }

    /// One optimiser step: its loss (NaN once the run has diverged; the reason is kept).
    pub fn step(&mut self) -> f64 {
        if self.failure.is_some() {
            return f64::NAN;
        }
        match self.trainer.step() {
            Ok(report) => report.loss as f64,
            Err(e) => {
                self.failure = Some(e.to_string());
                f64::NAN
            }
        }
    }

    /// `repeats` noisy runs of [`CONDITIONS_PER_TASK`] trials of every task, drawn from `rng`
    /// (the same trials for the same stream: the conditions are the trials' stimuli), recorded
    /// after the lead-in; then the same trials once each from rest, as the network trained, for
    /// the task loss (the lead-in's start costs a trained network: at g = 1, f = 0.5 after 2 000
    /// steps the loss was 0.23 from rest, 0.32 after a 2 s lead-in).
    pub fn record(&self, repeats: usize, rng: &mut Rng) -> Result<BpttRecord, String> {
        self.record_after(LEAD_STEPS, repeats, rng)
    }

    #[allow(clippy::expect_used, reason = "cannot fail: the model runs in f32")]
    fn record_after(&self, lead: usize, repeats: usize, rng: &mut Rng) -> Result<BpttRecord, String> {
        let config = &self.trainer.config;
        let params = &self.trainer.params;
        let device: Device = train::device(config.runtime.backend, false);
        let spec = rnn_spec(config);
        let n = spec.dims.n_units;
        let n_e = config.model.n_excitatory();
        let model = Rnn::from_params(params, spec.clone(), &device);
        let k = config.train.tasks.len();
        let run = |batch: &TrialBatch, index: usize, rng: &mut Rng| {
            let noise = rec_noise(batch, config, params, rng);
            let context = one_hot_rows(index, k, batch.batch);
            model.forward(batch_input(batch, context, true, noise, &device), &[])
        };
        let mut rates = Vec::new();
        let mut drawn = Vec::new();
        for (index, task) in config.train.tasks.iter().enumerate() {
            let trials = tasks::generate(*task, &config.tasks, CONDITIONS_PER_TASK, spec.alpha, rng).map_err(|e| e.to_string())?;
            let batch = lead_in(&repeat(&trials, repeats), lead);
            let r = run(&batch, index, rng).rates.into_data().try_into_vec::<f32>().expect("f32 rates");
            let mut by_condition: Vec<Vec<Vec<Vec<f64>>>> = (0..CONDITIONS_PER_TASK).map(|_| Vec::with_capacity(repeats)).collect();
            for b in 0..batch.batch {
                let trial = (lead..batch.steps).map(|t| r[(b * batch.steps + t) * n..][..n].iter().map(|v| *v as f64).collect()).collect();
                by_condition[b % CONDITIONS_PER_TASK].push(trial);
            }
            rates.extend(by_condition);
            drawn.push(trials);
        }
        let (mut loss_sum, mut loss_count) = (0.0, 0usize);
        for (index, trials) in drawn.iter().enumerate() {
            let y = run(trials, index, rng).outputs.into_data().try_into_vec::<f32>().expect("f32 outputs");
            for ((y, target), mask) in y.iter().zip(&trials.targets).zip(&trials.mask) {
                loss_sum += ((mask * (y - target)) as f64).powi(2);
            }
            loss_count += y.len();
        }
        let target_variance = masked_target_variance(&drawn);
        let means = crate::analysis::spread::trial_means(&rates);
        let (rate_e, rate_i) = population_rates(&means, n_e);
        let balance = balance_index(config, params, &means);
        Ok(BpttRecord { rates, rate_e, rate_i, balance, loss: loss_sum / loss_count.max(1) as f64, target_variance })
    }
}

/// The loss, over every element of `batches` (as the task loss counts them), of outputs that
/// sat on each output's mask-weighted mean target: Σ (m·(y − ȳ_o))² / elements.
fn masked_target_variance(batches: &[TrialBatch]) -> f64 {
    let n_out = batches.first().map_or(0, |b| b.n_out);
    let (mut weighted, mut weights) = (vec![0.0; n_out], vec![0.0; n_out]);
    for batch in batches {
        for (i, (y, m)) in batch.targets.iter().zip(&batch.mask).enumerate() {
            weighted[i % n_out] += (m * m * y) as f64;
            weights[i % n_out] += (m * m) as f64;
        }
    }
    let mean: Vec<f64> = weighted.iter().zip(&weights).map(|(s, w)| if *w > 0.0 { s / w } else { 0.0 }).collect();
    let (mut sum, mut count) = (0.0, 0usize);
    for batch in batches {
        for (i, (y, m)) in batch.targets.iter().zip(&batch.mask).enumerate() {
            sum += (*m as f64 * (*y as f64 - mean[i % n_out])).powi(2);
        }
        count += batch.targets.len();
    }
    sum / count.max(1) as f64
}

/// Every trial of `batch` `repeats` times: trial b of the result is trial b mod batch.
fn repeat(batch: &TrialBatch, repeats: usize) -> TrialBatch {
    let cycle = |v: &[f32]| v.iter().copied().cycle().take(v.len() * repeats).collect::<Vec<f32>>();
    TrialBatch {
        batch: batch.batch * repeats,
        inputs: cycle(&batch.inputs),
        targets: cycle(&batch.targets),
        mask: cycle(&batch.mask),
        target_angle: batch.target_angle.iter().copied().cycle().take(batch.batch * repeats).collect(),
        ..batch.clone()
    }
}

/// `batch` with `lead` steps before each trial holding the trial's first input (no target, no cost).
fn lead_in(batch: &TrialBatch, lead: usize) -> TrialBatch {
    let steps = batch.steps + lead;
    let mut inputs = Vec::with_capacity(batch.batch * steps * batch.n_in);
    let mut targets = Vec::with_capacity(batch.batch * steps * batch.n_out);
    for b in 0..batch.batch {
        (0..lead).for_each(|_| inputs.extend_from_slice(batch.input(b, 0)));
        (0..batch.steps).for_each(|t| inputs.extend_from_slice(batch.input(b, t)));
        targets.extend(std::iter::repeat_n(0.0, lead * batch.n_out));
        (0..batch.steps).for_each(|t| targets.extend_from_slice(batch.target(b, t)));
    }
    let mask = targets.iter().enumerate().map(|(i, _)| if (i / batch.n_out) % steps < lead { 0.0 } else { 1.0 }).collect();
    TrialBatch { steps, inputs, targets, mask, go_step: batch.go_step + lead, epochs: Vec::new(), ..batch.clone() }
}

/// Mean rate of the excitatory and of the inhibitory units over conditions and steps.
fn population_rates(means: &[Vec<Vec<f64>>], n_e: usize) -> (f64, f64) {
    let (mut e, mut i, mut count) = (0.0, 0.0, 0usize);
    for step in means.iter().flatten() {
        e += step[..n_e].iter().sum::<f64>() / n_e as f64;
        i += step[n_e..].iter().sum::<f64>() / (step.len() - n_e) as f64;
        count += 1;
    }
    (e / count.max(1) as f64, i / count.max(1) as f64)
}

/// The balance index of the trial-averaged activity: mean excitatory input (drive b_rec and
/// recurrent input from E units) and mean inhibitory input (from I units) over units, conditions
/// and steps, |E + I| / E. Recurrent weights as the network uses them: f(W̃) with each
/// presynaptic unit's sign.
#[allow(clippy::expect_used, reason = "cannot fail: every network has w_rec and b_rec")]
fn balance_index(config: &Config, params: &ParamSet, means: &[Vec<Vec<f64>>]) -> f64 {
    let model = &config.model;
    let (n, n_e) = (model.n_units, model.n_excitatory());
    let w_tilde = &params.get(W_REC).expect("w_rec").data;
    let w: Vec<f64> = w_tilde.iter().map(|v| model.dale_magnitude_of(*v as f64)).collect();
    let drive: f64 = params.get(B_REC).expect("b_rec").data.iter().map(|b| b.max(0.0) as f64).sum::<f64>() / n as f64;
    let (mut exc, mut inh, mut count) = (0.0, 0.0, 0usize);
    for step in means.iter().flatten() {
        for i in 0..n {
            let row = &w[i * n..(i + 1) * n];
            exc += row[..n_e].iter().zip(&step[..n_e]).map(|(a, b)| a * b).sum::<f64>();
            inh -= row[n_e..].iter().zip(&step[n_e..]).map(|(a, b)| a * b).sum::<f64>();
        }
        count += n;
    }
    let (exc, inh) = (drive + exc / count.max(1) as f64, inh / count.max(1) as f64);
    (exc + inh).abs() / exc.max(1e-12)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::spread::{selective_variance, task_variance};

    fn settings(g: f64, fraction: f64) -> BpttSettings {
        BpttSettings { neurons: 40, k: 4, g, fraction, seed: 3, steps: 0, threads: 1 }
    }

    #[test]
    fn lead_in_holds_the_first_input_without_cost_and_repeats_cycle() {
        let config = config(&settings(1.0, 0.5)).unwrap();
        let drawn = tasks::generate(config.train.tasks[0], &config.tasks, 3, 0.2, &mut Rng::seed_from(1)).unwrap();
        let repeated = repeat(&drawn, 2);
        assert_eq!(repeated.batch, 6);
        assert_eq!(repeated.input(4, 7), drawn.input(1, 7));
        let led = lead_in(&repeated, 5);
        assert_eq!(led.steps, drawn.steps + 5);
        for b in [0, 5] {
            (0..5).for_each(|t| assert_eq!(led.input(b, t), repeated.input(b, 0)));
            (0..5).for_each(|t| assert!(led.mask_at(b, t).iter().all(|m| *m == 0.0)));
            assert_eq!(led.input(b, 5 + 9), repeated.input(b, 9));
            assert_eq!(led.target(b, 5 + 9), repeated.target(b, 9));
            assert!(led.mask_at(b, 5 + 9).iter().all(|m| *m == 1.0));
        }
    }

    /// Without trained units no task input or context reaches the network, so every condition
    /// is the same random process: the units' selective variance (which tells conditions apart)
    /// is 0 up to the estimate's noise, of either sign. At weak coupling the units sit at their
    /// resting rates; at g = 2 (the drive scaled with g) the network fluctuates strongly and
    /// the estimate is noisy even over 24 repeats: measured +0.10, +0.23 and −0.03 over three
    /// seeds (the trained subsets' units carry about 1 there). The task variance also counts
    /// what is left of the shared transient from rest after the 2 s lead-in.
    #[test]
    fn without_a_trained_subset_no_unit_tells_the_conditions_apart() {
        let mut strong = Vec::new();
        for (g, seed) in [(0.3, 0), (1.0, 0), (2.0, 0), (2.0, 1), (2.0, 2)] {
            let settings = BpttSettings { neurons: 200, k: 20, g, fraction: 0.0, seed, steps: 0, threads: 1 };
            let record = BpttSubset::new(&settings).unwrap().record(24, &mut Rng::seed_from(2)).unwrap();
            assert_eq!(record.rates.len(), 4 * CONDITIONS_PER_TASK);
            let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
            let (task, selective) = (mean(task_variance(&record.rates)), mean(selective_variance(&record.rates)));
            match g {
                0.3 => assert!(task.abs() < 1e-4 && selective.abs() < 1e-4, "g = 0.3: task {task}, selective {selective}"),
                1.0 => assert!(selective.abs() < 0.05, "g = 1: selective {selective}"),
                _ => strong.push(selective),
            }
            assert!(record.rate_e > 0.0 && record.rate_i > 0.0 && record.balance.is_finite());
        }
        assert!(strong.iter().all(|v| v.abs() < 0.3) && mean_of(&strong).abs() < 0.15, "g = 2: {strong:?}");
    }

    fn mean_of(values: &[f64]) -> f64 {
        values.iter().sum::<f64>() / values.len() as f64
    }
}
