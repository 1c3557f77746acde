//! Training: the loop, evaluation, checkpoints.
//!
//! One [`Trainer`] owns everything a run needs (host parameters, Adam state, the random stream,
//! the device). The CLI drives it through [`run`] with a terminal progress sink; the desktop
//! app's worker thread drives the same function with a sink that sends events to the UI.

pub mod adam;
pub mod cadence;
pub mod checkpoint;
pub mod eval;
pub mod exchange;
pub mod metrics;
pub mod probe;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};

use crate::config::{BackendKind, Config};
use crate::model::pass::RnnSpec;
use crate::model::{ParamSet, Rnn, RnnInput};
use crate::rng::Rng;
use crate::tasks::{self, Task, TrialBatch};

pub use adam::{AdamSettings, AdamState};
pub use cadence::{Advanced, LossSinceEval, Plateau};
pub use eval::{Evaluation, evaluate};
pub use metrics::MetricsRow;

/// Why training stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(
        "training diverged at step {step}: the loss became {loss} (task {task}). The last good checkpoint is kept; try a smaller train.learning_rate or train.grad_clip_value"
    )]
    Diverged { step: u64, loss: f32, task: &'static str },
    #[error("{0}")]
    Task(#[from] tasks::TaskError),
    #[error("{0}")]
    Checkpoint(#[from] checkpoint::CheckpointError),
    #[error("there is no network (training failed): press Reset to start over")]
    NoNetwork,
}

/// The burn device for a backend (`autodiff` for training).
/// The ndarray backend exists only in a build with `--features ndarray`; a config that asks for
/// it elsewhere is refused by [`Config::validate`].
pub fn device(backend: BackendKind, autodiff: bool) -> Device {
    let device = match backend {
        BackendKind::Flex => Device::flex(),
        #[cfg(feature = "ndarray")]
        #[allow(deprecated)] // burn-ndarray is deprecated upstream in favour of flex; still supported here
        BackendKind::Ndarray => Device::ndarray(),
        #[cfg(not(feature = "ndarray"))]
        BackendKind::Ndarray => panic!("{}", crate::config::NDARRAY_MISSING),
    };
    if autodiff { device.autodiff() } else { device }
}

/// The settings of a forward pass for `config`.
pub fn rnn_spec(config: &Config) -> RnnSpec {
    RnnSpec {
        config: config.model.clone(),
        dims: config.dims(),
        alpha: config.model.alpha(config.tasks.dt_ms),
        dt_ms: config.tasks.dt_ms,
        readout: config.readout(),
        fused: config.runtime.fused,
        threads: config.runtime.threads,
    }
}

/// A training run's complete state.
pub struct Trainer {
    pub config: Config,
    pub params: ParamSet,
    pub adam: AdamState,
    /// The training stream: task choice, trials, noise.
    pub rng: Rng,
    /// Optimiser steps done.
    pub step: u64,
    /// Trials seen so far.
    pub trials: u64,
    /// Training time accumulated before this process (from the checkpoint).
    pub elapsed_before_secs: f64,
    /// The losses of the steps since the last evaluation.
    pub loss_since_eval: LossSinceEval,
    /// The plateau rule's memory (`train.plateau_window`).
    pub plateau: Plateau,
    started: Instant,
    device: Device,
    spec: RnnSpec,
    /// Subset training's [`ParamSet::learning_mask`]: gradients are multiplied by it, so the
    /// untrained units' entries get zero gradients, zero Adam moments and never move.
    learning_mask: Option<Vec<Vec<f32>>>,
}

/// What one step did.
#[derive(Clone, Debug)]
pub struct StepReport {
    pub step: u64,
    pub task: Task,
    pub loss: f32,
}

impl Trainer {
    /// A fresh run: parameters initialised from `config.train.seed`.
    pub fn new(config: Config) -> Self {
        let mut init_rng = Rng::seed_from(config.train.seed);
        let params = ParamSet::init(&config.model, config.dims(), config.readout(), &mut init_rng);
        let rng = init_rng.fork(0x7261_696e); // the training stream
        let adam = AdamState::new(&params);
        Self::from_parts(config, params, adam, rng, 0, 0, 0.0)
    }

    pub fn from_parts(
        config: Config,
        params: ParamSet,
        adam: AdamState,
        rng: Rng,
        step: u64,
        trials: u64,
        elapsed_before_secs: f64,
    ) -> Self {
        let device = device(config.runtime.backend, true);
        let spec = rnn_spec(&config);
        let learning_mask = ParamSet::learning_mask(&config.model, spec.dims);
        let loss_since_eval = LossSinceEval::default();
        Self {
            config,
            params,
            adam,
            rng,
            step,
            trials,
            elapsed_before_secs,
            loss_since_eval,
            plateau: Plateau::default(),
            started: Instant::now(),
            device,
            spec,
            learning_mask,
        }
    }

    /// The same run under `config` (a resumed run may change its step budget and runtime):
    /// parameters, optimiser, random stream, counters, the losses since the last evaluation and
    /// the plateau rule's memory are kept.
    pub fn with_config(self, config: Config) -> Self {
        let (loss_since_eval, plateau) = (self.loss_since_eval, self.plateau);
        let mut trainer = Self::from_parts(config, self.params, self.adam, self.rng, self.step, self.trials, self.elapsed_before_secs);
        trainer.loss_since_eval = loss_since_eval;
        trainer.plateau = plateau;
        trainer
    }

    /// No step is left: the budget is spent or the plateau rule stopped the run.
    pub fn is_done(&self) -> bool {
        self.step >= self.config.train.steps || self.plateau.stopped_at.is_some()
    }

    /// Training seconds so far, over all sessions of this run.
    pub fn elapsed_secs(&self) -> f64 {
        self.elapsed_before_secs + self.started.elapsed().as_secs_f64()
    }

    /// Set the training time so far (the worker counts it without pauses; the clock restarts now).
    pub fn set_elapsed_secs(&mut self, secs: f64) {
        self.elapsed_before_secs = secs;
        self.started = Instant::now();
    }

    /// Adam's settings for the next step (the learning rate of its schedule).
    pub fn adam_settings(&self) -> AdamSettings {
        let t = &self.config.train;
        AdamSettings {
            learning_rate: t.learning_rate_at(self.step),
            beta1: t.beta1,
            beta2: t.beta2,
            epsilon: t.epsilon,
            clip_value: t.grad_clip_value,
        }
    }

    /// One optimiser step on a fresh batch of one task drawn uniformly from the enabled tasks.
    /// On a non-finite loss or gradient the parameters are left untouched.
    pub fn step(&mut self) -> Result<StepReport, TrainError> {
        let enabled = &self.config.train.tasks;
        let task_index = self.rng.below(enabled.len());
        let task = enabled[task_index];
        let trials = tasks::generate(task, &self.config.tasks, self.config.train.batch_size, self.spec.alpha, &mut self.rng)?;
        let loss = self.gradient_step(&trials, task_index)?;
        Ok(StepReport { step: self.step, task, loss })
    }

    /// Forward, backward and Adam update on a given batch whose trials all belong to trained task
    /// number `task_index`. Draws the recurrent noise from the training stream.
    #[allow(clippy::expect_used, reason = "cannot fail: the model runs in f32")]
    pub fn gradient_step(&mut self, trials: &TrialBatch, task_index: usize) -> Result<f32, TrainError> {
        let noise = rec_noise(trials, &self.config, &self.params, &mut self.rng);
        let context = one_hot_rows(task_index, self.config.train.tasks.len(), trials.batch);
        let model = Rnn::from_params(&self.params, self.spec.clone(), &self.device);
        let input = batch_input(trials, context, true, noise, &self.device);
        let loss = model.loss(input, trials.targets.clone(), trials.mask.clone());
        let loss_value = loss.clone().into_data().try_into_vec::<f32>().expect("f32 loss")[0];
        let step = self.step + 1;
        let task = trials.task.name();
        if !loss_value.is_finite() {
            return Err(TrainError::Diverged { step, loss: loss_value, task });
        }
        let mut grads = model.gradients(&loss.backward(), &self.params);
        if let Some(mask) = &self.learning_mask {
            grads.iter_mut().zip(mask).for_each(|(g, m)| g.iter_mut().zip(m).for_each(|(g, learns)| *g *= learns));
        }
        if grads.iter().flatten().any(|g| !g.is_finite()) {
            return Err(TrainError::Diverged { step, loss: f32::NAN, task });
        }
        let settings = self.adam_settings();
        self.adam.step(&settings, &mut self.params, &grads);
        self.params.clamp_time_constants(&self.config.model);
        self.step = step;
        self.trials += trials.batch as u64;
        Ok(loss_value)
    }
}

/// sqrt(2/α_i)·σ_rec·ξ for every trial, step and unit i, or `None` when σ_rec = 0 (α_i of
/// `params`: per unit with heterogeneous time constants; the noise carries no gradient).
///
/// With B·T·N samples per step (1.6 M for the default sizes) this is a few milliseconds of
/// work, so it is spread over `config.runtime.threads` threads, in chunks of
/// [`NOISE_CHUNK_TRIALS`] trials with their own streams (numbers independent of the thread count).
pub fn rec_noise(trials: &TrialBatch, config: &Config, params: &ParamSet, rng: &mut Rng) -> Option<Vec<f32>> {
    let sigma = config.model.sigma_rec;
    let alpha = config.model.alpha(config.tasks.dt_ms);
    (sigma > 0.0).then(|| {
        let n = config.model.n_units;
        let per_trial = trials.steps * n;
        let mut noise = vec![0.0; trials.batch * per_trial];
        rng.fill_normal_chunked(&mut noise, (2.0 / alpha).sqrt() * sigma, NOISE_CHUNK_TRIALS * per_trial, config.runtime.threads);
        if config.model.per_unit_tau() {
            // drawn at the nominal α's scale, rescaled per unit: sqrt(α/α_i)
            let scale: Vec<f32> = params.unit_alphas(&config.model, config.tasks.dt_ms).iter().map(|a| (alpha / a).sqrt()).collect();
            noise.chunks_mut(n).for_each(|row| row.iter_mut().zip(&scale).for_each(|(x, s)| *x *= s));
        }
        noise
    })
}

/// Trials per independently seeded chunk of recurrent noise (see [`rec_noise`]).
const NOISE_CHUNK_TRIALS: usize = 16;

/// `batch` rows of the one-hot vector e_index ∈ R^k.
pub fn one_hot_rows(index: usize, k: usize, batch: usize) -> Vec<f32> {
    let mut c = vec![0.0; batch * k];
    (0..batch).for_each(|b| c[b * k + index] = 1.0);
    c
}

pub fn tensor3(data: Vec<f32>, shape: [usize; 3], device: &Device) -> Tensor<3> {
    Tensor::from_data(TensorData::new(data, shape), device)
}

/// The network input for a batch of trials.
pub fn batch_input(trials: &TrialBatch, context: Vec<f32>, context_shared: bool, noise: Option<Vec<f32>>, device: &Device) -> RnnInput {
    let k = context.len() / trials.batch;
    RnnInput {
        inputs: std::sync::Arc::new(trials.inputs.clone()),
        input_shape: [trials.batch, trials.steps, trials.n_in],
        context: Tensor::from_data(TensorData::new(context, [trials.batch, k]), device),
        context_shared,
        rec_noise: noise.map(std::sync::Arc::new),
    }
}

/// Receives progress from [`run`]. Every method has a no-op default.
pub trait ProgressSink {
    fn on_step(&mut self, _trainer: &Trainer, _report: &StepReport) {}
    /// An evaluation and the `metrics.csv` row that records it.
    fn on_eval(&mut self, _trainer: &Trainer, _eval: &Evaluation, _row: &MetricsRow) {}
    fn on_checkpoint(&mut self, _trainer: &Trainer) {}
}

/// A sink that ignores everything.
pub struct NoProgress;
impl ProgressSink for NoProgress {}

/// How a [`run`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// All `config.train.steps` steps done.
    Finished,
    /// Every task reached `train.stop_at_perf`.
    Converged,
    /// The mean performance stopped improving (`train.plateau_window`).
    Plateau,
    /// The cancel flag was raised.
    Cancelled,
}

/// Train until `config.train.steps` through [`cadence::advance`] (evaluating every `eval_every`
/// steps, stopping when every task reached `stop_at_perf`), saving a checkpoint when one is due
/// if `checkpoint_dir` is given. `cancel` is checked before every step.
pub fn run(
    trainer: &mut Trainer,
    sink: &mut dyn ProgressSink,
    cancel: &AtomicBool,
    checkpoint_dir: Option<&std::path::Path>,
) -> Result<RunEnd, TrainError> {
    if trainer.plateau.stopped_at.is_some() {
        return Ok(RunEnd::Plateau);
    }
    while trainer.step < trainer.config.train.steps {
        if cancel.load(Ordering::Relaxed) {
            return Ok(RunEnd::Cancelled);
        }
        let advanced = cadence::advance(trainer, &Trainer::elapsed_secs)?;
        sink.on_step(trainer, &advanced.report);
        if let Some((eval, row)) = &advanced.evaluation {
            sink.on_eval(trainer, eval, row);
        }
        if advanced.checkpoint_due
            && let Some(dir) = checkpoint_dir
        {
            checkpoint::save(dir, trainer)?;
            sink.on_checkpoint(trainer);
        }
        if let Some(end @ (RunEnd::Converged | RunEnd::Plateau)) = advanced.end {
            return Ok(end);
        }
    }
    Ok(RunEnd::Finished)
}
