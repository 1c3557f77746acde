//! The app's packing sweep as a [`Job`] on a thread of its own (docs/MODEL.md §4B): the cells of
//! a [`PackingPlan`] trained by the sweep driver that runs `modulab sweep packing`
//! ([`driver::run_cells`]), a few at a time (as many as there are cores, each on its own thread), so results arrive as
//! cells finish and a cancel stops the cells in progress at their next step.

use std::sync::atomic::AtomicBool;

use super::job::{Job, JobError, Stopped};
use crate::experiments::driver::{self, Unwatched};
use crate::experiments::packing::{Cell, CellResult, PackingPlan, PackingSweep};

/// What the sweep has found so far.
#[derive(Clone, Debug, Default)]
pub struct PackingOutput {
    pub results: Vec<CellResult>,
    /// Cells in the plan.
    pub total: usize,
    pub stopped: Option<Stopped>,
}

/// A packing sweep in progress.
pub struct PackingJob {
    plan: PackingPlan,
    cells: Vec<Cell>,
    next: usize,
    /// Cells trained at once, and threads for each.
    jobs: usize,
    threads: usize,
    output: PackingOutput,
}

impl PackingJob {
    /// Every cell of `plan`, using every core (cells in parallel, one thread each while there
    /// are enough cells).
    pub fn new(plan: PackingPlan) -> Self {
        let cells = plan.cells();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (jobs, threads) = driver::parallelism(cores, None, cells.len());
        let output = PackingOutput { total: cells.len(), ..PackingOutput::default() };
        PackingJob { plan, cells, next: 0, jobs, threads, output }
    }
}

impl Job for PackingJob {
    type Output = PackingOutput;

    fn name(&self) -> &'static str {
        "packing sweep"
    }

    /// Train the next `jobs` cells at once.
    fn unit(&mut self, cancel: &AtomicBool) -> Result<bool, JobError> {
        let chunk = &self.cells[self.next..(self.next + self.jobs).min(self.cells.len())];
        let mut failure = None;
        let sweep = PackingSweep { plan: &self.plan, table: None };
        driver::run_cells(&sweep, chunk, chunk.len(), self.threads, cancel, &Unwatched, |outcome| match outcome {
            Ok(Some(result)) => self.output.results.push(result),
            Ok(None) => {} // cancelled: nothing to record
            Err(e) => failure = Some(e),
        });
        self.next += chunk.len();
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(self.next >= self.cells.len()),
        }
    }

    fn output(&self) -> &PackingOutput {
        &self.output
    }

    fn stop(&mut self, why: Stopped) {
        self.output.stopped = Some(why);
    }
}
