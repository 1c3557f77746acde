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

use super::rnn::{Recurrent, RnnInput, RnnSpec};
use super::scan::{self, ScanCache, ScanDims, ScanSpec};

/// The differentiable inputs of the scan.
#[derive(ExtensionType)]
pub struct ScanOperands<B: Backend> {
    /// [B, N]: the per-trial constant part of the drive (b + E c).
    pub static_drive: FloatTensor<B>,
    /// [N, n_in]: the input weights.
    pub w_in: FloatTensor<B>,
    /// [N, N] shared or [B, N, N] per trial.
    pub weights: FloatTensor<B>,
    /// [B, N]: multiplies the whole pre-activation.
    pub gain: FloatTensor<B>,
}

/// The scan's fixed settings and its non-differentiable data.
#[derive(Clone)]
pub struct ScanSettings {
    /// u [B, T, n_in], row-major.
    pub inputs: Arc<Vec<f32>>,
    pub n_in: usize,
    /// Recurrent noise [B, T, N], added to the drive on the host.
    pub noise: Option<Arc<Vec<f32>>>,
    pub alpha: f32,
    pub activation: scan::Activation,
    pub form: scan::StateForm,
    pub threads: usize,
}

impl fmt::Debug for ScanSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScanSettings")
            .field("n_in", &self.n_in)
            .field("alpha", &self.alpha)
            .field("activation", &self.activation)
            .field("form", &self.form)
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

#[backend_extension(Flex, NdArray, Autodiff)]
pub trait RecurrentScan: Backend {
    /// rates [B, T, N] of the leaky RNN: z_t = W_in u_t + static + noise_t + W r_{t-1}, gain, φ, leak.
    fn recurrent_scan(#[extension_type] operands: ScanOperands<Self>, settings: ScanSettings) -> FloatTensor<Self>;
}

/// The scan's burn operands, as the model builds them.
pub struct ScanTensors {
    pub static_drive: Tensor<2>,
    pub w_in: Tensor<2>,
    pub recurrent: Recurrent,
    pub gain: Tensor<2>,
}

/// Run the fused scan (any device: plain or autodiff, flex or ndarray): rates [B, T, N].
/// The input projection W_in u_t is computed inside, so autodiff sees one node for the whole
/// recurrent part of the network.
pub fn scan(tensors: ScanTensors, input: &RnnInput, spec: &RnnSpec) -> Tensor<3> {
    let weights = match tensors.recurrent {
        Recurrent::Shared(w) => w.into_dispatch(),
        Recurrent::PerTrial(w) => w.into_dispatch(),
    };
    let settings = ScanSettings {
        inputs: input.inputs.clone(),
        n_in: input.input_shape[2],
        noise: input.rec_noise.clone(),
        alpha: spec.alpha,
        activation: spec.config.activation.into(),
        form: spec.config.state_form.into(),
        threads: spec.threads,
    };
    let operands = ScanOperands {
        static_drive: tensors.static_drive.into_dispatch(),
        w_in: tensors.w_in.into_dispatch(),
        weights,
        gain: tensors.gain.into_dispatch(),
    };
    Tensor::from_dispatch(<Dispatch as RecurrentScan>::recurrent_scan(operands, settings))
}

/// Read access to a backend's tensor memory on the host. Flex lends its buffer directly; the
/// generic path (`into_data`) copies through `TensorData`, which costs ~10 ms for the
/// [64, 100, 256] tensors of a training step, as much as the scan's own element-wise work.
pub trait HostBuffers: Backend {
    fn with_host<R>(tensor: FloatTensor<Self>, f: impl FnOnce(&[f32]) -> R) -> R;
}

impl HostBuffers for Flex {
    fn with_host<R>(tensor: FloatTensor<Self>, f: impl FnOnce(&[f32]) -> R) -> R {
        match tensor.as_slice::<f32>() {
            Some(slice) => f(slice),
            None => f(&read_f32::<Self>(tensor)),
        }
    }
}

impl HostBuffers for NdArray {
    fn with_host<R>(tensor: FloatTensor<Self>, f: impl FnOnce(&[f32]) -> R) -> R {
        f(&read_f32::<Self>(tensor))
    }
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

/// drive = u W_inᵀ + static (per trial) + noise, as [B·T, N].
fn host_drive(settings: &ScanSettings, dims: ScanDims, w_in: &[f32], static_drive: &[f32]) -> Vec<f32> {
    let (bt, n, n_in) = (dims.batch * dims.steps, dims.units, settings.n_in);
    assert_eq!(settings.inputs.len(), bt * n_in, "inputs must be [B, T, n_in]");
    let mut drive = vec![0.0f32; bt * n];
    // u [BT, n_in] · W_inᵀ, reading W_in [N, n_in] with swapped strides
    matmul(bt, n, n_in, &mut drive, Strided::rows(&settings.inputs, n_in), Strided::columns(w_in, n_in));
    for (b, trial) in drive.chunks_mut(dims.steps * n).enumerate() {
        let s = &static_drive[b * n..(b + 1) * n];
        trial.chunks_mut(n).for_each(|row| row.iter_mut().zip(s).for_each(|(d, x)| *d += x));
    }
    if let Some(noise) = &settings.noise {
        assert_eq!(noise.len(), drive.len(), "noise must be [B, T, N]");
        drive.iter_mut().zip(noise.iter()).for_each(|(d, e)| *d += e);
    }
    drive
}

/// Read the operands of a concrete backend to the host and run the forward kernel.
fn host_forward<B: HostBuffers>(operands: ScanOperands<B>, settings: ScanSettings) -> (HostScan, Vec<f32>, ScanCache, B::Device) {
    let device = operands.gain.device();
    let [batch, units] = operands.gain.shape().dims::<2>();
    let steps = settings.inputs.len() / (batch * settings.n_in).max(1);
    let dims = ScanDims { batch, steps, units };
    let per_trial = operands.weights.shape().num_dims() == 3;
    let static_drive = B::with_host(operands.static_drive, <[f32]>::to_vec);
    let drive = B::with_host(operands.w_in, |w_in| host_drive(&settings, dims, w_in, &static_drive));
    let host = HostScan {
        dims,
        alpha: vec![settings.alpha; dims.units],
        weights: B::with_host(operands.weights, <[f32]>::to_vec),
        per_trial,
        gain: B::with_host(operands.gain, <[f32]>::to_vec),
        settings,
    };
    let (rates, cache) = scan::scan_forward(&host.spec(), &drive, host.weights(), &host.gain);
    (host, rates, cache, device)
}

fn concrete_scan<B: HostBuffers>(operands: ScanOperands<B>, settings: ScanSettings) -> FloatTensor<B> {
    let (host, rates, _cache, device) = host_forward::<B>(operands, settings);
    let d = host.dims;
    B::float_from_data(TensorData::new(rates, [d.batch, d.steps, d.units]), &device)
}

impl RecurrentScan for Flex {
    fn recurrent_scan(operands: ScanOperands<Self>, settings: ScanSettings) -> FloatTensor<Self> {
        concrete_scan::<Self>(operands, settings)
    }
}

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

impl<B: HostBuffers> Backward<B, 4> for ScanBackward {
    type State = ScanState<B::Device>;

    fn backward(self, ops: Ops<Self::State, 4>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [static_node, w_in_node, weights_node, gain_node] = ops.parents;
        let ScanState { host, cache, device } = ops.state;
        let d = host.dims;
        let (n, n_in) = (d.units, host.settings.n_in);
        let g = B::with_host(grads.consume::<B>(&ops.node), |grad_rates| {
            scan::scan_backward(&host.spec(), host.weights(), &host.gain, &cache, grad_rates)
        });
        let tensor = |data: Vec<f32>, shape: Vec<usize>| B::float_from_data(TensorData::new(data, shape), &device);
        if let Some(node) = static_node {
            // d static[b] = Σ_t d drive[b, t]
            let mut d_static = vec![0.0f32; d.batch * n];
            for (b, trial) in g.drive.chunks(d.steps * n).enumerate() {
                let acc = &mut d_static[b * n..(b + 1) * n];
                trial.chunks(n).for_each(|row| acc.iter_mut().zip(row).for_each(|(a, x)| *a += x));
            }
            grads.register::<B>(node.id, tensor(d_static, vec![d.batch, n]));
        }
        if let Some(node) = w_in_node {
            // d W_in = d driveᵀ u, one [N, B·T] × [B·T, n_in] product
            let bt = d.batch * d.steps;
            let mut d_w_in = vec![0.0f32; n * n_in];
            matmul(n, n_in, bt, &mut d_w_in, Strided::columns(&g.drive, n), Strided::rows(&host.settings.inputs, n_in));
            grads.register::<B>(node.id, tensor(d_w_in, vec![n, n_in]));
        }
        if let Some(node) = weights_node {
            let shape = if host.per_trial { vec![d.batch, n, n] } else { vec![n, n] };
            grads.register::<B>(node.id, tensor(g.w, shape));
        }
        if let Some(node) = gain_node {
            grads.register::<B>(node.id, tensor(g.gain, vec![d.batch, n]));
        }
    }
}

impl<B: HostBuffers + RecurrentScan, C: CheckpointStrategy> RecurrentScan for Autodiff<B, C> {
    fn recurrent_scan(operands: ScanOperands<Self>, settings: ScanSettings) -> FloatTensor<Self> {
        let nodes = [operands.static_drive.node(), operands.w_in.node(), operands.weights.node(), operands.gain.node()];
        let inner = ScanOperands::<B> {
            static_drive: operands.static_drive.into_primitive(),
            w_in: operands.w_in.into_primitive(),
            weights: operands.weights.into_primitive(),
            gain: operands.gain.into_primitive(),
        };
        match ScanBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (host, rates, cache, device) = host_forward::<B>(inner, settings);
                let d = host.dims;
                let output = B::float_from_data(TensorData::new(rates, [d.batch, d.steps, d.units]), &device);
                prep.finish(ScanState { host: Arc::new(host), cache: Arc::new(cache), device }, output)
            }
            OpsKind::UnTracked(prep) => prep.finish(concrete_scan::<B>(inner, settings)),
        }
    }
}

/// A matrix operand of [`matmul`]: a slice read with a row stride and a column stride.
struct Strided<'a> {
    data: &'a [f32],
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Strided<'a> {
    /// A row-major matrix with `cols` columns.
    fn rows(data: &'a [f32], cols: usize) -> Self {
        Self { data, row_stride: cols, col_stride: 1 }
    }

    /// The transpose of a row-major matrix with `cols` columns.
    fn columns(data: &'a [f32], cols: usize) -> Self {
        Self { data, row_stride: 1, col_stride: cols }
    }

    fn fits(&self, rows: usize, cols: usize) -> bool {
        rows == 0 || cols == 0 || (rows - 1) * self.row_stride + (cols - 1) * self.col_stride < self.data.len()
    }
}

/// dst [m, n] (row-major) = lhs [m, k] · rhs [k, n], single-threaded so the summation order,
/// and hence every bit of the result, never depends on the machine's load.
fn matmul(m: usize, n: usize, k: usize, dst: &mut [f32], lhs: Strided, rhs: Strided) {
    assert_eq!(dst.len(), m * n, "matmul: dst must be [m, n]");
    assert!(lhs.fits(m, k) && rhs.fits(k, n), "matmul: an operand is too short for its shape");
    if m == 0 || n == 0 || k == 0 {
        dst.fill(0.0);
        return;
    }
    // SAFETY: the asserts above keep every index gemm reads or writes inside its slice.
    unsafe {
        gemm::gemm(
            m, n, k,
            dst.as_mut_ptr(), 1, n as isize,
            false,
            lhs.data.as_ptr(), lhs.col_stride as isize, lhs.row_stride as isize,
            rhs.data.as_ptr(), rhs.col_stride as isize, rhs.row_stride as isize,
            0.0f32, 1.0f32, false, false, false,
            gemm::Parallelism::None,
        );
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
