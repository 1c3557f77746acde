//! Saving the app's run as a run directory (the layout `modulab train` writes: `checkpoint/`,
//! `config.toml`, `metrics.csv`) and reading one back, checked completely before anything is
//! replaced. Pure functions: the worker decides what to do with the outcome.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use super::job::panic_message;
use crate::config::InvalidConfig;
use crate::io::write_atomic;
use crate::tasks::Task;
use crate::train::Trainer;
use crate::train::checkpoint::{self, CheckpointError, RUN_CHECKPOINT_DIR};
use crate::train::metrics::{self, METRICS_FILE, MetricsRow};

/// Why a run could not be saved or read back.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("checkpoint {path} has an invalid configuration: {source}")]
    InvalidConfig { path: String, source: InvalidConfig },
    #[error("could not build its network: {0}")]
    Build(String),
}

/// Write `trainer` (trained for `train_secs`, pauses excluded) and its evaluations `history`
/// into the run directory `dir`.
pub fn save_run(dir: &Path, trainer: &mut Trainer, history: &[MetricsRow], train_secs: f64) -> Result<(), RunDirError> {
    // the checkpoint records training time, not the time the network has existed
    trainer.set_elapsed_secs(train_secs);
    checkpoint::save(&dir.join(RUN_CHECKPOINT_DIR), trainer)?;
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        write_atomic(&path, text.as_bytes()).map_err(|source| RunDirError::Write { path: path.display().to_string(), source })
    };
    write("config.toml", trainer.config.to_toml())?;
    write(METRICS_FILE, metrics::to_csv(&trainer.config.train.tasks, history))
}

/// A run read back from disk.
pub struct RestoredRun {
    pub trainer: Trainer,
    /// Seconds it was trained.
    pub train_secs: f64,
    /// Its evaluations up to the checkpoint (from the run directory's `metrics.csv`).
    pub history: Vec<MetricsRow>,
    /// Why the history could not be read, if it could not.
    pub history_problem: Option<String>,
}

/// Read and check the run behind `path` (a run directory, a checkpoint directory or a
/// `state.bin` file) completely.
pub fn load_run(path: &Path) -> Result<RestoredRun, RunDirError> {
    let located = checkpoint::locate(path);
    let ckpt = checkpoint::load(&located.checkpoint)?;
    if let Some(dir) = &located.run_dir {
        checkpoint::check_run_config(dir, &ckpt)?;
    }
    if let Err(source) = ckpt.config.validate() {
        return Err(RunDirError::InvalidConfig { path: located.checkpoint.display().to_string(), source });
    }
    let (step, train_secs) = (ckpt.step, ckpt.elapsed_secs);
    let (history, history_problem) = match &located.run_dir {
        Some(dir) => read_history(dir, &ckpt.config.train.tasks, step),
        None => (Vec::new(), None),
    };
    let trainer = catch_unwind(AssertUnwindSafe(|| ckpt.into_trainer())).map_err(|payload| RunDirError::Build(panic_message(&*payload)))?;
    Ok(RestoredRun { trainer, train_secs, history, history_problem })
}

/// The rows of `dir/metrics.csv` up to `step`: a run saved later than its checkpoint may have
/// rows past it, which are not part of this run. A missing file is an empty history.
fn read_history(dir: &Path, tasks: &[Task], step: u64) -> (Vec<MetricsRow>, Option<String>) {
    let problem = |e: &dyn std::fmt::Display| Some(format!("its {METRICS_FILE} was not read ({e}), so the curves start here"));
    match std::fs::read_to_string(dir.join(METRICS_FILE)) {
        Ok(text) => match metrics::parse(&text, tasks) {
            Ok(rows) => (rows.into_iter().filter(|r| r.step <= step).collect(), None),
            Err(e) => (Vec::new(), problem(&e)),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Vec::new(), None),
        Err(e) => (Vec::new(), problem(&e)),
    }
}
