//! Experiment B (docs/MODEL.md §4B), task packing: how many tasks fit into a network of N units with
//! each pathway set. Every cell (size N, task count K, pathway set, seed) trains the first K tasks
//! of a fixed task order until its mean performance stops improving (the plateau rule,
//! `train.plateau_window`) or its step budget is spent, and is then judged once, on fresh
//! trials: it holds its tasks when each task's score is at least the criterion of the way from
//! chance (what a network that knows nothing scores) to perfect. A (set, size, seed)'s capacity is
//! the largest K up to which every K met it, so a failing smaller K is never skipped over.
//!
//! The cells of a sweep are enumerated in one fixed order, so a sweep can be split into shards
//! (every n-th cell) for a cluster, resumed after an interruption (cells already in the table are
//! skipped), and its shards merged back into the table an unsharded run writes.

//!
//! The files: `plan.rs` (the cells and the plan file), `run.rs` (one cell trained and judged; the
//! [`PackingSweep`] the sweep driver runs), `table.rs` (`packing.csv`, shards, merging),
//! `figure.rs` (capacity and heat maps).

mod figure;
mod plan;
mod run;
mod table;
#[cfg(test)]
mod tests;

pub use figure::*;
pub use plan::*;
pub use run::*;
pub use table::*;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use crate::config::{Config, InvalidConfig};
use crate::model::{ModelError, Pathway};
use crate::tasks::{Encoding, Task};
use crate::train::TrainError;

/// Which tasks a cell with K tasks trains: the first K of this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TaskOrder {
    /// One task of each family in turn (go, anti, dm, match, delayed go, delayed anti, …), so
    /// small K already mixes different computations. The default.
    #[default]
    Families,
    /// Yang et al.'s order (all go/anti tasks first, then the decision tasks, then matching).
    Yang,
    /// The eight comparison tasks of the pathway presets, the ones a small network learns first:
    /// go and anti, then reaction and delayed variants, the matching tasks (which plateau below
    /// 0.9 at short budgets even in large networks: docs/MODEL.md §4D) last. Small K then measures
    /// what the network can hold rather than a hard task's ceiling.
    Comparison,
}

/// [`TaskOrder::Comparison`].
const COMPARISON_ORDER: [Task; 8] =
    [Task::FdGo, Task::FdAnti, Task::ReactGo, Task::ReactAnti, Task::DelayGo, Task::DelayAnti, Task::DmsGo, Task::DmsNogo];

/// [`TaskOrder::Families`]: round-robin over Yang's families.
const FAMILIES_ORDER: [Task; 20] = [
    Task::FdGo,
    Task::FdAnti,
    Task::Dm1,
    Task::DmsGo,
    Task::DelayGo,
    Task::DelayAnti,
    Task::ContextDm1,
    Task::DmcGo,
    Task::ReactGo,
    Task::ReactAnti,
    Task::DelayDm1,
    Task::DmsNogo,
    Task::Dm2,
    Task::ContextDm2,
    Task::DmcNogo,
    Task::DelayDm2,
    Task::MultiDm,
    Task::ContextDelayDm1,
    Task::ContextDelayDm2,
    Task::MultiDelayDm,
];

impl TaskOrder {
    pub fn name(self) -> &'static str {
        match self {
            TaskOrder::Families => "families",
            TaskOrder::Yang => "yang",
            TaskOrder::Comparison => "comparison",
        }
    }

    /// The order's tasks that `encoding` supports (compact drops the five simultaneous tasks).
    pub fn tasks(self, encoding: Encoding) -> Vec<Task> {
        let all: &[Task] = match self {
            TaskOrder::Families => &FAMILIES_ORDER,
            TaskOrder::Yang => &Task::ALL,
            TaskOrder::Comparison => &COMPARISON_ORDER,
        };
        all.iter().copied().filter(|t| t.supports(encoding)).collect()
    }
}

impl FromStr for TaskOrder {
    type Err = PackingError;
    fn from_str(s: &str) -> Result<Self, PackingError> {
        match s {
            "families" => Ok(TaskOrder::Families),
            "yang" => Ok(TaskOrder::Yang),
            "comparison" => Ok(TaskOrder::Comparison),
            _ => Err(PackingError::UnknownOrder(s.to_string())),
        }
    }
}

/// Why a packing sweep cannot be planned, run, read or merged.
#[derive(Debug, thiserror::Error)]
pub enum PackingError {
    #[error("unknown task order '{0}'; valid orders: families, yang, comparison")]
    UnknownOrder(String),
    /// Settings of the plan out of range; the message names the setting.
    #[error("{0}")]
    InvalidPlan(String),
    #[error("cell {cell}: {source}")]
    InvalidCell { cell: String, source: InvalidConfig },
    #[error("cell {cell}: {source}")]
    Train { cell: String, source: TrainError },
    #[error("cell {cell}: no evaluation ran")]
    NoEvaluation { cell: String },
    /// A `packing.csv` that cannot be read.
    #[error("{file}: {message}")]
    Table { file: String, message: String },
    #[error("{} holds a packing sweep with other settings ({PLAN_FILE}); use another --out, or the same settings to resume", .0.display())]
    OtherPlan(std::path::PathBuf),
    #[error("{} is not a packing plan: {message}", path.display())]
    NotAPlan { path: std::path::PathBuf, message: String },
    #[error("cannot {action} {}: {source}", path.display())]
    Io { action: &'static str, path: std::path::PathBuf, source: std::io::Error },
    #[error("cell {cell} appears twice with different results ({first} vs {second}); were the shards run with different settings?")]
    Conflict { cell: String, first: String, second: String },
}

/// A pathway set parsed from `bias+synaptic` (or `none`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PathwaySet(pub Vec<Pathway>);

impl FromStr for PathwaySet {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        let s = s.trim();
        if s == "none" {
            return Ok(PathwaySet(Vec::new()));
        }
        let mut set = Vec::new();
        for name in s.split('+') {
            let p = Pathway::from_name(name.trim())?;
            if !set.contains(&p) {
                set.push(p);
            }
        }
        // canonical order, so `synaptic+bias` and `bias+synaptic` are one set
        set.sort_by_key(|p| Pathway::ALL.iter().position(|q| q == p));
        Ok(PathwaySet(set))
    }
}

impl fmt::Display for PathwaySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Pathway::set_label(&self.0))
    }
}
