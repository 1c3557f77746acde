//! The one sweep driver every experiment run as cells uses (packing, subset training,
//! reproduce): an experiment says what its cells are, how one runs, what is already done and how
//! a finished one is kept ([`Sweep`]); the driver does the rest the same way for all of them —
//! shards (every N-th cell, for a cluster), resume (cells already kept are skipped), several
//! cells at once with the cores shared between them, progress, cancel, and the first failure
//! stopping the sweep with every finished cell kept.
//!
//! A new experiment implements [`Sweep`] in its `run.rs`; `modulab sweep …` and the app's jobs
//! then drive it like the others.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;

/// What a running cell gets from the driver.
pub struct CellContext<'a> {
    /// Threads this cell may use (the cores shared between the cells run at once).
    pub threads: usize,
    /// Raised by Ctrl-C, a cancel in the app, or another cell's failure: stop at the next step
    /// and return `Ok(None)`.
    pub cancel: &'a AtomicBool,
    progress: &'a (dyn Fn(u64) + Sync),
}

impl CellContext<'_> {
    /// Report `work` units done (see [`Sweep::work`]); a cell that reports none is counted
    /// whole when it ends.
    pub fn progress(&self, work: u64) {
        (self.progress)(work);
    }
}

/// An experiment whose plan is a list of independent cells, each giving one row of its table.
pub trait Sweep: Sync {
    type Cell: Clone + Send + Sync;
    type Row: Send;
    type Error: Send + std::fmt::Display;

    /// Every cell of the plan, in the plan's one fixed order (shards take every N-th of it).
    fn cells(&self) -> Vec<Self::Cell>;

    /// The rows already kept (a resumed sweep: every row of its table, which may hold cells
    /// outside `cells`, e.g. of other gains) and the cells of `cells` still to run, in order.
    #[allow(clippy::type_complexity, reason = "two lists, named in the doc")]
    fn resume(&self, cells: Vec<Self::Cell>) -> Result<(Vec<Self::Row>, Vec<Self::Cell>), Self::Error>;

    /// A cell's size in progress units (default one per cell).
    fn work(&self, _cell: &Self::Cell) -> u64 {
        1
    }

    /// Run one cell: its row, or `None` when `context.cancel` stopped it before it finished.
    fn run(&self, cell: &Self::Cell, context: &CellContext) -> Result<Option<Self::Row>, Self::Error>;

    /// Keep a finished row (on the driving thread, in the order cells finish): `rows` holds
    /// every row of this sweep so far, the new one last. A sweep that keeps rows inside
    /// [`Sweep::run`] (a directory per cell) does nothing here.
    fn keep(&self, _rows: &[Self::Row]) -> Result<(), Self::Error> {
        Ok(())
    }

    /// One line on a finished row for the progress display.
    fn describe(&self, row: &Self::Row) -> String;
}

/// What a sweep's driving saw, for the caller's progress display.
pub trait Watch: Sync {
    /// Before the first cell: the cells of this shard, how many were kept before, the cells
    /// to run and their work, and how many run at once.
    fn start(&self, _plan: &Started) {}
    /// Work units done (from any thread).
    fn work(&self, _units: u64) {}
    /// A cell finished (on the driving thread).
    fn finished(&self, _line: &str) {}
}

/// A watch that shows nothing.
pub struct Unwatched;
impl Watch for Unwatched {}

/// How a sweep is about to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Started {
    /// Cells of this shard (of the whole plan without one).
    pub cells: usize,
    /// Of these, already kept by an earlier run.
    pub resumed: usize,
    /// The work of the cells still to run.
    pub work: u64,
    /// Cells run at once, and threads for each.
    pub jobs: usize,
    pub threads: usize,
}

/// How a sweep ended.
#[derive(Debug)]
pub struct Driven<Row> {
    /// Every row kept: what [`Sweep::resume`] found first, then this run's in the order cells
    /// finished.
    pub rows: Vec<Row>,
    pub started: Started,
    /// Cells this run finished (and kept).
    pub finished: usize,
    /// False when a cancel stopped it before every cell was done (the rows hold what was done).
    pub complete: bool,
}

/// Why a sweep stopped before its end.
#[derive(Debug)]
pub struct Failed<E> {
    pub error: E,
    /// Cells of this shard kept when it stopped (by earlier runs and by this one); `None` when
    /// it failed before running any cell (reading what an earlier run kept).
    pub kept: Option<usize>,
}

/// Drive `sweep`: the cells of `shard` (`(index, count)`, or all), minus the kept ones, `jobs`
/// at a time (default: one per core, never more than the cells), until all are done, `cancel`
/// is raised, or one fails (the first failure is returned once the cells in progress stopped;
/// every row kept before it stays kept).
pub fn drive<S: Sweep>(
    sweep: &S,
    shard: Option<(usize, usize)>,
    jobs: Option<usize>,
    cancel: &AtomicBool,
    watch: &dyn Watch,
) -> Result<Driven<S::Row>, Failed<S::Error>> {
    let cells = match shard {
        Some((index, count)) => self::shard(sweep.cells(), index, count),
        None => sweep.cells(),
    };
    let total = cells.len();
    let (mut rows, todo) = sweep.resume(cells).map_err(|error| Failed { error, kept: None })?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (jobs, threads) = parallelism(cores, jobs, todo.len());
    // counted from the cells, not the rows: a table may also hold rows of cells outside this plan
    let resumed = total.saturating_sub(todo.len());
    let started = Started { cells: total, resumed, work: todo.iter().map(|c| sweep.work(c)).sum(), jobs, threads };
    watch.start(&started);
    let (mut failure, mut finished) = (None, 0);
    run_cells(sweep, &todo, jobs, threads, cancel, watch, |outcome| match outcome {
        Ok(Some(row)) => {
            let line = sweep.describe(&row);
            rows.push(row);
            match sweep.keep(&rows) {
                Ok(()) => {
                    finished += 1;
                    watch.finished(&line);
                }
                Err(e) => {
                    failure.get_or_insert(e);
                    cancel.store(true, Ordering::SeqCst);
                }
            }
        }
        Ok(None) => {}
        Err(e) => {
            failure.get_or_insert(e);
            cancel.store(true, Ordering::SeqCst);
        }
    });
    if let Some(error) = failure {
        return Err(Failed { error, kept: Some(resumed + finished) });
    }
    Ok(Driven { rows, finished, complete: finished == todo.len(), started })
}

/// Run `cells` of `sweep`, `jobs` at a time with `threads` each, and hand every outcome to
/// `on_outcome` on the calling thread as soon as its cell ends (in the order cells finish). No
/// new cell starts once `cancel` is raised (`on_outcome` may raise it); cells in progress then
/// stop at their next step. A cell's work not reported while it ran is reported when it ends.
/// Returns when every thread has stopped. [`drive`] uses it; the app's packing job runs a few
/// cells at a time with it.
pub fn run_cells<S: Sweep>(
    sweep: &S,
    cells: &[S::Cell],
    jobs: usize,
    threads: usize,
    cancel: &AtomicBool,
    watch: &dyn Watch,
    on_outcome: impl FnMut(Result<Option<S::Row>, S::Error>),
) {
    run_each(
        cells,
        jobs,
        cancel,
        |cell| {
            let reported = AtomicU64::new(0);
            let progress = |units: u64| {
                reported.fetch_add(units, Ordering::Relaxed);
                watch.work(units);
            };
            let outcome = sweep.run(cell, &CellContext { threads, cancel, progress: &progress });
            if matches!(outcome, Ok(Some(_))) {
                watch.work(sweep.work(cell).saturating_sub(reported.load(Ordering::Relaxed)));
            }
            outcome
        },
        on_outcome,
    );
}

/// How to split `cores` between the cells run at once: (cells at once, threads per cell). By
/// default one cell per core while there are enough cells (small networks gain little from more
/// threads); never more cells at once than there are cells to run.
pub fn parallelism(cores: usize, jobs: Option<usize>, cells: usize) -> (usize, usize) {
    let jobs = jobs.unwrap_or(cores).min(cells).max(1);
    (jobs, (cores / jobs).max(1))
}

/// Items `index`, `index + count`, `index + 2·count`, … (shard `index` of `count`).
pub fn shard<T>(items: Vec<T>, index: usize, count: usize) -> Vec<T> {
    items.into_iter().enumerate().filter(|(i, _)| i % count == index).map(|(_, c)| c).collect()
}

/// A `--shard` that is not `I/N` with 0 ≤ I < N.
#[derive(Debug, thiserror::Error)]
#[error("bad shard '{0}': expected I/N with 0 ≤ I < N, e.g. --shard 0/4")]
pub struct BadShard(pub String);

/// Parse `I/N` (0 ≤ I < N).
pub fn parse_shard(text: &str) -> Result<(usize, usize), BadShard> {
    let bad = || BadShard(text.to_string());
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n) = (i.trim().parse::<usize>().map_err(|_| bad())?, n.trim().parse::<usize>().map_err(|_| bad())?);
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// Run `work` on every item on `jobs` threads at once and hand every outcome to `on_outcome` on
/// the calling thread, in the order units finish. No new unit starts once `cancel` is raised; a
/// thread stops after an error. Returns when every thread has stopped.
fn run_each<T: Sync, O: Send, E: Send>(
    items: &[T],
    jobs: usize,
    cancel: &AtomicBool,
    work: impl Fn(&T) -> Result<O, E> + Sync,
    mut on_outcome: impl FnMut(Result<O, E>),
) {
    let next = AtomicUsize::new(0);
    // one message per unit, all of which the caller collects: unbounded is bounded by the units
    let (tx, rx) = mpsc::channel::<Result<O, E>>();
    let work = &work;
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= items.len() || cancel.load(Ordering::Relaxed) {
                        break;
                    }
                    let outcome = work(&items[i]);
                    let stop = outcome.is_err();
                    if tx.send(outcome).is_err() || stop {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for outcome in rx {
            on_outcome(outcome);
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Cells 0..n; a row is the cell's square; cell `fail` fails; `done` were kept before (with
    /// `resume_extra`, also those not among the cells); `kept` holds what `keep` saw.
    struct Squares {
        n: u64,
        fail: Option<u64>,
        done: Vec<u64>,
        resume_extra: bool,
        kept: Mutex<Vec<usize>>,
    }

    impl Sweep for Squares {
        type Cell = u64;
        type Row = (u64, u64);
        type Error = String;
        fn cells(&self) -> Vec<u64> {
            (0..self.n).collect()
        }
        fn resume(&self, cells: Vec<u64>) -> Result<(Vec<(u64, u64)>, Vec<u64>), String> {
            let (done, todo) = cells.into_iter().partition::<Vec<_>, _>(|c| self.done.contains(c));
            let kept = if self.resume_extra { self.done.clone() } else { done };
            Ok((kept.into_iter().map(|c| (c, c * c)).collect(), todo))
        }
        fn work(&self, cell: &u64) -> u64 {
            cell + 1
        }
        fn run(&self, cell: &u64, context: &CellContext) -> Result<Option<(u64, u64)>, String> {
            if Some(*cell) == self.fail {
                return Err(format!("cell {cell} failed"));
            }
            if context.cancel.load(Ordering::SeqCst) {
                return Ok(None);
            }
            // half the work reported while running, the rest counted by the driver
            context.progress(cell.div_ceil(2));
            Ok(Some((*cell, cell * cell)))
        }
        fn keep(&self, rows: &[(u64, u64)]) -> Result<(), String> {
            self.kept.lock().unwrap().push(rows.len());
            Ok(())
        }
        fn describe(&self, row: &(u64, u64)) -> String {
            format!("{} squared is {}", row.0, row.1)
        }
    }

    #[derive(Default)]
    struct Seen {
        started: Mutex<Option<Started>>,
        work: AtomicU64,
        lines: Mutex<Vec<String>>,
    }
    impl Watch for Seen {
        fn start(&self, plan: &Started) {
            *self.started.lock().unwrap() = Some(plan.clone());
        }
        fn work(&self, units: u64) {
            self.work.fetch_add(units, Ordering::Relaxed);
        }
        fn finished(&self, line: &str) {
            self.lines.lock().unwrap().push(line.to_string());
        }
    }

    fn squares(n: u64, fail: Option<u64>, done: Vec<u64>) -> Squares {
        Squares { n, fail, done, resume_extra: false, kept: Mutex::new(Vec::new()) }
    }

    #[test]
    fn a_sweep_runs_its_shard_minus_the_kept_cells_and_counts_all_their_work() {
        // shard 1 of 2 of 0..7 is 1, 3, 5; 3 was kept before
        let sweep = squares(7, None, vec![3]);
        let seen = Seen::default();
        let driven = drive(&sweep, Some((1, 2)), Some(2), &AtomicBool::new(false), &seen).unwrap();
        assert!(driven.complete);
        assert_eq!(driven.rows[0], (3, 9), "resumed rows first");
        let mut rows = driven.rows.clone();
        rows.sort();
        assert_eq!(rows, vec![(1, 1), (3, 9), (5, 25)]);
        let started = seen.started.lock().unwrap().clone().unwrap();
        assert_eq!((started.cells, started.resumed, started.work, started.jobs), (3, 1, 2 + 6, 2));
        assert_eq!(seen.work.load(Ordering::Relaxed), 8, "every unit of work counted once");
        assert_eq!(seen.lines.lock().unwrap().len(), 2);
        assert_eq!(*sweep.kept.lock().unwrap(), vec![2, 3], "kept after each cell, with every row so far");
    }

    #[test]
    fn the_first_failure_stops_the_sweep_and_is_returned() {
        let sweep = squares(6, Some(2), vec![]);
        let failed = drive(&sweep, None, Some(1), &AtomicBool::new(false), &Unwatched).unwrap_err();
        assert_eq!(failed.error, "cell 2 failed");
        assert_eq!(failed.kept, Some(2), "cells 0 and 1");
        assert_eq!(*sweep.kept.lock().unwrap(), vec![1, 2], "the cells before it were kept; none started after it");
    }

    #[test]
    fn rows_kept_outside_the_plan_are_carried_but_not_counted() {
        // the table holds cell 9, which this plan of 0..3 does not have
        let sweep = Squares { resume_extra: true, ..squares(3, None, vec![1, 9]) };
        let seen = Seen::default();
        let driven = drive(&sweep, None, None, &AtomicBool::new(false), &seen).unwrap();
        assert!(driven.complete);
        assert_eq!(driven.rows.len(), 4, "kept rows, the extra one among them, and the two run");
        let started = seen.started.lock().unwrap().clone().unwrap();
        assert_eq!((started.cells, started.resumed), (3, 1));
    }

    #[test]
    fn a_cancelled_sweep_starts_no_cell_and_says_it_is_incomplete() {
        let sweep = squares(4, None, vec![0]);
        let driven = drive(&sweep, None, None, &AtomicBool::new(true), &Unwatched).unwrap();
        assert!(!driven.complete);
        assert_eq!(driven.rows, vec![(0, 0)]);
    }

    #[test]
    fn cores_are_shared_between_the_cells_run_at_once() {
        assert_eq!(parallelism(8, None, 3), (3, 2));
        assert_eq!(parallelism(8, Some(4), 10), (4, 2));
        assert_eq!(parallelism(2, Some(5), 0), (1, 2));
        assert_eq!(parallelism(2, None, 100), (2, 1));
    }

    #[test]
    fn shards_are_parsed_and_partition_a_plan() {
        assert_eq!(parse_shard("1/4").unwrap(), (1, 4));
        for bad in ["4/4", "1/0", "x/2", "3", ""] {
            assert!(parse_shard(bad).unwrap_err().to_string().contains("expected I/N"), "{bad}");
        }
        let all: Vec<usize> = (0..10).collect();
        let mut joined: Vec<usize> = (0..3).flat_map(|i| shard(all.clone(), i, 3)).collect();
        joined.sort();
        assert_eq!(joined, all);
    }
}
