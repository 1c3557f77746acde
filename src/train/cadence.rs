//! The training cadence, one step at a time: step, evaluate when due and write that
//! evaluation's `metrics.csv` row, say when a checkpoint is due, stop when all steps are done or
//! every task has converged. `modulab train` (through [`super::run`]) and the app's worker both
//! advance a run only through [`advance`], so they evaluate and stop at the same steps
//! and write the same rows.

use super::eval::{EvalOptions, Evaluation, evaluate};
use super::metrics::MetricsRow;
use super::{RunEnd, StepReport, TrainError, Trainer};

/// What one [`advance`] did.
pub struct Advanced {
    pub report: StepReport,
    /// The evaluation due at this step, with its `metrics.csv` row.
    pub evaluation: Option<(Evaluation, MetricsRow)>,
    /// A checkpoint is due after this step (every `train.checkpoint_every` steps, and at the end).
    pub checkpoint_due: bool,
    /// The run ends at this step: [`RunEnd::Finished`], [`RunEnd::Converged`] or [`RunEnd::Plateau`].
    pub end: Option<RunEnd>,
}

/// The training losses since the last evaluation (the next row's mean loss). Part of the
/// [`Trainer`] and of its checkpoint: a run resumed between two evaluations writes the row it
/// would have written uninterrupted (found by killing runs mid-way, tests/faults.rs).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LossSinceEval {
    pub sum: f64,
    pub count: u64,
}

/// The plateau rule's memory (`train.plateau_window`): part of the [`Trainer`] and of its
/// checkpoint, so a resumed run stops where it would have stopped uninterrupted, and a run the
/// rule stopped stays stopped.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Plateau {
    /// The best mean task performance of the evaluations older than the window.
    pub best_before: Option<f64>,
    /// (step, mean task performance) of the evaluations inside the window.
    pub recent: Vec<(u64, f64)>,
    /// The step at which the rule stopped the run.
    pub stopped_at: Option<u64>,
}

impl Plateau {
    /// Record the evaluation at `step`; true when the run has stopped improving: the best of the
    /// evaluations in the last `window` steps is less than `min_gain` above the best before them.
    /// Never true before one evaluation lies a whole window back.
    pub fn record(&mut self, step: u64, perf_mean: f64, window: u64, min_gain: f64) -> bool {
        self.recent.push((step, perf_mean));
        while let Some(&(at, perf)) = self.recent.first() {
            if at + window > step {
                break;
            }
            self.best_before = Some(self.best_before.map_or(perf, |b| b.max(perf)));
            self.recent.remove(0);
        }
        let Some(before) = self.best_before else { return false };
        let recent = self.recent.iter().map(|(_, p)| *p).fold(f64::NEG_INFINITY, f64::max);
        let stopped = recent - before < min_gain;
        if stopped {
            self.stopped_at = Some(step);
        }
        stopped
    }
}

/// One step of `trainer` and what is due after it. `elapsed_secs` gives the training time
/// the row records (the CLI's wall clock, the app's time without pauses).
/// Call only while [`Trainer::is_done`] is false.
pub fn advance(trainer: &mut Trainer, elapsed_secs: &dyn Fn(&Trainer) -> f64) -> Result<Advanced, TrainError> {
    let train = &trainer.config.train;
    let (total, eval_every, checkpoint_every, stop_at) = (train.steps, train.eval_every, train.checkpoint_every, train.stop_at_perf);
    let report = trainer.step()?;
    trainer.loss_since_eval.sum += report.loss as f64;
    trainer.loss_since_eval.count += 1;
    let step = trainer.step;
    let last = step >= total;
    let mut end = last.then_some(RunEnd::Finished);
    let mut evaluation = None;
    if step.is_multiple_of(eval_every) || last {
        let eval = evaluate(trainer, &EvalOptions::default())?;
        let row = MetricsRow {
            step,
            trials: trainer.trials,
            loss: trainer.loss_since_eval.sum / trainer.loss_since_eval.count.max(1) as f64,
            elapsed_secs: elapsed_secs(trainer),
            perf: eval.perf.clone(),
        };
        trainer.loss_since_eval = LossSinceEval::default();
        if stop_at > 0.0 && eval.perf_min() >= stop_at {
            end = Some(RunEnd::Converged);
        }
        let (window, min_gain) = (trainer.config.train.plateau_window, trainer.config.train.plateau_min_gain);
        if window > 0 && trainer.plateau.record(step, eval.perf_mean(), window, min_gain) && end.is_none() {
            end = Some(RunEnd::Plateau);
        }
        evaluation = Some((eval, row));
    }
    let checkpoint_due = end.is_some() || (checkpoint_every > 0 && step.is_multiple_of(checkpoint_every));
    Ok(Advanced { report, evaluation, checkpoint_due, end })
}
