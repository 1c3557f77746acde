//! One cell of any network — the rate, spiking and BPTT runners each implement [`Runner`] (in
//! `measure.rs`), and [`start_cell`] is the one place that picks among them — and the sweep of cells
//! ([`SubsetSweep`]) that the sweep driver runs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::SubsetError;
use super::bptt::BpttSubset;
use super::figure::spread_chart;
use super::measure::*;
use super::plan::*;
use super::rate::*;
use super::spiking::*;
use super::table::*;
use crate::analysis::spread::{Spread, spread, task_variance};
use crate::experiments::driver::{CellContext, Sweep};
use crate::figure;
use crate::io::write_atomic;
use crate::rng::Rng;

/// One cell of a subset sweep in progress, whichever its network.
pub type SubsetCell = Box<dyn Runner>;

/// The runner of `plan`'s network for one cell.
pub fn start_cell(plan: &SubsetPlan, g: f64, fraction: f64, seed: u64) -> Result<SubsetCell, SubsetError> {
    Ok(match plan.model {
        SubsetModel::Rate if plan.training == Training::Bptt => Box::new(BpttRun::new(plan, g, fraction, seed)?),
        SubsetModel::Rate => Box::new(RateRun::new(plan, g, fraction, seed)?),
        SubsetModel::Spiking => Box::new(SpikingRun::new(plan, g, fraction, seed)?),
    })
}

/// The BPTT cell in progress: the engine's network learning the quick preset's tasks.
pub struct BpttRun {
    pub plan: SubsetPlan,
    pub g: f64,
    pub fraction: f64,
    pub seed: u64,
    pub net: BpttSubset,
    /// The test trials' stream and the live probes' own one.
    pub(super) rng: Rng,
    pub(super) probe_rng: Rng,
}

impl BpttRun {
    pub(super) fn new(plan: &SubsetPlan, g: f64, fraction: f64, seed: u64) -> Result<Self, SubsetError> {
        let net = BpttSubset::new(&plan.bptt_settings(g, fraction, seed))?;
        let (rng, probe_rng) = (Rng::seed_from(seed ^ 0x5B5E_7000), Rng::seed_from(seed ^ PROBE_STREAM));
        Ok(Self { plan: plan.clone(), g, fraction, seed, net, rng, probe_rng })
    }
}

impl Runner for BpttRun {
    fn loops(&self) -> usize {
        self.plan.loops
    }

    fn train_loop(&mut self, _trial: usize) -> f64 {
        self.net.step()
    }

    fn probe_every(&self) -> usize {
        100
    }

    fn failure(&self) -> Option<&str> {
        self.net.failure.as_deref()
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

/// Train (or clamp) one network and measure it; `None` when `cancel` was raised before it was
/// trained (checked between training loops).
pub fn run_cell(plan: &SubsetPlan, g: f64, fraction: f64, seed: u64, cancel: &AtomicBool) -> Result<Option<SubsetRow>, SubsetError> {
    let mut cell = start_cell(plan, g, fraction, seed)?;
    for trial in 0..cell.loops() {
        if cancel.load(Ordering::Relaxed) {
            return Ok(None);
        }
        cell.train_loop(trial);
        if let Some(failure) = cell.failure() {
            return Err(SubsetError::Cell { g, fraction, seed, why: failure.to_string() });
        }
    }
    Ok(Some(cell.measure().row))
}

/// A subset sweep: the cells of `plan` (or of one shard), kept in the table of `out` (written
/// whole, atomically, after every cell). A table holding another plan's cells is refused.
pub struct SubsetSweep<'a> {
    plan: &'a SubsetPlan,
    out: &'a Path,
    shard: Option<(usize, usize)>,
}

impl<'a> SubsetSweep<'a> {
    /// The sweep of `plan` (or of one shard of it) into `out`: the plan checked, the directory
    /// made, and a table there that holds another plan's cells refused.
    pub fn open(plan: &'a SubsetPlan, out: &'a Path, shard: Option<(usize, usize)>) -> Result<Self, SubsetError> {
        let sweep = SubsetSweep { plan, out, shard };
        plan.validate()?;
        std::fs::create_dir_all(out).map_err(|source| SubsetError::Io { action: "create", path: out.to_path_buf(), source })?;
        let path = sweep.table();
        let rows = read_table(&path)?;
        if let Some(row) = rows.iter().find(|row| plan_of(row) != plan_of_plan(plan)) {
            return Err(SubsetError::Table(format!(
                "{} holds cells of another plan ({}), not this one ({}): resume with the same settings or write to another --out",
                path.display(),
                describe_plan(plan_of(row)),
                describe_plan(plan_of_plan(plan))
            )));
        }
        Ok(sweep)
    }

    fn table(&self) -> PathBuf {
        table_path(self.out, self.shard)
    }

    fn write(&self, rows: &[SubsetRow]) -> Result<(), SubsetError> {
        let path = self.table();
        let mut text = format!("{HEADER}\n");
        rows.iter().for_each(|r| text.push_str(&(r.csv_line() + "\n")));
        write_atomic(&path, text.as_bytes()).map_err(|source| SubsetError::Io { action: "write", path, source })
    }

    /// After every cell of the shard is done: the table in the plan's order, and (for a whole
    /// sweep) its summary and figure.
    pub fn finish(&self, mut rows: Vec<SubsetRow>) -> Result<Vec<SubsetRow>, SubsetError> {
        rows.sort_by(|a, b| (a.g, a.fraction, a.seed).partial_cmp(&(b.g, b.fraction, b.seed)).unwrap_or(std::cmp::Ordering::Equal));
        self.write(&rows)?;
        if self.shard.is_none() {
            write_summary(self.out, &rows)?;
            figure::write_figure(self.out, "spread", &spread_chart(&rows).to_svg()).map_err(|e| SubsetError::Figure(e.to_string()))?;
        }
        Ok(rows)
    }
}

impl Sweep for SubsetSweep<'_> {
    type Cell = (f64, f64, u64);
    type Row = SubsetRow;
    type Error = SubsetError;

    fn cells(&self) -> Vec<(f64, f64, u64)> {
        self.plan.cells()
    }

    fn resume(&self, cells: Vec<(f64, f64, u64)>) -> Result<(Vec<SubsetRow>, Vec<(f64, f64, u64)>), SubsetError> {
        let rows = read_table(&self.table())?;
        let same = |row: &SubsetRow, (g, f, seed): (f64, f64, u64)| row.g == g && row.fraction == f && row.seed == seed;
        let todo = cells.into_iter().filter(|cell| !rows.iter().any(|row| same(row, *cell))).collect();
        Ok((rows, todo))
    }

    fn run(&self, &(g, fraction, seed): &(f64, f64, u64), context: &CellContext) -> Result<Option<SubsetRow>, SubsetError> {
        let plan = SubsetPlan { threads: context.threads, ..self.plan.clone() };
        run_cell(&plan, g, fraction, seed, context.cancel)
    }

    fn keep(&self, rows: &[SubsetRow]) -> Result<(), SubsetError> {
        self.write(rows)
    }

    fn describe(&self, row: &SubsetRow) -> String {
        let ratio = row.spread_ratio.map_or("undetermined".to_string(), |r| format!("{r:.2}"));
        format!("g = {}, f = {}, seed {}: spread ratio {ratio}", row.g, row.fraction, row.seed)
    }
}
