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
//!
//! The files: `plan.rs` (the scale, the runs and the plan's fingerprint), `run.rs` (one run
//! trained and measured; the [`ReproduceSweep`] the sweep driver runs), `table.rs` (each run's
//! result files, written and read back); the report and its figures are [`super::report`]'s.

mod plan;
mod run;
mod table;
#[cfg(test)]
mod tests;

pub use plan::*;
pub use run::*;
pub use table::*;

use super::sweep::AmbiguityRow;
use super::switching::SwitchError;
use crate::analysis::PcaError;
use crate::train::TrainError;
use crate::train::checkpoint::CheckpointError;

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
