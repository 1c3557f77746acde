//! The network: a leaky rate RNN (Yang et al. 2019) whose task context arrives through up to three
//! neuromodulatory pathways (docs/MODEL.md §1–2).
//!
//! ```text
//! z_t   = W(c) r_{t-1} + W_in u_t + b + [bias] E c + sqrt(2/α) σ_rec ξ_t
//! pre_t = g(c) ⊙ z_t                          [gain]     g(c) = 1 + G c, max(0, 1 + G c) under Dale's law (or softplus form)
//! r_t   = (1-α) r_{t-1} + α φ(pre_t)           rate form (default; Yang's)
//!   or    x_t = (1-α) x_{t-1} + α pre_t, r_t = φ(x_t)    voltage form
//! W(c)  = W_rec + Σ_k c_k U_k V_kᵀ             [synaptic] low rank r (or W_rec ⊙ (1 + Σ_k c_k M_k))
//! y_t   = σ(W_out r_t + b_out)  (ring encoding; linear for compact)
//! ```
//!
//! Parameters live on the host as [`ParamSet`] (the training loop's optimiser and the checkpoints
//! work on it, identically for every backend); [`Rnn`] is the burn `Module` built from it for one
//! forward/backward pass.

pub mod balanced;
pub mod fused;
pub mod lif;
pub mod params;
pub mod pass;
pub mod plastic;
pub mod readout;
pub mod rnn;
pub mod scan;

use serde::{Deserialize, Serialize};

pub use params::{ParamSet, ParamTensor};
pub use pass::{Forward, RnnInput};
pub use rnn::Rnn;

/// How the outputs are read from the rates: y = σ(W_out r + b_out) for the ring encoding (targets
/// in [0, 1]), linear for the compact one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readout {
    Sigmoid,
    Linear,
}

/// Why a model setting or a parameter set cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("unknown pathway '{0}'; valid pathways: bias, gain, synaptic")]
    UnknownPathway(String),
    /// A setting out of range; the message names the setting.
    #[error("{0}")]
    InvalidSetting(String),
    /// Parameters whose names or shapes do not fit the configuration.
    #[error("{0}")]
    ParamLayout(String),
}

/// One way context reaches the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pathway {
    /// Excitability, additive: each neuron's threshold moves with the task (pre += E c).
    Bias,
    /// Excitability, multiplicative: the slope of each neuron's input–output curve (pre ← g(c) ⊙ pre).
    Gain,
    /// Synaptic strength: the recurrent weights change with the task (W_rec + Σ c_k U_k V_kᵀ).
    Synaptic,
}

impl Pathway {
    pub const ALL: [Pathway; 3] = [Pathway::Bias, Pathway::Gain, Pathway::Synaptic];

    pub fn name(self) -> &'static str {
        match self {
            Pathway::Bias => "bias",
            Pathway::Gain => "gain",
            Pathway::Synaptic => "synaptic",
        }
    }

    pub fn from_name(name: &str) -> Result<Pathway, ModelError> {
        Pathway::ALL.into_iter().find(|p| p.name() == name).ok_or_else(|| ModelError::UnknownPathway(name.to_string()))
    }

    /// A pathway set written as `bias+synaptic` (or `none`).
    pub fn set_label(set: &[Pathway]) -> String {
        if set.is_empty() { "none".to_string() } else { set.iter().map(|p| p.name()).collect::<Vec<_>>().join("+") }
    }
}

/// The neurons' input–output function φ (one type for the settings and the scan kernel).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// `max(x, 0)`; derivative taken as `1` for `x > 0`, else `0`.
    Relu,
    /// `ln(1 + eˣ)`, evaluated stably.
    Softplus,
    /// `tanh(x)`.
    Tanh,
}

/// softplus(x) = ln(1 + eˣ), without overflow for large x.
pub fn softplus(x: f64) -> f64 {
    if x > 20.0 { x } else { x.exp().ln_1p() }
}

/// Which variable leaks: the rate (Yang's form) or the membrane potential.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateForm {
    /// `r_t = (1-α) r_{t-1} + α φ(pre_t)`.
    Rate,
    /// `x_t = (1-α) x_{t-1} + α pre_t`, `r_t = φ(x_t)`.
    Voltage,
}

/// How W_rec is initialised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecurrentInit {
    /// A random orthogonal matrix times `recurrent_scale`.
    Orthogonal,
    /// `recurrent_scale` × identity (what Yang's softplus networks used).
    Diag,
    /// The strongly coupled balanced state of Kim et al. (2023; docs/MODEL.md §7), under Dale's
    /// law: each unit receives `balanced_inputs` (K) inputs from each population, of magnitude
    /// g·|j_ab|/√K with g = `recurrent_scale` (1 when 0), and b_rec starts at the balanced
    /// external drive g·√K·I_a (I_E = 1, I_I = 0.8; ∝ g like the connections, as Kim et al.'s
    /// code scales it, so the balanced rates do not depend on g).
    Balanced,
}

/// The form of the gain pathway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GainForm {
    /// g(c) = 1 + G c, G initialised at 0; under Dale's law max(0, 1 + G c), so that no
    /// context turns the sign of a unit's inputs around.
    Affine,
    /// g(c) = softplus(G c + s₀) / softplus(s₀): always positive, 1 at c = 0.
    Softplus,
}

/// The form of the synaptic pathway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SynapticForm {
    /// W_rec + Σ_k c_k U_k V_kᵀ with U_k, V_k ∈ R^{N×rank}.
    Lowrank,
    /// W_rec ⊙ (1 + Σ_k c_k M_k) with M_k ∈ R^{N×N} initialised at 0.
    Elementwise,
}

/// How Dale's law turns the trained weights W̃ into non-negative magnitudes before each
/// presynaptic unit's sign is applied: W_rec = f(W̃)·D.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DaleMagnitude {
    /// f = max(0, ·) (Song, Yang & Wang 2016): a weight trained below 0 is a silent synapse.
    #[default]
    Relu,
    /// f = |·|: no synapse is silenced, a weight crossing 0 keeps its cell type's sign.
    Abs,
}

/// How each unit's time constant τ_i is set (heterogeneous time constants, Perez-Nieves et al.
/// 2021): every unit at `tau_ms` (Yang's network), or drawn per unit from the run's seed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TauDistribution {
    /// τ_i = `tau_ms` for every unit.
    #[default]
    Single,
    /// log τ_i uniform in [log `tau_min_ms`, log `tau_max_ms`]: as many units per octave at every scale.
    LogUniform,
    /// τ_i ~ Gamma(shape 3, mean `tau_ms`), clipped to [`tau_min_ms`, `tau_max_ms`].
    Gamma,
}

impl TauDistribution {
    pub const ALL: [TauDistribution; 3] = [TauDistribution::Single, TauDistribution::LogUniform, TauDistribution::Gamma];

    pub fn name(self) -> &'static str {
        match self {
            TauDistribution::Single => "single",
            TauDistribution::LogUniform => "log_uniform",
            TauDistribution::Gamma => "gamma",
        }
    }
}

/// The shape of the Gamma distribution of τ_i (Perez-Nieves et al. 2021).
pub const TAU_GAMMA_SHAPE: u32 = 3;

/// Which units a context pathway acts on (cell-type-specific neuromodulation, Rodriguez-Garcia,
/// Mei & Ramaswamy 2024); anything but `all` needs Dale's law's cell types.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellTarget {
    #[default]
    All,
    Excitatory,
    Inhibitory,
}

impl CellTarget {
    pub fn name(self) -> &'static str {
        match self {
            CellTarget::All => "all",
            CellTarget::Excitatory => "excitatory",
            CellTarget::Inhibitory => "inhibitory",
        }
    }
}

/// A block of the recurrent weights by cell type, presynaptic → postsynaptic: `ei` is the
/// synapses from excitatory onto inhibitory units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SynapticBlock {
    Ee,
    Ei,
    Ie,
    Ii,
}

impl SynapticBlock {
    pub const ALL: [SynapticBlock; 4] = [SynapticBlock::Ee, SynapticBlock::Ei, SynapticBlock::Ie, SynapticBlock::Ii];

    /// (presynaptic, postsynaptic) excitatory?
    fn types(self) -> (bool, bool) {
        match self {
            SynapticBlock::Ee => (true, true),
            SynapticBlock::Ei => (true, false),
            SynapticBlock::Ie => (false, true),
            SynapticBlock::Ii => (false, false),
        }
    }
}

/// The network's settings (docs/MODEL.md §1–2 defaults).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Number of recurrent units N.
    pub n_units: usize,
    /// The neurons' input–output function φ: relu, softplus or tanh.
    pub activation: Activation,
    /// `rate`: r_t = (1-α) r_{t-1} + α φ(pre_t) (Yang's); `voltage`: x_t = (1-α) x_{t-1} + α pre_t, r_t = φ(x_t).
    pub state_form: StateForm,
    /// Neuronal time constant τ in ms; α = dt / τ.
    pub tau_ms: f32,
    /// Recurrent noise σ_rec (the std added is sqrt(2/α)·σ_rec).
    pub sigma_rec: f32,
    /// W_rec initialisation: orthogonal or diag.
    pub recurrent_init: RecurrentInit,
    /// Scale of the W_rec initialisation; 0 = automatic (0.5, or 1.0 for tanh).
    pub recurrent_scale: f32,
    /// Context pathways switched on: any of "bias", "gain", "synaptic" (none is allowed).
    pub pathways: Vec<Pathway>,
    /// Gain pathway form: affine (1 + G c; max(0, 1 + G c) under Dale's law) or softplus.
    pub gain_form: GainForm,
    /// s₀ of the softplus gain form.
    pub gain_softplus_offset: f32,
    /// Synaptic pathway form: lowrank or elementwise.
    pub synaptic_form: SynapticForm,
    /// Rank r of each task's low-rank synaptic change.
    pub synaptic_rank: usize,
    /// Scale of the initial U_k, V_k entries (× 1/sqrt(N) each, so U_k V_kᵀ starts small).
    pub synaptic_init_scale: f32,
    /// Per-pathway context time constants τ_p in ms (docs/MODEL.md §2): pathway p sees the context
    /// low-pass filtered, τ_p dc_p/dt = −c_p + c(t), i.e. c_p ← c_p + (dt/τ_p)(c − c_p) per step
    /// (0 = instant). The filter starts at steady state (c_p = c at the first step), so with the
    /// constant context of ordinary trials it changes nothing: training, evaluation and the fused
    /// kernel ignore it. It matters only when the context changes mid-trial: the task-switch
    /// trials of `modulab analyze --switch` and the app's Switching panel.
    pub context_tau_ms: ContextTaus,
    /// Dale's law (Song, Yang & Wang 2016): the first round(excitatory_fraction · N) units are
    /// excitatory, the rest inhibitory, and every unit's outgoing weights keep its sign:
    /// W_rec = f(W̃)·D with D = diag(±1) (docs/MODEL.md §1). Off by default.
    #[serde(skip_serializing_if = "is_false")]
    pub dale: bool,
    /// Fraction of excitatory units under Dale's law.
    #[serde(skip_serializing_if = "is_default_excitatory_fraction")]
    pub excitatory_fraction: f32,
    /// f of Dale's law: relu (default) or abs.
    #[serde(skip_serializing_if = "is_default_magnitude")]
    pub dale_magnitude: DaleMagnitude,
    /// Under Dale's law, read the outputs from the excitatory units only, with non-negative
    /// weights f(W̃_out) (on by default); off, the readout weights take each unit's sign.
    #[serde(skip_serializing_if = "is_true")]
    pub readout_from_excitatory: bool,
    /// The units the bias pathway acts on: all, excitatory or inhibitory (the last two need Dale's law).
    #[serde(skip_serializing_if = "is_all_cells")]
    pub bias_cells: CellTarget,
    /// The units the gain pathway acts on (as `bias_cells`).
    #[serde(skip_serializing_if = "is_all_cells")]
    pub gain_cells: CellTarget,
    /// The blocks of W̃ the synaptic pathway changes, any of "ee", "ei", "ie", "ii"
    /// (presynaptic → postsynaptic); all four by default, fewer need Dale's law.
    #[serde(skip_serializing_if = "is_every_block")]
    pub synaptic_blocks: Vec<SynapticBlock>,
    /// Per-unit time constants: single (every τ_i = tau_ms), log_uniform in [tau_min_ms,
    /// tau_max_ms], or gamma (shape 3, mean tau_ms, clipped to the bounds); drawn from the seed.
    #[serde(skip_serializing_if = "is_single_tau")]
    pub tau_distribution: TauDistribution,
    /// Lower bound of τ_i in ms (log_uniform's range, gamma's clip, the trained τ's bound).
    #[serde(skip_serializing_if = "is_default_tau_min")]
    pub tau_min_ms: f32,
    /// Upper bound of τ_i in ms.
    #[serde(skip_serializing_if = "is_default_tau_max")]
    pub tau_max_ms: f32,
    /// Train each τ_i (as log τ_i, kept within [tau_min_ms, tau_max_ms]); off: τ_i stay as drawn.
    #[serde(skip_serializing_if = "is_false")]
    pub tau_trainable: bool,
    /// K of the `balanced` initialisation: inputs each unit receives from each population
    /// (0 = automatic: a fifth of the smaller population, the connection probability 0.2 of
    /// Kim et al.'s code).
    #[serde(skip_serializing_if = "is_zero")]
    pub balanced_inputs: usize,
    /// The share f of the excitatory units that learn (subset training, Kim et al. 2023): only
    /// the first round(f·N_E) units' incoming weights, biases and context parameters change,
    /// only they receive the task inputs and the context, and only they are read out; every
    /// other unit keeps its initial incoming weights. 1 = every unit learns (needs Dale's law
    /// below 1).
    #[serde(skip_serializing_if = "is_one")]
    pub trained_fraction: f32,
}

fn is_zero(v: &usize) -> bool {
    *v == 0
}
fn is_one(v: &f32) -> bool {
    *v == 1.0
}

fn is_single_tau(v: &TauDistribution) -> bool {
    *v == TauDistribution::Single
}
fn is_default_tau_min(v: &f32) -> bool {
    *v == DEFAULT_TAU_MIN_MS
}
fn is_default_tau_max(v: &f32) -> bool {
    *v == DEFAULT_TAU_MAX_MS
}

/// Default bounds of τ_i: a decade around Yang's 100 ms (geometric mean 126 ms).
pub const DEFAULT_TAU_MIN_MS: f32 = 40.0;
pub const DEFAULT_TAU_MAX_MS: f32 = 400.0;

fn is_all_cells(v: &CellTarget) -> bool {
    *v == CellTarget::All
}
fn is_every_block(v: &[SynapticBlock]) -> bool {
    let mut sorted = v.to_vec();
    sorted.sort();
    sorted.dedup();
    sorted == SynapticBlock::ALL
}

// Dale's and the time constants' settings are written only when they differ from the default, so
// configurations (and the reproduce study's fingerprint) saved before they existed read back and
// compare unchanged.
fn is_false(v: &bool) -> bool {
    !*v
}
fn is_true(v: &bool) -> bool {
    *v
}
fn is_default_excitatory_fraction(v: &f32) -> bool {
    *v == DEFAULT_EXCITATORY_FRACTION
}
fn is_default_magnitude(v: &DaleMagnitude) -> bool {
    *v == DaleMagnitude::default()
}

/// Song, Yang & Wang's 4:1 ratio of excitatory to inhibitory cells.
pub const DEFAULT_EXCITATORY_FRACTION: f32 = 0.8;

/// The context time constant of each pathway, in ms (0 = the pathway follows the context at once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContextTaus {
    /// τ of the bias pathway (E c_bias).
    pub bias: f32,
    /// τ of the gain pathway (g(c_gain)).
    pub gain: f32,
    /// τ of the synaptic pathway (W(c_synaptic)).
    pub synaptic: f32,
}

impl ContextTaus {
    /// Every pathway instant (τ = 0).
    pub const INSTANT: ContextTaus = ContextTaus { bias: 0.0, gain: 0.0, synaptic: 0.0 };

    pub fn get(&self, pathway: Pathway) -> f32 {
        match pathway {
            Pathway::Bias => self.bias,
            Pathway::Gain => self.gain,
            Pathway::Synaptic => self.synaptic,
        }
    }

    pub fn set(&mut self, pathway: Pathway, tau_ms: f32) {
        match pathway {
            Pathway::Bias => self.bias = tau_ms,
            Pathway::Gain => self.gain = tau_ms,
            Pathway::Synaptic => self.synaptic = tau_ms,
        }
    }

    /// Only `pathway` slow, with time constant `tau_ms`; the others instant.
    pub fn only(pathway: Pathway, tau_ms: f32) -> ContextTaus {
        let mut taus = ContextTaus::INSTANT;
        taus.set(pathway, tau_ms);
        taus
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        for p in Pathway::ALL {
            let tau = self.get(p);
            if !(tau.is_finite() && tau >= 0.0) {
                return Err(ModelError::InvalidSetting(format!(
                    "model.context_tau_ms.{} must be a number ≥ 0 (ms; 0 = instant), got {tau}",
                    p.name()
                )));
            }
        }
        Ok(())
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            n_units: 256,
            activation: Activation::Relu,
            state_form: StateForm::Rate,
            tau_ms: 100.0,
            sigma_rec: 0.05,
            recurrent_init: RecurrentInit::Orthogonal,
            recurrent_scale: 0.0,
            pathways: vec![Pathway::Bias],
            gain_form: GainForm::Affine,
            gain_softplus_offset: 1.0,
            synaptic_form: SynapticForm::Lowrank,
            synaptic_rank: 1,
            synaptic_init_scale: 1.0,
            context_tau_ms: ContextTaus::INSTANT,
            dale: false,
            excitatory_fraction: DEFAULT_EXCITATORY_FRACTION,
            dale_magnitude: DaleMagnitude::Relu,
            readout_from_excitatory: true,
            bias_cells: CellTarget::All,
            gain_cells: CellTarget::All,
            synaptic_blocks: SynapticBlock::ALL.to_vec(),
            tau_distribution: TauDistribution::Single,
            tau_min_ms: DEFAULT_TAU_MIN_MS,
            tau_max_ms: DEFAULT_TAU_MAX_MS,
            tau_trainable: false,
            balanced_inputs: 0,
            trained_fraction: 1.0,
        }
    }
}

impl ModelConfig {
    /// α = dt/τ of `tau_ms`: every unit's leak with a single τ, the nominal one (which scales the
    /// input noise) with per-unit τ_i.
    pub fn alpha(&self, dt_ms: f32) -> f32 {
        dt_ms / self.tau_ms
    }

    /// Does each unit have its own τ_i (a `log_tau` parameter)? Drawn per unit, or trained.
    pub fn per_unit_tau(&self) -> bool {
        self.tau_distribution != TauDistribution::Single || self.tau_trainable
    }

    pub fn has(&self, pathway: Pathway) -> bool {
        self.pathways.contains(&pathway)
    }

    /// The number of excitatory units under Dale's law (the first ones).
    pub fn n_excitatory(&self) -> usize {
        (self.excitatory_fraction as f64 * self.n_units as f64).round() as usize
    }

    /// K of the balanced initialisation (`balanced_inputs`, or a fifth of the smaller population).
    pub fn balanced_k(&self) -> usize {
        match self.balanced_inputs {
            0 => (self.n_excitatory().min(self.n_units - self.n_excitatory()) / 5).max(1),
            k => k,
        }
    }

    /// The units that learn under subset training (the first round(f·N_E)), or `None` when
    /// every unit does.
    pub fn trained_units(&self) -> Option<usize> {
        (self.trained_fraction < 1.0).then(|| (self.trained_fraction as f64 * self.n_excitatory() as f64).round() as usize)
    }

    /// Under Dale's law, each unit's sign (+1 excitatory, −1 inhibitory); `None` without it.
    pub fn dale_signs(&self) -> Option<Vec<f32>> {
        self.dale.then(|| (0..self.n_units).map(|i| if i < self.n_excitatory() { 1.0 } else { -1.0 }).collect())
    }

    /// Under Dale's law, each unit's factor on its readout weights: 1 for excitatory units and 0
    /// (`readout_from_excitatory`) or −1 for inhibitory ones; `None` without it.
    pub fn dale_readout_scales(&self) -> Option<Vec<f32>> {
        let signs = self.dale_signs()?;
        Some(if self.readout_from_excitatory { signs.iter().map(|s| s.max(0.0)).collect() } else { signs })
    }

    /// 1 on the units `target` selects, 0 elsewhere; `None` for all units (nothing to mask).
    pub fn cell_mask(&self, target: CellTarget) -> Option<Vec<f32>> {
        let n_e = self.n_excitatory();
        match target {
            CellTarget::All => None,
            CellTarget::Excitatory => Some((0..self.n_units).map(|i| if i < n_e { 1.0 } else { 0.0 }).collect()),
            CellTarget::Inhibitory => Some((0..self.n_units).map(|i| if i < n_e { 0.0 } else { 1.0 }).collect()),
        }
    }

    /// [N, N] row-major (row = postsynaptic unit, column = presynaptic): 1 in the blocks the
    /// synaptic pathway changes; `None` when it changes every block.
    pub fn synaptic_block_mask(&self) -> Option<Vec<f32>> {
        if is_every_block(&self.synaptic_blocks) {
            return None;
        }
        let (n, n_e) = (self.n_units, self.n_excitatory());
        let mut mask = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                let types = (j < n_e, i < n_e);
                if self.synaptic_blocks.iter().any(|b| b.types() == types) {
                    mask[i * n + j] = 1.0;
                }
            }
        }
        Some(mask)
    }

    /// The gain g of a unit whose gain-pathway term is G c = `gc` (docs/MODEL.md §2): affine
    /// 1 + G c, clamped at 0 under Dale's law (a negative gain would turn the sign of every input
    /// the unit receives around, an excitatory cell's included); softplus(G c + s₀)/softplus(s₀),
    /// positive whatever G c. The burn model forms the same gain as a tensor (`Rnn`).
    pub fn gain_of(&self, gc: f64) -> f64 {
        match self.gain_form {
            GainForm::Affine if self.dale => (1.0 + gc).max(0.0),
            GainForm::Affine => 1.0 + gc,
            GainForm::Softplus => {
                let s0 = self.gain_softplus_offset as f64;
                softplus(gc + s0) / softplus(s0)
            }
        }
    }

    /// f of Dale's law on one weight.
    pub fn dale_magnitude_of(&self, w: f64) -> f64 {
        match self.dale_magnitude {
            DaleMagnitude::Relu => w.max(0.0),
            DaleMagnitude::Abs => w.abs(),
        }
    }

    /// The weights a host computation must use for a trained [rows × N] matrix whose columns
    /// are presynaptic units, given each unit's factor (`dale_signs` for W_rec,
    /// `dale_readout_scales` for W_out): f(w_ij)·scale_j. Unchanged without Dale's law.
    pub fn apply_dale(&self, w: &mut nalgebra::DMatrix<f64>, scales: Option<Vec<f32>>) {
        let Some(scales) = scales else { return };
        for (j, mut column) in w.column_iter_mut().enumerate() {
            column.iter_mut().for_each(|v| *v = self.dale_magnitude_of(*v) * scales[j] as f64);
        }
    }

    /// f(w_ij)·scale_j of a trained row-major [rows × N] matrix whose columns are presynaptic
    /// units, N = `scales.len()`: [`ModelConfig::apply_dale`] on float32 rows (what an export
    /// writes as the weights the network runs).
    pub fn dale_applied(&self, w: &[f32], scales: &[f32]) -> Vec<f32> {
        let n = scales.len();
        w.iter().enumerate().map(|(at, v)| self.dale_magnitude_of(*v as f64) as f32 * scales[at % n]).collect()
    }

    /// The W_rec scale actually used.
    pub fn effective_recurrent_scale(&self) -> f32 {
        if self.recurrent_scale > 0.0 {
            self.recurrent_scale
        } else if self.activation == Activation::Tanh || self.recurrent_init == RecurrentInit::Balanced {
            1.0
        } else {
            0.5
        }
    }

    pub fn validate(&self, dt_ms: f32) -> Result<(), ModelError> {
        if self.n_units == 0 {
            return Err(ModelError::InvalidSetting("model.n_units must be at least 1".into()));
        }
        if !(self.tau_ms >= dt_ms) {
            return Err(ModelError::InvalidSetting(format!(
                "model.tau_ms ({}) must be at least tasks.dt_ms ({dt_ms}) so that α = dt/τ ≤ 1",
                self.tau_ms
            )));
        }
        if !(self.sigma_rec >= 0.0) {
            return Err(ModelError::InvalidSetting("model.sigma_rec must be ≥ 0".into()));
        }
        if self.has(Pathway::Synaptic) && self.synaptic_form == SynapticForm::Lowrank && self.synaptic_rank == 0 {
            return Err(ModelError::InvalidSetting("model.synaptic_rank must be at least 1".into()));
        }
        let mut seen = self.pathways.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != self.pathways.len() {
            return Err(ModelError::InvalidSetting("model.pathways lists a pathway twice".into()));
        }
        if !self.dale {
            let restricted = [("bias_cells", self.bias_cells), ("gain_cells", self.gain_cells)]
                .into_iter()
                .find(|(_, target)| *target != CellTarget::All)
                .map(|(key, target)| format!("model.{key} = \"{}\"", target.name()))
                .or_else(|| (!is_every_block(&self.synaptic_blocks)).then(|| "model.synaptic_blocks".to_string()));
            if let Some(setting) = restricted {
                return Err(ModelError::InvalidSetting(format!(
                    "{setting} needs cell types: set model.dale = true, or use \"all\" (every block for synaptic_blocks)"
                )));
            }
        }
        if self.synaptic_blocks.is_empty() {
            return Err(ModelError::InvalidSetting(
                "model.synaptic_blocks must name at least one block: ee, ei, ie, ii (presynaptic → postsynaptic)".into(),
            ));
        }
        if self.dale {
            let n_e = self.n_excitatory();
            if !(self.excitatory_fraction > 0.0 && self.excitatory_fraction < 1.0) || n_e == 0 || n_e == self.n_units {
                return Err(ModelError::InvalidSetting(format!(
                    "model.excitatory_fraction ({}) must leave at least one excitatory and one inhibitory unit among the {} \
                     units under Dale's law (e.g. 0.8)",
                    self.excitatory_fraction, self.n_units
                )));
            }
        }
        self.validate_subset()?;
        self.validate_time_constants(dt_ms)?;
        self.context_tau_ms.validate()
    }

    fn validate_subset(&self) -> Result<(), ModelError> {
        if !(0.0..=1.0).contains(&self.trained_fraction) {
            return Err(ModelError::InvalidSetting(format!("model.trained_fraction must be in [0, 1], got {}", self.trained_fraction)));
        }
        let needs_dale = if self.recurrent_init == RecurrentInit::Balanced {
            Some("model.recurrent_init = \"balanced\"")
        } else {
            (self.trained_fraction < 1.0).then_some("model.trained_fraction < 1")
        };
        if let Some(setting) = needs_dale
            && !self.dale
        {
            return Err(ModelError::InvalidSetting(format!("{setting} needs excitatory and inhibitory units: set model.dale = true")));
        }
        if self.recurrent_init == RecurrentInit::Balanced {
            let smaller = self.n_excitatory().min(self.n_units - self.n_excitatory());
            if self.balanced_k() >= smaller {
                return Err(ModelError::InvalidSetting(format!(
                    "model.balanced_inputs = {} must be below the smaller population ({smaller} units): each unit draws its K \
                     inputs per population without repeats and without itself",
                    self.balanced_k()
                )));
            }
        }
        Ok(())
    }

    fn validate_time_constants(&self, dt_ms: f32) -> Result<(), ModelError> {
        if !self.per_unit_tau() {
            return Ok(());
        }
        let (lo, hi) = (self.tau_min_ms, self.tau_max_ms);
        if !(lo.is_finite() && hi.is_finite() && lo >= dt_ms && lo <= hi) {
            return Err(ModelError::InvalidSetting(format!(
                "model.tau_min_ms ({lo}) and model.tau_max_ms ({hi}) must satisfy tasks.dt_ms ({dt_ms}) ≤ tau_min_ms ≤ tau_max_ms \
                 (e.g. 40 and 400), so that every α_i = dt/τ_i ≤ 1"
            )));
        }
        if self.tau_distribution != TauDistribution::LogUniform && !(self.tau_ms >= lo && self.tau_ms <= hi) {
            return Err(ModelError::InvalidSetting(format!(
                "model.tau_ms ({}) must lie within [tau_min_ms, tau_max_ms] = [{lo}, {hi}]: it is the {} of the per-unit τ_i",
                self.tau_ms,
                if self.tau_distribution == TauDistribution::Gamma { "mean" } else { "starting value" }
            )));
        }
        Ok(())
    }
}
