//! The training cadence, one step at a time: step, evaluate when due and write that
//! evaluation's `metrics.csv` row, say when a checkpoint is due, stop when all steps are done or
//! every task has converged. `modulab train` (through [`super::run`]) and the app's worker both
//! advance a run only through [`Cadence::advance`], so they evaluate and stop at the same steps
//! and write the same rows.

use super::eval::{EvalOptions, Evaluation, evaluate};
use super::metrics::MetricsRow;
use super::{RunEnd, StepReport, TrainError, Trainer};

/// What one [`Cadence::advance`] did.
pub struct Advanced {
    pub report: StepReport,
    /// The evaluation due at this step, with its `metrics.csv` row.
    pub evaluation: Option<(Evaluation, MetricsRow)>,
    /// A checkpoint is due after this step (every `train.checkpoint_every` steps, and at the end).
    pub checkpoint_due: bool,
    /// The run ends at this step: [`RunEnd::Finished`] or [`RunEnd::Converged`].
    pub end: Option<RunEnd>,
}

/// The loss accumulated since the last evaluation (the next row's mean loss).
#[derive(Clone, Debug, Default)]
pub struct Cadence {
    loss_sum: f64,
    loss_count: u64,
}

impl Cadence {
    /// Forget the loss accumulated so far (a new network, or a loaded one).
    pub fn reset(&mut self) {
        *self = Cadence::default();
    }

    /// One step of `trainer` and what is due after it. `elapsed_secs` gives the training time
    /// the row records (the CLI's wall clock, the app's time without pauses).
    /// Call only while `trainer.step < train.steps`.
    pub fn advance(&mut self, trainer: &mut Trainer, elapsed_secs: &dyn Fn(&Trainer) -> f64) -> Result<Advanced, TrainError> {
        let train = &trainer.config.train;
        let (total, eval_every, checkpoint_every, stop_at) = (train.steps, train.eval_every, train.checkpoint_every, train.stop_at_perf);
        let report = trainer.step()?;
        self.loss_sum += report.loss as f64;
        self.loss_count += 1;
        let step = trainer.step;
        let last = step >= total;
        let mut end = last.then_some(RunEnd::Finished);
        let mut evaluation = None;
        if step.is_multiple_of(eval_every) || last {
            let eval = evaluate(trainer, &EvalOptions::default())?;
            let row = MetricsRow {
                step,
                trials: trainer.trials,
                loss: self.loss_sum / self.loss_count.max(1) as f64,
                elapsed_secs: elapsed_secs(trainer),
                perf: eval.perf.clone(),
            };
            self.reset();
            if stop_at > 0.0 && eval.perf_min() >= stop_at {
                end = Some(RunEnd::Converged);
            }
            evaluation = Some((eval, row));
        }
        let checkpoint_due = end.is_some() || (checkpoint_every > 0 && step.is_multiple_of(checkpoint_every));
        Ok(Advanced { report, evaluation, checkpoint_due, end })
    }
}
