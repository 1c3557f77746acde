//! One cell of any network (`SubsetCell`), the BPTT cell, and the sweep over cells with shards
//! and resume.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use super::SubsetError;
use super::bptt::BpttSubset;
use super::figure::spread_chart;
use super::measure::*;
use super::plan::*;
use super::rate::*;
use super::spiking::*;
use super::table::*;
use crate::analysis::spread::{Spread, spread, task_variance};
use crate::experiments::parallel::run_each;
use crate::figure::{self};
use crate::io::write_atomic;
use crate::rng::Rng;

/// One cell of either network in progress. A caller that shows progress (the app) trains it
/// loop by loop and may probe it; [`run_cell`] does it all.
pub enum SubsetCell {
    Rate(Box<RateRun>),
    Spiking(Box<SpikingRun>),
    Bptt(Box<BpttRun>),
}

impl SubsetCell {
    pub fn new(plan: &SubsetPlan, g: f64, fraction: f64, seed: u64) -> Result<Self, SubsetError> {
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
    pub(super) fn new(plan: &SubsetPlan, g: f64, fraction: f64, seed: u64) -> Result<Self, String> {
        let net = BpttSubset::new(&plan.bptt_settings(g, fraction, seed))?;
        let (rng, probe_rng) = (Rng::seed_from(seed ^ 0x5B5E_7000), Rng::seed_from(seed ^ PROBE_STREAM));
        Ok(Self { plan: plan.clone(), g, fraction, seed, net, rng, probe_rng })
    }

    /// The spread on `trials` repeats of the probe stream's conditions (a fresh draw each time).
    pub(super) fn probe(&mut self, trials: usize) -> Spread {
        let (trained, n_e) = self.net.trained();
        match self.net.record(trials.max(2), &mut self.probe_rng) {
            Ok(record) => spread(&record.rates, &task_variance(&record.rates), &trained, n_e),
            Err(_) => Spread::default(),
        }
    }

    pub(super) fn measure(&mut self) -> Measured {
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
pub fn run_cell(plan: &SubsetPlan, g: f64, fraction: f64, seed: u64) -> Result<SubsetRow, SubsetError> {
    let mut cell = SubsetCell::new(plan, g, fraction, seed)?;
    for trial in 0..cell.loops() {
        cell.train_loop(trial);
        if let Some(failure) = cell.failure() {
            return Err(SubsetError::Cell { g, fraction, seed, why: failure.to_string() });
        }
    }
    Ok(cell.measure().row)
}

/// Run every cell of `plan` (or of shard I of N) not yet in the table, `jobs` at a time, writing
/// the table after each cell (atomically), then the figure; `progress(done, total)` after each.
pub fn sweep(
    plan: &SubsetPlan,
    out: &Path,
    shard: Option<(usize, usize)>,
    jobs: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<SubsetRow>, SubsetError> {
    plan.validate()?;
    std::fs::create_dir_all(out).map_err(|source| SubsetError::Io { action: "create", path: out.to_path_buf(), source })?;
    let path = table_path(out, shard);
    let mut rows = read_table(&path)?;
    if let Some(row) = rows.iter().find(|row| plan_of(row) != plan_of_plan(plan)) {
        return Err(SubsetError::Table(format!(
            "{} holds cells of another plan ({}), not this one ({}): resume with the same settings or write to another --out",
            path.display(),
            describe_plan(plan_of(row)),
            describe_plan(plan_of_plan(plan))
        )));
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
        write_atomic(&path, text.as_bytes()).map_err(|source| SubsetError::Io { action: "write", path: path.clone(), source })
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
        figure::write_figure(out, "spread", &spread_chart(&rows).to_svg()).map_err(|e| SubsetError::Figure(e.to_string()))?;
    }
    Ok(rows)
}
