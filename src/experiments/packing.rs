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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::AtomicBool;

use crate::config::{Config, InvalidConfig};
use crate::figure::{HeatMaps, HeatPanel, LineChart, Series};
use crate::model::{ModelError, Pathway};
use crate::tasks::{Encoding, Task, chance_performance};
use crate::train::eval::{EvalOptions, evaluate_params};
use crate::train::{self, NoProgress, RunEnd, TrainError, Trainer};

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
    #[error("bad shard '{0}': expected I/N with 0 ≤ I < N, e.g. --shard 0/4")]
    BadShard(String),
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

/// The trials per task of a cell's final evaluation (its judgement), from a stream of their own.
pub const FINAL_TRIALS: usize = 256;
const FINAL_STREAM: u64 = 0x0066_696e_616c;
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

/// Items `index`, `index + count`, `index + 2·count`, … (shard `index` of `count`): packing
/// cells, reproduce runs.
pub fn shard<T>(items: Vec<T>, index: usize, count: usize) -> Vec<T> {
    items.into_iter().enumerate().filter(|(i, _)| i % count == index).map(|(_, c)| c).collect()
}

/// Parse `I/N` (0 ≤ I < N).
pub fn parse_shard(text: &str) -> Result<(usize, usize), PackingError> {
    let bad = || PackingError::BadShard(text.to_string());
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n) = (i.trim().parse::<usize>().map_err(|_| bad())?, n.trim().parse::<usize>().map_err(|_| bad())?);
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// Why a cell stopped training.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The plateau rule: its mean performance stopped improving.
    Plateau,
    /// The step budget was spent first.
    Budget,
    /// The loss became non-finite: this size cannot hold these tasks at this learning rate.
    Diverged,
}

impl Stop {
    pub fn name(self) -> &'static str {
        match self {
            Stop::Plateau => "plateau",
            Stop::Budget => "budget",
            Stop::Diverged => "diverged",
        }
    }

    fn parse(s: &str) -> Option<Stop> {
        [Stop::Plateau, Stop::Budget, Stop::Diverged].into_iter().find(|stop| stop.name() == s)
    }
}

/// The outcome of one cell: one row of `packing.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct CellResult {
    pub cell: Cell,
    /// Steps trained.
    pub steps: u64,
    pub stop: Stop,
    /// Of the final evaluation ([`FINAL_TRIALS`] fresh trials per task).
    pub perf_min: f64,
    pub perf_mean: f64,
    /// The lowest over tasks of (perf − chance) / (1 − chance).
    pub score_min: f64,
    /// Every task held: `score_min` ≥ the criterion.
    pub met: bool,
}

pub const PACKING_HEADER: &str = "size,k,pathways,seed,steps,stop,perf_min,perf_mean,score_min,met";

impl CellResult {
    pub fn csv_line(&self) -> String {
        format!(
            "{},{},{},{},{},{},{:.6},{:.6},{:.6},{}",
            self.cell.size,
            self.cell.k,
            self.cell.pathways,
            self.cell.seed,
            self.steps,
            self.stop.name(),
            self.perf_min,
            self.perf_mean,
            self.score_min,
            self.met
        )
    }

    fn parse(line: &str) -> Result<CellResult, String> {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() != 10 {
            return Err(format!("expected 10 fields, found {}", f.len()));
        }
        let num = |i: usize, what: &str| f[i].parse::<f64>().map_err(|_| format!("bad {what} '{}'", f[i]));
        Ok(CellResult {
            cell: Cell {
                size: f[0].parse().map_err(|_| format!("bad size '{}'", f[0]))?,
                k: f[1].parse().map_err(|_| format!("bad k '{}'", f[1]))?,
                pathways: f[2].parse().map_err(|e: ModelError| e.to_string())?,
                seed: f[3].parse().map_err(|_| format!("bad seed '{}'", f[3]))?,
            },
            steps: f[4].parse().map_err(|_| format!("bad steps '{}'", f[4]))?,
            stop: Stop::parse(f[5]).ok_or_else(|| format!("bad stop '{}': plateau, budget or diverged", f[5]))?,
            perf_min: num(6, "perf_min")?,
            perf_mean: num(7, "perf_mean")?,
            score_min: num(8, "score_min")?,
            met: f[9].parse().map_err(|_| format!("bad met '{}': true or false", f[9]))?,
        })
    }
}

/// The header of tables before the plateau rule and the chance-corrected criterion.
const OLD_PACKING_HEADER: &str = "size,k,pathways,seed,steps_to_criterion,perf_min,perf_mean";

/// Read a `packing.csv` text; `source` names it in errors.
pub fn parse_csv(text: &str, source: &str) -> Result<Vec<CellResult>, PackingError> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let bad = |message: String| PackingError::Table { file: source.to_string(), message };
    match lines.next() {
        Some((_, header)) if header.trim() == PACKING_HEADER => {}
        Some((_, header)) if header.trim() == OLD_PACKING_HEADER => {
            return Err(bad(
                "written by an earlier modulab, which judged cells at any evaluation and without chance; run the sweep into a new --out"
                    .into(),
            ));
        }
        Some((_, header)) => return Err(bad(format!("unexpected header '{header}', expected '{PACKING_HEADER}'"))),
        None => return Ok(Vec::new()),
    }
    lines.map(|(i, line)| CellResult::parse(line).map_err(|e| bad(format!("line {}: {e}", i + 1)))).collect()
}

/// The CSV text of results, sorted in the plan's cell order (size, K, pathways, seed) so the
/// table does not depend on the order cells finished in or on sharding.
pub fn to_csv(results: &[CellResult]) -> String {
    let mut sorted: Vec<&CellResult> = results.iter().collect();
    sorted.sort_by(|a, b| a.cell.cmp(&b.cell));
    let mut text = String::from(PACKING_HEADER);
    text.push('\n');
    for r in sorted {
        text.push_str(&r.csv_line());
        text.push('\n');
    }
    text
}

/// Join tables (shards); a cell present twice must have the same result in both.
pub fn merge(tables: Vec<Vec<CellResult>>) -> Result<Vec<CellResult>, PackingError> {
    let mut by_cell: BTreeMap<Cell, CellResult> = BTreeMap::new();
    for result in tables.into_iter().flatten() {
        match by_cell.get(&result.cell) {
            Some(existing) if *existing != result => {
                return Err(PackingError::Conflict {
                    cell: cell_label(&result.cell),
                    first: existing.csv_line(),
                    second: result.csv_line(),
                });
            }
            _ => {
                by_cell.insert(result.cell.clone(), result);
            }
        }
    }
    Ok(by_cell.into_values().collect())
}

/// A task's score: how far its performance lies from `chance` (0) to perfect (1). A task whose
/// chance is already perfect scores 0 (nothing to learn shows nothing).
pub fn score(perf: f64, chance: f64, ceiling: f64) -> f64 {
    if ceiling > chance { (perf - chance) / (ceiling - chance) } else { 0.0 }
}

/// Train one cell, then judge it on fresh trials. `None` when `cancel` was raised before it
/// finished (nothing to record).
pub fn run_cell(plan: &PackingPlan, cell: &Cell, threads: usize, cancel: &AtomicBool) -> Result<Option<CellResult>, PackingError> {
    let mut config = plan.config_for(cell)?;
    config.runtime.threads = threads;
    let train_err = |source| PackingError::Train { cell: cell_label(cell), source };
    let mut trainer = Trainer::new(config);
    let stop = match train::run(&mut trainer, &mut NoProgress, cancel, None) {
        Ok(RunEnd::Cancelled) => return Ok(None),
        Ok(RunEnd::Plateau) => Stop::Plateau,
        Ok(RunEnd::Finished | RunEnd::Converged) => Stop::Budget,
        // a diverging cell is a result of the sweep (this size cannot hold these tasks at this
        // learning rate), not a failure of it: recorded as holding nothing
        Err(TrainError::Diverged { step, .. }) => {
            let cell = cell.clone();
            return Ok(Some(CellResult {
                cell,
                steps: step,
                stop: Stop::Diverged,
                perf_min: 0.0,
                perf_mean: 0.0,
                score_min: 0.0,
                met: false,
            }));
        }
        Err(source) => return Err(train_err(source)),
    };
    let options = EvalOptions { trials: Some(FINAL_TRIALS), stream: FINAL_STREAM, ..EvalOptions::default() };
    let last = evaluate_params(&trainer.config, &trainer.params, trainer.step, &options).map_err(train_err)?;
    let mut score_min = f64::INFINITY;
    for (task, perf) in &last.perf {
        let chance = chance_performance(*task, &trainer.config.tasks).map_err(|e| train_err(e.into()))?;
        score_min = score_min.min(score(*perf as f64, chance, 1.0));
    }
    Ok(Some(CellResult {
        cell: cell.clone(),
        steps: trainer.step,
        stop,
        perf_min: last.perf_min(),
        perf_mean: last.perf_mean(),
        score_min,
        met: score_min >= plan.criterion,
    }))
}

/// How to split `cores` between cells trained at once: (cells at once, threads per cell). One
/// thread per cell while there are enough cells (small networks gain little from more threads).
pub fn parallelism(cores: usize, cells: usize) -> (usize, usize) {
    let jobs = cores.min(cells).max(1);
    (jobs, (cores / jobs).max(1))
}

/// Train `cells` on `jobs` threads at once (each cell with `threads` threads), and hand every
/// outcome of [`run_cell`] to `on_outcome` on the calling thread as soon as its cell ends (in the
/// order cells finish). No new cell starts once `cancel` is raised (`on_outcome` may raise it,
/// e.g. after a failure); cells in progress then stop at their next step and report `Ok(None)`.
/// Returns when every thread has stopped.
pub fn run_cells(
    plan: &PackingPlan,
    cells: &[Cell],
    jobs: usize,
    threads: usize,
    cancel: &AtomicBool,
    on_outcome: impl FnMut(Result<Option<CellResult>, PackingError>),
) {
    super::parallel::run_each(cells, jobs, cancel, |cell| run_cell(plan, cell, threads, cancel), on_outcome);
}

/// Capacity of one (pathway set, size, seed): the largest K such that the cells of every
/// measured K up to it met the criterion (a failing smaller K ends the count: capacity is
/// monotone). Zero when the smallest K failed.
pub fn capacity_per_seed(results: &[CellResult]) -> BTreeMap<(PathwaySet, usize), BTreeMap<u64, usize>> {
    // (set, size) → seed → (K, met) of each measured K
    type Cells = BTreeMap<(PathwaySet, usize), BTreeMap<u64, Vec<(usize, bool)>>>;
    let mut by_seed = Cells::new();
    for r in results {
        by_seed.entry((r.cell.pathways.clone(), r.cell.size)).or_default().entry(r.cell.seed).or_default().push((r.cell.k, r.met));
    }
    by_seed
        .into_iter()
        .map(|(key, seeds)| {
            let capacity = seeds
                .into_iter()
                .map(|(seed, mut cells)| {
                    cells.sort();
                    (seed, cells.iter().take_while(|(_, met)| *met).last().map_or(0, |(k, _)| *k))
                })
                .collect();
            (key, capacity)
        })
        .collect()
}

/// Capacity vs network size, one line per pathway set (mean over seeds, band = min–max).
pub fn capacity_chart(results: &[CellResult], criterion: f64) -> LineChart {
    let mut series: BTreeMap<PathwaySet, Series> = BTreeMap::new();
    for ((set, size), seeds) in capacity_per_seed(results) {
        let values: Vec<f64> = seeds.values().map(|k| *k as f64).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        let s = series.entry(set.clone()).or_insert_with(|| Series { name: set.to_string(), ..Series::default() });
        s.points.push((size as f64, mean));
        s.band.push((size as f64, lo, hi));
    }
    LineChart {
        title: format!("Task packing: capacity (largest K up to which every task scored ≥ {criterion}) — reconstruction"),
        note: "score = (perf − chance) / (1 − chance), judged on fresh trials after training; line = mean over seeds, band = min–max"
            .into(),
        x_label: "network size N (units)".into(),
        y_label: "capacity (tasks)".into(),
        y_range: None,
        series: series.into_values().collect(),
        ..LineChart::default()
    }
}

/// Final minimum task performance on a size × K grid, one panel per pathway set (mean over seeds).
pub fn perf_heat_maps(results: &[CellResult]) -> HeatMaps {
    let sizes: BTreeSet<usize> = results.iter().map(|r| r.cell.size).collect();
    let ks: BTreeSet<usize> = results.iter().map(|r| r.cell.k).collect();
    let sets: BTreeSet<&PathwaySet> = results.iter().map(|r| &r.cell.pathways).collect();
    let panels = sets
        .into_iter()
        .map(|set| HeatPanel {
            title: set.to_string(),
            values: sizes
                .iter()
                .map(|size| {
                    ks.iter()
                        .map(|k| {
                            let perfs: Vec<f64> = results
                                .iter()
                                .filter(|r| r.cell.pathways == *set && r.cell.size == *size && r.cell.k == *k)
                                .map(|r| r.perf_min)
                                .collect();
                            (!perfs.is_empty()).then(|| perfs.iter().sum::<f64>() / perfs.len() as f64)
                        })
                        .collect()
                })
                .collect(),
        })
        .collect();
    HeatMaps {
        title: "Task packing: worst-task performance after training — reconstruction".into(),
        x_label: "number of tasks K".into(),
        y_label: "network size N".into(),
        col_labels: ks.iter().map(|k| k.to_string()).collect(),
        row_labels: sizes.iter().map(|n| n.to_string()).collect(),
        range: (0.0, 1.0),
        colorbar_label: "perf_min".into(),
        panels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(size: usize, k: usize, set: &str, seed: u64, met: bool, perf_min: f64) -> CellResult {
        CellResult {
            cell: Cell { size, k, pathways: set.parse().unwrap(), seed },
            steps: 3000,
            stop: Stop::Plateau,
            perf_min,
            perf_mean: perf_min,
            score_min: perf_min - 0.05,
            met,
        }
    }

    #[test]
    fn task_orders_hold_every_task_once() {
        for order in [TaskOrder::Families, TaskOrder::Yang] {
            let ring = order.tasks(Encoding::Ring);
            assert_eq!(ring.iter().collect::<BTreeSet<_>>().len(), 20);
            assert_eq!(order.tasks(Encoding::Compact).len(), 15);
        }
        // the comparison presets' tasks, in another order
        let comparison: BTreeSet<Task> = TaskOrder::Comparison.tasks(Encoding::Ring).into_iter().collect();
        let preset = Config::from_preset("bias", &[]).unwrap();
        assert_eq!(comparison, preset.train.tasks.iter().copied().collect());
        assert_eq!("comparison".parse::<TaskOrder>().unwrap(), TaskOrder::Comparison);
        assert_eq!(&TaskOrder::Families.tasks(Encoding::Ring)[..4], &[Task::FdGo, Task::FdAnti, Task::Dm1, Task::DmsGo]);
    }

    #[test]
    fn pathway_sets_are_canonical() {
        assert_eq!("synaptic+bias".parse::<PathwaySet>().unwrap().to_string(), "bias+synaptic");
        assert_eq!("none".parse::<PathwaySet>().unwrap().0, vec![]);
        assert!("bias+spin".parse::<PathwaySet>().unwrap_err().to_string().contains("valid pathways"));
    }

    #[test]
    fn shards_partition_the_cells() {
        let plan = PackingPlan {
            base: Config::from_preset("quick", &[]).unwrap(),
            sizes: vec![8, 16],
            task_counts: vec![2, 4, 8],
            pathway_sets: vec!["bias".parse().unwrap(), "gain+synaptic".parse().unwrap()],
            seeds: vec![0, 1],
            budget_steps: 10,
            plateau_steps: 0,
            criterion: 0.9,
            order: TaskOrder::Families,
        };
        plan.validate().unwrap();
        let cells = plan.cells();
        assert_eq!(cells.len(), 2 * 3 * 2 * 2);
        let mut joined: Vec<Cell> = (0..5).flat_map(|i| shard(cells.clone(), i, 5)).collect();
        joined.sort();
        let mut all = cells.clone();
        all.sort();
        assert_eq!(joined, all);
        let config = plan.config_for(&cells[cells.len() - 1]).unwrap();
        assert_eq!((config.model.n_units, config.train.tasks.len(), config.train.seed), (16, 8, 1));
        assert_eq!(config.model.pathways, vec![Pathway::Gain, Pathway::Synaptic]);
        assert_eq!(parse_shard("2/4").unwrap(), (2, 4));
        assert!(parse_shard("4/4").is_err() && parse_shard("x").is_err());
        let mut bad = plan.clone();
        bad.task_counts = vec![21];
        assert!(bad.validate().unwrap_err().to_string().contains("20 tasks"));
    }

    #[test]
    fn csv_round_trips_and_merge_rejects_conflicts() {
        let rows = vec![result(16, 2, "bias", 0, true, 0.95), result(8, 4, "gain+synaptic", 1, false, 0.5)];
        let text = to_csv(&rows);
        assert!(text.starts_with(PACKING_HEADER));
        assert!(text.contains("\n8,4,gain+synaptic,1,3000,plateau,0.500000,0.500000,0.450000,false\n"), "{text}");
        let parsed = parse_csv(&text, "t").unwrap();
        assert_eq!(merge(vec![parsed.clone(), parsed.clone()]).unwrap().len(), 2);
        let mut changed = parsed.clone();
        changed[0].perf_min = 0.1;
        assert!(merge(vec![parsed, changed]).unwrap_err().to_string().contains("appears twice"));
        assert!(parse_csv("size,k\n", "x.csv").unwrap_err().to_string().contains("x.csv"));
        assert!(
            parse_csv(&format!("{PACKING_HEADER}\n8,2,bias,0,10,plateau,zz,0.5,0.4,true\n"), "x.csv")
                .unwrap_err()
                .to_string()
                .contains("line 2")
        );
        assert!(parse_csv(&format!("{PACKING_HEADER}\n8,2,bias,0,10,later,0.5,0.5,0.4,true\n"), "x.csv").is_err());
        let old = parse_csv(&format!("{OLD_PACKING_HEADER}\n8,2,bias,0,,0.5,0.5\n"), "old.csv").unwrap_err().to_string();
        assert!(old.contains("earlier modulab") && old.contains("new --out"), "{old}");
    }

    #[test]
    fn capacity_is_the_largest_k_up_to_which_every_k_met_the_criterion() {
        let rows = vec![
            result(8, 2, "bias", 0, true, 0.95),
            result(8, 4, "bias", 0, false, 0.7),
            result(8, 2, "bias", 1, true, 0.95),
            result(8, 4, "bias", 1, true, 0.92),
            result(16, 2, "bias", 0, false, 0.2),
            // K = 4 failed, K = 6 met: a failing smaller K is not skipped over
            result(16, 6, "bias", 0, true, 0.95),
            result(16, 4, "bias", 0, false, 0.3),
        ];
        let capacity = capacity_per_seed(&rows);
        let bias: PathwaySet = "bias".parse().unwrap();
        assert_eq!(capacity[&(bias.clone(), 8)], BTreeMap::from([(0, 2), (1, 4)]));
        assert_eq!(capacity[&(bias, 16)], BTreeMap::from([(0, 0)]));
        let chart = capacity_chart(&rows, 0.9);
        let bias = &chart.series[0];
        assert_eq!(bias.points, vec![(8.0, 3.0), (16.0, 0.0)]);
        assert_eq!(bias.band[0], (8.0, 2.0, 4.0));
        let maps = perf_heat_maps(&rows);
        assert_eq!(maps.row_labels, vec!["8", "16"]);
        assert_eq!(maps.panels[0].values[0][0], Some(0.95));
        assert_eq!(maps.panels[0].values[1][1], Some(0.3));
        assert_eq!(maps.panels[0].values[0][2], None, "no K = 6 cell at N = 8");
    }

    #[test]
    fn cores_go_to_cells_first_then_threads() {
        assert_eq!(parallelism(2, 27), (2, 1));
        assert_eq!(parallelism(4, 1), (1, 4));
        assert_eq!(parallelism(4, 3), (3, 1));
        assert_eq!(parallelism(2, 0), (1, 2));
    }

    #[test]
    fn run_cells_reports_every_cell_and_starts_none_once_cancelled() {
        let plan = PackingPlan {
            base: Config::from_preset("quick", &["model.n_units=8".into(), "train.eval_every=2".into(), "train.eval_trials=4".into()])
                .unwrap(),
            sizes: vec![8],
            task_counts: vec![1, 2],
            pathway_sets: vec!["bias".parse().unwrap()],
            seeds: vec![0],
            budget_steps: 2,
            plateau_steps: 2,
            criterion: 0.9,
            order: TaskOrder::Families,
        };
        let cells = plan.cells();
        let mut seen = Vec::new();
        run_cells(&plan, &cells, 2, 1, &AtomicBool::new(false), |outcome| seen.push(outcome.unwrap().unwrap().cell));
        seen.sort();
        assert_eq!(seen, cells);
        let mut called = false;
        run_cells(&plan, &cells, 2, 1, &AtomicBool::new(true), |_| called = true);
        assert!(!called, "no cell starts after a cancel");
    }

    #[test]
    fn scores_run_from_chance_to_the_ceiling() {
        // dmsnogo: always fixating scores 0.5, so 0.657 is only 31 % of the way to perfect
        assert!((score(0.657, 0.5, 1.0) - 0.314).abs() < 1e-9);
        assert!((score(0.95, 0.5, 1.0) - 0.9).abs() < 1e-12);
        assert_eq!(score(0.2, 0.2, 1.0), 0.0);
        assert!(score(0.1, 0.2, 1.0) < 0.0, "below chance");
        assert_eq!(score(0.9, 0.5, 0.5), 0.0, "nothing to learn");
        // against a ceiling below 1: 90 % of the way from 0.5 to 0.8
        assert!((score(0.77, 0.5, 0.8) - 0.9).abs() < 1e-9);
    }
}
