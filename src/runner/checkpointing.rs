//! Saving the app's run as a run directory (the layout `modulab train` writes: `checkpoint/`,
//! `config.toml`, `metrics.csv`) and reading one back, checked completely before anything is
//! replaced. Pure functions: the worker decides what to do with the outcome.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use super::job::panic_message;
use crate::io::write_atomic;
use crate::tasks::Task;
use crate::train::Trainer;
use crate::train::checkpoint::{self, RUN_CHECKPOINT_DIR};
use crate::train::metrics::{self, METRICS_FILE, MetricsRow};

/// Write `trainer` (trained for `train_secs`, pauses excluded) and its evaluations `history`
/// into the run directory `dir`; the message says why it could not be saved.
pub fn save_run(dir: &Path, trainer: &mut Trainer, history: &[MetricsRow], train_secs: f64) -> Result<(), String> {
    // the checkpoint records training time, not the time the network has existed
    trainer.set_elapsed_secs(train_secs);
    checkpoint::save(&dir.join(RUN_CHECKPOINT_DIR), trainer).map_err(|e| e.to_string())?;
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        write_atomic(&path, text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))
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
/// `state.bin` file) completely. The message says why it cannot be used.
pub fn load_run(path: &Path) -> Result<RestoredRun, String> {
    let located = checkpoint::locate(path);
    let ckpt = checkpoint::load(&located.checkpoint).map_err(|e| e.to_string())?;
    if let Err(e) = ckpt.config.validate() {
        return Err(format!("checkpoint {} has an invalid configuration: {e}", located.checkpoint.display()));
    }
    let (step, train_secs) = (ckpt.step, ckpt.elapsed_secs);
    let (history, history_problem) = match &located.run_dir {
        Some(dir) => read_history(dir, &ckpt.config.train.tasks, step),
        None => (Vec::new(), None),
    };
    let trainer = catch_unwind(AssertUnwindSafe(|| ckpt.into_trainer()))
        .map_err(|payload| format!("could not build its network: {}", panic_message(&*payload)))?;
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
