//! The rate network's cell: clamped or RLS-trained subset, probed and measured.

use super::SubsetError;
use super::measure::*;
use super::plan::*;
use crate::analysis::spread::{Spread, spread, task_variance};
use crate::model::balanced::{BalancedNetwork, TrialMode};
use crate::rng::Rng;

/// The rate network's cell in progress: the network, its targets and cue, its random stream.
pub struct RateRun {
    pub plan: SubsetPlan,
    pub g: f64,
    pub fraction: f64,
    pub seed: u64,
    pub(super) net: BalancedNetwork,
    /// [condition][step][trained unit]
    pub(super) targets: Vec<Vec<Vec<f64>>>,
    /// ±1 per trained unit: the cue's sign pattern in condition 0 (reversed in condition 1).
    pub(super) pattern: Vec<f64>,
    pub(super) steps: usize,
    pub(super) rng: Rng,
    /// The live probes' own stream, so probing leaves the training and the measure as they are.
    pub(super) probe_rng: Rng,
}

impl RateRun {
    pub fn new(plan: &SubsetPlan, g: f64, fraction: f64, seed: u64) -> Result<Self, SubsetError> {
        let settings = plan.settings(g, fraction, seed);
        let net = BalancedNetwork::new(settings.clone())?;
        let trained = net.trained().len();
        let steps = (plan.trial_ms / settings.dt_ms).round() as usize;
        let mut rng = Rng::seed_from(seed ^ 0x5B5E_7000);
        let targets = targets(trained, steps, settings.dt_ms, &mut rng);
        // the condition cue: ±1 per trained unit, opposite in the two conditions, for the first CUE_MS
        let pattern = (0..trained).map(|_| if rng.coin() { 1.0 } else { -1.0 }).collect();
        let probe_rng = Rng::seed_from(seed ^ PROBE_STREAM);
        Ok(Self { plan: plan.clone(), g, fraction, seed, net, targets, pattern, steps, rng, probe_rng })
    }

    pub(super) fn cue_for(&self, condition: usize) -> impl Fn(usize) -> Vec<f64> + use<> {
        let settings = &self.net.settings;
        let cue_steps = (CUE_MS / settings.dt_ms).round() as usize;
        let sign = if condition == 0 { 1.0 } else { -1.0 };
        let mut input = vec![0.0; settings.n()];
        self.net.trained().iter().zip(&self.pattern).for_each(|(i, p)| input[*i] = 2.0 * sign * p);
        move |t: usize| if t < cue_steps { input.clone() } else { Vec::new() }
    }

    /// A probe trial (test conditions, the probes' own random stream): its measured rates.
    pub(super) fn probe_trial(&mut self, condition: usize) -> Vec<Vec<f64>> {
        let mode = if self.plan.training == Training::Clamp { TrialMode::Clamp } else { TrialMode::Score };
        let cue = self.cue_for(condition);
        let record = self.net.trial(self.steps, &cue, Some(&self.targets[condition]), mode, &mut self.probe_rng);
        self.measured_steps(record.rates)
    }

    /// The steps of a trial that are measured: from `SETTLE_MS` on, one every `RECORD_MS`.
    pub(super) fn measured_steps(&self, rates: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
        let dt = self.net.settings.dt_ms;
        let every = ((RECORD_MS / dt).round() as usize).max(1);
        rates.into_iter().skip((SETTLE_MS / dt).round() as usize).step_by(every).collect()
    }
}

impl Runner for RateRun {
    /// RLS training trials this cell runs before it is measured (none when clamped).
    fn loops(&self) -> usize {
        if self.plan.training == Training::Rls { self.plan.loops } else { 0 }
    }

    /// RLS training trial number `trial` (the conditions alternate): its trained units' error.
    fn train_loop(&mut self, trial: usize) -> f64 {
        let condition = trial % 2;
        let cue = self.cue_for(condition);
        self.net.trial(self.steps, &cue, Some(&self.targets[condition]), TrialMode::Learn, &mut self.rng).error
    }

    fn probe(&mut self, trials: usize) -> Spread {
        let rates = both_conditions(trials, |c| self.probe_trial(c));
        spread(&rates, &task_variance(&rates), &self.net.trained(), self.net.settings.n_e)
    }

    /// The test trials and every measure.
    fn measure(&mut self) -> Measured {
        let settings = self.net.settings.clone();
        let (plan, n) = (&self.plan, settings.n());
        let test_mode = if plan.training == Training::Clamp { TrialMode::Clamp } else { TrialMode::Score };
        let settle = (SETTLE_MS / settings.dt_ms).round() as usize;
        let every = ((RECORD_MS / settings.dt_ms).round() as usize).max(1);
        let (mut rates, mut sums) = (Vec::new(), TrialSums::default());
        for condition in 0..self.targets.len() {
            let cue = self.cue_for(condition);
            let mut trials = Vec::with_capacity(plan.test_trials);
            for _ in 0..plan.test_trials {
                let mut record = self.net.trial(self.steps, &cue, Some(&self.targets[condition]), test_mode, &mut self.rng);
                let measured = self.measured_steps(std::mem::take(&mut record.rates));
                let mean_over = |range: std::ops::Range<usize>| {
                    let count = (measured.len() * range.len()).max(1) as f64;
                    measured.iter().map(|r| r[range.clone()].iter().sum::<f64>()).sum::<f64>() / count
                };
                let population_rates = (mean_over(0..settings.n_e), mean_over(settings.n_e..n));
                sums.add(record.excitatory_input, record.inhibitory_input, population_rates);
                trials.push(measured);
            }
            rates.push(trials);
        }
        let trained = self.net.trained();
        let cell = (SubsetModel::Rate, self.g, self.fraction, self.seed);
        // the targets at the measured steps (clamped units sit on them: no error)
        let target = |c: usize, step: usize, t: usize| self.targets[c][settle + step * every][t];
        let (error, target_variance) = target_fit(&rates, &trained, target);
        let error = if plan.training == Training::Clamp { 0.0 } else { error };
        let targets = targets_at_steps(&rates, trained.len(), target);
        let (row, means, variance) = summarise(plan, cell, settings.k, &rates, (&trained, settings.n_e), &sums, (error, target_variance));
        let record_ms = every as f64 * settings.dt_ms;
        let first_ms = settle as f64 * settings.dt_ms;
        let n_e = settings.n_e;
        Measured { row, means, variance, record_ms, first_ms, trained, targets, n_e, raster_neurons: Vec::new(), raster: Vec::new() }
    }
}
