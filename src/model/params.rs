//! The network's parameters as plain host arrays.
//!
//! Keeping the master copy on the host makes initialisation, the optimiser and checkpoints
//! identical on every backend (bit for bit), and lets a checkpoint be checked against its config
//! before anything is built from it.

use serde::{Deserialize, Serialize};

use super::balanced::{external_drive, fixed_connections};
use super::{ModelConfig, ModelError, Pathway, Readout, RecurrentInit, SynapticForm, TAU_GAMMA_SHAPE, TauDistribution};
use crate::rng::Rng;

/// One named parameter array, row-major.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl ParamTensor {
    pub fn zeros(name: &str, shape: &[usize]) -> Self {
        Self { name: name.to_string(), shape: shape.to_vec(), data: vec![0.0; shape.iter().product()] }
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// All parameters of one network, in a fixed order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamSet {
    pub tensors: Vec<ParamTensor>,
}

/// The sizes a parameter set is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    pub n_in: usize,
    pub n_out: usize,
    pub n_units: usize,
    /// Length of the context vector (number of trained tasks).
    pub n_contexts: usize,
}

pub const W_IN: &str = "w_in";
pub const B_REC: &str = "b_rec";
pub const W_REC: &str = "w_rec";
pub const W_OUT: &str = "w_out";
pub const B_OUT: &str = "b_out";
pub const CTX_BIAS: &str = "ctx_bias";
pub const CTX_GAIN: &str = "ctx_gain";
pub const SYN_U: &str = "syn_u";
pub const SYN_V: &str = "syn_v";
pub const SYN_M: &str = "syn_m";
/// log τ_i (τ in ms) per unit, with heterogeneous or trained time constants.
pub const LOG_TAU: &str = "log_tau";

impl ParamSet {
    /// The names and shapes a config implies, in storage order.
    pub fn layout(config: &ModelConfig, dims: Dims) -> Vec<(&'static str, Vec<usize>)> {
        let Dims { n_in, n_out, n_units: n, n_contexts: k } = dims;
        let mut layout = vec![(W_IN, vec![n, n_in]), (B_REC, vec![n]), (W_REC, vec![n, n]), (W_OUT, vec![n_out, n]), (B_OUT, vec![n_out])];
        if config.has(Pathway::Bias) {
            layout.push((CTX_BIAS, vec![k, n]));
        }
        if config.has(Pathway::Gain) {
            layout.push((CTX_GAIN, vec![k, n]));
        }
        if config.has(Pathway::Synaptic) {
            match config.synaptic_form {
                SynapticForm::Lowrank => {
                    let kr = k * config.synaptic_rank;
                    layout.push((SYN_U, vec![n, kr]));
                    layout.push((SYN_V, vec![n, kr]));
                }
                SynapticForm::Elementwise => layout.push((SYN_M, vec![k, n * n])),
            }
        }
        // last, so that its draws come after every other parameter's: the same seed gives the
        // same weights with and without per-unit time constants
        if config.per_unit_tau() {
            layout.push((LOG_TAU, vec![n]));
        }
        layout
    }

    /// Fresh parameters drawn from `rng` (docs/MODEL.md §1–2 initialisation); `readout` is the
    /// encoding's (it sets where b_out starts under Dale's law).
    pub fn init(config: &ModelConfig, dims: Dims, readout: Readout, rng: &mut Rng) -> Self {
        let n = dims.n_units;
        let tensors = Self::layout(config, dims)
            .into_iter()
            .map(|(name, shape)| {
                let mut t = ParamTensor::zeros(name, &shape);
                match name {
                    W_IN => rng.fill_normal(&mut t.data, 1.0 / (dims.n_in as f32).sqrt()),
                    W_REC if config.recurrent_init == RecurrentInit::Balanced => t.data = balanced_magnitudes(config, rng),
                    B_REC if config.recurrent_init == RecurrentInit::Balanced => {
                        let n_e = config.n_excitatory();
                        // the drive scales with g like the connections (Kim et al.'s code), so the
                        // balanced rates do not depend on g
                        let g = config.effective_recurrent_scale() as f64;
                        (0..n).for_each(|i| t.data[i] = (g * external_drive(config.balanced_k(), i < n_e)) as f32)
                    }
                    W_REC => {
                        let scale = config.effective_recurrent_scale();
                        t.data = match config.recurrent_init {
                            RecurrentInit::Diag => identity(n),
                            _ => random_orthogonal(n, rng),
                        };
                        t.data.iter_mut().for_each(|w| *w *= scale);
                        if config.dale {
                            balance_for_dale(&mut t.data, n, config.n_excitatory());
                        }
                    }
                    W_OUT => {
                        let limit = (6.0 / (n + dims.n_out) as f32).sqrt();
                        t.data.iter_mut().for_each(|w| *w = rng.uniform_range(-limit as f64, limit as f64) as f32);
                        if config.dale {
                            // magnitudes: a rectified readout would start with half its weights silent
                            t.data.iter_mut().for_each(|w| *w = w.abs());
                        }
                    }
                    // Under Dale's law the excitatory readout only adds (rates and weights ≥ 0),
                    // so a sigmoid output starts at the targets' low resting level (0.05 in the
                    // ring encoding) instead of at ≥ 0.5, where it saturates and barely learns
                    // (measured: the quick preset stuck at loss 0.31 after 3 000 steps from b = 0)
                    B_OUT if config.dale && config.readout_from_excitatory && readout == Readout::Sigmoid => {
                        t.data.iter_mut().for_each(|b| *b = DALE_SIGMOID_OUTPUT_BIAS)
                    }
                    CTX_BIAS => rng.fill_normal(&mut t.data, 1.0 / (dims.n_contexts as f32).sqrt()),
                    SYN_U | SYN_V => rng.fill_normal(&mut t.data, config.synaptic_init_scale / (n as f32).sqrt()),
                    LOG_TAU => t.data = draw_log_tau(config, n, rng),
                    // biases, the gain matrix G and the element-wise M start at 0: g(c) = 1, W(c) = W_rec
                    _ => {}
                }
                t
            })
            .collect();
        let mut set = Self { tensors };
        set.silence_untrained(config, dims);
        set
    }

    /// Under subset training, the untrained units get no task input, no context and no
    /// readout weight: task activity can reach them only through the recurrent connections.
    fn silence_untrained(&mut self, config: &ModelConfig, dims: Dims) {
        let Some(mask) = Self::learning_mask(config, dims) else { return };
        for (t, m) in self.tensors.iter_mut().zip(mask) {
            if matches!(t.name.as_str(), W_IN | W_OUT | CTX_BIAS | SYN_U) {
                t.data.iter_mut().zip(m).for_each(|(w, learns)| *w *= learns);
            }
        }
    }

    /// Under subset training (`trained_fraction` < 1), per tensor in storage order, 1 on the
    /// entries that learn and 0 on those that stay fixed: the untrained units' incoming weights
    /// (rows of W_in, W_rec and U, columns of the context matrices), biases and time constants,
    /// and their readout columns. The readout bias and V (presynaptic) learn. `None` when
    /// every unit learns.
    pub fn learning_mask(config: &ModelConfig, dims: Dims) -> Option<Vec<Vec<f32>>> {
        let trained = config.trained_units()?;
        let n = dims.n_units;
        let mask = Self::layout(config, dims)
            .into_iter()
            .map(|(name, shape)| {
                let size: usize = shape.iter().product();
                let unit_of = |index: usize| match name {
                    W_IN | W_REC | SYN_U => Some(index / shape[1]),
                    B_REC | LOG_TAU => Some(index),
                    W_OUT | CTX_BIAS | CTX_GAIN => Some(index % n),
                    SYN_M => Some((index % (n * n)) / n),
                    _ => None,
                };
                (0..size).map(|index| if unit_of(index).is_none_or(|unit| unit < trained) { 1.0 } else { 0.0 }).collect()
            })
            .collect();
        Some(mask)
    }

    pub fn get(&self, name: &str) -> Option<&ParamTensor> {
        self.tensors.iter().find(|t| t.name == name)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut ParamTensor> {
        self.tensors.iter_mut().find(|t| t.name == name)
    }

    /// Each unit's α_i = dt/τ_i: from `log_tau` when the units have their own time constants,
    /// else `config.alpha(dt_ms)` for all.
    pub fn unit_alphas(&self, config: &ModelConfig, dt_ms: f32) -> Vec<f32> {
        match self.get(LOG_TAU) {
            Some(log_tau) => log_tau.data.iter().map(|l| dt_ms * (-l).exp()).collect(),
            None => vec![config.alpha(dt_ms); config.n_units],
        }
    }

    /// Each unit's τ_i in ms (`tau_ms` for all without per-unit time constants).
    pub fn unit_taus(&self, config: &ModelConfig) -> Vec<f32> {
        match self.get(LOG_TAU) {
            Some(log_tau) => log_tau.data.iter().map(|l| l.exp()).collect(),
            None => vec![config.tau_ms; config.n_units],
        }
    }

    /// Keep trained time constants within [tau_min_ms, tau_max_ms] (after each optimiser step).
    pub fn clamp_time_constants(&mut self, config: &ModelConfig) {
        let (lo, hi) = (config.tau_min_ms.ln(), config.tau_max_ms.ln());
        if let Some(log_tau) = self.get_mut(LOG_TAU) {
            log_tau.data.iter_mut().for_each(|l| *l = l.clamp(lo, hi));
        }
    }

    pub fn num_params(&self) -> usize {
        self.tensors.iter().map(ParamTensor::len).sum()
    }

    /// Does this set have exactly the names and shapes `config` and `dims` call for?
    pub fn check_layout(&self, config: &ModelConfig, dims: Dims) -> Result<(), ModelError> {
        let expected = Self::layout(config, dims);
        let found: Vec<(&str, &[usize])> = self.tensors.iter().map(|t| (t.name.as_str(), t.shape.as_slice())).collect();
        let expected_ref: Vec<(&str, &[usize])> = expected.iter().map(|(n, s)| (*n, s.as_slice())).collect();
        if found != expected_ref {
            let show = |v: &[(&str, &[usize])]| v.iter().map(|(n, s)| format!("{n}{s:?}")).collect::<Vec<_>>().join(" ");
            return Err(ModelError::ParamLayout(format!(
                "the parameters do not match the configuration: expected {}, found {}",
                show(&expected_ref),
                show(&found)
            )));
        }
        for t in &self.tensors {
            if t.data.len() != t.shape.iter().product::<usize>() {
                return Err(ModelError::ParamLayout(format!("parameter {} has {} values for shape {:?}", t.name, t.data.len(), t.shape)));
            }
        }
        Ok(())
    }
}

/// The starting log τ_i of every unit (docs/MODEL.md §1): `tau_ms` for all (a single τ that
/// will be trained), log-uniform between the bounds, or Gamma(shape 3, mean `tau_ms`) clipped to
/// them. Gamma with an integer shape k is a sum of k exponentials: −θ Σ ln U_j, θ = mean/k.
pub fn draw_log_tau(config: &ModelConfig, n: usize, rng: &mut Rng) -> Vec<f32> {
    let (lo, hi) = (config.tau_min_ms as f64, config.tau_max_ms as f64);
    (0..n)
        .map(|_| {
            let tau = match config.tau_distribution {
                TauDistribution::Single => config.tau_ms as f64,
                TauDistribution::LogUniform => rng.uniform_range(lo.ln(), hi.ln()).exp(),
                TauDistribution::Gamma => {
                    let theta = config.tau_ms as f64 / TAU_GAMMA_SHAPE as f64;
                    // 1 − U lies in (0, 1]: the logarithm is finite
                    -theta * (0..TAU_GAMMA_SHAPE).map(|_| (1.0 - rng.uniform()).ln()).sum::<f64>()
                }
            };
            tau.clamp(lo, hi).ln() as f32
        })
        .collect()
}

/// W̃ of the balanced initialisation: the magnitudes of Kim et al.'s fixed connections (the
/// signs come from Dale's law), dense [N, N] with row = postsynaptic unit.
fn balanced_magnitudes(config: &ModelConfig, rng: &mut Rng) -> Vec<f32> {
    let (n, n_e) = (config.n_units, config.n_excitatory());
    let g = config.effective_recurrent_scale() as f64;
    let mut w = vec![0.0; n * n];
    for (i, inputs) in fixed_connections(n_e, n - n_e, config.balanced_k(), g, rng).into_iter().enumerate() {
        inputs.into_iter().for_each(|(j, weight)| w[i * n + j] = weight.abs() as f32);
    }
    w
}

/// logit(0.05): the ring encoding's resting target.
const DALE_SIGMOID_OUTPUT_BIAS: f32 = -2.944_439;

/// Dale's law's starting W̃ from the usual initial W [N, N]: magnitudes |W|, the inhibitory
/// columns (units n_e..N) scaled by n_e / n_i so that, with every unit at the same rate, a unit's
/// excitatory and inhibitory inputs cancel in expectation (Song, Yang & Wang 2016 balance the
/// same way), then the whole matrix scaled back to the initial Frobenius norm so the recurrence
/// starts as strong as without Dale's law.
fn balance_for_dale(w: &mut [f32], n: usize, n_e: usize) {
    let norm = |w: &[f32]| w.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
    let before = norm(w);
    let ratio = n_e as f32 / (n - n_e) as f32;
    for (index, v) in w.iter_mut().enumerate() {
        *v = v.abs() * if index % n >= n_e { ratio } else { 1.0 };
    }
    let after = norm(w);
    if after > 0.0 {
        let scale = (before / after) as f32;
        w.iter_mut().for_each(|v| *v *= scale);
    }
}

fn identity(n: usize) -> Vec<f32> {
    let mut m = vec![0.0; n * n];
    (0..n).for_each(|i| m[i * n + i] = 1.0);
    m
}

/// A Haar-random orthogonal matrix: Gram–Schmidt (twice, for stability) on a Gaussian matrix,
/// with the sign of each column fixed by the diagonal of R as in Mezzadri (2007).
fn random_orthogonal(n: usize, rng: &mut Rng) -> Vec<f32> {
    let mut cols: Vec<Vec<f64>> = (0..n).map(|_| (0..n).map(|_| rng.normal()).collect()).collect();
    for j in 0..n {
        let (done, rest) = cols.split_at_mut(j);
        let v = &mut rest[0];
        let original_norm_dir: f64 = v[j];
        for _ in 0..2 {
            for q in done.iter() {
                let dot: f64 = q.iter().zip(v.iter()).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(q).for_each(|(x, qi)| *x -= dot * qi);
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let sign = if original_norm_dir < 0.0 { -1.0 } else { 1.0 };
        v.iter_mut().for_each(|x| *x *= sign / norm);
    }
    // cols[j] is column j; store row-major
    let mut m = vec![0.0f32; n * n];
    for (j, col) in cols.iter().enumerate() {
        for (i, x) in col.iter().enumerate() {
            m[i * n + j] = *x as f32;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orthogonal_init_is_orthogonal() {
        let n = 40;
        let q = random_orthogonal(n, &mut Rng::seed_from(3));
        for i in 0..n {
            for j in 0..n {
                let dot: f32 = (0..n).map(|k| q[k * n + i] * q[k * n + j]).sum();
                let expected = if i == j { 1.0 } else { 0.0 };
                assert!((dot - expected).abs() < 1e-4, "QᵀQ[{i},{j}] = {dot}");
            }
        }
    }

    #[test]
    fn trained_time_constants_are_clamped_to_their_bounds() {
        let dims = Dims { n_in: 2, n_out: 1, n_units: 3, n_contexts: 1 };
        let config = ModelConfig { n_units: 3, tau_trainable: true, ..Default::default() };
        let mut p = ParamSet::init(&config, dims, Readout::Linear, &mut Rng::seed_from(1));
        assert_eq!(p.unit_taus(&config).iter().map(|t| t.round()).collect::<Vec<_>>(), vec![100.0; 3], "a single τ, to be trained");
        p.get_mut(LOG_TAU).unwrap().data = vec![1000f32.ln(), 10f32.ln(), 200f32.ln()];
        p.clamp_time_constants(&config);
        let taus = p.unit_taus(&config);
        assert!((taus[0] - 400.0).abs() < 1e-2 && (taus[1] - 40.0).abs() < 1e-3 && (taus[2] - 200.0).abs() < 1e-2, "{taus:?}");
        let alphas = p.unit_alphas(&config, 20.0);
        assert!((alphas[0] - 0.05).abs() < 1e-6 && (alphas[1] - 0.5).abs() < 1e-6, "{alphas:?}");
    }

    #[test]
    fn layout_follows_pathways() {
        let dims = Dims { n_in: 5, n_out: 3, n_units: 8, n_contexts: 4 };
        let mut config = ModelConfig { n_units: 8, pathways: vec![], ..Default::default() };
        assert_eq!(ParamSet::layout(&config, dims).len(), 5);
        config.pathways = vec![Pathway::Bias, Pathway::Gain, Pathway::Synaptic];
        config.synaptic_rank = 2;
        let p = ParamSet::init(&config, dims, Readout::Sigmoid, &mut Rng::seed_from(1));
        assert_eq!(p.get(SYN_U).unwrap().shape, vec![8, 8]);
        assert_eq!(p.get(CTX_GAIN).unwrap().data.iter().filter(|x| **x != 0.0).count(), 0);
        p.check_layout(&config, dims).unwrap();
        config.pathways = vec![Pathway::Bias];
        assert!(p.check_layout(&config, dims).unwrap_err().to_string().contains("do not match"));
    }
}
