//! What a subset sweep runs: the network model, how the subset learns, and the plan of cells.

use super::SubsetError;
use super::bptt::{self as subset_bptt, BpttSettings};
use crate::model::balanced::{BalancedSettings, Drive};
use crate::model::lif::LifSettings;

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

    pub fn from_name(name: &str) -> Result<Self, SubsetError> {
        match name {
            "clamp" => Ok(Training::Clamp),
            "rls" => Ok(Training::Rls),
            "bptt" => Ok(Training::Bptt),
            other => Err(SubsetError::Invalid(format!("unknown training '{other}'; valid: clamp, rls, bptt"))),
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

    pub fn from_name(name: &str) -> Result<Self, SubsetError> {
        match name {
            "rate" => Ok(SubsetModel::Rate),
            "spiking" => Ok(SubsetModel::Spiking),
            other => Err(SubsetError::Invalid(format!("unknown model '{other}'; valid: rate, spiking"))),
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
pub(super) const CUE_MS: f64 = 50.0;
/// Activity before this (ms) is the random initial state decaying, and is not measured.
pub(super) const SETTLE_MS: f64 = 100.0;
/// Measured steps are subsampled to one per this many (ms).
pub(super) const RECORD_MS: f64 = 2.5;

impl SubsetPlan {
    pub fn validate(&self) -> Result<(), SubsetError> {
        if self.gains.is_empty() || self.fractions.is_empty() || self.seeds == 0 {
            return Err(SubsetError::Invalid("give at least one gain, one fraction and one seed".into()));
        }
        if self.neurons < 4 || !self.neurons.is_multiple_of(2) {
            return Err(SubsetError::Invalid(format!("--neurons must be even and at least 4 (half E, half I), got {}", self.neurons)));
        }
        if self.test_trials < 2 {
            return Err(SubsetError::Invalid("at least 2 test trials per condition (the noise correction needs a spread)".into()));
        }
        if !(self.trial_ms > SETTLE_MS + 10.0) {
            return Err(SubsetError::Invalid(format!("trials must last more than {} ms", SETTLE_MS + 10.0)));
        }
        if self.training == Training::Bptt && self.drive == Drive::Fixed {
            return Err(SubsetError::Invalid("BPTT's balanced initialisation always scales the drive with g: use --drive scaled".into()));
        }
        if self.model == SubsetModel::Spiking {
            if self.training == Training::Bptt {
                return Err(SubsetError::Invalid("BPTT trains the rate network only: use --model rate (or --training clamp|rls)".into()));
            }
            return Ok(self.lif_settings(self.gains[0], 0).validate()?);
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

    pub(super) fn lif_settings(&self, g: f64, seed: u64) -> LifSettings {
        let half = self.neurons / 2;
        LifSettings { n_e: half, n_i: half, k: self.k, g, drive: self.drive, seed, ..LifSettings::default() }
    }

    pub(super) fn bptt_settings(&self, g: f64, fraction: f64, seed: u64) -> BpttSettings {
        BpttSettings { neurons: self.neurons, k: self.k, g, fraction, seed, steps: self.loops, threads: self.threads }
    }

    pub(super) fn settings(&self, g: f64, fraction: f64, seed: u64) -> BalancedSettings {
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
