//! The recurrent scan as one burn operation with a hand-written backward.
//!
//! Written with burn's operations, each of the T steps is a handful of small tensor ops whose
//! backward allocates and reduces separately; here the whole loop runs in [`super::scan`] over
//! plain buffers, split over the batch across cores, and autodiff sees one node with three parents
//! (drive, W_in, W(c), gain, α). Both CPU backends (flex, ndarray) share the same host implementation, so
//! they compute identical numbers.

#![allow(deprecated)] // burn marks NdArray deprecated in favour of Flex; the brief keeps it supported

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

#[cfg(feature = "ndarray")]
use burn::backend::NdArray;
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, ExtensionType, Flex, TensorMetadata, backend_extension};
use burn::tensor::{Tensor, TensorData};

use super::Readout;
use super::pass::{Recurrent, RnnInput, RnnSpec};
use super::readout::{self, ReadoutSpec};
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
    /// [N]: each unit's leak α_i = dt/τ_i.
    pub alpha: FloatTensor<B>,
}

/// The scan's fixed settings and its non-differentiable data.
#[derive(Clone)]
pub struct ScanSettings {
    /// u [B, T, n_in], row-major.
    pub inputs: Arc<Vec<f32>>,
    pub n_in: usize,
    /// Recurrent noise [B, T, N], added to the drive on the host.
    pub noise: Option<Arc<Vec<f32>>>,
    pub activation: scan::Activation,
    pub form: scan::StateForm,
    pub threads: usize,
}

impl fmt::Debug for ScanSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScanSettings")
            .field("n_in", &self.n_in)
            .field("activation", &self.activation)
            .field("form", &self.form)
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

// the ndarray backend is an opt-in cargo feature
#[cfg_attr(feature = "ndarray", backend_extension(Flex, NdArray, Autodiff))]
#[cfg_attr(not(feature = "ndarray"), backend_extension(Flex, Autodiff))]
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
    pub alpha: Tensor<1>,
}

/// Run the fused scan (any device: plain or autodiff, flex or ndarray): rates [B, T, N].
/// The input projection W_in u_t is computed inside, so autodiff sees one node for the whole
/// recurrent part of the network.
pub fn scan(tensors: ScanTensors, input: &RnnInput, spec: &RnnSpec) -> Tensor<3> {
    let weights = match tensors.recurrent {
        Recurrent::Shared(w) => w.into_dispatch(),
        Recurrent::PerTrial(w) => w.into_dispatch(),
    };
    let settings = scan_settings(input, spec);
    let operands = ScanOperands {
        static_drive: tensors.static_drive.into_dispatch(),
        w_in: tensors.w_in.into_dispatch(),
        weights,
        gain: tensors.gain.into_dispatch(),
        alpha: tensors.alpha.into_dispatch(),
    };
    Tensor::from_dispatch(<Dispatch as RecurrentScan>::recurrent_scan(operands, settings))
}

fn scan_settings(input: &RnnInput, spec: &RnnSpec) -> ScanSettings {
    ScanSettings {
        inputs: input.inputs.clone(),
        n_in: input.input_shape[2],
        noise: input.rec_noise.clone(),
        activation: spec.config.activation,
        form: spec.config.state_form,
        threads: spec.threads,
    }
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

#[cfg(feature = "ndarray")]
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
///
/// Computed by blocks of trials on the kernel's worker threads (the block size depends only on
/// the batch size, so the bits do not depend on the thread count).
fn host_drive(settings: &ScanSettings, dims: ScanDims, w_in: &[f32], static_drive: &[f32]) -> Vec<f32> {
    let (bt, n, n_in) = (dims.batch * dims.steps, dims.units, settings.n_in);
    assert_eq!(settings.inputs.len(), bt * n_in, "inputs must be [B, T, n_in]");
    assert_eq!(static_drive.len(), dims.batch * n, "static drive must be [B, N]");
    if let Some(noise) = &settings.noise {
        assert_eq!(noise.len(), bt * n, "noise must be [B, T, N]");
    }
    let mut drive = vec![0.0f32; bt * n];
    let trials = scan::block_trials(dims.batch);
    let rows = trials * dims.steps;
    if bt == 0 {
        return drive;
    }
    let noise = settings.noise.as_deref().map(Vec::as_slice);
    let items: Vec<_> = drive.chunks_mut((rows * n).max(1)).enumerate().collect();
    scan::run_blocks(items, scan::thread_count(settings.threads), |(i, block)| {
        let m = block.len() / n;
        let r0 = i * rows;
        // u [rows, n_in] · W_inᵀ, reading W_in [N, n_in] with swapped strides
        let u = &settings.inputs[r0 * n_in..(r0 + m) * n_in];
        matmul(m, n, n_in, block, Strided::rows(u, n_in), Strided::columns(w_in, n_in));
        for (k, trial) in block.chunks_mut(dims.steps * n).enumerate() {
            let b = i * trials + k;
            let s = &static_drive[b * n..(b + 1) * n];
            trial.chunks_mut(n).for_each(|row| row.iter_mut().zip(s).for_each(|(d, x)| *d += x));
        }
        if let Some(noise) = noise {
            block.iter_mut().zip(&noise[r0 * n..(r0 + m) * n]).for_each(|(d, e)| *d += e);
        }
    });
    drive
}

/// Read the operands of a concrete backend to the host and run the forward kernel; the rates
/// are in the returned cache.
fn host_forward<B: HostBuffers>(operands: ScanOperands<B>, settings: ScanSettings) -> (HostScan, ScanCache, B::Device) {
    let device = operands.gain.device();
    let [batch, units] = operands.gain.shape().dims::<2>();
    let steps = settings.inputs.len() / (batch * settings.n_in).max(1);
    let dims = ScanDims { batch, steps, units };
    let per_trial = operands.weights.shape().num_dims() == 3;
    let static_drive = B::with_host(operands.static_drive, <[f32]>::to_vec);
    let drive = B::with_host(operands.w_in, |w_in| host_drive(&settings, dims, w_in, &static_drive));
    let host = HostScan {
        dims,
        alpha: B::with_host(operands.alpha, <[f32]>::to_vec),
        weights: B::with_host(operands.weights, <[f32]>::to_vec),
        per_trial,
        gain: B::with_host(operands.gain, <[f32]>::to_vec),
        settings,
    };
    let cache = scan::scan_forward(&host.spec(), drive, host.weights(), &host.gain);
    (host, cache, device)
}

fn concrete_scan<B: HostBuffers>(operands: ScanOperands<B>, settings: ScanSettings) -> FloatTensor<B> {
    let (host, cache, device) = host_forward::<B>(operands, settings);
    let d = host.dims;
    B::float_from_data(TensorData::new(cache.rates, [d.batch, d.steps, d.units]), &device)
}

impl RecurrentScan for Flex {
    fn recurrent_scan(operands: ScanOperands<Self>, settings: ScanSettings) -> FloatTensor<Self> {
        concrete_scan::<Self>(operands, settings)
    }
}

#[cfg(feature = "ndarray")]
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

impl<B: HostBuffers> Backward<B, 5> for ScanBackward {
    type State = ScanState<B::Device>;

    fn backward(self, ops: Ops<Self::State, 5>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let ScanState { host, cache, device } = ops.state;
        let wanted = ops.parents.each_ref().map(Option::is_some);
        let host_grads =
            B::with_host(grads.consume::<B>(&ops.node), |grad_rates| host_scan_grads(&host, &cache, grad_rates.to_vec(), wanted));
        for (node, grad) in ops.parents.into_iter().zip(host_grads) {
            if let (Some(node), Some((data, shape))) = (node, grad) {
                grads.register::<B>(node.id, B::float_from_data(TensorData::new(data, shape), &device));
            }
        }
    }
}

/// A host gradient and its shape.
type HostGrad = (Vec<f32>, Vec<usize>);

/// The gradients of the scan's five operands (static drive, W_in, W(c), gain, α) from
/// dL/drates, each only if `wanted`.
fn host_scan_grads(host: &HostScan, cache: &ScanCache, grad_rates: Vec<f32>, wanted: [bool; 5]) -> [Option<HostGrad>; 5] {
    let d = host.dims;
    let (n, n_in) = (d.units, host.settings.n_in);
    let g = scan::scan_backward(&host.spec(), host.weights(), &host.gain, cache, grad_rates, wanted[4]);
    // Per block of trials on the worker threads: d static (Σ_t d drive, per trial) and a
    // partial d W_in = d driveᵀ u; partials are summed in block order (thread-count independent).
    let trials = scan::block_trials(d.batch);
    let rows = trials * d.steps;
    let n_blocks = d.batch.div_ceil(trials);
    let mut d_static = vec![0.0f32; d.batch * n];
    let mut w_in_parts = vec![0.0f32; n_blocks.max(1) * n * n_in];
    if d.batch * d.steps > 0 && (wanted[0] || wanted[1]) {
        let items: Vec<_> = g
            .drive
            .chunks((rows * n).max(1))
            .zip(d_static.chunks_mut((trials * n).max(1)))
            .zip(w_in_parts.chunks_mut((n * n_in).max(1)))
            .enumerate()
            .collect();
        scan::run_blocks(items, scan::thread_count(host.settings.threads), |(i, ((dz, ds), dw))| {
            if wanted[0] {
                for (trial, acc) in dz.chunks(d.steps * n).zip(ds.chunks_mut(n)) {
                    trial.chunks(n).for_each(|row| acc.iter_mut().zip(row).for_each(|(a, x)| *a += x));
                }
            }
            if wanted[1] {
                let m = dz.len() / n;
                let u = &host.settings.inputs[i * rows * n_in..(i * rows + m) * n_in];
                matmul(n, n_in, m, dw, Strided::columns(dz, n), Strided::rows(u, n_in));
            }
        });
    }
    let d_static = wanted[0].then(|| (d_static, vec![d.batch, n]));
    let d_w_in = wanted[1].then(|| {
        let (acc, rest) = w_in_parts.split_at_mut(n * n_in);
        for part in rest.chunks(n * n_in) {
            acc.iter_mut().zip(part).for_each(|(a, p)| *a += p);
        }
        w_in_parts.truncate(n * n_in);
        (w_in_parts, vec![n, n_in])
    });
    let w_shape = if host.per_trial { vec![d.batch, n, n] } else { vec![n, n] };
    let d_w = wanted[2].then_some((g.w, w_shape));
    let d_gain = wanted[3].then(|| (g.gain, vec![d.batch, n]));
    let d_alpha = g.alpha.map(|a| (a, vec![n]));
    [d_static, d_w_in, d_w, d_gain, d_alpha]
}

impl<B: HostBuffers + RecurrentScan, C: CheckpointStrategy> RecurrentScan for Autodiff<B, C> {
    fn recurrent_scan(operands: ScanOperands<Self>, settings: ScanSettings) -> FloatTensor<Self> {
        let nodes =
            [operands.static_drive.node(), operands.w_in.node(), operands.weights.node(), operands.gain.node(), operands.alpha.node()];
        let inner = ScanOperands::<B> {
            static_drive: operands.static_drive.into_primitive(),
            w_in: operands.w_in.into_primitive(),
            weights: operands.weights.into_primitive(),
            gain: operands.gain.into_primitive(),
            alpha: operands.alpha.into_primitive(),
        };
        match ScanBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (host, cache, device) = host_forward::<B>(inner, settings);
                let d = host.dims;
                // The backward needs the rates too: burn gets a copy.
                let output = B::float_from_data(TensorData::new(cache.rates.clone(), [d.batch, d.steps, d.units]), &device);
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
        scan::matmul(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            n,
            false,
            lhs.data.as_ptr(),
            lhs.row_stride,
            lhs.col_stride,
            rhs.data.as_ptr(),
            rhs.row_stride,
            rhs.col_stride,
            1.0,
        );
    }
}

/// A CPU backend's tensor as a host vector. The read completes at once on these backends; the
/// future is polled to completion without an executor.
#[allow(clippy::expect_used, reason = "cannot fail: reading a CPU tensor cannot fail; the scan runs in f32")]
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

// ---------------------------------------------------------------------------
// The whole training loss as one operation: scan, readout and masked MSE.

/// The differentiable inputs of the training loss: the scan's and the readout's.
#[derive(ExtensionType)]
pub struct LossOperands<B: Backend> {
    /// [B, N]: the per-trial constant part of the drive (b + E c).
    pub static_drive: FloatTensor<B>,
    /// [N, n_in]
    pub w_in: FloatTensor<B>,
    /// [N, N] shared or [B, N, N] per trial.
    pub weights: FloatTensor<B>,
    /// [B, N]
    pub gain: FloatTensor<B>,
    /// [N]
    pub alpha: FloatTensor<B>,
    /// [n_out, N]
    pub w_out: FloatTensor<B>,
    /// [n_out]
    pub b_out: FloatTensor<B>,
}

/// The loss's fixed settings and data.
#[derive(Clone)]
pub struct LossSettings {
    pub scan: ScanSettings,
    /// ŷ [B, T, n_out]
    pub targets: Arc<Vec<f32>>,
    /// m [B, T, n_out]
    pub mask: Arc<Vec<f32>>,
    pub n_out: usize,
    /// Sigmoid readout (ring encoding); linear otherwise.
    pub sigmoid: bool,
}

impl fmt::Debug for LossSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LossSettings")
            .field("scan", &self.scan)
            .field("n_out", &self.n_out)
            .field("sigmoid", &self.sigmoid)
            .finish_non_exhaustive()
    }
}

// the ndarray backend is an opt-in cargo feature
#[cfg_attr(feature = "ndarray", backend_extension(Flex, NdArray, Autodiff))]
#[cfg_attr(not(feature = "ndarray"), backend_extension(Flex, Autodiff))]
pub trait RecurrentLoss: Backend {
    /// mean((m ⊙ (σ(W_out r + b_out) − ŷ))²) over the rates r of [`RecurrentScan`]: shape [1].
    fn recurrent_loss(#[extension_type] operands: LossOperands<Self>, settings: LossSettings) -> FloatTensor<Self>;
}

/// Run the scan, the readout and the masked MSE as one operation (any device). Same value and
/// gradients as `masked_mse(forward(..).outputs, targets, mask)`, but autodiff sees one node, and
/// neither the rates nor their gradient are ever copied into a burn tensor.
pub fn loss(
    tensors: ScanTensors,
    w_out: Tensor<2>,
    b_out: Tensor<1>,
    input: &RnnInput,
    spec: &RnnSpec,
    targets: Arc<Vec<f32>>,
    mask: Arc<Vec<f32>>,
) -> Tensor<1> {
    let weights = match tensors.recurrent {
        Recurrent::Shared(w) => w.into_dispatch(),
        Recurrent::PerTrial(w) => w.into_dispatch(),
    };
    let settings =
        LossSettings { scan: scan_settings(input, spec), targets, mask, n_out: spec.dims.n_out, sigmoid: spec.readout == Readout::Sigmoid };
    let operands = LossOperands {
        static_drive: tensors.static_drive.into_dispatch(),
        w_in: tensors.w_in.into_dispatch(),
        weights,
        gain: tensors.gain.into_dispatch(),
        alpha: tensors.alpha.into_dispatch(),
        w_out: w_out.into_dispatch(),
        b_out: b_out.into_dispatch(),
    };
    Tensor::from_dispatch(<Dispatch as RecurrentLoss>::recurrent_loss(operands, settings))
}

/// What the loss's backward keeps from the forward.
struct HostLoss {
    scan: HostScan,
    /// Holds the rates the readout read.
    cache: ScanCache,
    w_out: Vec<f32>,
    b_out: Vec<f32>,
    /// dL/dlin [B, T, n_out]
    d_linear: Vec<f32>,
    n_out: usize,
    sigmoid: bool,
}

impl HostLoss {
    fn readout(&self) -> ReadoutSpec<'_> {
        ReadoutSpec {
            dims: self.scan.dims,
            n_out: self.n_out,
            w_out: &self.w_out,
            b_out: &self.b_out,
            sigmoid: self.sigmoid,
            threads: self.scan.settings.threads,
        }
    }
}

/// Read the operands to the host and run scan, readout and loss: the loss and the backward's state.
fn host_loss<B: HostBuffers>(operands: LossOperands<B>, settings: LossSettings) -> (f32, HostLoss, B::Device) {
    let LossOperands { static_drive, w_in, weights, gain, alpha, w_out, b_out } = operands;
    let w_out = B::with_host(w_out, <[f32]>::to_vec);
    let b_out = B::with_host(b_out, <[f32]>::to_vec);
    let (scan, cache, device) = host_forward::<B>(ScanOperands { static_drive, w_in, weights, gain, alpha }, settings.scan);
    let mut state = HostLoss { scan, cache, w_out, b_out, d_linear: Vec::new(), n_out: settings.n_out, sigmoid: settings.sigmoid };
    let (loss, d_linear) = readout::loss_forward(&state.readout(), &state.cache.rates, &settings.targets, &settings.mask);
    state.d_linear = d_linear;
    (loss, state, device)
}

fn concrete_loss<B: HostBuffers>(operands: LossOperands<B>, settings: LossSettings) -> FloatTensor<B> {
    let (loss, _, device) = host_loss::<B>(operands, settings);
    B::float_from_data(TensorData::new(vec![loss], [1]), &device)
}

impl RecurrentLoss for Flex {
    fn recurrent_loss(operands: LossOperands<Self>, settings: LossSettings) -> FloatTensor<Self> {
        concrete_loss::<Self>(operands, settings)
    }
}

#[cfg(feature = "ndarray")]
impl RecurrentLoss for NdArray {
    fn recurrent_loss(operands: LossOperands<Self>, settings: LossSettings) -> FloatTensor<Self> {
        concrete_loss::<Self>(operands, settings)
    }
}

#[derive(Clone)]
struct LossState<D> {
    host: Arc<HostLoss>,
    device: D,
}

impl<D> fmt::Debug for LossState<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LossState({:?})", self.host.scan.dims)
    }
}

#[derive(Debug)]
struct LossBackward;

impl<B: HostBuffers> Backward<B, 7> for LossBackward {
    type State = LossState<B::Device>;

    fn backward(self, ops: Ops<Self::State, 7>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let LossState { host, device } = ops.state;
        let upstream = B::with_host(grads.consume::<B>(&ops.node), |g| g[0]);
        let readout = readout::loss_backward(&host.readout(), &host.cache.rates, &host.d_linear, upstream);
        let [p0, p1, p2, p3, p4, p5, p6] = ops.parents;
        let scan_parents = [p0, p1, p2, p3, p4];
        let wanted = scan_parents.each_ref().map(Option::is_some);
        let scan_grads: [Option<HostGrad>; 5] =
            if wanted.contains(&true) { host_scan_grads(&host.scan, &host.cache, readout.rates, wanted) } else { Default::default() };
        let n = host.scan.dims.units;
        let readout_grads = [Some((readout.w_out, vec![host.n_out, n])), Some((readout.b_out, vec![host.n_out]))];
        let parents = scan_parents.into_iter().chain([p5, p6]);
        for (node, grad) in parents.zip(scan_grads.into_iter().chain(readout_grads)) {
            if let (Some(node), Some((data, shape))) = (node, grad) {
                grads.register::<B>(node.id, B::float_from_data(TensorData::new(data, shape), &device));
            }
        }
    }
}

impl<B: HostBuffers + RecurrentLoss, C: CheckpointStrategy> RecurrentLoss for Autodiff<B, C> {
    fn recurrent_loss(operands: LossOperands<Self>, settings: LossSettings) -> FloatTensor<Self> {
        let nodes = [
            operands.static_drive.node(),
            operands.w_in.node(),
            operands.weights.node(),
            operands.gain.node(),
            operands.alpha.node(),
            operands.w_out.node(),
            operands.b_out.node(),
        ];
        let inner = LossOperands::<B> {
            static_drive: operands.static_drive.into_primitive(),
            w_in: operands.w_in.into_primitive(),
            weights: operands.weights.into_primitive(),
            gain: operands.gain.into_primitive(),
            alpha: operands.alpha.into_primitive(),
            w_out: operands.w_out.into_primitive(),
            b_out: operands.b_out.into_primitive(),
        };
        match LossBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (loss, host, device) = host_loss::<B>(inner, settings);
                let output = B::float_from_data(TensorData::new(vec![loss], [1]), &device);
                prep.finish(LossState { host: Arc::new(host), device }, output)
            }
            OpsKind::UnTracked(prep) => prep.finish(concrete_loss::<B>(inner, settings)),
        }
    }
}
