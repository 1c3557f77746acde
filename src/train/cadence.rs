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
    /// The run ends at this step: [`RunEnd::Finished`] or [`RunEnd::Converged`].
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

/// One step of `trainer` and what is due after it. `elapsed_secs` gives the training time
/// the row records (the CLI's wall clock, the app's time without pauses).
/// Call only while `trainer.step < train.steps`.
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
        evaluation = Some((eval, row));
    }
    let checkpoint_due = end.is_some() || (checkpoint_every > 0 && step.is_multiple_of(checkpoint_every));
    Ok(Advanced { report, evaluation, checkpoint_due, end })
}
