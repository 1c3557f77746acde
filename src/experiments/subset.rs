//! `sweep subset`: train (or clamp) a subset of the excitatory units of a strongly coupled E/I
//! rate network and measure how much task-related activity the untrained units carry, over the
//! coupling g, the trained fraction f and seeds (Kim et al. 2023; docs/MODEL.md §7).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use super::parallel::run_each;
use super::subset_bptt::{self, BpttSettings, BpttSubset};
use crate::analysis::spread::{Spread, halves, spread, task_variance, trial_means};
use crate::analysis::stats::Summary;
use crate::figure::{self, LineChart, Series};
use crate::io::{csv_split, write_atomic};
use crate::model::balanced::{BalancedNetwork, BalancedSettings, Drive, TrialMode};
use crate::model::lif::{FeedForward, Learn, LifNetwork, LifRecord, LifSettings, PerNeuron, TransferCurve, TrialOptions};
use crate::model::plastic::ou_rates;
use crate::rng::Rng;

/// How the subset learns its targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Training {
    /// Held on the targets: an ideally trained subset.
    Clamp,
    /// Trained by recursive least squares in closed loop, then tested free.
    Rls,
    /// The engine's network learning the engine's tasks by backpropagation through time, only
    /// the subset's incoming weights plastic (rate model only).
    Bptt,
}

impl Training {
    pub fn name(self) -> &'static str {
        match self {
            Training::Clamp => "clamp",
            Training::Rls => "rls",
            Training::Bptt => "bptt",
        }
    }

    pub fn from_name(name: &str) -> Result<Self, String> {
        match name {
            "clamp" => Ok(Training::Clamp),
            "rls" => Ok(Training::Rls),
            "bptt" => Ok(Training::Bptt),
            other => Err(format!("unknown training '{other}'; valid: clamp, rls, bptt")),
        }
    }
}

/// Which network a cell builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubsetModel {
    /// The E/I rate network (`model/balanced.rs`).
    Rate,
    /// The LIF network of Kim et al.'s code (`model/lif.rs`); its subset is clamped.
    Spiking,
}

impl SubsetModel {
    pub fn name(self) -> &'static str {
        match self {
            SubsetModel::Rate => "rate",
            SubsetModel::Spiking => "spiking",
        }
    }

    pub fn from_name(name: &str) -> Result<Self, String> {
        match name {
            "rate" => Ok(SubsetModel::Rate),
            "spiking" => Ok(SubsetModel::Spiking),
            other => Err(format!("unknown model '{other}'; valid: rate, spiking")),
        }
    }
}

/// The sweep's grid and the network every cell builds.
#[derive(Clone, Debug)]
pub struct SubsetPlan {
    pub model: SubsetModel,
    pub gains: Vec<f64>,
    pub fractions: Vec<f64>,
    pub seeds: usize,
    /// Whether the external drive scales with g (as the paper's code) or stays at g = 1's.
    pub drive: Drive,
    /// Total units (half excitatory, half inhibitory).
    pub neurons: usize,
    /// Inputs per population per unit.
    pub k: usize,
    /// Training loops: RLS trials (each condition in turn), or BPTT optimiser steps.
    pub loops: usize,
    pub training: Training,
    /// Plastic feed-forward inputs per trained neuron of the spiking network trained by RLS (the
    /// code's `Lffwd`; 0: none). Ignored by every other model and training.
    pub feedforward: usize,
    /// Test trials per condition.
    pub test_trials: usize,
    pub trial_ms: f64,
    /// Threads of each BPTT cell's training step (0 = every core).
    pub threads: usize,
}

impl Default for SubsetPlan {
    fn default() -> Self {
        Self {
            model: SubsetModel::Rate,
            gains: vec![0.1, 0.3, 1.0, 3.0],
            fractions: vec![0.1],
            seeds: 3,
            drive: Drive::Scaled,
            neurons: 800,
            k: 40,
            loops: 20,
            training: Training::Clamp,
            feedforward: DEFAULT_FEEDFORWARD,
            test_trials: 6,
            trial_ms: 600.0,
            threads: 0,
        }
    }
}

/// RLS training loops of the spiking network by default (the code's `nloop`).
pub const SPIKING_LOOPS: usize = 500;

/// Feed-forward inputs per trained spiking neuron by default (the code's `Lffwd_list[1]`).
pub const DEFAULT_FEEDFORWARD: usize = 100;

/// When the condition cue ends and the ramp starts (ms).
const CUE_MS: f64 = 50.0;
/// Activity before this (ms) is the random initial state decaying, and is not measured.
const SETTLE_MS: f64 = 100.0;
/// Measured steps are subsampled to one per this many (ms).
const RECORD_MS: f64 = 2.5;

impl SubsetPlan {
    pub fn validate(&self) -> Result<(), String> {
        if self.gains.is_empty() || self.fractions.is_empty() || self.seeds == 0 {
            return Err("give at least one gain, one fraction and one seed".into());
        }
        if self.neurons < 4 || !self.neurons.is_multiple_of(2) {
            return Err(format!("--neurons must be even and at least 4 (half E, half I), got {}", self.neurons));
        }
        if self.test_trials < 2 {
            return Err("at least 2 test trials per condition (the noise correction needs a spread)".into());
        }
        if !(self.trial_ms > SETTLE_MS + 10.0) {
            return Err(format!("trials must last more than {} ms", SETTLE_MS + 10.0));
        }
        if self.training == Training::Bptt && self.drive == Drive::Fixed {
            return Err("BPTT's balanced initialisation always scales the drive with g: use --drive scaled".into());
        }
        if self.model == SubsetModel::Spiking {
            if self.training == Training::Bptt {
                return Err("BPTT trains the rate network only: use --model rate (or --training clamp|rls)".into());
            }
            return self.lif_settings(self.gains[0], 0).validate();
        }
        if self.training == Training::Bptt {
            for &g in &self.gains {
                for &f in &self.fractions {
                    subset_bptt::config(&self.bptt_settings(g, f, 0))?;
                }
            }
            return Ok(());
        }
        for &g in &self.gains {
            self.settings(g, self.fractions[0], 0).validate()?;
        }
        for &f in &self.fractions {
            self.settings(self.gains[0], f, 0).validate()?;
        }
        Ok(())
    }

    /// Bytes of RLS matrices one spiking cell with trained fraction `fraction` holds (0 unless
    /// the spiking network is trained): one P of m² doubles per trained neuron, m its plastic inputs.
    pub fn rls_bytes(&self, fraction: f64) -> usize {
        if self.model != SubsetModel::Spiking || self.training != Training::Rls {
            return 0;
        }
        let half = self.neurons / 2;
        let trained = (fraction * half as f64).round() as usize;
        let per_population = 6 * (self.k as f64).sqrt().round() as usize;
        let m = per_population.min(trained.saturating_sub(1)) + per_population.min(half) + self.feedforward_inputs();
        trained * m * m * size_of::<f64>()
    }

    /// Feed-forward inputs per trained neuron this plan's cells have (0 unless the spiking
    /// network is trained by RLS).
    pub fn feedforward_inputs(&self) -> usize {
        if self.model == SubsetModel::Spiking && self.training == Training::Rls { self.feedforward } else { 0 }
    }

    /// Training loops this plan's cells run (0 when clamped).
    pub fn training_loops(&self) -> usize {
        if self.training == Training::Clamp { 0 } else { self.loops }
    }

    fn lif_settings(&self, g: f64, seed: u64) -> LifSettings {
        let half = self.neurons / 2;
        LifSettings { n_e: half, n_i: half, k: self.k, g, drive: self.drive, seed, ..LifSettings::default() }
    }

    fn bptt_settings(&self, g: f64, fraction: f64, seed: u64) -> BpttSettings {
        BpttSettings { neurons: self.neurons, k: self.k, g, fraction, seed, steps: self.loops, threads: self.threads }
    }

    fn settings(&self, g: f64, fraction: f64, seed: u64) -> BalancedSettings {
        let half = self.neurons / 2;
        BalancedSettings { n_e: half, n_i: half, k: self.k.min(half), g, drive: self.drive, fraction, seed, ..BalancedSettings::default() }
    }

    /// Every (g, f, seed) cell, in a fixed order.
    pub fn cells(&self) -> Vec<(f64, f64, u64)> {
        let mut cells = Vec::new();
        for &g in &self.gains {
            for &f in &self.fractions {
                for seed in 0..self.seeds as u64 {
                    cells.push((g, f, seed));
                }
            }
        }
        cells
    }
}

/// One cell's measures.
#[derive(Clone, Debug, PartialEq)]
pub struct SubsetRow {
    pub model: SubsetModel,
    pub training: Training,
    pub drive: Drive,
    pub g: f64,
    pub fraction: f64,
    pub seed: u64,
    pub neurons: usize,
    pub k: usize,
    /// Training loops (0 when clamped) and feed-forward inputs per trained neuron.
    pub loops: usize,
    pub feedforward: usize,
    /// The untrained units' mean selective variance over the trained units' (all untrained,
    /// untrained E, I); `None` (undetermined) where the trained units' is not above 0.
    pub spread_ratio: Option<f64>,
    pub spread_e: Option<f64>,
    pub spread_i: Option<f64>,
    /// Mean selective variance of the untrained units (all, E, I) and of the trained units
    /// (rates², Hz² in the spiking network).
    pub selective_untrained: f64,
    pub selective_e: f64,
    pub selective_i: f64,
    pub selective_trained: f64,
    /// The untrained units' mean task variance (shared courses included) over the trained
    /// units' (the measure of a first version), and the trained units' mean task variance.
    pub task_ratio: f64,
    pub trained_variance: f64,
    pub mode_share_e: f64,
    pub mode_share_i: f64,
    pub rate_e: f64,
    pub rate_i: f64,
    /// |mean excitatory + mean inhibitory input| / mean excitatory input (external included).
    pub balance: f64,
    /// The trained units' squared error against their targets in the test trials, unbiased by
    /// trial noise (0 when clamped; BPTT: the task loss), and the targets' variance over
    /// conditions and time (BPTT: of the output targets), which it is compared with.
    pub target_error: f64,
    pub target_variance: f64,
}

pub const HEADER: &str = "model,training,drive,g,fraction,seed,neurons,k,loops,feedforward,spread_ratio,spread_e,spread_i,\
selective_untrained,selective_e,selective_i,selective_trained,task_ratio,trained_variance,mode_share_e,mode_share_i,rate_e,rate_i,\
balance,target_error,target_variance";

/// The first line of the tables an earlier version wrote (task variance only, drive fixed).
const OLD_HEADER: &str = "model,training,g,fraction,seed,neurons,k,spread_ratio,spread_e,spread_i,mode_share_e,mode_share_i,rate_e,rate_i,balance,target_error,trained_variance";

/// What a ratio's CSV field holds when it is undetermined.
pub const UNDETERMINED: &str = "undetermined";

fn ratio_field(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| UNDETERMINED.to_string(), |r| format!("{r:.6}"))
}

impl SubsetRow {
    pub fn csv_line(&self) -> String {
        let numbers = [
            self.selective_untrained,
            self.selective_e,
            self.selective_i,
            self.selective_trained,
            self.task_ratio,
            self.trained_variance,
            self.mode_share_e,
            self.mode_share_i,
            self.rate_e,
            self.rate_i,
            self.balance,
            self.target_error,
            self.target_variance,
        ];
        let mut line = format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            self.model.name(),
            self.training.name(),
            self.drive.name(),
            self.g,
            self.fraction,
            self.seed,
            self.neurons,
            self.k,
            self.loops,
            self.feedforward,
            ratio_field(self.spread_ratio),
            ratio_field(self.spread_e),
            ratio_field(self.spread_i),
        );
        numbers.iter().for_each(|v| line.push_str(&format!(",{v:.6}")));
        line
    }

    pub fn parse(line: &str) -> Result<Self, String> {
        let f = csv_split(line);
        if f.len() != HEADER.split(',').count() {
            return Err(format!("a subset.csv row needs {} fields: {line}", HEADER.split(',').count()));
        }
        let num = |i: usize| f[i].parse::<f64>().map_err(|_| format!("'{}' is not a number in: {line}", f[i]));
        let ratio = |i: usize| if f[i] == UNDETERMINED { Ok(None) } else { num(i).map(Some) };
        Ok(Self {
            model: SubsetModel::from_name(&f[0])?,
            training: Training::from_name(&f[1])?,
            drive: Drive::from_name(&f[2])?,
            g: num(3)?,
            fraction: num(4)?,
            seed: num(5)? as u64,
            neurons: num(6)? as usize,
            k: num(7)? as usize,
            loops: num(8)? as usize,
            feedforward: num(9)? as usize,
            spread_ratio: ratio(10)?,
            spread_e: ratio(11)?,
            spread_i: ratio(12)?,
            selective_untrained: num(13)?,
            selective_e: num(14)?,
            selective_i: num(15)?,
            selective_trained: num(16)?,
            task_ratio: num(17)?,
            trained_variance: num(18)?,
            mode_share_e: num(19)?,
            mode_share_i: num(20)?,
            rate_e: num(21)?,
            rate_i: num(22)?,
            balance: num(23)?,
            target_error: num(24)?,
            target_variance: num(25)?,
        })
    }

    /// The trained units' error as a share of their targets' variance (NaN without targets).
    pub fn relative_error(&self) -> f64 {
        if self.target_variance > 0.0 { self.target_error / self.target_variance } else { f64::NAN }
    }
}

/// The trained units' target rates [condition][step][trained unit]: a shared ramp and a
/// condition-dependent one (opposite in the two conditions), from the cue's end to the trial's end.
fn targets(count: usize, steps: usize, dt_ms: f64, rng: &mut Rng) -> Vec<Vec<Vec<f64>>> {
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

/// The rate network's cell in progress: the network, its targets and cue, its random stream.
pub struct RateRun {
    pub plan: SubsetPlan,
    pub g: f64,
    pub fraction: f64,
    pub seed: u64,
    net: BalancedNetwork,
    /// [condition][step][trained unit]
    targets: Vec<Vec<Vec<f64>>>,
    /// ±1 per trained unit: the cue's sign pattern in condition 0 (reversed in condition 1).
    pattern: Vec<f64>,
    steps: usize,
    rng: Rng,
    /// The live probes' own stream, so probing leaves the training and the measure as they are.
    probe_rng: Rng,
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

impl RateRun {
    pub fn new(plan: &SubsetPlan, g: f64, fraction: f64, seed: u64) -> Result<Self, String> {
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

    /// RLS training trials this cell runs before it is measured (none when clamped).
    pub fn loops(&self) -> usize {
        if self.plan.training == Training::Rls { self.plan.loops } else { 0 }
    }

    fn cue_for(&self, condition: usize) -> impl Fn(usize) -> Vec<f64> + use<> {
        let settings = &self.net.settings;
        let cue_steps = (CUE_MS / settings.dt_ms).round() as usize;
        let sign = if condition == 0 { 1.0 } else { -1.0 };
        let mut input = vec![0.0; settings.n()];
        self.net.trained().iter().zip(&self.pattern).for_each(|(i, p)| input[*i] = 2.0 * sign * p);
        move |t: usize| if t < cue_steps { input.clone() } else { Vec::new() }
    }

    /// RLS training trial number `trial` (the conditions alternate): its trained units' error.
    fn train_loop(&mut self, trial: usize) -> f64 {
        let condition = trial % 2;
        let cue = self.cue_for(condition);
        self.net.trial(self.steps, &cue, Some(&self.targets[condition]), TrialMode::Learn, &mut self.rng).error
    }

    /// A probe trial (test conditions, the probes' own random stream): its measured rates.
    fn probe_trial(&mut self, condition: usize) -> Vec<Vec<f64>> {
        let mode = if self.plan.training == Training::Clamp { TrialMode::Clamp } else { TrialMode::Score };
        let cue = self.cue_for(condition);
        let record = self.net.trial(self.steps, &cue, Some(&self.targets[condition]), mode, &mut self.probe_rng);
        self.measured_steps(record.rates)
    }

    /// The steps of a trial that are measured: from `SETTLE_MS` on, one every `RECORD_MS`.
    fn measured_steps(&self, rates: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
        let dt = self.net.settings.dt_ms;
        let every = ((RECORD_MS / dt).round() as usize).max(1);
        rates.into_iter().skip((SETTLE_MS / dt).round() as usize).step_by(every).collect()
    }

    /// The test trials and every measure.
    pub fn measure(&mut self) -> Measured {
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

/// Bins of the spiking network's spike counts (ms).
const SPIKE_BIN_MS: f64 = 10.0;
/// The clamped spiking targets: rates in Hz around this, ramping like the rate network's targets.
/// A trained network's targets ramp around its own mean excitatory rate instead (as the code
/// matched each recorded neuron to a model neuron of similar rate): the plastic inputs' row-sum
/// penalty keeps the summed plastic drive nearly fixed, so a weakly coupled network firing at
/// 28 Hz could not bring its trained neurons down to 5 Hz (measured: error 24 Hz² after 100 loops).
const SPIKING_BASE_HZ: f64 = 5.0;
/// The untrained spiking network's spontaneous activity that sets a trained network's targets:
/// this long after its random start, for this long (ms; the code ran 20 s); a neuron's targets
/// ramp around its own rate there, at least [`MIN_BASE_HZ`].
const SPONTANEOUS_SETTLE_MS: f64 = 200.0;
const SPONTANEOUS_MS: f64 = 2000.0;
const MIN_BASE_HZ: f64 = 1.0;
/// Before a trained spiking network's trial: the plastic synapses' traces build up (2 τ_p), ms.
const SPIKING_LEAD_MS: f64 = 300.0;
/// The plastic synapses' time constant and the RLS interval (the code's `taudecay_plastic`,
/// `learn_every`), ms.
const PLASTIC_TAU_MS: f64 = 150.0;
const LEARN_EVERY_MS: f64 = 20.0;
/// Neurons per group (trained, untrained E, I) in the spiking network's raster.
const RASTER_ROWS: usize = 30;
/// The spiking cue: this input (threshold units) times the trained neurons' sign pattern.
const SPIKING_CUE: f64 = 1.0;

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
    net: LifNetwork,
    trained: Vec<usize>,
    /// Target rates (Hz) and (trained networks) the inputs that give them, [condition][ms][trained neuron].
    target_hz: Vec<Vec<Vec<f64>>>,
    currents: Vec<Vec<Vec<f64>>>,
    /// ±1 per trained neuron: the cue's sign pattern in condition 0 (reversed in condition 1).
    pattern: Vec<f64>,
    /// The feed-forward inputs' frozen rates (Hz) [condition][ms after the cue's end][input]
    /// (empty without them).
    feedforward_hz: Vec<Vec<Vec<f64>>>,
    rng: Rng,
    /// The live probes' own stream.
    probe_rng: Rng,
}

impl SpikingRun {
    pub fn new(plan: &SubsetPlan, g: f64, fraction: f64, seed: u64) -> Result<Self, String> {
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

    /// RLS training trials before the measure (none when clamped).
    pub fn loops(&self) -> usize {
        if self.plan.training == Training::Rls { self.plan.loops } else { 0 }
    }

    /// Time before the trial proper (cue at its start), ms.
    fn lead_ms(&self) -> f64 {
        if self.plan.training == Training::Clamp { 0.0 } else { SPIKING_LEAD_MS }
    }

    /// One trial of `condition`; `update`: RLS learns (trained networks only).
    /// `raster`: the neurons whose spikes are kept; `probe`: draw from the probes' stream.
    fn trial(&mut self, condition: usize, update: bool, raster: &[usize], probe: bool) -> LifRecord {
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

    /// RLS training trial number `trial` (the conditions alternate): the mean squared difference
    /// between the trained neurons' input and its target at the updates.
    fn train_loop(&mut self, trial: usize) -> f64 {
        self.trial(trial % 2, true, &[], false).learn_error
    }

    /// A trial's measured rates (Hz) [bin][neuron], from `SETTLE_MS` after the cue on.
    fn binned_rates(&self, record: &LifRecord) -> Vec<Vec<f64>> {
        let skip = ((self.lead_ms() + SETTLE_MS) / SPIKE_BIN_MS).round() as usize;
        let to_hz = 1000.0 / SPIKE_BIN_MS;
        record.bins.iter().skip(skip).map(|bin| bin.iter().map(|c| *c as f64 * to_hz).collect()).collect()
    }

    /// The test trials and every measure. `target_error` is the squared difference (Hz²) between
    /// the trained neurons' trial-averaged rates and their targets, averaged over neurons and
    /// bins, unbiased by trial-to-trial noise (the product of the even and the odd trials' errors).
    pub fn measure(&mut self) -> Measured {
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

/// The trained units' error against their targets and the targets' variance: (mean over
/// conditions, measured steps and trained units of (even-trial mean − target)(odd-trial mean −
/// target), the squared error of the trial-averaged rate without the trial noise's positive
/// bias; the mean over trained units of their target's variance over conditions and steps).
/// `target(condition, step, trained unit)`.
fn target_fit(rates: &[Vec<Vec<Vec<f64>>>], trained: &[usize], target: impl Fn(usize, usize, usize) -> f64) -> (f64, f64) {
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
fn targets_at_steps(rates: &[Vec<Vec<Vec<f64>>>], trained: usize, target: impl Fn(usize, usize, usize) -> f64) -> Vec<Vec<Vec<f64>>> {
    rates
        .iter()
        .enumerate()
        .map(|(c, trials)| (0..trials.first().map_or(0, Vec::len)).map(|step| (0..trained).map(|t| target(c, step, t)).collect()).collect())
        .collect()
}

/// Sums over a cell's test trials, made into means by [`summarise`].
#[derive(Default)]
struct TrialSums {
    trials: usize,
    balance: f64,
    rate_e: f64,
    rate_i: f64,
}

impl TrialSums {
    /// One trial: its mean excitatory and inhibitory input, its (E, I) rates.
    fn add(&mut self, excitatory_input: f64, inhibitory_input: f64, (rate_e, rate_i): (f64, f64)) {
        self.trials += 1;
        self.balance += (excitatory_input + inhibitory_input).abs() / excitatory_input.max(1e-12);
        self.rate_e += rate_e;
        self.rate_i += rate_i;
    }
}

/// A cell's row from its test trials' rates [condition][trial][step][unit], their sums and the
/// trained units' (error, target variance), with the trial-averaged rates and each unit's task
/// variance; `cell` is (model, g, f, seed).
fn summarise(
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
const PROBE_STREAM: u64 = 0x0B5E_47E5;

/// One cell of either network in progress. A caller that shows progress (the app) trains it
/// loop by loop and may probe it; [`run_cell`] does it all.
pub enum SubsetCell {
    Rate(Box<RateRun>),
    Spiking(Box<SpikingRun>),
    Bptt(Box<BpttRun>),
}

impl SubsetCell {
    pub fn new(plan: &SubsetPlan, g: f64, fraction: f64, seed: u64) -> Result<Self, String> {
        Ok(match plan.model {
            SubsetModel::Rate if plan.training == Training::Bptt => SubsetCell::Bptt(Box::new(BpttRun::new(plan, g, fraction, seed)?)),
            SubsetModel::Rate => SubsetCell::Rate(Box::new(RateRun::new(plan, g, fraction, seed)?)),
            SubsetModel::Spiking => SubsetCell::Spiking(Box::new(SpikingRun::new(plan, g, fraction, seed)?)),
        })
    }

    /// RLS training trials before the measure (none when clamped).
    pub fn loops(&self) -> usize {
        match self {
            SubsetCell::Rate(r) => r.loops(),
            SubsetCell::Spiking(s) => s.loops(),
            SubsetCell::Bptt(b) => b.plan.loops,
        }
    }

    /// Training trial number `trial` (the conditions alternate): the trained units' error (rate
    /// network: rate MSE; spiking: input MSE at the updates; BPTT: one optimiser step's loss).
    pub fn train_loop(&mut self, trial: usize) -> f64 {
        match self {
            SubsetCell::Rate(r) => r.train_loop(trial),
            SubsetCell::Spiking(s) => s.train_loop(trial),
            SubsetCell::Bptt(b) => b.net.step(),
        }
    }

    /// Loops between two live probes: RLS trials are slow and few, BPTT steps fast and many.
    pub fn probe_every(&self) -> usize {
        match self {
            SubsetCell::Bptt(_) => 100,
            _ => 10,
        }
    }

    /// Why training stopped early (a BPTT run that diverged), if it did.
    pub fn failure(&self) -> Option<&str> {
        match self {
            SubsetCell::Bptt(b) => b.net.failure.as_deref(),
            _ => None,
        }
    }

    /// The spread as it stands: `trials` test trials per condition without learning, on a random
    /// stream of their own (so a probed cell trains and measures exactly as an unprobed one).
    pub fn probe(&mut self, trials: usize) -> Spread {
        let (rates, trained, n_e) = match self {
            SubsetCell::Rate(r) => (both_conditions(trials, |c| r.probe_trial(c)), r.net.trained(), r.net.settings.n_e),
            SubsetCell::Spiking(s) => {
                let rates = both_conditions(trials, |c| {
                    let record = s.trial(c, false, &[], true);
                    s.binned_rates(&record)
                });
                (rates, s.trained.clone(), s.net.settings.n_e)
            }
            SubsetCell::Bptt(b) => return b.probe(trials),
        };
        spread(&rates, &task_variance(&rates), &trained, n_e)
    }

    /// The test trials and every measure.
    pub fn measure(&mut self) -> Measured {
        match self {
            SubsetCell::Rate(r) => r.measure(),
            SubsetCell::Spiking(s) => s.measure(),
            SubsetCell::Bptt(b) => b.measure(),
        }
    }
}

/// `trials` trials of each of the two conditions, run in turn (A, B, A, B, …), as
/// rates[condition][trial][step][unit].
fn both_conditions(trials: usize, mut trial: impl FnMut(usize) -> Vec<Vec<f64>>) -> Vec<Vec<Vec<Vec<f64>>>> {
    let mut rates = vec![Vec::new(), Vec::new()];
    for _ in 0..trials {
        for (condition, list) in rates.iter_mut().enumerate() {
            list.push(trial(condition));
        }
    }
    rates
}

/// The BPTT cell in progress: the engine's network learning the quick preset's tasks.
pub struct BpttRun {
    pub plan: SubsetPlan,
    pub g: f64,
    pub fraction: f64,
    pub seed: u64,
    pub net: BpttSubset,
    /// The test trials' stream and the live probes' own one.
    rng: Rng,
    probe_rng: Rng,
}

impl BpttRun {
    fn new(plan: &SubsetPlan, g: f64, fraction: f64, seed: u64) -> Result<Self, String> {
        let net = BpttSubset::new(&plan.bptt_settings(g, fraction, seed))?;
        let (rng, probe_rng) = (Rng::seed_from(seed ^ 0x5B5E_7000), Rng::seed_from(seed ^ PROBE_STREAM));
        Ok(Self { plan: plan.clone(), g, fraction, seed, net, rng, probe_rng })
    }

    /// The spread on `trials` repeats of the probe stream's conditions (a fresh draw each time).
    fn probe(&mut self, trials: usize) -> Spread {
        let (trained, n_e) = self.net.trained();
        match self.net.record(trials.max(2), &mut self.probe_rng) {
            Ok(record) => spread(&record.rates, &task_variance(&record.rates), &trained, n_e),
            Err(_) => Spread::default(),
        }
    }

    fn measure(&mut self) -> Measured {
        let (trained, n_e) = self.net.trained();
        let (rates, sums, fit) = match self.net.record(self.plan.test_trials, &mut self.rng) {
            Ok(r) => {
                (r.rates, TrialSums { trials: 1, balance: r.balance, rate_e: r.rate_e, rate_i: r.rate_i }, (r.loss, r.target_variance))
            }
            // the quick preset's tasks always generate; an error here is a broken build
            Err(e) => panic!("the BPTT subset's test trials: {e}"),
        };
        let cell = (SubsetModel::Rate, self.g, self.fraction, self.seed);
        let (row, means, variance) = summarise(&self.plan, cell, self.plan.k, &rates, (&trained, n_e), &sums, fit);
        let record_ms = self.net.trainer.config.tasks.dt_ms as f64;
        let targets = Vec::new();
        Measured { row, means, variance, record_ms, first_ms: 0.0, trained, targets, n_e, raster_neurons: Vec::new(), raster: Vec::new() }
    }
}

/// Train (or clamp) one network and measure it.
pub fn run_cell(plan: &SubsetPlan, g: f64, fraction: f64, seed: u64) -> Result<SubsetRow, String> {
    let mut cell = SubsetCell::new(plan, g, fraction, seed)?;
    for trial in 0..cell.loops() {
        cell.train_loop(trial);
        if let Some(failure) = cell.failure() {
            return Err(format!("g = {g}, f = {fraction}, seed {seed}: {failure}"));
        }
    }
    Ok(cell.measure().row)
}

/// The table's file in `out`: `subset.csv`, or one per shard.
pub fn table_path(out: &Path, shard: Option<(usize, usize)>) -> PathBuf {
    match shard {
        Some((i, n)) => out.join(format!("subset-shard-{i}-of-{n}.csv")),
        None => out.join("subset.csv"),
    }
}

/// Read a table written by [`sweep`] (missing file: no rows).
pub fn read_table(path: &Path) -> Result<Vec<SubsetRow>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut lines = text.lines();
    match lines.next() {
        Some(HEADER) => {}
        Some(OLD_HEADER) => {
            return Err(format!(
                "{} was written by an earlier modulab (task variance only, the drive fixed): its cells cannot be resumed or \
                 mixed with new ones; write the sweep to another --out directory",
                path.display()
            ));
        }
        _ => return Err(format!("{} is not a subset table (its header differs)", path.display())),
    }
    lines.filter(|l| !l.trim().is_empty()).map(SubsetRow::parse).collect()
}

/// Run every cell of `plan` (or of shard I of N) not yet in the table, `jobs` at a time, writing
/// the table after each cell (atomically), then the figure; `progress(done, total)` after each.
pub fn sweep(
    plan: &SubsetPlan,
    out: &Path,
    shard: Option<(usize, usize)>,
    jobs: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<SubsetRow>, String> {
    plan.validate()?;
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let path = table_path(out, shard);
    let mut rows = read_table(&path)?;
    if let Some(row) = rows.iter().find(|row| plan_of(row) != plan_of_plan(plan)) {
        return Err(format!(
            "{} holds cells of another plan ({}), not this one ({}): resume with the same settings or write to another --out",
            path.display(),
            describe_plan(plan_of(row)),
            describe_plan(plan_of_plan(plan))
        ));
    }
    let same = |row: &SubsetRow, (g, f, seed): (f64, f64, u64)| row.g == g && row.fraction == f && row.seed == seed;
    let todo: Vec<(f64, f64, u64)> = plan
        .cells()
        .into_iter()
        .enumerate()
        .filter(|(index, _)| shard.is_none_or(|(i, n)| index % n == i))
        .map(|(_, cell)| cell)
        .filter(|cell| !rows.iter().any(|row| same(row, *cell)))
        .collect();
    let total = todo.len();
    let mut failure = None;
    let cancel = AtomicBool::new(false);
    let write = |rows: &[SubsetRow]| {
        let mut text = format!("{HEADER}\n");
        rows.iter().for_each(|r| text.push_str(&(r.csv_line() + "\n")));
        write_atomic(&path, text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    let mut done = 0;
    run_each(
        &todo,
        jobs,
        &cancel,
        |&(g, f, seed)| run_cell(plan, g, f, seed),
        |outcome| match outcome {
            Ok(row) => {
                rows.push(row);
                done += 1;
                if let Err(e) = write(&rows) {
                    failure = Some(e);
                    cancel.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                progress(done, total);
            }
            Err(e) => {
                failure = Some(e);
                cancel.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        },
    );
    if let Some(e) = failure {
        return Err(e);
    }
    rows.sort_by(|a, b| (a.g, a.fraction, a.seed).partial_cmp(&(b.g, b.fraction, b.seed)).unwrap_or(std::cmp::Ordering::Equal));
    write(&rows)?;
    if shard.is_none() {
        write_summary(out, &rows)?;
        figure::write_figure(out, "spread", &spread_chart(&rows).to_svg()).map_err(|e| e.to_string())?;
    }
    Ok(rows)
}

/// What a row says of the plan that made it: (model, training, drive, neurons, k, loops,
/// feed-forward inputs). One table holds one plan's cells.
type PlanKey = (SubsetModel, Training, Drive, usize, usize, usize, usize);

fn plan_of(row: &SubsetRow) -> PlanKey {
    (row.model, row.training, row.drive, row.neurons, row.k, row.loops, row.feedforward)
}

fn plan_of_plan(plan: &SubsetPlan) -> PlanKey {
    let k = match plan.model {
        SubsetModel::Rate if plan.training != Training::Bptt => plan.k.min(plan.neurons / 2),
        _ => plan.k,
    };
    (plan.model, plan.training, plan.drive, plan.neurons, k, plan.training_loops(), plan.feedforward_inputs())
}

fn describe_plan((model, training, drive, neurons, k, loops, feedforward): PlanKey) -> String {
    format!(
        "--model {} --training {} --drive {} --neurons {neurons} --k {k} --loops {loops}, {feedforward} feed-forward inputs",
        model.name(),
        training.name(),
        drive.name()
    )
}

/// One (g, f) of a table over its seeds.
#[derive(Clone, Debug)]
pub struct CellSummary {
    pub g: f64,
    pub fraction: f64,
    pub seeds: usize,
    /// The trained units' selective variance over seeds.
    pub selective_trained: Summary,
    /// The spread ratios (all untrained, untrained E, I), `None` where undetermined: unless the
    /// trained units' selective variance is above 0 in every seed and its 95 % interval over the
    /// seeds lies above 0 (so at least 2 seeds), the ratio is not computed.
    pub spread_ratio: Option<Summary>,
    pub spread_e: Option<Summary>,
    pub spread_i: Option<Summary>,
    /// Absolute selective variance of the untrained units (all, E, I).
    pub selective_untrained: Summary,
    pub selective_e: Summary,
    pub selective_i: Summary,
    /// The first version's measure, the task variance ratio.
    pub task_ratio: Summary,
    pub rate_e: Summary,
    pub rate_i: Summary,
    pub balance: Summary,
    pub target_error: Summary,
    pub target_variance: Summary,
    /// The error as a share of the targets' variance, seed by seed.
    pub relative_error: Summary,
}

impl CellSummary {
    pub fn determined(&self) -> bool {
        self.spread_ratio.is_some()
    }
}

/// Every (g, f) of `rows` (one plan's table) over its seeds, by g then f.
pub fn summarise_table(rows: &[SubsetRow]) -> Vec<CellSummary> {
    let mut keys: Vec<(f64, f64)> = rows.iter().map(|r| (r.g, r.fraction)).collect();
    keys.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    keys.dedup();
    keys.into_iter()
        .map(|(g, fraction)| {
            let cell: Vec<&SubsetRow> = rows.iter().filter(|r| r.g == g && r.fraction == fraction).collect();
            let of = |value: &dyn Fn(&SubsetRow) -> f64| Summary::of(&cell.iter().map(|r| value(r)).collect::<Vec<f64>>());
            let selective_trained = of(&|r| r.selective_trained);
            let determined = selective_trained.low > 0.0 && cell.iter().all(|r| r.spread_ratio.is_some());
            let ratio = |value: &dyn Fn(&SubsetRow) -> Option<f64>| {
                determined.then(|| Summary::of(&cell.iter().filter_map(|r| value(r)).collect::<Vec<f64>>()))
            };
            CellSummary {
                g,
                fraction,
                seeds: cell.len(),
                selective_trained,
                spread_ratio: ratio(&|r| r.spread_ratio),
                spread_e: ratio(&|r| r.spread_e),
                spread_i: ratio(&|r| r.spread_i),
                selective_untrained: of(&|r| r.selective_untrained),
                selective_e: of(&|r| r.selective_e),
                selective_i: of(&|r| r.selective_i),
                task_ratio: of(&|r| r.task_ratio),
                rate_e: of(&|r| r.rate_e),
                rate_i: of(&|r| r.rate_i),
                balance: of(&|r| r.balance),
                target_error: of(&|r| r.target_error),
                target_variance: of(&|r| r.target_variance),
                relative_error: of(&|r| if r.target_variance > 0.0 { r.relative_error() } else { 0.0 }),
            }
        })
        .collect()
}

pub const SUMMARY_HEADER: &str = "g,fraction,seeds,spread_ratio,spread_ratio_low,spread_ratio_high,spread_e,spread_i,\
selective_untrained,selective_untrained_low,selective_untrained_high,selective_e,selective_i,selective_trained,\
selective_trained_low,selective_trained_high,task_ratio,rate_e,rate_i,balance,target_error,target_variance,relative_error,\
relative_error_low,relative_error_high";

/// The summary's CSV (one line per (g, f); `undetermined` ratios, their bounds empty; bounds
/// empty for a single seed) and a Markdown table of it.
pub fn summary_texts(rows: &[SubsetRow]) -> (String, String) {
    let mut csv = format!("{SUMMARY_HEADER}\n");
    let bound = |v: f64| if v.is_nan() { String::new() } else { format!("{v:.6}") };
    let with_bounds = |s: &Summary| format!("{:.6},{},{}", s.mean, bound(s.low), bound(s.high));
    let mean_or = |s: &Option<Summary>| s.as_ref().map_or_else(|| UNDETERMINED.to_string(), |s| format!("{:.6}", s.mean));
    let trained = rows.iter().any(|r| r.training != Training::Clamp);
    let hz = rows.first().is_some_and(|r| r.model == SubsetModel::Spiking);
    let unit = if hz { " (Hz²)" } else { "" };
    let mut md = format!(
        "| f | g | spread ratio | untrained E | inhibitory | untrained units' selective variance{unit} | trained units' selective variance{unit} | task variance ratio (old measure) |{} rates E, I | balance index |\n|---|---|---|---|---|---|---|---|{}---|---|\n",
        if trained { " trained units' error / target variance |" } else { "" },
        if trained { "---|" } else { "" }
    );
    let digits = |s: &Summary| {
        let scale = s.mean.abs().max((s.high - s.low).abs() / 2.0);
        if scale >= 10.0 {
            1
        } else if scale >= 0.1 {
            2
        } else {
            3
        }
    };
    let text = |s: &Summary| s.text(digits(s));
    let mut cells = summarise_table(rows);
    cells.sort_by(|a, b| (a.fraction, a.g).partial_cmp(&(b.fraction, b.g)).unwrap_or(std::cmp::Ordering::Equal));
    for c in &cells {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{:.6},{:.6},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{}\n",
            c.g,
            c.fraction,
            c.seeds,
            c.spread_ratio.as_ref().map_or_else(|| format!("{UNDETERMINED},,"), with_bounds),
            mean_or(&c.spread_e),
            mean_or(&c.spread_i),
            with_bounds(&c.selective_untrained),
            c.selective_e.mean,
            c.selective_i.mean,
            with_bounds(&c.selective_trained),
            c.task_ratio.mean,
            c.rate_e.mean,
            c.rate_i.mean,
            c.balance.mean,
            c.target_error.mean,
            c.target_variance.mean,
            with_bounds(&c.relative_error),
        ));
        let ratio = |s: &Option<Summary>| s.as_ref().map_or_else(|| UNDETERMINED.to_string(), text);
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |{} {:.1}, {:.1} | {:.2} |\n",
            c.fraction,
            c.g,
            ratio(&c.spread_ratio),
            ratio(&c.spread_e),
            ratio(&c.spread_i),
            text(&c.selective_untrained),
            text(&c.selective_trained),
            text(&c.task_ratio),
            if trained { format!(" {} |", text(&c.relative_error)) } else { String::new() },
            c.rate_e.mean,
            c.rate_i.mean,
            c.balance.mean
        ));
    }
    (csv, md)
}

/// Write `subset-summary.csv` and `subset-summary.md` into `out` (atomically).
fn write_summary(out: &Path, rows: &[SubsetRow]) -> Result<(), String> {
    let (csv, md) = summary_texts(rows);
    for (name, text) in [("subset-summary.csv", csv), ("subset-summary.md", md)] {
        let path = out.join(name);
        write_atomic(&path, text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Spread ratio against g, one line per trained fraction: the mean over seeds with its 95 %
/// interval; undetermined (g, f) are left out and named in the note.
pub fn spread_chart(rows: &[SubsetRow]) -> LineChart {
    let cells = summarise_table(rows);
    let mut fractions: Vec<f64> = cells.iter().map(|c| c.fraction).collect();
    fractions.sort_by(f64::total_cmp);
    fractions.dedup();
    let series = fractions
        .iter()
        .map(|&f| {
            let shown: Vec<(f64, Summary)> =
                cells.iter().filter(|c| c.fraction == f).filter_map(|c| c.spread_ratio.map(|s| (c.g, s))).collect();
            Series {
                name: format!("f = {f}"),
                points: shown.iter().map(|(g, s)| (*g, s.mean)).collect(),
                band: shown.iter().filter(|(_, s)| !s.low.is_nan()).map(|(g, s)| (*g, s.low, s.high)).collect(),
                ..Series::default()
            }
        })
        .collect();
    let undetermined: Vec<String> = cells.iter().filter(|c| !c.determined()).map(|c| format!("g = {} (f = {})", c.g, c.fraction)).collect();
    let mut note = "untrained units' selective variance / trained units'; mean over seeds, band 95 % interval".to_string();
    if !undetermined.is_empty() {
        note.push_str(&format!("; undetermined, not drawn: {}", undetermined.join(", ")));
    }
    LineChart {
        title: "Task-selective activity in the untrained units".into(),
        note,
        x_label: "coupling g".into(),
        y_label: "spread ratio".into(),
        series,
        ..LineChart::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memory the sweep announces is what a trained spiking cell holds.
    #[test]
    fn rls_bytes_are_the_cells_p_matrices() {
        let plan = SubsetPlan { model: SubsetModel::Spiking, training: Training::Rls, neurons: 400, k: 40, ..SubsetPlan::default() };
        for fraction in [0.05, 0.5] {
            let SubsetCell::Spiking(cell) = SubsetCell::new(&plan, 1.0, fraction, 0).unwrap() else { unreachable!() };
            assert_eq!(plan.rls_bytes(fraction), cell.net.plastic().unwrap().p_bytes(), "f = {fraction}");
        }
        assert_eq!(SubsetPlan { training: Training::Clamp, ..plan }.rls_bytes(0.5), 0);
    }

    fn row(g: f64, seed: u64, selective_trained: f64, ratio: Option<f64>) -> SubsetRow {
        SubsetRow {
            model: SubsetModel::Rate,
            training: Training::Rls,
            drive: Drive::Scaled,
            g,
            fraction: 0.1,
            seed,
            neurons: 40,
            k: 8,
            loops: 20,
            feedforward: 0,
            spread_ratio: ratio,
            spread_e: ratio.map(|r| 2.0 * r),
            spread_i: ratio.map(|r| r / 2.0),
            selective_untrained: 0.125,
            selective_e: 0.25,
            selective_i: 0.0625,
            selective_trained,
            task_ratio: 0.375,
            trained_variance: 4.0,
            mode_share_e: 0.75,
            mode_share_i: 0.5,
            rate_e: 1.0,
            rate_i: 2.0,
            balance: 0.0625,
            target_error: 0.5,
            target_variance: 2.0,
        }
    }

    #[test]
    fn rows_round_trip_through_the_csv() {
        let determined = row(1.5, 2, 0.5, Some(0.25));
        assert_eq!(SubsetRow::parse(&determined.csv_line()).unwrap(), determined);
        let undetermined = row(1.5, 2, -0.01, None);
        let line = undetermined.csv_line();
        assert!(line.contains(",undetermined,undetermined,undetermined,"), "{line}");
        assert_eq!(SubsetRow::parse(&line).unwrap(), undetermined);
        assert_eq!(determined.relative_error(), 0.25);
        assert_eq!(HEADER.split(',').count(), determined.csv_line().split(',').count());
        assert!(SubsetRow::parse("rate,clamp,1").unwrap_err().contains("fields"));
        assert_eq!(HEADER.split(',').nth(10), Some("spread_ratio"));
    }

    /// A (g, f)'s ratio is determined only where the trained units' selective variance is above 0
    /// in every seed and its 95 % interval over seeds excludes 0; the summary, its CSV and the
    /// figure say so. Worked out: seeds 0.5, 0.6, 0.7 → mean 0.6, s.d. 0.1, half-width
    /// 4.303·0.1/√3 = 0.248, interval [0.35, 0.85]; seeds 0.5, −0.1, 0.7 (one not above 0); seeds
    /// 0.02, 0.3, 0.01 (all above 0, interval −0.19 … +0.41 includes 0).
    #[test]
    fn the_ratio_is_undetermined_unless_the_trained_units_are_selective_over_seeds() {
        let mut rows = Vec::new();
        for (g, trained) in [(0.5, [0.5, 0.6, 0.7]), (1.0, [0.5, -0.1, 0.7]), (2.0, [0.02, 0.3, 0.01])] {
            for (seed, v) in trained.into_iter().enumerate() {
                rows.push(row(g, seed as u64, v, (v > 0.0).then_some(0.2 + 0.1 * seed as f64)));
            }
        }
        let cells = summarise_table(&rows);
        assert_eq!(cells.len(), 3);
        let first = cells[0].spread_ratio.expect("determined");
        assert!((first.mean - 0.3).abs() < 1e-12 && (cells[0].selective_trained.low - 0.3516).abs() < 1e-3, "{:?}", cells[0]);
        assert!(!cells[1].determined() && !cells[2].determined());
        assert!(cells[2].selective_trained.low < 0.0);
        assert!((cells[0].relative_error.mean - 0.25).abs() < 1e-12);
        let (csv, md) = summary_texts(&rows);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], SUMMARY_HEADER);
        assert!(lines.iter().all(|l| l.split(',').count() == SUMMARY_HEADER.split(',').count()), "{csv}");
        assert!(lines[1].starts_with("0.5,0.1,3,0.300000,"), "{csv}");
        assert!(lines[2].starts_with("1,0.1,3,undetermined,,,undetermined,undetermined,") && lines[3].contains("undetermined"), "{csv}");
        assert_eq!(md.lines().filter(|l| l.contains("| undetermined | undetermined | undetermined |")).count(), 2, "{md}");
        let chart = spread_chart(&rows);
        assert_eq!(chart.series[0].points, [(0.5, 0.3)], "only the determined g is drawn");
        assert!(chart.note.contains("undetermined, not drawn: g = 1 (f = 0.1), g = 2 (f = 0.1)"), "{}", chart.note);
        // one seed can show nothing over seeds
        assert!(!summarise_table(&rows[..1])[0].determined());
    }
}
