//! The study's plan: how big it is (the scale), its runs in one fixed order, and the fingerprint
//! stored beside them.

use std::str::FromStr;

use crate::analysis::AmbiguityKind;
use crate::config::Config;
use crate::experiments::packing::PathwaySet;
use crate::experiments::switching::{DEFAULT_TAUS_MS, DEFAULT_TRIALS};

use super::*;

/// How big the study is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Seconds: two tasks, 16 units, a few steps (the tests' end-to-end run).
    Tiny,
    /// A first look on 2 cores: the eight-task comparison set at N = 64 (packing at N = 16), 5
    /// seeds — too few for the exact test to reach p < 0.05 (its smallest p is 0.0625).
    Quick,
    /// The README's source: the same networks with 12 seeds and packing at N = 8, 16, 32, 64.
    Standard,
    /// A night, or a cluster: the comparison presets' own settings (N = 128).
    Full,
}

impl FromStr for Scale {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tiny" => Ok(Scale::Tiny),
            "quick" => Ok(Scale::Quick),
            "standard" => Ok(Scale::Standard),
            "full" => Ok(Scale::Full),
            other => Err(format!("unknown scale '{other}': quick, standard or full")),
        }
    }
}

impl Scale {
    pub fn name(self) -> &'static str {
        match self {
            Scale::Tiny => "tiny",
            Scale::Quick => "quick",
            Scale::Standard => "standard",
            Scale::Full => "full",
        }
    }

    /// Every run's settings before its pathway set and seed. Every scale but `tiny` trains each
    /// network until its mean performance stops improving (the plateau rule), up to a cap.
    #[allow(clippy::expect_used, reason = "cannot fail: the reproduce scales are valid settings")]
    pub fn base(self) -> Config {
        let overrides: &[&str] = match self {
            Scale::Tiny => &[
                "train.tasks=[\"fdgo\",\"fdanti\"]",
                "model.n_units=16",
                "train.batch_size=8",
                "train.steps=30",
                "train.eval_every=30",
                "train.eval_trials=8",
                "train.checkpoint_every=0",
            ],
            // N = 64 at ~120 steps/s on one thread; evaluations of 128 trials per task (the
            // plateau rule compares their means: ±0.01 over the eight tasks)
            Scale::Quick | Scale::Standard => &[
                "model.n_units=64",
                "train.steps=10000",
                "train.eval_every=500",
                "train.eval_trials=128",
                "train.plateau_window=2000",
                "train.checkpoint_every=1000",
            ],
            Scale::Full => &["train.steps=30000", "train.eval_every=1000", "train.eval_trials=128", "train.plateau_window=4000"],
        };
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        // the comparison presets differ only in their pathways: `bias` is the base of all
        Config::from_preset("bias", &overrides).expect("the reproduce scales are valid settings")
    }

    /// Seeds per pathway set.
    pub fn seeds(self) -> u64 {
        match self {
            Scale::Tiny => 2,
            Scale::Quick => 5,
            Scale::Standard | Scale::Full => 12,
        }
    }

    /// The levels of each ambiguity kind, the clear cue first. The mixture axis stops at 0.5,
    /// where the cue is both tasks equally: beyond it the cue names the other task more than
    /// the trial's own, and a run would be scored against the task its cue says less of.
    pub fn levels(self, kind: AmbiguityKind) -> Vec<f32> {
        let fine = matches!(self, Scale::Standard | Scale::Full);
        match kind {
            AmbiguityKind::Amplitude if fine => vec![1.0, 0.8, 0.6, 0.4, 0.2, 0.0],
            AmbiguityKind::Amplitude => vec![1.0, 0.75, 0.5, 0.25],
            AmbiguityKind::Noise if fine => vec![0.0, 0.25, 0.5, 0.75, 1.0, 1.5],
            AmbiguityKind::Noise => vec![0.0, 0.25, 0.5, 1.0],
            AmbiguityKind::Mixture if fine => vec![0.0, 0.1, 0.2, 0.3, 0.4, 0.5],
            AmbiguityKind::Mixture => vec![0.0, 0.25, 0.5],
            AmbiguityKind::Uniform if fine => vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
            AmbiguityKind::Uniform => vec![0.0, 0.25, 0.5, 0.75],
        }
    }

    /// Trials per task and level of the sweeps.
    pub fn sweep_trials(self) -> usize {
        match self {
            Scale::Tiny => 8,
            Scale::Quick => 64,
            Scale::Standard | Scale::Full => 128,
        }
    }

    /// Independent context draws per noise level.
    pub fn noise_draws(self) -> usize {
        if self == Scale::Full { 5 } else { 3 }
    }

    /// The time constants (ms) each pathway is slowed to in the switch test (0 first).
    pub fn switch_taus_ms(self) -> Vec<f32> {
        match self {
            Scale::Tiny => vec![0.0, 50.0],
            Scale::Quick | Scale::Standard => vec![0.0, 50.0, 200.0],
            Scale::Full => DEFAULT_TAUS_MS.to_vec(),
        }
    }

    /// The smaller network sizes of experiment B (the study's own size is the largest).
    pub fn packing_sizes(self) -> Vec<usize> {
        match self {
            Scale::Tiny => vec![8],
            Scale::Quick => vec![16],
            Scale::Standard => vec![8, 16, 32],
            Scale::Full => vec![16, 32, 64],
        }
    }

    /// Switch trials per τ.
    pub fn switch_trials(self) -> usize {
        if self == Scale::Tiny { 4 } else { DEFAULT_TRIALS }
    }

    /// Starting states per task of the fixed-point search (the study also searches from twice
    /// as many, to show what more starts would add).
    pub fn fixed_point_starts(self) -> usize {
        match self {
            Scale::Tiny => 4,
            Scale::Quick | Scale::Standard | Scale::Full => 64,
        }
    }

    /// Noise-free trials per task of the dynamics analysis.
    pub fn analysis_trials(self) -> usize {
        match self {
            Scale::Tiny => 4,
            Scale::Quick | Scale::Standard => 16,
            Scale::Full => 32,
        }
    }
}

/// One run of the study: a pathway set trained from one seed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unit {
    pub set: PathwaySet,
    pub seed: u64,
    /// `None`: the study's own size, measured in full (A, C, D). `Some(n)`: a packing run (B)
    /// with n units, measured on the clear cue only.
    pub packing_size: Option<usize>,
}

impl Unit {
    /// Its directory name under `runs/`, e.g. `bias+synaptic-seed3`, `bias-n16-seed3`.
    pub fn name(&self) -> String {
        match self.packing_size {
            None => format!("{}-seed{}", self.set, self.seed),
            Some(n) => format!("{}-n{n}-seed{}", self.set, self.seed),
        }
    }
}

/// The study: which runs, at which settings.
#[derive(Clone, Debug)]
pub struct Plan {
    pub scale: Scale,
    pub base: Config,
    pub sets: Vec<PathwaySet>,
    pub seeds: Vec<u64>,
    /// Experiment B's smaller sizes, each trained with every set and seed.
    pub packing_sizes: Vec<usize>,
}

impl Plan {
    #[allow(clippy::expect_used, reason = "cannot fail: the study's sets parse")]
    pub fn new(scale: Scale) -> Plan {
        let base = scale.base();
        let seeds = (0..scale.seeds()).map(|i| base.train.seed + i).collect();
        let sets = PATHWAY_SETS.iter().map(|s| s.parse().expect("the study's sets parse")).collect();
        Plan { scale, base, sets, seeds, packing_sizes: scale.packing_sizes() }
    }

    /// Every run, seed by seed (so a partial study holds whole pairs for its tests): a seed's
    /// full runs, then its packing runs size by size.
    pub fn units(&self) -> Vec<Unit> {
        let sizes: Vec<Option<usize>> = std::iter::once(None).chain(self.packing_sizes.iter().map(|n| Some(*n))).collect();
        let mut units = Vec::new();
        for &seed in &self.seeds {
            for &packing_size in &sizes {
                units.extend(self.sets.iter().map(|set| Unit { set: set.clone(), seed, packing_size }));
            }
        }
        units
    }

    /// The network size of `unit`'s run.
    pub fn size_of(&self, unit: &Unit) -> usize {
        unit.packing_size.unwrap_or(self.base.model.n_units)
    }

    pub fn config_for(&self, unit: &Unit) -> Config {
        let mut config = self.base.clone();
        config.model.pathways = unit.set.0.clone();
        config.model.n_units = self.size_of(unit);
        config.train.seed = unit.seed;
        config
    }

    /// The fingerprint studies were written with before experiment B joined them: their full
    /// runs are this plan's, so such a directory is taken over (its packing runs trained).
    pub fn fingerprint_before_packing(&self) -> String {
        let sets: Vec<String> = self.sets.iter().map(|s| format!("\"{s}\"")).collect();
        format!(
            "scale = \"{}\"\nsets = [{}]\nseeds = {:?}\n\n# every run's settings before its pathways and seed\n{}",
            self.scale.name(),
            sets.join(", "),
            self.seeds,
            self.base.to_toml()
        )
    }

    /// What must match for a directory's finished runs to be reused (stored as `reproduce-plan.toml`).
    pub fn fingerprint(&self) -> String {
        let sets: Vec<String> = self.sets.iter().map(|s| format!("\"{s}\"")).collect();
        format!(
            "scale = \"{}\"\nsets = [{}]\nseeds = {:?}\npacking_sizes = {:?}\n\n# every run's settings before its pathways, seed and size\n{}",
            self.scale.name(),
            sets.join(", "),
            self.seeds,
            self.packing_sizes,
            self.base.to_toml()
        )
    }
}
