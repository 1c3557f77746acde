//! The burn module and its forward pass.

use std::sync::Arc;

use burn::module::{Module, Param};
use burn::tensor::activation::{relu, sigmoid, softplus};
use burn::tensor::{Device, Tensor, TensorData};

use super::Readout;
use super::params::{self, ParamSet};
use super::pass::{Forward, Recurrent, RnnInput, RnnSpec};
use super::{Activation, CellTarget, DaleMagnitude, GainForm, Pathway, StateForm, SynapticForm};

/// The leaky RNN with its context pathways (see the module docs of [`crate::model`] for the
/// equations). Built from a host [`ParamSet`] for one pass; parameters of switched-off pathways
/// are `None`.
#[derive(Module, Debug)]
pub struct Rnn {
    /// W_in [N, n_in]
    pub w_in: Param<Tensor<2>>,
    /// b [N]
    pub b_rec: Param<Tensor<1>>,
    /// W_rec [N, N]; W_rec[i][j] is the weight from unit j to unit i.
    pub w_rec: Param<Tensor<2>>,
    /// W_out [n_out, N]
    pub w_out: Param<Tensor<2>>,
    /// b_out [n_out]
    pub b_out: Param<Tensor<1>>,
    /// E [K, N] (bias pathway; stored transposed so that c E is a plain product)
    pub ctx_bias: Option<Param<Tensor<2>>>,
    /// G [K, N] (gain pathway)
    pub ctx_gain: Option<Param<Tensor<2>>>,
    /// U [N, K·r] (low-rank synaptic pathway; columns k·r..k·r+r belong to task k)
    pub syn_u: Option<Param<Tensor<2>>>,
    /// V [N, K·r]
    pub syn_v: Option<Param<Tensor<2>>>,
    /// M [K, N·N] (element-wise synaptic pathway)
    pub syn_m: Option<Param<Tensor<2>>>,
    /// log τ_i [N] (τ in ms) with per-unit time constants; a gradient only when they are trained.
    pub log_tau: Option<Param<Tensor<1>>>,
    #[module(skip)]
    pub spec: RnnSpec,
}

fn param<const D: usize>(p: &params::ParamTensor, device: &Device) -> Param<Tensor<D>> {
    fixed_or_trained(p, device, true)
}

/// A parameter; `trained` = false keeps it out of autodiff (no gradient).
fn fixed_or_trained<const D: usize>(p: &params::ParamTensor, device: &Device, trained: bool) -> Param<Tensor<D>> {
    let tensor = Tensor::<D>::from_data(TensorData::new(p.data.clone(), p.shape.clone()), device);
    let tensor = if device.is_autodiff() { tensor.require_grad() } else { tensor };
    // burn marks every `from_tensor` parameter as requiring a gradient
    Param::from_tensor(tensor).set_require_grad(trained)
}

impl Rnn {
    /// Build the module on `device` (an autodiff device for training) from host parameters.
    pub fn from_params(params: &ParamSet, spec: RnnSpec, device: &Device) -> Self {
        let get = |name: &str| params.get(name);
        let must = |name: &str| get(name).unwrap_or_else(|| panic!("parameter {name} missing (layout is checked on load)"));
        Self {
            w_in: param(must(params::W_IN), device),
            b_rec: param(must(params::B_REC), device),
            w_rec: param(must(params::W_REC), device),
            w_out: param(must(params::W_OUT), device),
            b_out: param(must(params::B_OUT), device),
            ctx_bias: get(params::CTX_BIAS).map(|p| param(p, device)),
            ctx_gain: get(params::CTX_GAIN).map(|p| param(p, device)),
            syn_u: get(params::SYN_U).map(|p| param(p, device)),
            syn_v: get(params::SYN_V).map(|p| param(p, device)),
            syn_m: get(params::SYN_M).map(|p| param(p, device)),
            log_tau: get(params::LOG_TAU).map(|p| fixed_or_trained(p, device, spec.config.tau_trainable)),
            spec,
        }
    }

    /// The gradient of every parameter, in the order of `params` (zeros where a parameter did
    /// not influence the loss).
    #[allow(clippy::expect_used, reason = "cannot fail: the model runs in f32")]
    pub fn gradients(&self, grads: &burn::tensor::Gradients, params: &ParamSet) -> Vec<Vec<f32>> {
        params
            .tensors
            .iter()
            .map(|p| {
                let g = match p.name.as_str() {
                    params::W_IN => self.w_in.val().grad(grads),
                    params::B_REC => self.b_rec.val().grad(grads).map(|t| t.unsqueeze::<2>()),
                    params::W_REC => self.w_rec.val().grad(grads),
                    params::W_OUT => self.w_out.val().grad(grads),
                    params::B_OUT => self.b_out.val().grad(grads).map(|t| t.unsqueeze::<2>()),
                    params::CTX_BIAS => self.ctx_bias.as_ref().and_then(|t| t.val().grad(grads)),
                    params::CTX_GAIN => self.ctx_gain.as_ref().and_then(|t| t.val().grad(grads)),
                    params::SYN_U => self.syn_u.as_ref().and_then(|t| t.val().grad(grads)),
                    params::SYN_V => self.syn_v.as_ref().and_then(|t| t.val().grad(grads)),
                    params::SYN_M => self.syn_m.as_ref().and_then(|t| t.val().grad(grads)),
                    params::LOG_TAU => self.log_tau.as_ref().and_then(|t| t.val().grad(grads)).map(|t| t.unsqueeze::<2>()),
                    other => panic!("unknown parameter {other}"),
                };
                match g {
                    Some(t) => t.into_data().try_into_vec::<f32>().expect("f32 gradient"),
                    None => vec![0.0; p.len()],
                }
            })
            .collect()
    }

    /// Run the network over a batch.
    ///
    /// `lesioned` pathways contribute what they would for c = 0 (bias 0, gain 1, W(c) = W_rec).
    ///
    /// # Shapes
    /// inputs [B, T, n_in], context [B, K] → outputs [B, T, n_out], rates [B, T, N]
    pub fn forward(&self, input: RnnInput, lesioned: &[Pathway]) -> Forward {
        let [b, t, _] = input.input_shape;
        let n = self.spec.dims.n_units;
        let device = input.context.device();
        let (static_drive, recurrent, gain) = self.scan_operands(&input, lesioned);
        let alpha = self.unit_alphas();
        let rates = if self.spec.fused {
            let gain = gain.unwrap_or_else(|| Tensor::ones([b, n], &device));
            let operands = super::fused::ScanTensors { static_drive, w_in: self.w_in.val(), recurrent, gain, alpha };
            super::fused::scan(operands, &input, &self.spec)
        } else {
            self.plain_scan(&input, static_drive, recurrent, gain, alpha)
        };

        let n_out = self.spec.dims.n_out;
        let linear = rates.clone().reshape([b * t, n]).matmul(self.readout_weights().transpose()) + self.b_out.val().unsqueeze::<2>();
        let outputs = match self.spec.readout {
            Readout::Sigmoid => sigmoid(linear),
            Readout::Linear => linear,
        };
        Forward { outputs: outputs.reshape([b, t, n_out]), rates }
    }

    /// The training loss [`masked_mse`] of the outputs for `targets` and `mask` ([B, T, n_out],
    /// row-major host data), without lesions. With the fused kernel the scan, readout and loss
    /// run as one operation on the host, so the rates never become a burn tensor.
    pub fn loss(&self, input: RnnInput, targets: Vec<f32>, mask: Vec<f32>) -> Tensor<1> {
        let [b, t, _] = input.input_shape;
        let (n, n_out) = (self.spec.dims.n_units, self.spec.dims.n_out);
        let device = input.context.device();
        if !self.spec.fused {
            let forward = self.forward(input, &[]);
            let tensor = |data: Vec<f32>| Tensor::<3>::from_data(TensorData::new(data, [b, t, n_out]), &device);
            return masked_mse(forward.outputs, tensor(targets), tensor(mask));
        }
        let (static_drive, recurrent, gain) = self.scan_operands(&input, &[]);
        let gain = gain.unwrap_or_else(|| Tensor::ones([b, n], &device));
        let operands = super::fused::ScanTensors { static_drive, w_in: self.w_in.val(), recurrent, gain, alpha: self.unit_alphas() };
        super::fused::loss(operands, self.readout_weights(), self.b_out.val(), &input, &self.spec, Arc::new(targets), Arc::new(mask))
    }

    /// α_i [N]: dt·exp(−log τ_i) with per-unit time constants (differentiable when they are
    /// trained), else the config's α for every unit.
    fn unit_alphas(&self) -> Tensor<1> {
        match &self.log_tau {
            Some(log_tau) => log_tau.val().neg().exp() * self.spec.dt_ms as f64,
            None => {
                let n = self.spec.dims.n_units;
                Tensor::from_data(TensorData::new(vec![self.spec.alpha; n], [n]), &self.w_rec.val().device())
            }
        }
    }

    /// What the recurrence needs besides the inputs: the static drive b + E c [B, N], W(c) and the
    /// gain g(c) [B, N] (`None` for no active gain pathway). The plain scan and the fused kernel
    /// both take the gain from here.
    fn scan_operands(&self, input: &RnnInput, lesioned: &[Pathway]) -> (Tensor<2>, Recurrent, Option<Tensor<2>>) {
        let [b, _, _] = input.input_shape;
        let n = self.spec.dims.n_units;
        let active = |p: Pathway| !lesioned.contains(&p);

        // Everything that does not depend on the previous state: [B, N] per trial.
        let mut static_drive: Tensor<2> = self.b_rec.val().unsqueeze::<2>().expand([b, n]);
        let config = &self.spec.config;
        if let (Some(e), true) = (&self.ctx_bias, active(Pathway::Bias)) {
            static_drive = static_drive + self.on_cells(input.context.clone().matmul(e.val()), config.bias_cells);
        }
        let gain = match (&self.ctx_gain, active(Pathway::Gain)) {
            (Some(g), true) => {
                // a unit the pathway does not act on sees G c = 0: gain 1 in either form
                let gc = self.on_cells(input.context.clone().matmul(g.val()), config.gain_cells);
                // as `ModelConfig::gain_of` on the host: under Dale's law the affine gain is
                // clamped at 0 (no gradient where it is), so that no context turns a unit's inputs'
                // signs around; while it stays ≥ 0 nothing changes
                Some(match config.gain_form {
                    GainForm::Affine if config.dale => relu(gc + 1.0),
                    GainForm::Affine => gc + 1.0,
                    GainForm::Softplus => {
                        let s0 = config.gain_softplus_offset as f64;
                        softplus(gc + s0, 1.0) / super::softplus(s0)
                    }
                })
            }
            _ => None,
        };
        let recurrent = self.recurrent_weights(input, active(Pathway::Synaptic));
        (static_drive, recurrent, gain)
    }

    /// W(c): one [N, N] matrix when the context is shared, else one per trial [B, N, N]. Under
    /// Dale's law the context modulates W̃ and the signs are applied after: f(W̃(c))·D, so every
    /// unit's outgoing weights keep its sign whatever the context.
    fn recurrent_weights(&self, input: &RnnInput, synaptic_active: bool) -> Recurrent {
        match self.modulated_weights(input, synaptic_active) {
            Recurrent::Shared(w) => Recurrent::Shared(self.dale(w)),
            Recurrent::PerTrial(w) => Recurrent::PerTrial(self.dale(w)),
        }
    }

    /// A pathway's per-unit term [B, N], zero on the units it does not act on.
    fn on_cells(&self, term: Tensor<2>, target: CellTarget) -> Tensor<2> {
        match self.spec.config.cell_mask(target) {
            Some(mask) => term * self.unit_row(mask),
            None => term,
        }
    }

    /// The synaptic pathway's change [rows, N, N], zero outside its blocks.
    fn in_blocks(&self, delta: Tensor<3>) -> Tensor<3> {
        let n = self.spec.dims.n_units;
        match self.spec.config.synaptic_block_mask() {
            Some(mask) => delta * Tensor::<1>::from_data(TensorData::new(mask, [n * n]), &self.w_rec.val().device()).reshape([1, n, n]),
            None => delta,
        }
    }

    /// f(w)·D over the last axis (presynaptic units) under Dale's law; `w` itself without it.
    fn dale<const D: usize>(&self, w: Tensor<D>) -> Tensor<D> {
        match self.spec.config.dale_signs() {
            Some(signs) => self.dale_magnitude(w) * self.unit_row(signs),
            None => w,
        }
    }

    fn dale_magnitude<const D: usize>(&self, w: Tensor<D>) -> Tensor<D> {
        match self.spec.config.dale_magnitude {
            DaleMagnitude::Relu => relu(w),
            DaleMagnitude::Abs => w.abs(),
        }
    }

    /// A per-unit vector [N] shaped [1, …, 1, N] to scale the last axis of a rank-D tensor.
    fn unit_row<const D: usize>(&self, values: Vec<f32>) -> Tensor<D> {
        let n = values.len();
        let mut shape = [1usize; D];
        shape[D - 1] = n;
        Tensor::<1>::from_data(TensorData::new(values, [n]), &self.w_rec.val().device()).reshape(shape)
    }

    /// W_out as the network uses it. Under Dale's law: f(W̃_out) on the excitatory units and 0 on
    /// the inhibitory ones (`readout_from_excitatory`), else f(W̃_out)·D.
    pub fn readout_weights(&self) -> Tensor<2> {
        let w = self.w_out.val();
        match self.spec.config.dale_readout_scales() {
            Some(scales) => self.dale_magnitude(w) * self.unit_row(scales),
            None => w,
        }
    }

    /// W̃(c) before Dale's law.
    fn modulated_weights(&self, input: &RnnInput, synaptic_active: bool) -> Recurrent {
        let w = self.w_rec.val();
        if !synaptic_active {
            return Recurrent::Shared(w);
        }
        let [b, k] = input.context.dims();
        let n = self.spec.dims.n_units;
        let context = if input.context_shared { input.context.clone().narrow(0, 0, 1) } else { input.context.clone() };
        let rows = if input.context_shared { 1 } else { b };
        match (self.spec.config.synaptic_form, &self.syn_u, &self.syn_v, &self.syn_m) {
            (SynapticForm::Lowrank, Some(u), Some(v), _) => {
                let r = self.spec.config.synaptic_rank;
                // c repeated r times per task, to scale the columns of U: [rows, K·r]
                let c_cols = context.unsqueeze_dim::<3>(2).expand([rows, k, r]).reshape([rows, k * r]);
                // (U ⊙ c) Vᵀ for every row: [rows, N, K·r] x [K·r, N]
                let scaled_u = u.val().unsqueeze::<3>() * c_cols.unsqueeze_dim::<3>(1);
                let delta = self.in_blocks(scaled_u.matmul(v.val().transpose().unsqueeze::<3>()));
                let w_c = w.unsqueeze::<3>() + delta;
                if input.context_shared { Recurrent::Shared(w_c.reshape([n, n])) } else { Recurrent::PerTrial(w_c) }
            }
            (SynapticForm::Elementwise, _, _, Some(m)) => {
                let modulation = self.in_blocks(context.matmul(m.val()).reshape([rows, n, n])) + 1.0;
                let w_c = w.unsqueeze::<3>() * modulation;
                if input.context_shared { Recurrent::Shared(w_c.reshape([n, n])) } else { Recurrent::PerTrial(w_c) }
            }
            _ => Recurrent::Shared(w),
        }
    }

    /// The recurrence written step by step with burn operations: the reference the fused kernel
    /// is tested against, and the "plain autodiff" baseline of the benchmark.
    fn plain_scan(
        &self,
        input: &RnnInput,
        static_drive: Tensor<2>,
        recurrent: Recurrent,
        gain: Option<Tensor<2>>,
        alpha: Tensor<1>,
    ) -> Tensor<3> {
        let [b, t, n_in] = input.input_shape;
        let n = self.spec.dims.n_units;
        // α and 1 − α as [1, N] rows, broadcast over the trials
        let alpha: Tensor<2> = alpha.unsqueeze();
        let keep = alpha.clone().neg() + 1.0;
        let device = input.context.device();
        let inputs: Tensor<3> = Tensor::from_data(TensorData::new(input.inputs.to_vec(), input.input_shape), &device);
        let w_in_t = self.w_in.val().transpose();
        let mut rate: Tensor<2> = Tensor::zeros([b, n], &device);
        let mut voltage: Tensor<2> = Tensor::zeros([b, n], &device);
        let mut rates = Vec::with_capacity(t);
        let noise: Option<Tensor<3>> = input.rec_noise.as_ref().map(|v| Tensor::from_data(TensorData::new(v.to_vec(), [b, t, n]), &device));
        for step in 0..t {
            let u = inputs.clone().narrow(1, step, 1).reshape([b, n_in]);
            let mut z = u.matmul(w_in_t.clone()) + static_drive.clone();
            if let Some(noise) = &noise {
                z = z + noise.clone().narrow(1, step, 1).reshape([b, n]);
            }
            z = z + match &recurrent {
                Recurrent::Shared(w) => rate.clone().matmul(w.clone().transpose()),
                Recurrent::PerTrial(w) => rate.clone().unsqueeze_dim::<3>(1).matmul(w.clone().swap_dims(1, 2)).reshape([b, n]),
            };
            let pre = match &gain {
                Some(g) => z * g.clone(),
                None => z,
            };
            match self.spec.config.state_form {
                StateForm::Rate => {
                    rate = rate * keep.clone() + activation(pre, self.spec.config.activation) * alpha.clone();
                }
                StateForm::Voltage => {
                    voltage = voltage * keep.clone() + pre * alpha.clone();
                    rate = activation(voltage.clone(), self.spec.config.activation);
                }
            }
            rates.push(rate.clone());
        }
        Tensor::stack(rates, 1)
    }
}

fn activation(x: Tensor<2>, kind: Activation) -> Tensor<2> {
    match kind {
        Activation::Relu => relu(x),
        Activation::Softplus => softplus(x, 1.0),
        Activation::Tanh => x.tanh(),
    }
}

/// Masked mean squared error, the mask applied before squaring (Yang's convention):
/// mean((m ⊙ (y − ŷ))²).
pub fn masked_mse(outputs: Tensor<3>, targets: Tensor<3>, mask: Tensor<3>) -> Tensor<1> {
    ((outputs - targets) * mask).powi_scalar(2).mean()
}
