//! A packing sweep's plan: its cells in their one fixed order, each cell's settings, and the plan
//! file stored beside the table so a sweep resumes only with the settings it was started with.

use std::path::Path;

use super::*;
use crate::io::write_atomic;

/// One training run of the sweep.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cell {
    pub size: usize,
    pub k: usize,
    pub pathways: PathwaySet,
    pub seed: u64,
}

/// What defines a packing sweep's table, stored beside it so a resumed run or a shard with
/// different settings is refused instead of mixing incompatible cells.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlanFile {
    pub sizes: Vec<usize>,
    pub task_counts: Vec<usize>,
    pub pathways: Vec<String>,
    pub seeds: Vec<u64>,
    pub budget_steps: u64,
    /// The plateau rule's window (0 in plans written before it: such a directory is refused).
    #[serde(default)]
    pub plateau_steps: u64,
    pub criterion: f64,
    pub order: String,
    /// The fully resolved base configuration, as TOML.
    pub base: String,
}

/// The plan file's name in a sweep's output directory.
pub const PLAN_FILE: &str = "packing-plan.toml";

impl PlanFile {
    pub fn of(plan: &PackingPlan) -> Self {
        PlanFile {
            sizes: plan.sizes.clone(),
            task_counts: plan.task_counts.clone(),
            pathways: plan.pathway_sets.iter().map(|s| s.to_string()).collect(),
            seeds: plan.seeds.clone(),
            budget_steps: plan.budget_steps,
            plateau_steps: plan.plateau_steps,
            criterion: plan.criterion,
            order: plan.order.name().to_string(),
            base: plan.base.to_toml(),
        }
    }

    /// Read a plan file's text (any text: a damaged file is an error, not a panic).
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    #[allow(clippy::expect_used, reason = "cannot fail: a plan file serialises")]
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a plan file serialises")
    }
}

/// Everything that defines a packing sweep.
#[derive(Clone, Debug)]
pub struct PackingPlan {
    /// Settings every cell starts from (tasks, size, pathways, seed and steps are replaced).
    pub base: Config,
    pub sizes: Vec<usize>,
    pub task_counts: Vec<usize>,
    pub pathway_sets: Vec<PathwaySet>,
    pub seeds: Vec<u64>,
    /// The most steps a cell trains (the plateau rule usually stops it before).
    pub budget_steps: u64,
    /// The plateau rule's window (`train.plateau_window`; 0 = train the whole budget).
    pub plateau_steps: u64,
    /// A task is held when its score (perf − chance) / (1 − chance) reaches this.
    pub criterion: f64,
    pub order: TaskOrder,
}

/// `--plateau-steps` unless given.
pub const DEFAULT_PLATEAU_STEPS: u64 = 2000;

impl PackingPlan {
    /// Check the plan against its task order; a clear message on the first problem.
    pub fn validate(&self) -> Result<(), PackingError> {
        let available = self.order.tasks(self.base.tasks.encoding).len();
        if self.sizes.is_empty() || self.task_counts.is_empty() || self.pathway_sets.is_empty() || self.seeds.is_empty() {
            return Err(PackingError::InvalidPlan("a packing sweep needs at least one size, task count, pathway set and seed".into()));
        }
        if let Some(k) = self.task_counts.iter().find(|k| **k == 0 || **k > available) {
            return Err(PackingError::InvalidPlan(format!(
                "task count {k} is out of range: the {} order has {available} tasks in the {} encoding",
                self.order.name(),
                self.base.tasks.encoding.name()
            )));
        }
        if let Some(n) = self.sizes.iter().find(|n| **n == 0) {
            return Err(PackingError::InvalidPlan(format!("network size {n} is out of range: sizes must be at least 1")));
        }
        if self.budget_steps == 0 {
            return Err(PackingError::InvalidPlan("--budget-steps must be at least 1".into()));
        }
        if self.plateau_steps > 0 && self.plateau_steps < self.base.train.eval_every {
            return Err(PackingError::InvalidPlan(format!(
                "--plateau-steps {} must span at least one evaluation (train.eval_every = {}), or be 0 to train the whole budget",
                self.plateau_steps, self.base.train.eval_every
            )));
        }
        if !(self.criterion > 0.0 && self.criterion <= 1.0) {
            return Err(PackingError::InvalidPlan(format!("--criterion {} is out of range (0, 1]", self.criterion)));
        }
        Ok(())
    }

    /// Every cell, in the sweep's fixed order: size, then K, then pathway set, then seed.
    pub fn cells(&self) -> Vec<Cell> {
        let mut cells = Vec::new();
        for &size in &self.sizes {
            for &k in &self.task_counts {
                for pathways in &self.pathway_sets {
                    for &seed in &self.seeds {
                        cells.push(Cell { size, k, pathways: pathways.clone(), seed });
                    }
                }
            }
        }
        cells
    }

    /// The full configuration one cell trains with.
    pub fn config_for(&self, cell: &Cell) -> Result<Config, PackingError> {
        let mut config = self.base.clone();
        config.model.n_units = cell.size;
        config.model.pathways = cell.pathways.0.clone();
        config.train.tasks = self.order.tasks(config.tasks.encoding).into_iter().take(cell.k).collect();
        config.train.seed = cell.seed;
        config.train.steps = self.budget_steps;
        config.train.stop_at_perf = 0.0;
        config.train.plateau_window = self.plateau_steps;
        config.validate().map_err(|source| PackingError::InvalidCell { cell: cell_label(cell), source })?;
        Ok(config)
    }
}

pub fn cell_label(cell: &Cell) -> String {
    format!("N={} K={} {} seed {}", cell.size, cell.k, cell.pathways, cell.seed)
}

/// Claim `out` for `plan`: write its plan file, or check the one there is the same plan (a
/// resumed sweep or another shard of it); a directory holding another plan is refused.
pub fn claim_directory(out: &Path, plan: &PackingPlan) -> Result<(), PackingError> {
    let stored = PlanFile::of(plan);
    match read_plan_file(out)? {
        Some(existing) if existing != stored => Err(PackingError::OtherPlan(out.to_path_buf())),
        Some(_) => Ok(()),
        None => {
            let path = out.join(PLAN_FILE);
            write_atomic(&path, stored.to_toml().as_bytes()).map_err(|source| PackingError::Io { action: "write", path, source })
        }
    }
}

/// The plan file in `out`, if there is one.
pub fn read_plan_file(out: &Path) -> Result<Option<PlanFile>, PackingError> {
    let path = out.join(PLAN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => PlanFile::parse(&text).map(Some).map_err(|message| PackingError::NotAPlan { path, message }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PackingError::Io { action: "read", path, source }),
    }
}
