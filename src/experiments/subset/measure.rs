//! What every network's cell measures the same way: ramping targets, the fit to them, the
//! trial sums and the row of a measured cell.

use super::plan::*;
use super::table::*;
use crate::analysis::spread::{Spread, halves, spread, task_variance, trial_means};
use crate::rng::Rng;

/// The trained units' target rates [condition][step][trained unit]: a shared ramp and a
/// condition-dependent one (opposite in the two conditions), from the cue's end to the trial's end.
pub(super) fn targets(count: usize, steps: usize, dt_ms: f64, rng: &mut Rng) -> Vec<Vec<Vec<f64>>> {
    let shared: Vec<f64> = (0..count).map(|_| 0.5 * rng.normal()).collect();
    let specific: Vec<f64> = (0..count).map(|_| 0.8 * rng.normal()).collect();
    (0..2)
        .map(|c| {
            let sign = if c == 0 { 1.0 } else { -1.0 };
            (0..steps)
                .map(|t| {
                    let ms = t as f64 * dt_ms;
                    let ramp = ((ms - CUE_MS) / (steps as f64 * dt_ms - CUE_MS)).clamp(0.0, 1.0);
                    (0..count).map(|k| (1.0 + (shared[k] + sign * specific[k]) * ramp).max(0.0)).collect()
                })
                .collect()
        })
        .collect()
}

/// What a cell measured, with the trial-averaged rates it came from.
#[derive(Clone, Debug)]
pub struct Measured {
    pub row: SubsetRow,
    /// Trial-averaged rates [condition][recorded step][unit], from `SETTLE_MS` on.
    pub means: Vec<Vec<Vec<f64>>>,
    /// Each unit's task variance.
    pub variance: Vec<f64>,
    /// Milliseconds between two recorded steps, and the time of the first.
    pub record_ms: f64,
    pub first_ms: f64,
    pub trained: Vec<usize>,
    /// The trained units' targets [condition][recorded step][trained unit] (rate and spiking
    /// networks; empty for BPTT, whose units have none).
    pub targets: Vec<Vec<Vec<f64>>>,
    pub n_e: usize,
    /// The spiking network's raster: the neurons shown (trained, untrained E, I), and per
    /// condition the (ms after the cue's onset, row) of their spikes in the first test trial.
    pub raster_neurons: Vec<usize>,
    pub raster: Vec<Vec<(f64, u32)>>,
}

/// The trained units' error against their targets and the targets' variance: (mean over
/// conditions, measured steps and trained units of (even-trial mean − target)(odd-trial mean −
/// target), the squared error of the trial-averaged rate without the trial noise's positive
/// bias; the mean over trained units of their target's variance over conditions and steps).
/// `target(condition, step, trained unit)`.
pub(super) fn target_fit(rates: &[Vec<Vec<Vec<f64>>>], trained: &[usize], target: impl Fn(usize, usize, usize) -> f64) -> (f64, f64) {
    let [even, odd] = halves(rates);
    let (mut sum, mut count) = (0.0, 0usize);
    for (c, (even, odd)) in even.iter().zip(&odd).enumerate() {
        for (step, (even, odd)) in even.iter().zip(odd).enumerate() {
            for (t, unit) in trained.iter().enumerate() {
                let y = target(c, step, t);
                sum += (even[*unit] - y) * (odd[*unit] - y);
                count += 1;
            }
        }
    }
    let variance = (0..trained.len())
        .map(|t| {
            let values: Vec<f64> = even
                .iter()
                .enumerate()
                .flat_map(|(c, steps)| (0..steps.len()).map(move |step| (c, step)))
                .map(|(c, step)| target(c, step, t))
                .collect();
            let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len().max(1) as f64
        })
        .sum::<f64>()
        / trained.len().max(1) as f64;
    (sum / count.max(1) as f64, variance)
}

/// `target(condition, step, trained unit)` at every recorded step of `rates`
/// [condition][trial][step][unit], as [condition][step][trained unit].
pub(super) fn targets_at_steps(
    rates: &[Vec<Vec<Vec<f64>>>],
    trained: usize,
    target: impl Fn(usize, usize, usize) -> f64,
) -> Vec<Vec<Vec<f64>>> {
    rates
        .iter()
        .enumerate()
        .map(|(c, trials)| (0..trials.first().map_or(0, Vec::len)).map(|step| (0..trained).map(|t| target(c, step, t)).collect()).collect())
        .collect()
}

/// Sums over a cell's test trials, made into means by [`summarise`].
#[derive(Default)]
pub(super) struct TrialSums {
    pub(super) trials: usize,
    pub(super) balance: f64,
    pub(super) rate_e: f64,
    pub(super) rate_i: f64,
}

impl TrialSums {
    /// One trial: its mean excitatory and inhibitory input, its (E, I) rates.
    pub(super) fn add(&mut self, excitatory_input: f64, inhibitory_input: f64, (rate_e, rate_i): (f64, f64)) {
        self.trials += 1;
        self.balance += (excitatory_input + inhibitory_input).abs() / excitatory_input.max(1e-12);
        self.rate_e += rate_e;
        self.rate_i += rate_i;
    }
}

/// A cell's row from its test trials' rates [condition][trial][step][unit], their sums and the
/// trained units' (error, target variance), with the trial-averaged rates and each unit's task
/// variance; `cell` is (model, g, f, seed).
pub(super) fn summarise(
    plan: &SubsetPlan,
    (model, g, fraction, seed): (SubsetModel, f64, f64, u64),
    k: usize,
    rates: &[Vec<Vec<Vec<f64>>>],
    (trained, n_e): (&[usize], usize),
    sums: &TrialSums,
    (target_error, target_variance): (f64, f64),
) -> (SubsetRow, Vec<Vec<Vec<f64>>>, Vec<f64>) {
    let count = sums.trials.max(1) as f64;
    let variance = task_variance(rates);
    let means = trial_means(rates);
    let s = spread(rates, &variance, trained, n_e);
    let row = SubsetRow {
        model,
        training: plan.training,
        drive: plan.drive,
        g,
        fraction,
        seed,
        neurons: plan.neurons,
        k,
        loops: plan.training_loops(),
        feedforward: plan.feedforward_inputs(),
        spread_ratio: s.ratio,
        spread_e: s.ratio_e,
        spread_i: s.ratio_i,
        selective_untrained: s.selective_untrained,
        selective_e: s.selective_e,
        selective_i: s.selective_i,
        selective_trained: s.selective_trained,
        task_ratio: s.task_ratio,
        trained_variance: s.trained_variance,
        mode_share_e: s.mode_share_e,
        mode_share_i: s.mode_share_i,
        rate_e: sums.rate_e / count,
        rate_i: sums.rate_i / count,
        balance: sums.balance / count,
        target_error,
        target_variance,
    };
    (row, means, variance)
}

/// The live probes' random stream (xored with the seed).
pub(super) const PROBE_STREAM: u64 = 0x0B5E_47E5;

/// `trials` trials of each of the two conditions, run in turn (A, B, A, B, …), as
/// rates[condition][trial][step][unit].
pub(super) fn both_conditions(trials: usize, mut trial: impl FnMut(usize) -> Vec<Vec<f64>>) -> Vec<Vec<Vec<Vec<f64>>>> {
    let mut rates = vec![Vec::new(), Vec::new()];
    for _ in 0..trials {
        for (condition, list) in rates.iter_mut().enumerate() {
            list.push(trial(condition));
        }
    }
    rates
}

/// A subset cell's network in progress. A caller that shows progress (the app) trains it loop
/// by loop and may probe it; [`run_cell`](super::run_cell) does it all.
pub trait Runner: Send {
    /// Training loops before the measure (none when clamped).
    fn loops(&self) -> usize;

    /// Training loop number `trial` (the conditions alternate): the trained units' error (rate
    /// network: rate MSE; spiking: input MSE at the updates; BPTT: one optimiser step's loss).
    fn train_loop(&mut self, trial: usize) -> f64;

    /// Loops between two live probes: RLS trials are slow and few, BPTT steps fast and many.
    fn probe_every(&self) -> usize {
        10
    }

    /// Why training stopped early (a BPTT run that diverged), if it did.
    fn failure(&self) -> Option<&str> {
        None
    }

    /// The spread as it stands: `trials` test trials per condition without learning, on a random
    /// stream of their own (so a probed cell trains and measures exactly as an unprobed one).
    fn probe(&mut self, trials: usize) -> Spread;

    /// The test trials and every measure.
    fn measure(&mut self) -> Measured;
}
