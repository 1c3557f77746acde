//! What one forward pass takes and gives besides the parameters: shared by the plain burn
//! module ([`super::rnn`]) and the fused kernel ([`super::fused`]), so neither imports the other's
//! types.

use std::sync::Arc;

use burn::tensor::Tensor;

use super::params::Dims;
use super::{ModelConfig, Readout};

/// The settings a forward pass needs besides the parameters.
#[derive(Clone, Debug)]
pub struct RnnSpec {
    pub config: ModelConfig,
    pub dims: Dims,
    /// α = dt/τ of `config.tau_ms`: every unit's leak, unless the units have their own τ_i
    /// (`config.per_unit_tau()`, then the parameters hold log τ_i).
    pub alpha: f32,
    /// The time step in ms (α_i = dt/τ_i with per-unit time constants).
    pub dt_ms: f32,
    /// How the outputs are read from the rates.
    pub readout: Readout,
    /// Use the fused recurrent kernel.
    pub fused: bool,
    /// Threads for the fused kernel (0 = all cores).
    pub threads: usize,
}

/// One batch of network input.
pub struct RnnInput {
    /// u [B, T, n_in] (row-major host data; inputs need no gradient)
    pub inputs: Arc<Vec<f32>>,
    /// [B, T, n_in]
    pub input_shape: [usize; 3],
    /// c [B, K]: the context each trial sees (one-hot in training; anything in evaluation).
    pub context: Tensor<2>,
    /// True when every trial has the same context (as in training); lets the synaptic pathway
    /// build one W(c) instead of one per trial.
    pub context_shared: bool,
    /// sqrt(2/α)·σ_rec·ξ [B, T, N] (row-major host data), already scaled; `None` for a
    /// noise-free pass. It needs no gradient, so the fused kernel adds it on the host.
    pub rec_noise: Option<Arc<Vec<f32>>>,
}

/// What a forward pass returns.
pub struct Forward {
    /// y [B, T, n_out]
    pub outputs: Tensor<3>,
    /// r [B, T, N]
    pub rates: Tensor<3>,
}

/// The recurrent weights a batch sees.
pub enum Recurrent {
    /// [N, N], the same for every trial.
    Shared(Tensor<2>),
    /// [B, N, N], one per trial.
    PerTrial(Tensor<3>),
}
