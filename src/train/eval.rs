//! Evaluation: per-task performance on fresh trials, optionally under context ambiguity or with
//! pathways lesioned.

use burn::tensor::Device;

use super::{TrainError, batch_input, device, rec_noise, rnn_spec};
use crate::analysis::Ambiguity;
use crate::config::Config;
use crate::model::{ParamSet, Pathway, Rnn};
use crate::rng::Rng;
use crate::tasks::{self, Task};

/// Trials per forward pass; larger requests are split (memory grows with batch × time × units).
const EVAL_CHUNK: usize = 128;

/// What to evaluate and how.
#[derive(Clone, Debug)]
pub struct EvalOptions {
    /// Tasks to score (must be among the trained tasks); `None` = all trained tasks.
    pub tasks: Option<Vec<Task>>,
    /// Trials per task; `None` = `train.eval_trials`.
    pub trials: Option<usize>,
    pub ambiguity: Ambiguity,
    /// Pathways switched off for this evaluation.
    pub lesioned: Vec<Pathway>,
    /// Extra label mixed into the random stream (e.g. a noise draw index).
    pub stream: u64,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self { tasks: None, trials: None, ambiguity: Ambiguity::none(), lesioned: Vec::new(), stream: 0 }
    }
}

/// Per-task performance (fraction of correct trials, docs/MODEL.md §3 metric).
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub step: u64,
    pub perf: Vec<(Task, f32)>,
}

impl Evaluation {
    pub fn perf_min(&self) -> f64 {
        self.perf.iter().map(|(_, p)| *p as f64).fold(f64::INFINITY, f64::min)
    }

    pub fn perf_mean(&self) -> f64 {
        self.perf.iter().map(|(_, p)| *p as f64).sum::<f64>() / self.perf.len().max(1) as f64
    }

    pub fn get(&self, task: Task) -> Option<f32> {
        self.perf.iter().find(|(t, _)| *t == task).map(|(_, p)| *p)
    }
}

/// Evaluate the trainer's current network.
pub fn evaluate(trainer: &super::Trainer, options: &EvalOptions) -> Result<Evaluation, TrainError> {
    evaluate_params(&trainer.config, &trainer.params, trainer.step, options)
}

/// Evaluate a network given by its config and parameters. The trials are drawn from a stream
/// fixed by (seed, step, options.stream), so the same network always gets the same score.
#[allow(clippy::expect_used, reason = "cannot fail: the model runs in f32")]
pub fn evaluate_params(config: &Config, params: &ParamSet, step: u64, options: &EvalOptions) -> Result<Evaluation, TrainError> {
    let device: Device = device(config.runtime.backend, false);
    let spec = rnn_spec(config);
    let alpha = spec.alpha;
    let model = Rnn::from_params(params, spec, &device);
    let trained = &config.train.tasks;
    let k = trained.len();
    let selected = options.tasks.clone().unwrap_or_else(|| trained.clone());
    let trials_per_task = options.trials.unwrap_or(config.train.eval_trials).max(1);
    let mut rng = Rng::seed_from(config.train.seed ^ 0x5EED_E7A1).fork(step).fork(options.stream);
    let mut perf = Vec::with_capacity(selected.len());
    for task in selected {
        let index = trained.iter().position(|t| *t == task).ok_or_else(|| tasks::TaskError::UnknownTask {
            name: format!("{} (not trained in this run)", task.name()),
            valid: trained.iter().map(|t| t.name()).collect::<Vec<_>>().join(", "),
        })?;
        let mut correct = 0.0f64;
        let mut remaining = trials_per_task;
        while remaining > 0 {
            let batch = remaining.min(EVAL_CHUNK);
            remaining -= batch;
            let trials = tasks::generate(task, &config.tasks, batch, alpha, &mut rng)?;
            let noise = rec_noise(&trials, config, params, &mut rng);
            let (context, shared) = options.ambiguity.contexts(index, k, batch, &mut rng);
            let forward = model.forward(batch_input(&trials, context, shared, noise, &device), &options.lesioned);
            let last = forward.outputs.narrow(1, trials.steps - 1, 1).into_data().try_into_vec::<f32>().expect("f32 outputs");
            correct += tasks::performance_last(&last, &trials.target_angle, &config.tasks).iter().map(|p| *p as f64).sum::<f64>();
        }
        perf.push((task, (correct / trials_per_task as f64) as f32));
    }
    Ok(Evaluation { step, perf })
}
