//! Training and judging one packing cell, and the sweep of them for [`super::super::driver`].

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use super::*;
use crate::experiments::driver::{CellContext, Sweep};
use crate::io::write_atomic;
use crate::tasks::chance_performance;
use crate::train::eval::{EvalOptions, evaluate_params};
use crate::train::{self, NoProgress, RunEnd, TrainError, Trainer};

/// The trials per task of a cell's final evaluation (its judgement), from a stream of their own.
pub const FINAL_TRIALS: usize = 256;
const FINAL_STREAM: u64 = 0x0066_696e_616c;

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

/// A packing sweep: the cells of `plan`, kept in the table at `table` (written whole, atomically,
/// after every cell, so it always holds every finished cell), or only in memory (the app).
pub struct PackingSweep<'a> {
    pub plan: &'a PackingPlan,
    pub table: Option<PathBuf>,
}

impl Sweep for PackingSweep<'_> {
    type Cell = Cell;
    type Row = CellResult;
    type Error = PackingError;

    fn cells(&self) -> Vec<Cell> {
        self.plan.cells()
    }

    fn resume(&self, cells: Vec<Cell>) -> Result<(Vec<CellResult>, Vec<Cell>), PackingError> {
        let kept = match &self.table {
            Some(path) => read_table(path)?,
            None => Vec::new(),
        };
        let todo = cells.into_iter().filter(|c| !kept.iter().any(|r| r.cell == *c)).collect();
        Ok((kept, todo))
    }

    fn run(&self, cell: &Cell, context: &CellContext) -> Result<Option<CellResult>, PackingError> {
        run_cell(self.plan, cell, context.threads, context.cancel)
    }

    fn keep(&self, rows: &[CellResult]) -> Result<(), PackingError> {
        let Some(path) = &self.table else { return Ok(()) };
        write_atomic(path, to_csv(rows).as_bytes()).map_err(|source| PackingError::Io { action: "write", path: path.clone(), source })
    }

    fn describe(&self, r: &CellResult) -> String {
        format!(
            "{}: {} after {} steps ({}), worst score {:.2}",
            cell_label(&r.cell),
            if r.met { "met" } else { "not met" },
            r.steps,
            r.stop.name(),
            r.score_min
        )
    }
}
