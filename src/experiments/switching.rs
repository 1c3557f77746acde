//! Time scales and task switching (docs/MODEL.md §2 "time scales", issue 5 D).
//!
//! Each pathway p may see the context low-pass filtered with its own time constant τ_p:
//!
//! ```text
//! τ_p dc_p/dt = −c_p + c(t)   →   c_p(t) = c_p(t−1) + min(dt/τ_p, 1) · (c(t) − c_p(t−1)),  c_p(0) = c(0)
//! ```
//!
//! (τ_p = 0: c_p = c). The filter starts at steady state, so on ordinary trials, whose context
//! is constant, it changes nothing; training and the burn model never see it. It matters when the
//! context changes mid-trial: a **task-switch trial** is a trial of task j (its inputs, targets
//! and metric) whose context is e_i until the switch step and e_j from it on. The switch step is
//! the end of the first epoch (fixation, i.e. the first stimulus onset) plus
//! [`SwitchSpec::switch_after_onset_ms`], clamped to the trial's last step.
//!
//! The trials are simulated on the host in f64 with per-step, per-pathway contexts: bias sees
//! c_bias(t), gain c_gain(t), synaptic c_synaptic(t). With every τ = 0 and no switch this is the
//! network's own forward pass (tested against [`crate::train::probe::run_probe`]). For each
//! pathway the run has and each τ, that pathway gets τ and the others τ = 0; measured:
//! - the performance on task j (the usual last-step metric) of the switched trials;
//! - the transient: at each step from the switch on, the mean over trials of
//!   ‖r_switched(t) − r_unswitched(t)‖, where "unswitched" are the same trials with context e_j
//!   throughout, divided by the mean ‖r_unswitched(t)‖ over trials and post-switch steps (so 1
//!   means "as far off as the activity is large").
//!
//! No recurrent noise (the trajectories are the network's mean behaviour; input noise is part of
//! the stimulus and kept), so the switched and unswitched trials differ only by the context.

use nalgebra::{DMatrix, DVector};

use crate::analysis::dynamics::{StepMap, phi};
use crate::config::Config;
use crate::figure::{LineChart, Series};
use crate::model::{ContextTaus, ParamSet, Pathway, Readout, params};
use crate::rng::Rng;
use crate::tasks::{self, Task, TaskError, TrialBatch};
use crate::train::{TrainError, rnn_spec};

/// The τ values (ms) swept by default.
pub const DEFAULT_TAUS_MS: [f32; 6] = [0.0, 20.0, 50.0, 100.0, 200.0, 500.0];
/// Switch trials per sweep point by default.
pub const DEFAULT_TRIALS: usize = 32;
/// Separates the switch trials' random stream from training, evaluation and the other analyses.
const SWITCH_STREAM: u64 = 0x7377_6974;

#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error("{0}")]
    Invalid(String),
}

/// The weight of the new context in one filter step: min(dt/τ, 1), and 1 for τ = 0.
pub fn filter_weight(dt_ms: f32, tau_ms: f32) -> f64 {
    if tau_ms <= 0.0 { 1.0 } else { (dt_ms as f64 / tau_ms as f64).min(1.0) }
}

/// Low-pass filter a context sequence (`raw[step]`, each of length K) with time constant
/// `tau_ms`, starting at steady state (the first step is passed through).
pub fn filter_contexts(raw: &[Vec<f64>], dt_ms: f32, tau_ms: f32) -> Vec<Vec<f64>> {
    let w = filter_weight(dt_ms, tau_ms);
    let mut out: Vec<Vec<f64>> = Vec::with_capacity(raw.len());
    for c in raw {
        let next = match out.last() {
            None => c.clone(),
            Some(prev) => prev.iter().zip(c).map(|(p, x)| p + w * (x - p)).collect(),
        };
        out.push(next);
    }
    out
}

/// The context each pathway sees at each step: `[steps][K]` per pathway.
#[derive(Clone, Debug, PartialEq)]
pub struct PathwayContexts {
    pub bias: Vec<Vec<f64>>,
    pub gain: Vec<Vec<f64>>,
    pub synaptic: Vec<Vec<f64>>,
}

impl PathwayContexts {
    /// Every pathway sees `raw` filtered with its own τ.
    pub fn filtered(raw: &[Vec<f64>], dt_ms: f32, taus: ContextTaus) -> Self {
        Self {
            bias: filter_contexts(raw, dt_ms, taus.bias),
            gain: filter_contexts(raw, dt_ms, taus.gain),
            synaptic: filter_contexts(raw, dt_ms, taus.synaptic),
        }
    }

    pub fn get(&self, pathway: Pathway) -> &[Vec<f64>] {
        match pathway {
            Pathway::Bias => &self.bias,
            Pathway::Gain => &self.gain,
            Pathway::Synaptic => &self.synaptic,
        }
    }
}

/// The raw context of a switch trial: e_from before `switch_step`, e_to from it on.
pub fn switch_schedule(k: usize, from_index: usize, to_index: usize, steps: usize, switch_step: usize) -> Vec<Vec<f64>> {
    (0..steps)
        .map(|t| {
            let mut c = vec![0.0; k];
            c[if t < switch_step { from_index } else { to_index }] = 1.0;
            c
        })
        .collect()
}

/// What a host simulation produced. Arrays are row-major `[trials, steps, ·]`.
#[derive(Clone, Debug)]
pub struct HostRun {
    pub trials: usize,
    pub steps: usize,
    pub n_units: usize,
    pub n_out: usize,
    /// r [trials, steps, N]
    pub rates: Vec<f64>,
    /// y [trials, steps, n_out]
    pub outputs: Vec<f32>,
}

impl HostRun {
    pub fn rate(&self, trial: usize, step: usize) -> &[f64] {
        let at = (trial * self.steps + step) * self.n_units;
        &self.rates[at..at + self.n_units]
    }
}

/// The part of the one-step map one pathway controls, for that pathway's context `c`: the others
/// are lesioned, so the map holds b + E c (bias), g(c) (gain) or W(c) (synaptic) alone.
fn pathway_part(config: &Config, params: &ParamSet, pathway: Pathway, c: &[f64]) -> StepMap {
    let others: Vec<Pathway> = Pathway::ALL.into_iter().filter(|p| *p != pathway).collect();
    let c: Vec<f32> = c.iter().map(|v| *v as f32).collect();
    StepMap::new(config, params, &c, &others)
}

/// Run `trials` through the network on the host (f64, no recurrent noise), each pathway seeing
/// its own context sequence. From r = 0 (and x = 0), exactly as [`crate::model::Rnn::forward`]:
///
/// ```text
/// z_t = W(c_syn(t)) r_{t−1} + W_in u_t + b + E c_bias(t);  pre_t = g(c_gain(t)) ⊙ z_t
/// rate form: r_t = (1−α) r_{t−1} + α φ(pre_t);  voltage form: x_t = (1−α) x_{t−1} + α pre_t, r_t = φ(x_t)
/// ```
#[allow(clippy::expect_used, reason = "cannot fail: the parameters asked for are those the configuration has; every part is built above")]
pub fn simulate(config: &Config, params: &ParamSet, trials: &TrialBatch, contexts: &PathwayContexts) -> HostRun {
    let (b, steps, n_in) = (trials.batch, trials.steps, trials.n_in);
    let n = config.model.n_units;
    let matrix = |name: &str| {
        let p = params.get(name).expect("parameter present");
        DMatrix::from_row_iterator(p.shape[0], p.shape[1], p.data.iter().map(|v| *v as f64))
    };
    let mut w_out = matrix(params::W_OUT);
    config.model.apply_dale(&mut w_out, config.model.dale_readout_scales());
    let n_out = w_out.nrows();
    let b_out = DVector::from_iterator(n_out, params.get(params::B_OUT).expect("b_out").data.iter().map(|v| *v as f64));
    let sigmoid = config.readout() == Readout::Sigmoid;
    // each pathway's part of the map, rebuilt only when its context changes
    let mut parts: Vec<Option<(Vec<f64>, StepMap)>> = vec![None, None, None];
    let mut rate = DMatrix::<f64>::zeros(n, b);
    let mut voltage = DMatrix::<f64>::zeros(n, b);
    let mut rates = vec![0.0f64; b * steps * n];
    let mut outputs = vec![0.0f32; b * steps * n_out];
    for t in 0..steps {
        for (slot, pathway) in parts.iter_mut().zip(Pathway::ALL) {
            let c = &contexts.get(pathway)[t];
            if slot.as_ref().is_none_or(|(last, _)| last != c) {
                *slot = Some((c.clone(), pathway_part(config, params, pathway, c)));
            }
        }
        let part = |i: usize| &parts[i].as_ref().expect("built above").1;
        let (bias, gain, synaptic) = (part(0), part(1), part(2));
        let (alpha, activation) = (&bias.alpha, bias.activation);
        let u = DMatrix::from_fn(n_in, b, |i, trial| trials.input(trial, t)[i] as f64);
        let mut pre = &synaptic.w * &rate + &bias.w_in * u;
        for mut column in pre.column_iter_mut() {
            column += &bias.drive;
            column.component_mul_assign(&gain.gain);
        }
        match config.model.state_form {
            crate::model::StateForm::Rate => {
                leak(&mut rate, &pre.map(|x| phi(activation, x)), alpha);
            }
            crate::model::StateForm::Voltage => {
                leak(&mut voltage, &pre, alpha);
                rate = voltage.map(|x| phi(activation, x));
            }
        }
        let mut y = &w_out * &rate;
        for mut column in y.column_iter_mut() {
            column += &b_out;
        }
        for trial in 0..b {
            let at = (trial * steps + t) * n;
            rates[at..at + n].iter_mut().zip(rate.column(trial).iter()).for_each(|(dst, v)| *dst = *v);
            let at = (trial * steps + t) * n_out;
            for (o, v) in y.column(trial).iter().enumerate() {
                outputs[at + o] = if sigmoid { (1.0 / (1.0 + (-v).exp())) as f32 } else { *v as f32 };
            }
        }
    }
    HostRun { trials: b, steps, n_units: n, n_out, rates, outputs }
}

/// Which switch to test.
#[derive(Clone, Debug, PartialEq)]
pub struct SwitchSpec {
    /// Task i: the context before the switch.
    pub from: Task,
    /// Task j: the trials, and the context from the switch on. `from == to` is the no-switch control.
    pub to: Task,
    /// Trials per sweep point (the same trials at every point).
    pub trials: usize,
    /// The switch comes this long after the first stimulus onset (the end of the fixation epoch).
    pub switch_after_onset_ms: f32,
}

impl SwitchSpec {
    /// The first two trained tasks (or the only one, twice), switched at stimulus onset.
    pub fn default_for(config: &Config) -> SwitchSpec {
        let tasks = &config.train.tasks;
        let from = tasks[0];
        let to = tasks.get(1).copied().unwrap_or(from);
        SwitchSpec { from, to, trials: DEFAULT_TRIALS, switch_after_onset_ms: 0.0 }
    }
}

/// state ← (1 − α_i) state + α_i target, unit i in row i, one trial per column.
fn leak(state: &mut DMatrix<f64>, target: &DMatrix<f64>, alpha: &DVector<f64>) {
    for (mut column, target) in state.column_iter_mut().zip(target.column_iter()) {
        column.zip_zip_apply(&target, alpha, |s, x, a| *s = *s * (1.0 - a) + x * a);
    }
}

/// The first step whose context is e_to: the first stimulus onset (end of the first epoch) plus
/// `after_ms`, clamped to the last step.
pub fn switch_step(batch: &TrialBatch, after_ms: f32) -> usize {
    let onset = batch.epochs.first().map_or(0, |e| e.end);
    let after = (after_ms as f64 / batch.dt_ms as f64).floor() as usize;
    (onset + after).min(batch.steps.saturating_sub(1))
}

/// The trials of one switch test.
#[derive(Clone, Debug)]
pub struct SwitchTrials {
    pub spec: SwitchSpec,
    pub batch: TrialBatch,
    pub switch_step: usize,
    pub from_index: usize,
    pub to_index: usize,
    /// K, the context's length.
    pub k: usize,
}

impl SwitchTrials {
    /// Draw `spec.trials` trials of `spec.to` from a stream fixed by the run's seed.
    pub fn draw(config: &Config, spec: &SwitchSpec) -> Result<Self, SwitchError> {
        let trained = &config.train.tasks;
        let index = |task: Task| {
            trained.iter().position(|t| *t == task).ok_or_else(|| {
                SwitchError::Invalid(format!(
                    "task '{}' was not trained in this run; trained tasks: {}",
                    task.name(),
                    trained.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ")
                ))
            })
        };
        let (from_index, to_index) = (index(spec.from)?, index(spec.to)?);
        if spec.trials == 0 {
            return Err(SwitchError::Invalid("the switch test needs at least 1 trial".into()));
        }
        if !(spec.switch_after_onset_ms.is_finite() && spec.switch_after_onset_ms >= 0.0) {
            return Err(SwitchError::Invalid(format!(
                "the switch time after stimulus onset must be ≥ 0 ms, got {}",
                spec.switch_after_onset_ms
            )));
        }
        let alpha = rnn_spec(config).alpha;
        let mut rng = Rng::seed_from(config.train.seed ^ 0x5EED_E7A1).fork(SWITCH_STREAM).fork(to_index as u64);
        let batch = tasks::generate(spec.to, &config.tasks, spec.trials, alpha, &mut rng)?;
        let switch_step = switch_step(&batch, spec.switch_after_onset_ms);
        Ok(Self { spec: spec.clone(), batch, switch_step, from_index, to_index, k: trained.len() })
    }

    /// The raw context sequence: switched (e_from then e_to) or unswitched (e_to throughout).
    pub fn raw_contexts(&self, switched: bool) -> Vec<Vec<f64>> {
        let from = if switched { self.from_index } else { self.to_index };
        switch_schedule(self.k, from, self.to_index, self.batch.steps, self.switch_step)
    }
}

/// One switch test's outcome at one setting of the time constants.
#[derive(Clone, Debug, PartialEq)]
pub struct SwitchOutcome {
    /// Fraction of switched trials answered correctly (task j's metric).
    pub perf: f64,
    /// Normalised distance from the unswitched trajectory, per step from the switch step on.
    pub distance: Vec<f64>,
}

impl SwitchOutcome {
    /// The mean of `distance`: one number for "how large and long the transient is".
    pub fn mean_distance(&self) -> f64 {
        self.distance.iter().sum::<f64>() / self.distance.len().max(1) as f64
    }
}

/// Parse "0, 20, 50" into time constants (ms), or say what is wrong.
pub fn parse_taus(text: &str) -> Result<Vec<f32>, String> {
    let taus = text
        .split(',')
        .filter(|t| !t.trim().is_empty())
        .map(|t| match t.trim().parse::<f32>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
            _ => Err(format!("'{}' is not a time constant in ms (a number ≥ 0)", t.trim())),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if taus.is_empty() { Err("give at least one τ, e.g. 0, 50, 200".into()) } else { Ok(taus) }
}

/// One pathway's sweep over τ (the other pathways instant).
#[derive(Clone, Debug, PartialEq)]
pub struct PathwaySweep {
    pub pathway: Pathway,
    /// One per τ of [`SwitchResult::taus_ms`]; `None` where not computed yet.
    pub outcomes: Vec<Option<SwitchOutcome>>,
}

/// A switch test of one network: every swept pathway at every τ, and optionally one combination.
#[derive(Clone, Debug, PartialEq)]
pub struct SwitchResult {
    pub from: Task,
    pub to: Task,
    /// The network's training step (a frozen copy).
    pub step: u64,
    pub trials: usize,
    pub dt_ms: f32,
    /// Steps per trial and the switch step (the first with context e_to).
    pub steps: usize,
    pub switch_step: usize,
    pub taus_ms: Vec<f32>,
    /// Performance with context e_to throughout (no switch): the ceiling.
    pub perf_unswitched: f64,
    /// Only the pathways the network has.
    pub pathways: Vec<PathwaySweep>,
    /// A chosen combination of time constants (the app's sliders) and its outcome.
    pub combination: Option<(ContextTaus, Option<SwitchOutcome>)>,
    /// Cancelled or failed before it completed (what it computed stays).
    pub stopped: bool,
}

impl SwitchResult {
    /// (units done, total units); one unit is one simulation of the switched trials.
    pub fn progress(&self) -> (usize, usize) {
        let mut done = self.pathways.iter().flat_map(|p| &p.outcomes).filter(|o| o.is_some()).count();
        let mut total = self.pathways.len() * self.taus_ms.len();
        if let Some((_, outcome)) = &self.combination {
            total += 1;
            done += usize::from(outcome.is_some());
        }
        (done, total)
    }

    pub fn is_complete(&self) -> bool {
        let (done, total) = self.progress();
        done == total
    }

    /// Still being computed: neither complete nor stopped.
    pub fn in_progress(&self) -> bool {
        !self.stopped && !self.is_complete()
    }

    /// (τ, perf) of one pathway's computed points.
    pub fn perf_points(&self, sweep: &PathwaySweep) -> Vec<(f64, f64)> {
        self.taus_ms.iter().zip(&sweep.outcomes).filter_map(|(tau, o)| o.as_ref().map(|o| (*tau as f64, o.perf))).collect()
    }

    /// (ms after the switch, distance) of one outcome.
    pub fn transient_points(&self, outcome: &SwitchOutcome) -> Vec<(f64, f64)> {
        outcome.distance.iter().enumerate().map(|(s, d)| (s as f64 * self.dt_ms as f64, *d)).collect()
    }

    /// `switching.csv`: pathway,tau_ms,from,to,perf,perf_unswitched,mean_distance.
    pub fn switching_csv(&self) -> String {
        let mut text = String::from("pathway,tau_ms,from,to,perf,perf_unswitched,mean_distance\n");
        for sweep in &self.pathways {
            for (tau, outcome) in self.taus_ms.iter().zip(&sweep.outcomes) {
                if let Some(o) = outcome {
                    text.push_str(&format!(
                        "{},{tau},{},{},{:.6},{:.6},{:.6}\n",
                        sweep.pathway.name(),
                        self.from.name(),
                        self.to.name(),
                        o.perf,
                        self.perf_unswitched,
                        o.mean_distance()
                    ));
                }
            }
        }
        text
    }

    /// `transient.csv`: pathway,tau_ms,step_after_switch,time_ms,distance.
    pub fn transient_csv(&self) -> String {
        let mut text = String::from("pathway,tau_ms,step_after_switch,time_ms,distance\n");
        for sweep in &self.pathways {
            for (tau, outcome) in self.taus_ms.iter().zip(&sweep.outcomes) {
                if let Some(o) = outcome {
                    for (s, d) in o.distance.iter().enumerate() {
                        text.push_str(&format!("{},{tau},{s},{},{d:.6}\n", sweep.pathway.name(), s as f64 * self.dt_ms as f64));
                    }
                }
            }
        }
        text
    }

    /// Performance against τ, one line per pathway, and the unswitched ceiling.
    pub fn perf_chart(&self) -> LineChart {
        let mut series: Vec<Series> = self
            .pathways
            .iter()
            .map(|s| Series {
                name: s.pathway.name().into(),
                color: pathway_color(s.pathway).into(),
                points: self.perf_points(s),
                ..Series::default()
            })
            .collect();
        let (lo, hi) = (self.taus_ms.iter().copied().fold(f32::INFINITY, f32::min), self.taus_ms.iter().copied().fold(0.0, f32::max));
        series.push(Series {
            name: "no switch".into(),
            color: "#888888".into(),
            points: vec![(lo.min(0.0) as f64, self.perf_unswitched), (hi as f64, self.perf_unswitched)],
            ..Series::default()
        });
        LineChart {
            title: format!("Performance after a switch from {} to {}", self.from.name(), self.to.name()),
            x_label: "context time constant τ of the pathway (ms)".into(),
            y_label: "fraction correct".into(),
            y_range: Some((0.0, 1.0)),
            series,
            ..LineChart::default()
        }
    }

    /// One pathway's transients, one line per τ.
    pub fn transient_chart(&self, sweep: &PathwaySweep) -> LineChart {
        let series = self
            .taus_ms
            .iter()
            .zip(&sweep.outcomes)
            .filter_map(|(tau, o)| {
                o.as_ref().map(|o| Series { name: format!("τ = {tau} ms"), points: self.transient_points(o), ..Series::default() })
            })
            .collect();
        LineChart {
            title: format!("Switching transient of the {} pathway ({} to {})", sweep.pathway.name(), self.from.name(), self.to.name()),
            x_label: "time after the switch (ms)".into(),
            y_label: "distance from the unswitched trajectory".into(),
            y_range: None,
            series,
            ..LineChart::default()
        }
    }

    /// The figures `modulab analyze` writes: (file stem, SVG).
    pub fn figures(&self) -> Vec<(String, String)> {
        let mut figures = vec![("switching".to_string(), self.perf_chart().to_svg())];
        for sweep in &self.pathways {
            figures.push((format!("transient_{}", sweep.pathway.name()), self.transient_chart(sweep).to_svg()));
        }
        figures
    }
}

/// The colour of a pathway in figures (the palette's first three).
pub fn pathway_color(pathway: Pathway) -> &'static str {
    crate::figure::PALETTE[match pathway {
        Pathway::Bias => 0,
        Pathway::Gain => 1,
        Pathway::Synaptic => 2,
    }]
}

/// A switch test in progress, on a frozen copy of the network; one simulation per
/// [`SwitchJob::run_unit`], so a worker can interleave it with training.
#[derive(Clone, Debug)]
pub struct SwitchJob {
    config: Config,
    params: ParamSet,
    trials: SwitchTrials,
    /// The unswitched trials' run and the mean norm of their post-switch states.
    reference: HostRun,
    norm: f64,
    next: usize,
    pub result: SwitchResult,
}

impl SwitchJob {
    /// Check the request, draw the trials and run the unswitched reference. `combination`: also
    /// test this combination of time constants.
    pub fn new(
        config: Config,
        params: ParamSet,
        step: u64,
        spec: &SwitchSpec,
        taus_ms: Vec<f32>,
        combination: Option<ContextTaus>,
    ) -> Result<SwitchJob, SwitchError> {
        if taus_ms.is_empty() && combination.is_none() {
            return Err(SwitchError::Invalid("give at least one time constant τ".into()));
        }
        if let Some(bad) = taus_ms.iter().find(|t| !(t.is_finite() && **t >= 0.0)) {
            return Err(SwitchError::Invalid(format!("time constants must be numbers ≥ 0 (ms), got {bad}")));
        }
        if let Some(c) = &combination {
            c.validate().map_err(|e| SwitchError::Invalid(e.to_string()))?;
        }
        let trials = SwitchTrials::draw(&config, spec)?;
        let dt = config.tasks.dt_ms;
        let unswitched = PathwayContexts::filtered(&trials.raw_contexts(false), dt, ContextTaus::INSTANT);
        let reference = simulate(&config, &params, &trials.batch, &unswitched);
        let perf_unswitched = perf(&config, &trials.batch, &reference);
        let mut norm = 0.0;
        for trial in 0..reference.trials {
            for s in trials.switch_step..reference.steps {
                norm += reference.rate(trial, s).iter().map(|v| v * v).sum::<f64>().sqrt();
            }
        }
        norm /= (reference.trials * (reference.steps - trials.switch_step)).max(1) as f64;
        // a silent network: distances are left unnormalised rather than divided by 0
        let norm = if norm > 0.0 { norm } else { 1.0 };
        let pathways = Pathway::ALL
            .into_iter()
            .filter(|p| config.model.has(*p))
            .map(|pathway| PathwaySweep { pathway, outcomes: vec![None; taus_ms.len()] })
            .collect();
        let result = SwitchResult {
            from: spec.from,
            to: spec.to,
            step,
            trials: spec.trials,
            dt_ms: dt,
            steps: trials.batch.steps,
            switch_step: trials.switch_step,
            taus_ms,
            perf_unswitched,
            pathways,
            combination: combination.map(|c| (c, None)),
            stopped: false,
        };
        Ok(SwitchJob { config, params, trials, reference, norm, next: 0, result })
    }

    /// The switched trials with these time constants.
    pub fn outcome(&self, taus: ContextTaus) -> SwitchOutcome {
        let contexts = PathwayContexts::filtered(&self.trials.raw_contexts(true), self.config.tasks.dt_ms, taus);
        let run = simulate(&self.config, &self.params, &self.trials.batch, &contexts);
        let distance = (self.trials.switch_step..run.steps)
            .map(|s| {
                let total: f64 = (0..run.trials)
                    .map(|trial| {
                        run.rate(trial, s).iter().zip(self.reference.rate(trial, s)).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt()
                    })
                    .sum();
                total / run.trials as f64 / self.norm
            })
            .collect();
        SwitchOutcome { perf: perf(&self.config, &self.trials.batch, &run), distance }
    }

    /// Compute the next point (pathway-major over τ, then the combination). True when done.
    pub fn run_unit(&mut self) -> bool {
        let per_pathway = self.result.taus_ms.len();
        let swept = self.result.pathways.len() * per_pathway;
        if self.next < swept {
            let (p, t) = (self.next / per_pathway, self.next % per_pathway);
            let taus = ContextTaus::only(self.result.pathways[p].pathway, self.result.taus_ms[t]);
            self.result.pathways[p].outcomes[t] = Some(self.outcome(taus));
        } else if let Some((taus, None)) = self.result.combination {
            let outcome = self.outcome(taus);
            self.result.combination = Some((taus, Some(outcome)));
        }
        self.next += 1;
        self.result.is_complete()
    }

    /// Run every unit, calling `progress` after each.
    pub fn run_all(mut self, progress: &mut dyn FnMut()) -> SwitchResult {
        while !self.result.is_complete() {
            self.run_unit();
            progress();
        }
        self.result
    }
}

/// Fraction of correct trials (the last-step metric) of a host run.
fn perf(config: &Config, batch: &TrialBatch, run: &HostRun) -> f64 {
    let correct = tasks::performance(&run.outputs, batch, &config.tasks);
    correct.iter().map(|c| *c as f64).sum::<f64>() / correct.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Ambiguity;
    use crate::train::Trainer;
    use crate::train::probe::{ProbeTrials, run_probe};

    fn tiny(overrides: &[&str]) -> Config {
        let mut all = vec!["model.n_units=16".to_string(), r#"model.pathways=["bias","gain","synaptic"]"#.to_string()];
        all.extend(overrides.iter().map(|s| s.to_string()));
        Config::from_preset("quick", &all).expect("config")
    }

    #[test]
    fn the_context_time_constants_are_settings_with_defaults() {
        // a config written before the setting existed loads with every τ = 0
        let old = Config::from_toml_with_overrides("[model]\nn_units = 8\n", "old.toml", &[]).unwrap();
        assert_eq!(old.model.context_tau_ms, ContextTaus::INSTANT);
        let set = tiny(&["model.context_tau_ms.synaptic=250", "model.context_tau_ms.bias=20"]);
        assert_eq!(set.model.context_tau_ms, ContextTaus { bias: 20.0, gain: 0.0, synaptic: 250.0 });
        assert_eq!(Config::from_toml_with_overrides(&set.to_toml(), "", &[]).unwrap(), set);
        let e = Config::from_preset("quick", &["model.context_tau_ms.gain=-1".into()]).unwrap_err().to_string();
        assert!(e.contains("model.context_tau_ms.gain") && e.contains("≥ 0"), "{e}");
        let e = Config::from_preset("quick", &["model.context_tau_ms.bais=1".into()]).unwrap_err().to_string();
        assert!(e.contains("model.context_tau_ms.bias"), "{e}");
    }

    #[test]
    fn the_filter_reaches_63_percent_after_one_time_constant() {
        // a unit step at t = 0 from a steady state 0: after τ/dt steps the filtered value is
        // 1 − (1 − dt/τ)^(τ/dt) ≈ 1 − e⁻¹ = 0.632 (0.634 for dt/τ = 1/50)
        let (dt, tau) = (2.0, 100.0);
        let mut raw = vec![vec![0.0]];
        raw.extend(std::iter::repeat_n(vec![1.0], 200));
        let filtered = filter_contexts(&raw, dt, tau);
        assert_eq!(filtered[0], vec![0.0]);
        let after_tau = filtered[50][0];
        assert!((after_tau - (1.0 - 0.98f64.powi(50))).abs() < 1e-12);
        assert!((after_tau - (1.0 - (-1.0f64).exp())).abs() < 0.005, "{after_tau}");
        // monotone, below the target, and 1 − e⁻² after 2τ
        assert!(filtered.windows(2).all(|w| w[1][0] >= w[0][0] && w[1][0] < 1.0));
        assert!((filtered[100][0] - (1.0 - (-2.0f64).exp())).abs() < 0.01);
        // τ = 0 and τ ≤ dt follow the input at once
        for tau in [0.0, 1.0, 2.0] {
            assert_eq!(filter_contexts(&raw, dt, tau), raw);
        }
    }

    #[test]
    fn a_constant_context_is_left_unchanged() {
        let raw = vec![vec![0.0, 1.0, 0.0]; 30];
        for tau in [0.0, 50.0, 1e6] {
            assert_eq!(filter_contexts(&raw, 20.0, tau), raw, "τ = {tau}");
        }
    }

    #[test]
    fn the_switch_lands_at_stimulus_onset_and_is_instant_with_tau_zero() {
        let config = tiny(&[]);
        let spec = SwitchSpec { from: Task::FdGo, to: Task::DelayGo, trials: 4, switch_after_onset_ms: 0.0 };
        let trials = SwitchTrials::draw(&config, &spec).unwrap();
        let b = &trials.batch;
        assert_eq!(b.task, Task::DelayGo);
        assert_eq!(trials.switch_step, b.epochs[0].end);
        assert_eq!(b.epochs[1].name, "stimulus");
        let s = trials.switch_step;
        let contexts = PathwayContexts::filtered(&trials.raw_contexts(true), config.tasks.dt_ms, ContextTaus::INSTANT);
        for p in Pathway::ALL {
            let c = contexts.get(p);
            assert_eq!(c[s - 1], vec![1.0, 0.0, 0.0, 0.0], "{p:?}");
            assert_eq!(c[s], vec![0.0, 0.0, 1.0, 0.0], "{p:?}");
        }
        // later switches move with the offset; far offsets clamp to the last step
        let later = SwitchTrials::draw(&config, &SwitchSpec { switch_after_onset_ms: 100.0, ..spec.clone() }).unwrap();
        assert_eq!(later.switch_step, s + 5);
        let clamped = SwitchTrials::draw(&config, &SwitchSpec { switch_after_onset_ms: 1e6, ..spec.clone() }).unwrap();
        assert_eq!(clamped.switch_step, b.steps - 1);
        // τ = 0: every pathway has the new context at the switch step itself, so from there on
        // the switched and unswitched trials differ only by the state the switch started from
        let job = SwitchJob::new(config.clone(), Trainer::new(config.clone()).params, 0, &spec, vec![0.0], None).unwrap();
        let instant = job.outcome(ContextTaus::INSTANT);
        assert_eq!(instant.distance.len(), b.steps - s);
        let slow = job.outcome(ContextTaus::only(Pathway::Bias, 100.0));
        assert!(slow.distance[1] > instant.distance[1], "{:?} vs {:?}", slow.distance, instant.distance);
    }

    #[test]
    fn bad_requests_are_clear_errors() {
        let config = tiny(&[]);
        let params = Trainer::new(config.clone()).params;
        let spec = SwitchSpec { from: Task::DmsGo, to: Task::FdGo, trials: 4, switch_after_onset_ms: 0.0 };
        let e = SwitchJob::new(config.clone(), params.clone(), 0, &spec, vec![0.0], None).unwrap_err().to_string();
        assert!(e.contains("dmsgo") && e.contains("fdgo, reactgo"), "{e}");
        let spec = SwitchSpec::default_for(&config);
        let e = SwitchJob::new(config.clone(), params.clone(), 0, &spec, vec![-5.0], None).unwrap_err().to_string();
        assert!(e.contains("≥ 0"), "{e}");
        let e = SwitchJob::new(config.clone(), params.clone(), 0, &SwitchSpec { trials: 0, ..spec.clone() }, vec![0.0], None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least 1 trial"), "{e}");
        let e = SwitchJob::new(config, params, 0, &spec, vec![], None).unwrap_err().to_string();
        assert!(e.contains("at least one"), "{e}");
    }

    /// With every τ = 0 and no switch, the host simulation is the network's own forward pass.
    #[test]
    fn the_host_simulation_reproduces_the_network() {
        let variants: [&[&str]; 9] = [
            &[],
            &["model.tau_distribution=log_uniform", "model.tau_trainable=true"],
            &["model.tau_distribution=gamma", "model.state_form=voltage", "model.dale=true", "runtime.fused=false"],
            &["model.state_form=voltage", "model.activation=softplus", "model.gain_form=softplus"],
            &["model.synaptic_form=elementwise", "model.activation=tanh", "tasks.encoding=compact"],
            &["model.synaptic_rank=2", "runtime.fused=false"],
            &["model.dale=true"],
            &["model.dale=true", "model.dale_magnitude=\"abs\"", "model.readout_from_excitatory=false", "runtime.fused=false"],
            &["model.dale=true", "model.bias_cells=inhibitory", "model.gain_cells=excitatory", "model.synaptic_blocks=[\"ei\"]"],
        ];
        for overrides in variants {
            let config = tiny(overrides);
            let mut trainer = Trainer::new(config.clone());
            // a few steps so every pathway's parameters are away from their initial values
            for _ in 0..3 {
                trainer.step().expect("step");
            }
            let probe = ProbeTrials::draw_from(&config, 3, 99).expect("probe");
            let traj = run_probe(&config, &trainer.params, trainer.step, &probe, Ambiguity::none(), &[]).expect("probe run");
            for (index, (batch, task)) in probe.batches.iter().zip(&traj.tasks).enumerate() {
                let raw = switch_schedule(config.train.tasks.len(), index, index, batch.steps, 0);
                let run =
                    simulate(&config, &trainer.params, batch, &PathwayContexts::filtered(&raw, config.tasks.dt_ms, ContextTaus::INSTANT));
                let rate_error = run.rates.iter().zip(&task.rates).map(|(a, b)| (a - *b as f64).abs()).fold(0.0, f64::max);
                let output_error = run.outputs.iter().zip(&task.outputs).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
                assert!(rate_error < 1e-4, "{overrides:?} {:?}: rates differ by {rate_error}", batch.task);
                assert!(output_error < 1e-4, "{overrides:?} {:?}: outputs differ by {output_error}", batch.task);
                let perf = tasks::performance(&run.outputs, batch, &config.tasks);
                assert_eq!(perf, task.correct, "{overrides:?}");
            }
        }
    }

    #[test]
    fn a_slower_pathway_gives_a_larger_and_longer_transient() {
        // a fixed random network (seed 0) with all three pathways (G drawn too, since it starts
        // at 0): a stable network whose state follows its context, so a slower context lags more
        let config = tiny(&[]);
        let mut params = Trainer::new(config.clone()).params;
        Rng::seed_from(7).fill_normal(&mut params.get_mut(params::CTX_GAIN).unwrap().data, 0.3);
        let spec = SwitchSpec { from: Task::FdGo, to: Task::FdAnti, trials: 8, switch_after_onset_ms: 0.0 };
        let taus = vec![0.0, 50.0, 200.0, 1000.0];
        let job = SwitchJob::new(config, params, 0, &spec, taus.clone(), Some(ContextTaus { bias: 200.0, gain: 200.0, synaptic: 200.0 }))
            .unwrap();
        let result = job.run_all(&mut || {});
        assert!(result.is_complete());
        assert_eq!(result.pathways.len(), 3);
        for sweep in &result.pathways {
            let outcomes: Vec<&SwitchOutcome> = sweep.outcomes.iter().map(|o| o.as_ref().unwrap()).collect();
            let means: Vec<f64> = outcomes.iter().map(|o| o.mean_distance()).collect();
            // a short τ may even smooth the switch (see the README), but τ of a large part of the
            // trial always lags behind the instant switch
            assert!(means[2] > means[0] && means[3] > means[2], "{:?}: {means:?}", sweep.pathway);
            // late in the trial the fast switch has settled more than the slow one
            let late = |o: &SwitchOutcome| o.distance[o.distance.len() * 3 / 4];
            assert!(late(outcomes[3]) > late(outcomes[0]), "{:?}", sweep.pathway);
            // τ = 0 is the same run for every pathway
            assert_eq!(outcomes[0], result.pathways[0].outcomes[0].as_ref().unwrap());
        }
        let (_, combined) = result.combination.as_ref().unwrap();
        let combined = combined.as_ref().unwrap();
        assert!(combined.mean_distance() > result.pathways[0].outcomes[0].as_ref().unwrap().mean_distance());
        // the tables: one row per (pathway, τ), one per post-switch step in the transient
        let switching = result.switching_csv();
        assert_eq!(switching.lines().next(), Some("pathway,tau_ms,from,to,perf,perf_unswitched,mean_distance"));
        assert_eq!(switching.lines().count(), 1 + 3 * taus.len());
        assert!(switching.contains("\nsynaptic,1000,fdgo,fdanti,"), "{switching}");
        let transient = result.transient_csv();
        assert_eq!(transient.lines().count(), 1 + 3 * taus.len() * (result.steps - result.switch_step));
        assert!(transient.lines().nth(1).unwrap().starts_with("bias,0,0,0,"), "{transient}");
        assert_eq!(result.figures().len(), 4);
    }

    #[test]
    fn a_briefly_trained_network_lags_behind_a_switch_with_a_very_slow_pathway() {
        let config = tiny(&["train.batch_size=16"]);
        let mut trainer = Trainer::new(config.clone());
        for _ in 0..300 {
            trainer.step().expect("step");
        }
        let spec = SwitchSpec { from: Task::FdGo, to: Task::FdAnti, trials: 8, switch_after_onset_ms: 0.0 };
        let result =
            SwitchJob::new(config, trainer.params, trainer.step, &spec, vec![0.0, 100.0, 1000.0], None).unwrap().run_all(&mut || {});
        // not monotone in general: here a bias pathway with τ = 100 ms gives a slightly SMALLER
        // transient than the instant switch (a gentler change of cue); a very slow one (τ = 1 s,
        // about the trial's length) lags, on average and at the end
        for sweep in &result.pathways {
            let outcomes: Vec<&SwitchOutcome> = sweep.outcomes.iter().map(|o| o.as_ref().unwrap()).collect();
            let means: Vec<f64> = outcomes.iter().map(|o| o.mean_distance()).collect();
            assert!(means[2] > means[0], "{:?}: {means:?}", sweep.pathway);
            let last = |o: &SwitchOutcome| *o.distance.last().unwrap();
            assert!(last(outcomes[2]) > last(outcomes[0]), "{:?}", sweep.pathway);
        }
    }

    #[test]
    fn no_switch_has_no_transient() {
        let config = tiny(&[]);
        let params = Trainer::new(config.clone()).params;
        let spec = SwitchSpec { from: Task::FdGo, to: Task::FdGo, trials: 4, switch_after_onset_ms: 0.0 };
        let result = SwitchJob::new(config, params, 0, &spec, vec![0.0, 500.0], None).unwrap().run_all(&mut || {});
        for sweep in &result.pathways {
            for o in sweep.outcomes.iter().flatten() {
                assert!(o.distance.iter().all(|d| *d == 0.0));
                assert_eq!(o.perf, result.perf_unswitched);
            }
        }
    }
}
