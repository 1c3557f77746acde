//! `modulab reproduce` (docs/MODEL.md §4D): the pathway sets × seeds, each run trained once and
//! then measured — ambiguity sweeps of every kind (experiment A), its dynamics (experiment C:
//! each task's participation ratio, the principal angles between tasks' subspaces) and a task
//! switch with each pathway slowed to a few time constants (experiment D). Task packing
//! (experiment B) trains the same sets and tasks in smaller networks, measuring each task's
//! clear-cue performance only. One run is one unit of work with its own directory
//! `OUT/runs/<set>[-n<N>]-seed<k>/`; a unit is finished when its last file (`dynamics.csv`, or
//! `clear-cue.csv` for a packing run; written atomically) is there, so an interrupted reproduce
//! resumes where it stopped, and `--shard I/N` splits the units like `modulab sweep packing`
//! splits cells. [`super::report`] turns the finished units into statistics and the report.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::AtomicBool;

use super::analyze::{AnalyzeOptions, TaskSubspaces, trajectories};
use super::packing::PathwaySet;
use super::search_start::{TaskEpoch, epoch_input, sample_states_doubled, state_spread};
use super::sweep::{self, AmbiguityRow, TrainedRun};
use super::switching::{DEFAULT_TAUS_MS, DEFAULT_TRIALS, SwitchError, SwitchJob, SwitchSpec};
use crate::analysis::dynamics::{FixedPointOptions, StepMap, find_fixed_points, slow_point_tolerance, trajectory_radii};
use crate::analysis::{AmbiguityKind, PcaError};
use crate::config::Config;
use crate::io::{csv_field, csv_split, csv_table, write_atomic};
use crate::model::Pathway;
use crate::tasks::Task;
use crate::train::checkpoint::{self, CheckpointError};
use crate::train::{self, ProgressSink, RunEnd, StepReport, TrainError, Trainer};

/// The pathway sets compared, in the report's order: the control without context, each pathway
/// alone, and the synergies.
pub const PATHWAY_SETS: [&str; 7] = ["none", "bias", "gain", "synaptic", "bias+synaptic", "gain+synaptic", "bias+gain+synaptic"];
/// The set every other is compared against: Yang et al.'s rule input, an additive bias.
pub const BASELINE: &str = "bias";
/// Where a run's results go inside its directory.
pub const AMBIGUITY_FILE: &str = "ambiguity.csv";
pub const SWITCHING_FILE: &str = "switching.csv";
pub const DYNAMICS_FILE: &str = "dynamics.csv";
/// A packing run's only result: each task's performance with the clear cue.
pub const CLEAR_CUE_FILE: &str = "clear-cue.csv";
/// How long each run trained and why it stopped (every run writes it before its results).
pub const TRAINING_FILE: &str = "training.csv";
/// The Jacobian along a trajectory is taken at every this many steps (100 ms).
const JACOBIAN_STRIDE: usize = 5;
const CHECKPOINT_DIR: &str = "checkpoint";
/// The random stream of the dynamics analysis trials is the analysis' own (see `analyze`);
/// its subspaces are each task's top-k principal axes with this k.
const SUBSPACE_DIM: usize = 3;

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

/// A run's dynamics summary: one row of `dynamics.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct DynamicsRow {
    pub run: String,
    pub pathways: String,
    pub seed: u64,
    /// Mean over tasks of each task's participation ratio (its states' effective dimension).
    pub participation_ratio: f64,
    /// Mean over pairs of tasks of the mean principal angle between their top-3 subspaces (degrees).
    pub subspace_angle_deg: f64,
    /// Mean over task contexts of the spectral radius of the effective connectivity diag(g(c))
    /// W(c): a description of the weights, not of the dynamics (one value for every task when
    /// only bias acts).
    pub spectral_radius: f64,
    /// Its largest minus smallest value over task contexts (0 by construction for bias alone).
    pub spectral_spread: f64,
    /// Mean over tasks of the Jacobian's spectral radius along the task's own trajectories
    /// ([`trajectory_radii`]): how close to marginal the dynamics each task runs on are.
    pub jacobian_radius: f64,
    /// Its largest minus smallest value over tasks: how different the tasks' dynamics are (any
    /// pathway, bias included, can move it).
    pub jacobian_spread: f64,
    /// Fixed points (q ≤ 10⁻¹⁰) per task context under its stimulus input, from the study's
    /// starts, on average.
    pub fixed_points: f64,
    /// Slow points ([`slow_point_tolerance`]) per task context, from the same starts.
    pub slow_points: f64,
    /// The same two counts from twice as many starts (the first half being the starts above).
    pub fixed_points_2x: f64,
    pub slow_points_2x: f64,
    /// The fraction of the fixed points that are stable (0 when none was found).
    pub stable_fraction: f64,
}

pub const DYNAMICS_HEADER: &str = "run,pathways,seed,participation_ratio,subspace_angle_deg,spectral_radius,spectral_spread,\
jacobian_radius,jacobian_spread,fixed_points,slow_points,fixed_points_2x,slow_points_2x,stable_fraction";

impl DynamicsRow {
    pub fn csv_line(&self) -> String {
        let values = [
            self.participation_ratio,
            self.subspace_angle_deg,
            self.spectral_radius,
            self.spectral_spread,
            self.jacobian_radius,
            self.jacobian_spread,
            self.fixed_points,
            self.slow_points,
            self.fixed_points_2x,
            self.slow_points_2x,
            self.stable_fraction,
        ];
        let values: Vec<String> = values.iter().map(|v| format!("{v:.6}")).collect();
        format!("{},{},{},{}", csv_field(&self.run), self.pathways, self.seed, values.join(","))
    }

    fn parse(line: &str) -> Result<DynamicsRow, String> {
        let f = csv_split(line);
        let [run, pathways, seed, values @ ..] = f.as_slice() else { return Err("expected 14 fields".into()) };
        let names = [
            "participation ratio",
            "angle",
            "spectral radius",
            "spectral spread",
            "Jacobian radius",
            "Jacobian spread",
            "fixed-point count",
            "slow-point count",
            "fixed-point count (2×)",
            "slow-point count (2×)",
            "stable fraction",
        ];
        if values.len() != names.len() {
            return Err(format!("expected {} fields", 3 + names.len()));
        }
        let v = values.iter().zip(names).map(|(v, name)| finite(v, name)).collect::<Result<Vec<f64>, String>>()?;
        Ok(DynamicsRow {
            run: run.clone(),
            pathways: pathways.clone(),
            seed: seed.parse().map_err(|_| format!("bad seed '{seed}'"))?,
            participation_ratio: v[0],
            subspace_angle_deg: v[1],
            spectral_radius: v[2],
            spectral_spread: v[3],
            jacobian_radius: v[4],
            jacobian_spread: v[5],
            fixed_points: v[6],
            slow_points: v[7],
            fixed_points_2x: v[8],
            slow_points_2x: v[9],
            stable_fraction: v[10],
        })
    }
}

/// Read `dynamics.csv` (header and rows).
pub fn parse_dynamics_csv(text: &str, source: &str) -> Result<Vec<DynamicsRow>, String> {
    parse_table(text, source, DYNAMICS_HEADER, DynamicsRow::parse)
}

/// The rows of a table with this header, each read by `parse`; errors name the file and line.
fn parse_table<T>(text: &str, source: &str, header: &str, parse: fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    match lines.next() {
        Some((_, first)) if first.trim() == header => {}
        _ => return Err(format!("{source}: expected the header '{header}'")),
    }
    lines.map(|(i, line)| parse(line).map_err(|e| format!("{source} line {}: {e}", i + 1))).collect()
}

/// A finite number, or what is wrong with it.
fn finite(s: &str, what: &str) -> Result<f64, String> {
    s.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or(format!("bad {what} '{s}'"))
}

pub fn dynamics_csv(rows: &[DynamicsRow]) -> String {
    csv_table(DYNAMICS_HEADER, rows, DynamicsRow::csv_line)
}

/// A run's task-switch test at one time constant of one pathway: one row of `switching.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct SwitchRow {
    pub run: String,
    pub pathways: String,
    pub seed: u64,
    /// The switch: the context before (task name) and the trials' task.
    pub from: String,
    pub to: String,
    /// The pathway slowed (the run's other pathways follow the context at once).
    pub pathway: Pathway,
    pub tau_ms: f32,
    /// Fraction of switched trials answered correctly.
    pub perf: f64,
    /// Mean normalised distance from the unswitched trajectory after the switch.
    pub transient: f64,
}

pub const SWITCH_HEADER: &str = "run,pathways,seed,from,to,pathway,tau_ms,perf,transient";

impl SwitchRow {
    fn csv_line(&self) -> String {
        format!(
            "{},{},{},{},{},{},{},{:.6},{:.6}",
            csv_field(&self.run),
            self.pathways,
            self.seed,
            self.from,
            self.to,
            self.pathway.name(),
            self.tau_ms,
            self.perf,
            self.transient
        )
    }

    fn parse(line: &str) -> Result<SwitchRow, String> {
        let f = csv_split(line);
        let [run, pathways, seed, from, to, pathway, tau, perf, transient] = f.as_slice() else {
            return Err("expected 9 fields".into());
        };
        Ok(SwitchRow {
            run: run.clone(),
            pathways: pathways.clone(),
            seed: seed.parse().map_err(|_| format!("bad seed '{seed}'"))?,
            from: Task::from_name(from).map_err(|e| e.to_string())?.name().to_string(),
            to: Task::from_name(to).map_err(|e| e.to_string())?.name().to_string(),
            pathway: Pathway::from_name(pathway).map_err(|e| e.to_string())?,
            tau_ms: finite(tau, "τ")? as f32,
            perf: finite(perf, "performance")?,
            transient: finite(transient, "transient")?,
        })
    }
}

pub fn switching_csv(rows: &[SwitchRow]) -> String {
    csv_table(SWITCH_HEADER, rows, SwitchRow::csv_line)
}

pub fn parse_switching_csv(text: &str, source: &str) -> Result<Vec<SwitchRow>, String> {
    parse_table(text, source, SWITCH_HEADER, SwitchRow::parse)
}

/// How a run trained: one row of `training.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingRow {
    pub run: String,
    pub pathways: String,
    pub seed: u64,
    pub size: usize,
    /// Steps trained.
    pub steps: u64,
    /// Stopped by the plateau rule (else the step cap was reached).
    pub plateau: bool,
}

pub const TRAINING_HEADER: &str = "run,pathways,seed,size,steps,plateau";

impl TrainingRow {
    fn csv_line(&self) -> String {
        format!("{},{},{},{},{},{}", csv_field(&self.run), self.pathways, self.seed, self.size, self.steps, self.plateau)
    }

    fn parse(line: &str) -> Result<TrainingRow, String> {
        let f = csv_split(line);
        let [run, pathways, seed, size, steps, plateau] = f.as_slice() else { return Err("expected 6 fields".into()) };
        Ok(TrainingRow {
            run: run.clone(),
            pathways: pathways.clone(),
            seed: seed.parse().map_err(|_| format!("bad seed '{seed}'"))?,
            size: size.parse().map_err(|_| format!("bad size '{size}'"))?,
            steps: steps.parse().map_err(|_| format!("bad steps '{steps}'"))?,
            plateau: plateau.parse().map_err(|_| format!("bad plateau '{plateau}': true or false"))?,
        })
    }
}

pub fn training_csv(rows: &[TrainingRow]) -> String {
    csv_table(TRAINING_HEADER, rows, TrainingRow::csv_line)
}

pub fn parse_training_csv(text: &str, source: &str) -> Result<Vec<TrainingRow>, String> {
    parse_table(text, source, TRAINING_HEADER, TrainingRow::parse)
}

/// Everything measured on one run.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitResult {
    pub unit: Unit,
    pub training: TrainingRow,
    /// Every ambiguity kind at every level; a packing run's: the clear cue only.
    pub ambiguity: Vec<AmbiguityRow>,
    /// Empty for the set without pathways (nothing to slow) and for packing runs.
    pub switching: Vec<SwitchRow>,
    /// `None` for packing runs.
    pub dynamics: Option<DynamicsRow>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReproduceError {
    #[error("run {run}: {source}")]
    Train { run: String, source: TrainError },
    #[error("run {run}: {source}")]
    Checkpoint { run: String, source: CheckpointError },
    #[error("run {run}: its checkpoint was trained with other settings than this study's; move {dir} away to train it again")]
    Mismatch { run: String, dir: String },
    #[error("run {run}: switch test: {source}")]
    Switch { run: String, source: SwitchError },
    #[error("run {run}: PCA of its states failed: {source}")]
    Pca { run: String, source: PcaError },
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("{0}")]
    Table(String),
}

/// The directory of `unit`'s run under `out`.
pub fn unit_dir(out: &Path, unit: &Unit) -> PathBuf {
    out.join("runs").join(unit.name())
}

/// The results of `unit` if it finished earlier (its `dynamics.csv`, or a packing run's
/// `clear-cue.csv`, is the last file written).
pub fn load_finished(out: &Path, unit: &Unit) -> Result<Option<UnitResult>, ReproduceError> {
    let dir = unit_dir(out, unit);
    let read = |name: &str| std::fs::read_to_string(dir.join(name));
    let source = |name: &str| dir.join(name).display().to_string();
    let training = |text: String| -> Result<TrainingRow, ReproduceError> {
        let rows = parse_training_csv(&text, &source(TRAINING_FILE)).map_err(ReproduceError::Table)?;
        rows.into_iter().next().ok_or_else(|| ReproduceError::Table(format!("{} has no row", source(TRAINING_FILE))))
    };
    if unit.packing_size.is_some() {
        let Ok(clear) = read(CLEAR_CUE_FILE) else { return Ok(None) };
        let ambiguity = sweep::parse_ambiguity_csv(&clear, &source(CLEAR_CUE_FILE)).map_err(ReproduceError::Table)?;
        let training =
            training(read(TRAINING_FILE).map_err(|e| ReproduceError::Table(format!("cannot read {}: {e}", source(TRAINING_FILE))))?)?;
        return Ok(Some(UnitResult { unit: unit.clone(), training, ambiguity, switching: Vec::new(), dynamics: None }));
    }
    let Ok(dynamics) = read(DYNAMICS_FILE) else { return Ok(None) };
    let dynamics = parse_dynamics_csv(&dynamics, &source(DYNAMICS_FILE)).map_err(ReproduceError::Table)?;
    let dynamics = dynamics.into_iter().next().ok_or_else(|| ReproduceError::Table(format!("{} has no row", source(DYNAMICS_FILE))))?;
    let ambiguity = read(AMBIGUITY_FILE).map_err(|e| ReproduceError::Table(format!("cannot read {}: {e}", source(AMBIGUITY_FILE))))?;
    let ambiguity = sweep::parse_ambiguity_csv(&ambiguity, &source(AMBIGUITY_FILE)).map_err(ReproduceError::Table)?;
    // a run finished before the switch test joined the study is measured again (not retrained)
    let Ok(switching) = read(SWITCHING_FILE) else { return Ok(None) };
    let switching = parse_switching_csv(&switching, &source(SWITCHING_FILE)).map_err(ReproduceError::Table)?;
    let training =
        training(read(TRAINING_FILE).map_err(|e| ReproduceError::Table(format!("cannot read {}: {e}", source(TRAINING_FILE))))?)?;
    Ok(Some(UnitResult { unit: unit.clone(), training, ambiguity, switching, dynamics: Some(dynamics) }))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_pairs_every_set_with_every_seed() {
        let plan = Plan::new(Scale::Quick);
        let units = plan.units();
        let sizes = 1 + plan.packing_sizes.len();
        assert_eq!(units.len(), 7 * 5 * sizes);
        // seed-major: the first runs are one seed of every set at every size, the full runs first
        assert!(units[..7 * sizes].iter().all(|u| u.seed == plan.seeds[0]));
        assert_eq!(units[3].name(), "synaptic-seed0");
        assert_eq!(units[8].name(), format!("bias-n{}-seed0", plan.packing_sizes[0]));
        let config = plan.config_for(&units[4]);
        assert_eq!(Pathway::set_label(&config.model.pathways), "bias+synaptic");
        assert!(config.validate().is_ok());
        assert_eq!((config.train.tasks.len(), config.model.n_units), (8, 64));
        let packing = plan.config_for(&units[8]);
        assert_eq!((packing.model.n_units, packing.train.steps), (plan.packing_sizes[0], config.train.steps));
        for scale in [Scale::Tiny, Scale::Quick, Scale::Standard, Scale::Full] {
            assert!(scale.base().validate().is_ok(), "{scale:?}");
            for kind in AmbiguityKind::ALL {
                assert_eq!(scale.levels(kind)[0], kind.clean_level(), "{scale:?} {kind:?}: the clear cue first");
            }
        }
    }

    #[test]
    fn switch_rows_read_back() {
        let row = SwitchRow {
            run: "bias+synaptic-seed1".into(),
            pathways: "bias+synaptic".into(),
            seed: 1,
            from: "fdgo".into(),
            to: "fdanti".into(),
            pathway: Pathway::Synaptic,
            tau_ms: 50.0,
            perf: 0.75,
            transient: 0.125,
        };
        assert_eq!(parse_switching_csv(&switching_csv(std::slice::from_ref(&row)), "s.csv").unwrap(), vec![row]);
        assert_eq!(parse_switching_csv(&switching_csv(&[]), "s.csv").unwrap(), vec![]);
    }

    #[test]
    fn dynamics_rows_read_back() {
        let row = DynamicsRow {
            run: "bias-seed0".into(),
            pathways: "bias".into(),
            seed: 0,
            participation_ratio: 3.5,
            subspace_angle_deg: 41.25,
            spectral_radius: 1.125,
            spectral_spread: 0.0,
            jacobian_radius: 0.875,
            jacobian_spread: 0.0625,
            fixed_points: 2.5,
            slow_points: 0.5,
            fixed_points_2x: 3.0,
            slow_points_2x: 1.0,
            stable_fraction: 0.75,
        };
        assert_eq!(parse_dynamics_csv(&dynamics_csv(std::slice::from_ref(&row)), "d.csv").unwrap(), vec![row]);
        assert!(parse_dynamics_csv("x\n", "d.csv").is_err());
        let training = TrainingRow { run: "bias-n8-seed2".into(), pathways: "bias".into(), seed: 2, size: 8, steps: 3500, plateau: true };
        assert_eq!(parse_training_csv(&training_csv(std::slice::from_ref(&training)), "t.csv").unwrap(), vec![training]);
    }
}
