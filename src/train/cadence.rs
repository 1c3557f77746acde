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

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::config::Config;
    use crate::train::{NoProgress, checkpoint, run};

    #[test]
    fn the_plateau_rule_compares_the_window_with_the_best_before_it() {
        let mut p = Plateau::default();
        // a window of 1 000 steps, evaluations every 500
        assert!(!p.record(500, 0.3, 1000, 0.01), "nothing lies a whole window back");
        assert!(!p.record(1000, 0.5, 1000, 0.01), "step 500 is only half a window back");
        assert!(!p.record(1500, 0.6, 1000, 0.01), "0.6 is 0.3 above the best before (0.3)");
        assert_eq!(p.best_before, Some(0.3));
        // a dip does not stop it: the best of the window counts
        assert!(!p.record(2000, 0.2, 1000, 0.01), "0.6 is 0.1 above the best before (0.5)");
        assert!(p.record(2500, 0.605, 1000, 0.01), "0.605 is less than 0.01 above the best before (0.6)");
        assert_eq!((p.stopped_at, p.best_before, p.recent.len()), (Some(2500), Some(0.6), 2));
    }

    #[test]
    fn a_run_stopped_at_its_plateau_stays_stopped_and_a_resumed_run_stops_where_it_would_have() {
        // a gain no run can make: the rule stops at the first evaluation with one a window back
        let config = Config::from_preset(
            "quick",
            &[
                "model.n_units=8".into(),
                "train.batch_size=4".into(),
                "train.eval_every=2".into(),
                "train.eval_trials=4".into(),
                "train.plateau_window=4".into(),
                "train.plateau_min_gain=2".into(),
                "train.steps=100".into(),
                "train.checkpoint_every=0".into(),
            ],
        )
        .unwrap();
        let never = AtomicBool::new(false);
        let mut whole = Trainer::new(config.clone());
        assert_eq!(run(&mut whole, &mut NoProgress, &never, None).unwrap(), RunEnd::Plateau);
        assert_eq!((whole.step, whole.plateau.stopped_at), (6, Some(6)));
        assert!(whole.is_done());

        // saved and loaded, it is still done: training it again does nothing
        let dir = tempfile::tempdir().unwrap();
        checkpoint::save(dir.path(), &whole).unwrap();
        let mut again = checkpoint::load(dir.path()).unwrap().into_trainer();
        assert_eq!(again.plateau, whole.plateau);
        assert_eq!(run(&mut again, &mut NoProgress, &never, None).unwrap(), RunEnd::Plateau);
        assert_eq!(again.step, 6);

        // interrupted after 4 steps (two evaluations in the rule's memory) and resumed
        let mut first = Trainer::new(config);
        for _ in 0..4 {
            advance(&mut first, &|_| 0.0).unwrap();
        }
        checkpoint::save(dir.path(), &first).unwrap();
        let mut resumed = checkpoint::load(dir.path()).unwrap().into_trainer();
        assert_eq!(resumed.plateau.recent.len(), 2);
        assert_eq!(run(&mut resumed, &mut NoProgress, &never, None).unwrap(), RunEnd::Plateau);
        assert_eq!(resumed.step, 6);
        assert_eq!(resumed.params, whole.params, "the same network as uninterrupted");
    }
}
