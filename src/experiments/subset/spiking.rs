//! The spiking network's cell (Kim et al.'s code): clamped or RLS-trained subset, probed and
//! measured.

use super::SubsetError;
use super::measure::*;
use super::plan::*;
use crate::analysis::spread::{Spread, spread, task_variance};
use crate::model::lif::{FeedForward, Learn, LifNetwork, LifRecord, PerNeuron, TransferCurve, TrialOptions};
use crate::model::plastic::ou_rates;
use crate::rng::Rng;

/// Bins of the spiking network's spike counts (ms).
pub(super) const SPIKE_BIN_MS: f64 = 10.0;
/// The clamped spiking targets: rates in Hz around this, ramping like the rate network's targets.
/// A trained network's targets ramp around its own mean excitatory rate instead (as the code
/// matched each recorded neuron to a model neuron of similar rate): the plastic inputs' row-sum
/// penalty keeps the summed plastic drive nearly fixed, so a weakly coupled network firing at
/// 28 Hz could not bring its trained neurons down to 5 Hz (measured: error 24 Hz² after 100 loops).
pub(super) const SPIKING_BASE_HZ: f64 = 5.0;
/// The untrained spiking network's spontaneous activity that sets a trained network's targets:
/// this long after its random start, for this long (ms; the code ran 20 s); a neuron's targets
/// ramp around its own rate there, at least [`MIN_BASE_HZ`].
pub(super) const SPONTANEOUS_SETTLE_MS: f64 = 200.0;
pub(super) const SPONTANEOUS_MS: f64 = 2000.0;
pub(super) const MIN_BASE_HZ: f64 = 1.0;
/// Before a trained spiking network's trial: the plastic synapses' traces build up (2 τ_p), ms.
pub(super) const SPIKING_LEAD_MS: f64 = 300.0;
/// The plastic synapses' time constant and the RLS interval (the code's `taudecay_plastic`,
/// `learn_every`), ms.
pub(super) const PLASTIC_TAU_MS: f64 = 150.0;
pub(super) const LEARN_EVERY_MS: f64 = 20.0;
/// Neurons per group (trained, untrained E, I) in the spiking network's raster.
pub(super) const RASTER_ROWS: usize = 30;
/// The spiking cue: this input (threshold units) times the trained neurons' sign pattern.
pub(super) const SPIKING_CUE: f64 = 1.0;

/// The spiking network's cell in progress. Clamped: each trained neuron fires as a Poisson
/// process at its target rate (its ramp, per condition), whatever its input; every other neuron
/// runs free. (A first version imposed the constant input that fires a lone neuron at that rate:
/// at 5 Hz that input sits a hair above threshold, so every trained neuron fired in lockstep,
/// whatever its initial state, and drove the network with synchronous volleys.) Trained: each
/// trained neuron gets the code's plastic inputs, a cue, and RLS every 20 ms toward the input
/// that fires it at its target rate under the network's own input noise. Rates are spike counts
/// in 10 ms bins.
pub struct SpikingRun {
    pub plan: SubsetPlan,
    pub g: f64,
    pub fraction: f64,
    pub seed: u64,
    pub(super) net: LifNetwork,
    pub(super) trained: Vec<usize>,
    /// Target rates (Hz) and (trained networks) the inputs that give them, [condition][ms][trained neuron].
    pub(super) target_hz: Vec<Vec<Vec<f64>>>,
    pub(super) currents: Vec<Vec<Vec<f64>>>,
    /// ±1 per trained neuron: the cue's sign pattern in condition 0 (reversed in condition 1).
    pub(super) pattern: Vec<f64>,
    /// The feed-forward inputs' frozen rates (Hz) [condition][ms after the cue's end][input]
    /// (empty without them).
    pub(super) feedforward_hz: Vec<Vec<Vec<f64>>>,
    pub(super) rng: Rng,
    /// The live probes' own stream.
    pub(super) probe_rng: Rng,
}

impl SpikingRun {
    pub fn new(plan: &SubsetPlan, g: f64, fraction: f64, seed: u64) -> Result<Self, SubsetError> {
        let settings = plan.lif_settings(g, seed);
        let mut net = LifNetwork::new(settings.clone())?;
        let trained: Vec<usize> = (0..(fraction * settings.n_e as f64).round() as usize).collect();
        let steps = (plan.trial_ms / settings.dt_ms).round() as usize;
        let mut rng = Rng::seed_from(seed ^ 0x5B5E_7000);
        // one target per millisecond is enough for a 10 ms-binned measure
        let per_ms = (1.0 / settings.dt_ms).round() as usize;
        let shapes = targets(trained.len(), steps / per_ms + 1, 1.0, &mut rng);
        let in_hz = |base: f64| -> Vec<Vec<Vec<f64>>> {
            shapes.iter().map(|c| c.iter().map(|ms| ms.iter().map(|y| (base * y).max(1.0)).collect()).collect()).collect()
        };
        let (target_hz, currents, pattern, feedforward_hz) = if plan.training == Training::Clamp {
            (in_hz(SPIKING_BASE_HZ), Vec::new(), Vec::new(), Vec::new())
        } else {
            // the untrained network's input noise sets the target currents, as in the code, and
            // each trained neuron's own rate its targets' base (the code matched each recorded
            // neuron to a model neuron of similar rate)
            net.run(SPONTANEOUS_SETTLE_MS, 0);
            let spontaneous = net.run(SPONTANEOUS_MS, 0);
            let seconds = spontaneous.duration_ms / 1000.0;
            let base: Vec<f64> = trained.iter().map(|i| (spontaneous.counts[*i] as f64 / seconds).max(MIN_BASE_HZ)).collect();
            let target_hz: Vec<Vec<Vec<f64>>> =
                shapes.iter().map(|c| c.iter().map(|ms| ms.iter().zip(&base).map(|(y, b)| (b * y).max(1.0)).collect()).collect()).collect();
            // each neuron's target current: its own mean input in the untrained network, where it
            // fired at its own rate, plus the transfer curve's step from that rate to the target
            // (the curve alone, a lone neuron's under the network's input noise, left a g = 1.5
            // network's trained neurons 3 Hz above their targets after 25 loops, 2.7 after 50);
            // a neuron slower than MIN_BASE_HZ takes the curve's input alone
            let curve = TransferCurve::measure(&settings, spontaneous.input_sd_e, seed);
            let anchor: Vec<f64> = trained
                .iter()
                .map(|i| {
                    let own_hz = spontaneous.counts[*i] as f64 / seconds;
                    if own_hz >= MIN_BASE_HZ { spontaneous.mean_input[*i] - curve.input_for(own_hz) } else { 0.0 }
                })
                .collect();
            let currents = target_hz
                .iter()
                .map(|c| c.iter().map(|ms| ms.iter().zip(&anchor).map(|(r, a)| a + curve.input_for(*r)).collect()).collect())
                .collect();
            let mut wiring = Rng::seed_from(seed ^ 0x9_1A57);
            net.add_plastic(&trained, PLASTIC_TAU_MS, &mut wiring);
            let pattern = trained.iter().map(|_| if wiring.coin() { 1.0 } else { -1.0 }).collect();
            // the code's feed-forward inputs: frozen rate courses, one set per condition
            let inputs = plan.feedforward_inputs();
            let mut feedforward_hz = Vec::new();
            if let Some(plastic) = net.plastic_mut().filter(|_| inputs > 0) {
                plastic.add_feedforward(inputs, 2);
                let ms = (plan.trial_ms - CUE_MS).ceil() as usize + 1;
                let mut courses = Rng::seed_from(seed ^ 0xFF_3D);
                feedforward_hz = (0..2).map(|_| ou_rates(inputs, ms, &mut courses)).collect();
            }
            (target_hz, currents, pattern, feedforward_hz)
        };
        let probe_rng = Rng::seed_from(seed ^ PROBE_STREAM);
        Ok(Self { plan: plan.clone(), g, fraction, seed, net, trained, target_hz, currents, pattern, feedforward_hz, rng, probe_rng })
    }

    /// Time before the trial proper (cue at its start), ms.
    pub(super) fn lead_ms(&self) -> f64 {
        if self.plan.training == Training::Clamp { 0.0 } else { SPIKING_LEAD_MS }
    }

    /// One trial of `condition`; `update`: RLS learns (trained networks only).
    /// `raster`: the neurons whose spikes are kept; `probe`: draw from the probes' stream.
    pub(super) fn trial(&mut self, condition: usize, update: bool, raster: &[usize], probe: bool) -> LifRecord {
        let Self { net, trained, target_hz, currents, pattern, feedforward_hz, plan, rng, probe_rng, .. } = self;
        let rng = if probe { probe_rng } else { rng };
        let dt = net.settings.dt_ms;
        let per_ms = (1.0 / dt).round() as usize;
        net.reset(rng);
        if plan.training == Training::Clamp {
            let rates = |step: usize| target_hz[condition][step / per_ms].clone();
            let poisson = Some((PerNeuron { neurons: trained, values: &rates }, rng.next_u64()));
            return net.run_trial(plan.trial_ms, &TrialOptions { poisson, bin_ms: SPIKE_BIN_MS, raster, ..TrialOptions::default() });
        }
        let currents = &currents[condition];
        let lead = (SPIKING_LEAD_MS / dt).round() as usize;
        let (cue_end, every) = (lead + (CUE_MS / dt).round() as usize, (LEARN_EVERY_MS / dt).round() as usize);
        let sign = if condition == 0 { SPIKING_CUE } else { -SPIKING_CUE };
        let cue = |step: usize| if (lead..cue_end).contains(&step) { pattern.iter().map(|p| sign * p).collect() } else { Vec::new() };
        let targets =
            |step: usize| (step >= cue_end && (step - lead).is_multiple_of(every)).then(|| currents[(step - lead) / per_ms].clone());
        let feedforward = feedforward_hz.get(condition).map(|rates_hz| FeedForward {
            rates_hz,
            first_step: cue_end,
            steps_per_row: per_ms,
            condition,
            seed: rng.next_u64(),
        });
        let options = TrialOptions {
            extra: Some(PerNeuron { neurons: trained, values: &cue }),
            learn: Some(Learn { targets: &targets, update }),
            feedforward,
            bin_ms: SPIKE_BIN_MS,
            raster,
            ..TrialOptions::default()
        };
        net.run_trial(SPIKING_LEAD_MS + plan.trial_ms, &options)
    }

    /// A trial's measured rates (Hz) [bin][neuron], from `SETTLE_MS` after the cue on.
    pub(super) fn binned_rates(&self, record: &LifRecord) -> Vec<Vec<f64>> {
        let skip = ((self.lead_ms() + SETTLE_MS) / SPIKE_BIN_MS).round() as usize;
        let to_hz = 1000.0 / SPIKE_BIN_MS;
        record.bins.iter().skip(skip).map(|bin| bin.iter().map(|c| *c as f64 * to_hz).collect()).collect()
    }
}

impl Runner for SpikingRun {
    /// RLS training trials before the measure (none when clamped).
    fn loops(&self) -> usize {
        if self.plan.training == Training::Rls { self.plan.loops } else { 0 }
    }

    /// RLS training trial number `trial` (the conditions alternate): the mean squared difference
    /// between the trained neurons' input and its target at the updates.
    fn train_loop(&mut self, trial: usize) -> f64 {
        self.trial(trial % 2, true, &[], false).learn_error
    }

    fn probe(&mut self, trials: usize) -> Spread {
        let rates = both_conditions(trials, |c| {
            let record = self.trial(c, false, &[], true);
            self.binned_rates(&record)
        });
        spread(&rates, &task_variance(&rates), &self.trained, self.net.settings.n_e)
    }

    /// The test trials and every measure. `target_error` is the squared difference (Hz²) between
    /// the trained neurons' trial-averaged rates and their targets, averaged over neurons and
    /// bins, unbiased by trial-to-trial noise (the product of the even and the odd trials' errors).
    fn measure(&mut self) -> Measured {
        let n_e = self.net.settings.n_e;
        let (mut rates, mut sums) = (Vec::new(), TrialSums::default());
        let untrained = self.trained.len()..n_e;
        let raster_neurons: Vec<usize> = (self.trained.iter().copied().take(RASTER_ROWS))
            .chain(untrained.take(RASTER_ROWS))
            .chain((n_e..self.net.settings.n()).take(RASTER_ROWS))
            .collect();
        let mut raster = Vec::new();
        for condition in 0..self.target_hz.len() {
            let mut trials = Vec::with_capacity(self.plan.test_trials);
            for trial in 0..self.plan.test_trials {
                let record = self.trial(condition, false, if trial == 0 { &raster_neurons } else { &[] }, false);
                if trial == 0 {
                    let lead = self.lead_ms();
                    raster.push(record.raster.iter().filter(|(ms, _)| *ms >= lead).map(|(ms, row)| (ms - lead, *row)).collect());
                }
                sums.add(record.excitatory_input, record.inhibitory_input, record.rates(n_e));
                trials.push(self.binned_rates(&record));
            }
            rates.push(trials);
        }
        let cell = (SubsetModel::Spiking, self.g, self.fraction, self.seed);
        // the target at each bin's middle; a clamped neuron fires as a Poisson process at it (no error)
        let first_ms = SETTLE_MS + SPIKE_BIN_MS / 2.0;
        let target = |c: usize, bin: usize, t: usize| self.target_hz[c][(first_ms + bin as f64 * SPIKE_BIN_MS) as usize][t];
        let (error, target_variance) = target_fit(&rates, &self.trained, target);
        let error = if self.plan.training == Training::Clamp { 0.0 } else { error };
        let targets = targets_at_steps(&rates, self.trained.len(), target);
        let (row, means, variance) =
            summarise(&self.plan, cell, self.net.settings.k, &rates, (&self.trained, n_e), &sums, (error, target_variance));
        Measured {
            row,
            means,
            variance,
            record_ms: SPIKE_BIN_MS,
            first_ms: SETTLE_MS,
            trained: self.trained.clone(),
            targets,
            n_e,
            raster_neurons,
            raster,
        }
    }
}
