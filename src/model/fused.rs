//! The recurrent scan as one burn operation with a hand-written backward.
//!
//! Written with burn's operations, each of the T steps is a handful of small tensor ops whose
//! backward allocates and reduces separately; here the whole loop runs in [`super::scan`] over
//! plain buffers, split over the batch across cores, and autodiff sees one node with three parents
//! (drive, W(c), gain). Both CPU backends (flex, ndarray) share the same host implementation, so
//! they compute identical numbers.

#![allow(deprecated)] // burn marks NdArray deprecated in favour of Flex; the brief keeps it supported

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::Autodiff;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, ExtensionType, Flex, NdArray, TensorMetadata, backend_extension};
use burn::tensor::{Tensor, TensorData};

use super::rnn::{Recurrent, RnnSpec};
use super::scan::{self, ScanCache, ScanDims, ScanSpec};

/// The three differentiable inputs of the scan.
#[derive(ExtensionType)]
pub struct ScanOperands<B: Backend> {
    /// [B, T, N]: everything outside the recurrence.
    pub drive: FloatTensor<B>,
    /// [N, N] shared or [B, N, N] per trial.
    pub weights: FloatTensor<B>,
    /// [B, N]: multiplies the whole pre-activation.
    pub gain: FloatTensor<B>,
}

/// The scan's fixed settings and its one non-differentiable input.
#[derive(Clone)]
pub struct ScanSettings {
    /// Recurrent noise [B, T, N], added to the drive on the host.
    pub noise: Option<Arc<Vec<f32>>>,
    pub alpha: f32,
    pub activation: scan::Activation,
    pub form: scan::StateForm,
    pub threads: usize,
}

#[allow(deprecated)] // burn marks NdArray deprecated in favour of Flex; the brief keeps it supported
#[backend_extension(Flex, NdArray, Autodiff)]
pub trait RecurrentScan: Backend {
    /// rates [B, T, N] of the leaky RNN driven by `operands`.
    fn recurrent_scan(#[extension_type] operands: ScanOperands<Self>, settings: ScanSettings) -> FloatTensor<Self>;
}

impl fmt::Debug for ScanSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScanSettings")
            .field("noise", &self.noise.as_ref().map(|v| v.len()))
            .field("alpha", &self.alpha)
            .field("activation", &self.activation)
            .field("form", &self.form)
            .field("threads", &self.threads)
            .finish()
    }
}

/// Run the fused scan on burn tensors (any device: plain or autodiff, flex or ndarray):
/// rates [B, T, N] for drive + noise [B, T, N], W(c) and gain [B, N].
pub fn scan(drive: Tensor<3>, noise: Option<Arc<Vec<f32>>>, recurrent: Recurrent, gain: Tensor<2>, spec: &RnnSpec) -> Tensor<3> {
    let weights = match recurrent {
        Recurrent::Shared(w) => w.into_dispatch(),
        Recurrent::PerTrial(w) => w.into_dispatch(),
    };
    let settings = ScanSettings {
        noise,
        alpha: spec.alpha,
        activation: spec.config.activation.into(),
        form: spec.config.state_form.into(),
        threads: spec.threads,
    };
    let operands = ScanOperands { drive: drive.into_dispatch(), weights, gain: gain.into_dispatch() };
    Tensor::from_dispatch(<Dispatch as RecurrentScan>::recurrent_scan(operands, settings))
}

/// Host copies of the operands, with what the backward needs.
struct HostScan {
    dims: ScanDims,
    alpha: Vec<f32>,
    settings: ScanSettings,
    weights: Vec<f32>,
    per_trial: bool,
    gain: Vec<f32>,
}

impl HostScan {
    fn spec(&self) -> ScanSpec<'_> {
        ScanSpec {
            dims: self.dims,
            alpha: &self.alpha,
            activation: self.settings.activation,
            form: self.settings.form,
            threads: self.settings.threads,
        }
    }

    fn weights(&self) -> scan::Recurrent<'_> {
        if self.per_trial { scan::Recurrent::PerTrial(&self.weights) } else { scan::Recurrent::Shared(&self.weights) }
    }
}

/// Read the operands of a concrete backend to the host and run the forward kernel.
fn host_forward<B: Backend>(operands: ScanOperands<B>, settings: ScanSettings) -> (HostScan, Vec<f32>, ScanCache, B::Device) {
    let device = operands.drive.device();
    let shape = operands.drive.shape();
    let dims = ScanDims { batch: shape[0], steps: shape[1], units: shape[2] };
    let per_trial = operands.weights.shape().num_dims() == 3;
    let mut drive = read_f32::<B>(operands.drive);
    if let Some(noise) = &settings.noise {
        assert_eq!(noise.len(), drive.len(), "noise must be [B, T, N]");
        drive.iter_mut().zip(noise.iter()).for_each(|(d, e)| *d += e);
    }
    let host = HostScan {
        dims,
        alpha: vec![settings.alpha; dims.units],
        weights: read_f32::<B>(operands.weights),
        per_trial,
        gain: read_f32::<B>(operands.gain),
        settings,
    };
    let (rates, cache) = scan::scan_forward(&host.spec(), &drive, host.weights(), &host.gain);
    (host, rates, cache, device)
}

fn concrete_scan<B: Backend>(operands: ScanOperands<B>, settings: ScanSettings) -> FloatTensor<B> {
    let (host, rates, _cache, device) = host_forward::<B>(operands, settings);
    let d = host.dims;
    B::float_from_data(TensorData::new(rates, [d.batch, d.steps, d.units]), &device)
}

impl RecurrentScan for Flex {
    fn recurrent_scan(operands: ScanOperands<Self>, settings: ScanSettings) -> FloatTensor<Self> {
        concrete_scan::<Self>(operands, settings)
    }
}

#[allow(deprecated)]
impl RecurrentScan for NdArray {
    fn recurrent_scan(operands: ScanOperands<Self>, settings: ScanSettings) -> FloatTensor<Self> {
        concrete_scan::<Self>(operands, settings)
    }
}

/// What the backward step keeps from the forward.
#[derive(Clone)]
struct ScanState<D> {
    host: Arc<HostScan>,
    cache: Arc<ScanCache>,
    device: D,
}

impl<D> fmt::Debug for ScanState<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScanState({:?})", self.host.dims)
    }
}

#[derive(Debug)]
struct ScanBackward;

impl<B: Backend> Backward<B, 3> for ScanBackward {
    type State = ScanState<B::Device>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [drive_node, weights_node, gain_node] = ops.parents;
        let grad_rates = read_f32::<B>(grads.consume::<B>(&ops.node));
        let ScanState { host, cache, device } = ops.state;
        let d = host.dims;
        let g = scan::scan_backward(&host.spec(), host.weights(), &host.gain, &cache, &grad_rates);
        if let Some(node) = drive_node {
            grads.register::<B>(node.id, B::float_from_data(TensorData::new(g.drive, [d.batch, d.steps, d.units]), &device));
        }
        if let Some(node) = weights_node {
            let shape = if host.per_trial { vec![d.batch, d.units, d.units] } else { vec![d.units, d.units] };
            grads.register::<B>(node.id, B::float_from_data(TensorData::new(g.w, shape), &device));
        }
        if let Some(node) = gain_node {
            grads.register::<B>(node.id, B::float_from_data(TensorData::new(g.gain, [d.batch, d.units]), &device));
        }
    }
}

impl<B: Backend + RecurrentScan, C: CheckpointStrategy> RecurrentScan for Autodiff<B, C> {
    fn recurrent_scan(operands: ScanOperands<Self>, settings: ScanSettings) -> FloatTensor<Self> {
        let nodes = [operands.drive.node(), operands.weights.node(), operands.gain.node()];
        match ScanBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let inner = ScanOperands::<B> {
                    drive: operands.drive.into_primitive(),
                    weights: operands.weights.into_primitive(),
                    gain: operands.gain.into_primitive(),
                };
                let (host, rates, cache, device) = host_forward::<B>(inner, settings);
                let d = host.dims;
                let output = B::float_from_data(TensorData::new(rates, [d.batch, d.steps, d.units]), &device);
                prep.finish(ScanState { host: Arc::new(host), cache: Arc::new(cache), device }, output)
            }
            OpsKind::UnTracked(prep) => {
                let inner = ScanOperands::<B> {
                    drive: operands.drive.into_primitive(),
                    weights: operands.weights.into_primitive(),
                    gain: operands.gain.into_primitive(),
                };
                prep.finish(concrete_scan::<B>(inner, settings))
            }
        }
    }
}

/// A CPU backend's tensor as a host vector. The read completes at once on these backends; the
/// future is polled to completion without an executor.
fn read_f32<B: Backend>(tensor: FloatTensor<B>) -> Vec<f32> {
    let mut future = std::pin::pin!(B::float_into_data(tensor));
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(result) = future.as_mut().poll(&mut context) {
            let data = result.expect("reading a CPU tensor cannot fail");
            return data.try_into_vec::<f32>().expect("the scan runs in f32");
        }
        std::thread::yield_now();
    }
}
