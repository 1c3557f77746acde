//! Fused forward and hand-written backward (BPTT) of the leaky-rate RNN scan.
//!
//! Works on plain row-major `f32` slices so it can be wrapped as a custom
//! autodiff op. Shapes: batch `B`, steps `T`, units `N`.
//!
//! # Forward (per trial, `t = 1..=T`, `r_0 = x_0 = 0`)
//!
//! ```text
//! z_t   = drive_t + W r_{t-1}                      (pre-activation before gain)
//! pre_t = g ⊙ z_t
//! Rate form:     r_t = (1-α) ⊙ r_{t-1} + α ⊙ φ(pre_t)
//! Voltage form:  x_t = (1-α) ⊙ x_{t-1} + α ⊙ pre_t,   r_t = φ(x_t)
//! ```
//!
//! `W[i][j]` is the weight from unit `j` to unit `i`; `W` is either shared by
//! all trials (`[N,N]`) or per trial (`[B,N,N]`).
//!
//! # Backward (reverse time, `ḡ_t = dL/dr_t` from the caller)
//!
//! With `dz_{T+1} = 0` and the carried state gradient zero after `T`:
//!
//! ```text
//! Rate form:
//!   dr_t   = ḡ_t + Wᵀ dz_{t+1} + (1-α) ⊙ dr_{t+1}
//!   dpre_t = α ⊙ φ'(pre_t) ⊙ dr_t
//! Voltage form:
//!   dr_t   = ḡ_t + Wᵀ dz_{t+1}
//!   dx_t   = φ'(x_t) ⊙ dr_t + (1-α) ⊙ dx_{t+1}
//!   dpre_t = α ⊙ dx_t
//! Both:
//!   dz_t = g ⊙ dpre_t            = dL/d drive_t
//!   dL/dg += dpre_t ⊙ z_t        (per trial)
//!   dL/dW += dz_t r_{t-1}ᵀ       (summed over t; also over trials if shared)
//! Per-unit leak (only when asked for, e.g. trained time constants):
//!   dL/dα += dr_t ⊙ (φ(pre_t) − r_{t-1})    rate form
//!   dL/dα += dx_t ⊙ (pre_t − x_{t-1})       voltage form    (summed over t and trials)
//! ```
//!
//! # Implementation notes
//!
//! * Trials are independent, so the batch is cut into fixed *blocks* of
//!   trials whose size depends only on the batch size, never on the thread
//!   count. Each block runs its whole time loop with single-threaded `gemm`
//!   calls (one `[block,N]×[N,N]` product per step), and worker threads just
//!   take whole blocks. Every floating-point operation therefore happens in
//!   the same order whatever `threads` is, which makes results bit-identical
//!   across thread counts (gemm picks different kernels for different shapes,
//!   so the call shapes themselves must not depend on the thread count).
//! * The shared-`W` gradient is computed per block after its time loop as one
//!   GEMM over all `(trial, step)` pairs of the block, `dZᵀ R_prev` with
//!   `K = block·T`; block partials are then summed in block order.
//! * All buffers stay in the caller's `[B,T,N]` layout: gemm takes arbitrary
//!   row strides, so the per-step `[block,N]` slices (row stride `T·N`) are
//!   used in place and no transposes are needed. The forward uses a
//!   transposed copy of `W` so that gemm can read it without packing.
//! * The cache holds the rates themselves (they are the forward's result, so
//!   keeping them costs nothing extra). Within one trial, `dz_2..dz_T` and
//!   `r_1..r_{T-1}` are two `[T-1, N]` matrices with the same row stride, so
//!   the `dW` product pairs them with one GEMM per trial (`K = T-1`), reading
//!   both buffers in place; `r_0 = 0` contributes nothing.

use gemm::{Parallelism, gemm};

pub use super::{Activation, StateForm};

/// Problem sizes: `batch` trials (`B`), `steps` time steps (`T`), `units` (`N`).
#[derive(Clone, Copy, Debug)]
pub struct ScanDims {
    pub batch: usize,
    pub steps: usize,
    pub units: usize,
}

impl ScanDims {
    /// Number of elements of a `[B,T,N]` buffer.
    fn btn(&self) -> usize {
        self.batch * self.steps * self.units
    }
}

/// Recurrent weights, row-major, `W[i][j]` = weight from unit `j` to unit `i`.
#[derive(Clone, Copy, Debug)]
pub enum Recurrent<'a> {
    /// One `[N,N]` matrix shared by all trials.
    Shared(&'a [f32]),
    /// One `[N,N]` matrix per trial: `[B,N,N]`.
    PerTrial(&'a [f32]),
}

/// Static description of a scan.
#[derive(Clone, Copy, Debug)]
pub struct ScanSpec<'a> {
    pub dims: ScanDims,
    /// Per-unit leak `α ∈ (0,1]`, length `N`.
    pub alpha: &'a [f32],
    pub activation: Activation,
    pub form: StateForm,
    /// Worker threads; `0` = `std::thread::available_parallelism`.
    /// Results are bit-identical for every value.
    pub threads: usize,
}

/// What the forward keeps for the backward.
#[derive(Clone, Debug)]
pub struct ScanCache {
    pub dims: ScanDims,
    pub activation: Activation,
    pub form: StateForm,
    /// `z_t = drive_t + W r_{t-1}` (before gain), `[B,T,N]`.
    pub z: Vec<f32>,
    /// Voltages `x_t`, `[B,T,N]` (voltage form only; empty for rate form).
    pub x: Vec<f32>,
    /// The rates `r_1..r_T`, `[B,T,N]`: the forward's result.
    pub rates: Vec<f32>,
}

/// Gradients returned by [`scan_backward`].
#[derive(Clone, Debug)]
pub struct ScanGrads {
    /// `dL/d drive`, `[B,T,N]`.
    pub drive: Vec<f32>,
    /// `dL/dW`: `[N,N]` (summed over trials) for [`Recurrent::Shared`],
    /// `[B,N,N]` for [`Recurrent::PerTrial`].
    pub w: Vec<f32>,
    /// `dL/dg`, `[B,N]`.
    pub gain: Vec<f32>,
    /// `dL/dα`, `[N]` (summed over trials and steps), when asked for.
    pub alpha: Option<Vec<f32>>,
}

// ---------------------------------------------------------------------------
// Activations, monomorphised so the per-step element-wise loops inline them.

trait Act {
    fn phi(x: f32) -> f32;
    /// `φ'(x)`.
    fn dphi(x: f32) -> f32;
}

struct ReluAct;
struct SoftplusAct;
struct TanhAct;

impl Act for ReluAct {
    #[inline(always)]
    fn phi(x: f32) -> f32 {
        if x > 0.0 { x } else { 0.0 }
    }
    #[inline(always)]
    fn dphi(x: f32) -> f32 {
        if x > 0.0 { 1.0 } else { 0.0 }
    }
}

impl Act for SoftplusAct {
    #[inline(always)]
    fn phi(x: f32) -> f32 {
        // max(x,0) + ln(1 + e^{-|x|}) never overflows.
        x.max(0.0) + (-x.abs()).exp().ln_1p()
    }
    #[inline(always)]
    fn dphi(x: f32) -> f32 {
        // Logistic sigmoid, written so that exp never overflows.
        let e = (-x.abs()).exp();
        if x >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) }
    }
}

impl Act for TanhAct {
    #[inline(always)]
    fn phi(x: f32) -> f32 {
        x.tanh()
    }
    #[inline(always)]
    fn dphi(x: f32) -> f32 {
        let t = x.tanh();
        1.0 - t * t
    }
}

/// Calls `$body` with `$A` bound to the activation's marker type.
macro_rules! with_act {
    ($act:expr, $A:ident => $body:expr) => {
        match $act {
            Activation::Relu => {
                type $A = ReluAct;
                $body
            }
            Activation::Softplus => {
                type $A = SoftplusAct;
                $body
            }
            Activation::Tanh => {
                type $A = TanhAct;
                $body
            }
        }
    };
}

// ---------------------------------------------------------------------------
// Blocking and threading.

/// Trials per block. Depends only on the batch size (never on the thread
/// count) so results are reproducible; 16 keeps each per-step gemm large
/// enough to run near peak while still giving several blocks to share.
pub(crate) fn block_trials(batch: usize) -> usize {
    batch.clamp(1, BLOCK_TRIALS)
}

const BLOCK_TRIALS: usize = 16;

pub(crate) fn thread_count(requested: usize) -> usize {
    if requested > 0 { requested } else { std::thread::available_parallelism().map_or(1, |n| n.get()) }
}

/// Runs `f` on every item, spreading contiguous runs of items over at most
/// `threads` threads (the calling thread takes the first run). Which thread
/// runs an item has no effect on the item's result.
pub(crate) fn run_blocks<I: Send>(items: Vec<I>, threads: usize, f: impl Fn(I) + Sync) {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        items.into_iter().for_each(f);
        return;
    }
    let per = items.len().div_ceil(threads);
    let mut groups: Vec<Vec<I>> = Vec::with_capacity(threads);
    let mut it = items.into_iter().peekable();
    while it.peek().is_some() {
        groups.push(it.by_ref().take(per).collect());
    }
    let f = &f;
    std::thread::scope(|s| {
        let mut groups = groups.into_iter();
        let first = groups.next();
        for g in groups {
            s.spawn(move || g.into_iter().for_each(f));
        }
        if let Some(g) = first {
            g.into_iter().for_each(f);
        }
    });
}

/// Single-threaded `dst = [dst +] scale · lhs · rhs` on strided row-major views (`dst` has unit
/// column stride and row stride `dst_rs`): modulab's one gemm wrapper (the scan, the readout, the
/// fused op's host products and PCA's covariance), single-threaded so every bit of a result is
/// the same whatever the machine's load.
///
/// # Safety
/// Pointers must be valid for the given shapes and strides, and `dst` must
/// not alias `lhs`/`rhs`.
#[allow(clippy::too_many_arguments)]
#[inline]
pub unsafe fn matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: usize,
    accumulate: bool,
    lhs: *const f32,
    lhs_rs: usize,
    lhs_cs: usize,
    rhs: *const f32,
    rhs_rs: usize,
    rhs_cs: usize,
    scale: f32,
) {
    if m == 0 || n == 0 {
        return;
    }
    // Strides are element counts; gemm wants isize and (col, row) order. With
    // `accumulate`, dst = 1 · dst + scale · lhs · rhs; otherwise dst is not read.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            lhs,
            lhs_cs as isize,
            lhs_rs as isize,
            rhs,
            rhs_cs as isize,
            rhs_rs as isize,
            1.0,
            scale,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

/// Recurrent weights as seen by one block.
#[derive(Clone, Copy)]
enum BlockW<'a> {
    /// The shared matrix (forward: transposed copy `Wᵀ`; backward: `W`).
    Shared(&'a [f32]),
    /// The block's own `[g,N,N]` slice of per-trial matrices (untransposed).
    PerTrial(&'a [f32]),
}

fn check_common(spec: &ScanSpec, w: &Recurrent, gain: &[f32]) {
    let d = spec.dims;
    let n = d.units;
    assert_eq!(spec.alpha.len(), n, "alpha must have length N");
    assert_eq!(gain.len(), d.batch * n, "gain must be [B,N]");
    match *w {
        Recurrent::Shared(w) => assert_eq!(w.len(), n * n, "shared W must be [N,N]"),
        Recurrent::PerTrial(w) => {
            assert_eq!(w.len(), d.batch * n * n, "per-trial W must be [B,N,N]")
        }
    }
}

// ---------------------------------------------------------------------------
// Forward.

/// Runs the scan forward.
///
/// * `drive`: `[B,T,N]`, everything outside the recurrence, already summed.
///   Taken by value: the buffer becomes the cache's `z` (the recurrent term
///   is accumulated into it in place), which saves a `[B,T,N]` buffer and a
///   pass over it.
/// * `w`: `[N,N]` shared or `[B,N,N]` per trial (row-major, to ← from).
/// * `gain`: `[B,N]`.
///
/// Returns the cache for [`scan_backward`], which holds the rates `r_1..r_T`
/// as `[B,T,N]` in `rates`.
#[allow(clippy::unwrap_used, reason = "cannot fail: the voltage states are split into one chunk per block")]
pub fn scan_forward(spec: &ScanSpec, drive: Vec<f32>, w: Recurrent, gain: &[f32]) -> ScanCache {
    check_common(spec, &w, gain);
    let d = spec.dims;
    let (b, t, n) = (d.batch, d.steps, d.units);
    assert_eq!(drive.len(), d.btn(), "drive must be [B,T,N]");

    let voltage = spec.form == StateForm::Voltage;
    let mut rates = vec![0.0f32; d.btn()];
    let mut z = drive;
    let mut x = if voltage { vec![0.0f32; d.btn()] } else { Vec::new() };
    let cache_of = |z, x, rates| ScanCache { dims: d, activation: spec.activation, form: spec.form, z, x, rates };
    if d.btn() == 0 {
        return cache_of(z, x, rates);
    }

    // Transposed shared W: gemm then reads it column-major, without packing.
    let wt: Vec<f32>;
    let bw = match w {
        Recurrent::Shared(w) => {
            wt = transpose(w, n);
            Some(&wt[..])
        }
        Recurrent::PerTrial(_) => None,
    };

    let g = block_trials(b);
    let bs = g * t * n;
    let mut items = Vec::with_capacity(b.div_ceil(g));
    {
        let mut xs = x.chunks_mut(bs);
        for (i, (rates, z)) in rates.chunks_mut(bs).zip(z.chunks_mut(bs)).enumerate() {
            let trials = rates.len() / (t * n);
            let b0 = i * g;
            let w = match (bw, w) {
                (Some(wt), _) => BlockW::Shared(wt),
                (None, Recurrent::PerTrial(w)) => BlockW::PerTrial(&w[b0 * n * n..(b0 + trials) * n * n]),
                (None, Recurrent::Shared(_)) => unreachable!(),
            };
            items.push(FwdBlock {
                trials,
                gain: &gain[b0 * n..(b0 + trials) * n],
                w,
                rates,
                z,
                x: if voltage { xs.next().unwrap() } else { &mut [] },
            });
        }
    }
    let (steps, alpha, act, form) = (t, spec.alpha, spec.activation, spec.form);
    run_blocks(items, thread_count(spec.threads), |blk| with_act!(act, A => forward_block::<A>(blk, steps, n, alpha, form)));
    cache_of(z, x, rates)
}

fn transpose(w: &[f32], n: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; n * n];
    for i in 0..n {
        for j in 0..n {
            out[j * n + i] = w[i * n + j];
        }
    }
    out
}

/// One block of trials for the forward; all slices are the block's part of
/// the corresponding `[B,...]` buffer.
struct FwdBlock<'a> {
    trials: usize,
    gain: &'a [f32],
    w: BlockW<'a>,
    rates: &'a mut [f32],
    z: &'a mut [f32],
    x: &'a mut [f32],
}

fn forward_block<A: Act>(blk: FwdBlock, t_len: usize, n: usize, alpha: &[f32], form: StateForm) {
    // The element-wise loops are plain scalar code left to the
    // auto-vectoriser; compile them for AVX2 when the CPU has it. There is no
    // FMA contraction, so both versions give identical bits.
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 support was just checked.
        return unsafe { forward_block_avx2::<A>(blk, t_len, n, alpha, form) };
    }
    forward_block_impl::<A>(blk, t_len, n, alpha, form)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn forward_block_avx2<A: Act>(blk: FwdBlock, t_len: usize, n: usize, alpha: &[f32], form: StateForm) {
    forward_block_impl::<A>(blk, t_len, n, alpha, form)
}

#[inline(always)]
fn forward_block_impl<A: Act>(blk: FwdBlock, t_len: usize, n: usize, alpha: &[f32], form: StateForm) {
    let FwdBlock { trials, gain, w, rates, z, x } = blk;
    let tn = t_len * n;
    // Stand-in for r_0 = x_0 = 0.
    let zeros = vec![0.0f32; n];
    for t in 0..t_len {
        // One fused pass per trial row at step t. On entry z[b,t] already
        // holds z_t = drive_t + W r_{t-1}: the buffer started as the drive,
        // and the gemm below added W r_{t-1} (nothing at t = 0, r_0 = 0).
        for bi in 0..trials {
            let row = bi * tn + t * n;
            let gain = &gain[bi * n..(bi + 1) * n];
            let z = &z[row..row + n];
            // r_{t-1} (read) and r_t (written): adjacent rows of the trial.
            let (r_old, r_new) = if t == 0 {
                (&zeros[..], &mut rates[row..row + n])
            } else {
                let (p, c) = rates[row - n..row + n].split_at_mut(n);
                (&*p, c)
            };
            match form {
                StateForm::Rate => {
                    for i in 0..n {
                        let zi = z[i];
                        let a = alpha[i];
                        let r = (1.0 - a) * r_old[i] + a * A::phi(gain[i] * zi);
                        r_new[i] = r;
                    }
                }
                StateForm::Voltage => {
                    let (x_prev, x_cur) = if t == 0 {
                        (&zeros[..], &mut x[row..row + n])
                    } else {
                        let (p, c) = x[row - n..row + n].split_at_mut(n);
                        (&*p, c)
                    };
                    for i in 0..n {
                        let zi = z[i];
                        let a = alpha[i];
                        let xv = (1.0 - a) * x_prev[i] + a * (gain[i] * zi);
                        x_cur[i] = xv;
                        let r = A::phi(xv);
                        r_new[i] = r;
                    }
                }
            }
        }
        if t + 1 == t_len {
            break;
        }
        // z[:, t+1] += r_t Wᵀ for the whole block (onto the drive).
        let r_t = rates[t * n..].as_ptr();
        let z_next = z[(t + 1) * n..].as_mut_ptr();
        match w {
            // SAFETY: row b of each view is at offset b·tn inside this
            // block's buffers, which hold `trials` rows of length tn; Wᵀ is n×n.
            BlockW::Shared(wt) => unsafe { matmul(trials, n, n, z_next, tn, true, r_t, tn, 1, wt.as_ptr(), n, 1, 1.0) },
            BlockW::PerTrial(w) => {
                for bi in 0..trials {
                    // z += W_b r as a column: [n,n]·[n,1].
                    // SAFETY: as above, for trial bi's row and its own W_b.
                    unsafe { matmul(n, 1, n, z_next.add(bi * tn), 1, true, w[bi * n * n..].as_ptr(), n, 1, r_t.add(bi * tn), 1, 1, 1.0) };
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Backward.

/// Backpropagates through the scan.
///
/// * `w`, `gain`: the same values as given to [`scan_forward`].
/// * `cache`: returned by [`scan_forward`] with the same `spec`.
/// * `grad_rates`: `dL/dr`, `[B,T,N]`. Taken by value: `dL/d drive` is
///   written over it in place (each element is read just before its
///   replacement is written), which saves a `[B,T,N]` buffer.
///
/// Returns `dL/d drive` (`[B,T,N]`), `dL/dW` (`[N,N]` summed over the batch
/// if shared, `[B,N,N]` if per trial), `dL/dg` (`[B,N]`) and, if `want_alpha`,
/// `dL/dα` (`[N]`).
#[allow(clippy::unwrap_used, reason = "cannot fail: the voltage states are split into one chunk per block")]
pub fn scan_backward(spec: &ScanSpec, w: Recurrent, gain: &[f32], cache: &ScanCache, grad_rates: Vec<f32>, want_alpha: bool) -> ScanGrads {
    check_common(spec, &w, gain);
    let d = spec.dims;
    let (b, t, n) = (d.batch, d.steps, d.units);
    let cd = cache.dims;
    assert!(
        (cd.batch, cd.steps, cd.units) == (b, t, n) && cache.form == spec.form && cache.activation == spec.activation,
        "cache does not match spec"
    );
    assert_eq!(grad_rates.len(), d.btn(), "grad_rates must be [B,T,N]");

    let shared = matches!(w, Recurrent::Shared(_));
    let g = block_trials(b);
    let n_blocks = b.div_ceil(g);
    let mut grad_drive = grad_rates;
    let mut grad_gain = vec![0.0f32; b * n];
    // Shared W: one [N,N] partial per block, summed in block order below.
    // Per trial: the final [B,N,N] gradient, each block writing its trials.
    let mut grad_w = vec![0.0f32; if shared { n_blocks.max(1) * n * n } else { b * n * n }];
    // dα: one [N] partial per block, summed in block order below.
    let mut grad_alpha = if want_alpha { vec![0.0f32; n_blocks.max(1) * n] } else { Vec::new() };
    if d.btn() == 0 {
        grad_w.truncate(if shared { n * n } else { b * n * n });
        grad_alpha.truncate(n);
        return ScanGrads { drive: grad_drive, w: grad_w, gain: grad_gain, alpha: want_alpha.then_some(grad_alpha) };
    }

    let bs = g * t * n;
    let w_chunk = if shared { n * n } else { g * n * n };
    let mut items = Vec::with_capacity(n_blocks);
    {
        let mut xs = cache.x.chunks(bs);
        let mut das = grad_alpha.chunks_mut(n);
        for (i, ((gd, dgain), dw)) in grad_drive.chunks_mut(bs).zip(grad_gain.chunks_mut(g * n)).zip(grad_w.chunks_mut(w_chunk)).enumerate()
        {
            let trials = gd.len() / (t * n);
            let b0 = i * g;
            let blk = b0 * t * n..(b0 + trials) * t * n;
            items.push(BwdBlock {
                trials,
                z: &cache.z[blk.clone()],
                x: if spec.form == StateForm::Voltage { xs.next().unwrap() } else { &[] },
                rates: &cache.rates[blk],
                gain: &gain[b0 * n..(b0 + trials) * n],
                w: match w {
                    Recurrent::Shared(w) => BlockW::Shared(w),
                    Recurrent::PerTrial(w) => BlockW::PerTrial(&w[b0 * n * n..(b0 + trials) * n * n]),
                },
                grad_drive: gd,
                grad_gain: dgain,
                grad_w: dw,
                grad_alpha: das.next(),
            });
        }
    }
    let (steps, alpha, act, form) = (t, spec.alpha, spec.activation, spec.form);
    run_blocks(items, thread_count(spec.threads), |blk| with_act!(act, A => backward_block::<A>(blk, steps, n, alpha, form)));

    if shared {
        // Fixed block order => same bits for any thread count.
        let (acc, rest) = grad_w.split_at_mut(n * n);
        for part in rest.chunks(n * n) {
            acc.iter_mut().zip(part).for_each(|(a, p)| *a += p);
        }
        grad_w.truncate(n * n);
    }
    let alpha = want_alpha.then(|| {
        let (acc, rest) = grad_alpha.split_at_mut(n);
        for part in rest.chunks(n) {
            acc.iter_mut().zip(part).for_each(|(a, p)| *a += p);
        }
        grad_alpha.truncate(n);
        grad_alpha
    });
    ScanGrads { drive: grad_drive, w: grad_w, gain: grad_gain, alpha }
}

/// One block of trials for the backward; slices are the block's part of the
/// corresponding buffer (`grad_w` is the block's `[N,N]` partial if shared).
struct BwdBlock<'a> {
    trials: usize,
    z: &'a [f32],
    x: &'a [f32],
    rates: &'a [f32],
    gain: &'a [f32],
    w: BlockW<'a>,
    /// `dL/dr` on entry, `dL/d drive` on exit.
    grad_drive: &'a mut [f32],
    grad_gain: &'a mut [f32],
    grad_w: &'a mut [f32],
    /// The block's `[N]` partial of `dL/dα`, if asked for.
    grad_alpha: Option<&'a mut [f32]>,
}

fn backward_block<A: Act>(blk: BwdBlock, t_len: usize, n: usize, alpha: &[f32], form: StateForm) {
    // See forward_block: AVX2 build of the same scalar code, same bits.
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 support was just checked.
        return unsafe { backward_block_avx2::<A>(blk, t_len, n, alpha, form) };
    }
    backward_block_impl::<A>(blk, t_len, n, alpha, form)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn backward_block_avx2<A: Act>(blk: BwdBlock, t_len: usize, n: usize, alpha: &[f32], form: StateForm) {
    backward_block_impl::<A>(blk, t_len, n, alpha, form)
}

#[inline(always)]
fn backward_block_impl<A: Act>(blk: BwdBlock, t_len: usize, n: usize, alpha: &[f32], form: StateForm) {
    let BwdBlock { trials, z, x, rates, gain, w, grad_drive, grad_gain, grad_w, mut grad_alpha } = blk;
    let tn = t_len * n;
    // rec[b] = Wᵀ dz_{t+1}; carry[b] = dr_{t+1} (rate) or dx_{t+1} (voltage).
    // Both are zero beyond the last step. Allocated once per block.
    let mut rec = vec![0.0f32; trials * n];
    let mut carry = vec![0.0f32; trials * n];
    // stands in for r_0 = x_0 = 0 in dL/dα
    let zeros = if grad_alpha.is_some() { vec![0.0f32; n] } else { Vec::new() };
    for t in (0..t_len).rev() {
        for bi in 0..trials {
            let row = bi * tn + t * n;
            let z = &z[row..row + n];
            let gain = &gain[bi * n..(bi + 1) * n];
            let rec = &rec[bi * n..(bi + 1) * n];
            let carry = &mut carry[bi * n..(bi + 1) * n];
            // dL/dr_t on entry, replaced by dz_t element by element.
            let dz = &mut grad_drive[row..row + n];
            let dg = &mut grad_gain[bi * n..(bi + 1) * n];
            match form {
                StateForm::Rate => {
                    for i in 0..n {
                        let a = alpha[i];
                        let dr = dz[i] + rec[i] + (1.0 - a) * carry[i];
                        carry[i] = dr;
                        let dpre = a * A::dphi(gain[i] * z[i]) * dr;
                        dz[i] = gain[i] * dpre;
                        dg[i] += dpre * z[i];
                    }
                }
                StateForm::Voltage => {
                    let x = &x[row..row + n];
                    for i in 0..n {
                        let a = alpha[i];
                        let dr = dz[i] + rec[i];
                        let dx = A::dphi(x[i]) * dr + (1.0 - a) * carry[i];
                        carry[i] = dx;
                        let dpre = a * dx;
                        dz[i] = gain[i] * dpre;
                        dg[i] += dpre * z[i];
                    }
                }
            }
            // dα in a loop of its own, so the loop above is the same whether or not it is wanted:
            // carry now holds dr_t (rate form) or dx_t (voltage form).
            if let Some(da) = grad_alpha.as_deref_mut() {
                // the previous state (r or x; zero before the first step), sliced once so the
                // loop vectorises
                let state = if form == StateForm::Rate { rates } else { x };
                let prev = if t == 0 { &zeros[..] } else { &state[row - n..row] };
                let (da, carry, gain, z, prev) = (&mut da[..n], &carry[..n], &gain[..n], &z[..n], &prev[..n]);
                match form {
                    StateForm::Rate => {
                        for i in 0..n {
                            da[i] += carry[i] * (A::phi(gain[i] * z[i]) - prev[i]);
                        }
                    }
                    StateForm::Voltage => {
                        for i in 0..n {
                            da[i] += carry[i] * (gain[i] * z[i] - prev[i]);
                        }
                    }
                }
            }
        }
        if t == 0 {
            break;
        }
        // rec = dz_t W, i.e. rec[b,j] = Σ_i dz[b,t,i] W[i][j].
        let dz_t = grad_drive[t * n..].as_ptr();
        match w {
            // SAFETY: dz rows are at b·tn inside this block's buffer; rec is
            // [trials,n]; W is [n,n].
            BlockW::Shared(w) => unsafe { matmul(trials, n, n, rec.as_mut_ptr(), n, false, dz_t, tn, 1, w.as_ptr(), n, 1, 1.0) },
            BlockW::PerTrial(w) => {
                for bi in 0..trials {
                    // rec_b = W_bᵀ dz_b as a column: lhs (j,i) = W_b[i][j].
                    // SAFETY: as above, for trial bi.
                    unsafe {
                        matmul(n, 1, n, rec[bi * n..].as_mut_ptr(), 1, false, w[bi * n * n..].as_ptr(), 1, n, dz_t.add(bi * tn), 1, 1, 1.0)
                    };
                }
            }
        }
    }
    // dW[i][j] = Σ_{t≥1} dz_t[i] r_{t-1}[j], per trial one [N,T-1]·[T-1,N]
    // GEMM reading dz rows 1.. and rate rows ..T-1 in place (r_0 = 0 adds
    // nothing). Shared W sums the block's trials into one partial, in trial
    // order (grad_w starts zeroed, so accumulating into it is exact).
    if t_len < 2 {
        return;
    }
    let dw_trial = |dst: &mut [f32], bi: usize| {
        let base = bi * tn;
        // SAFETY: both views are [t_len-1, n] inside trial bi's rows; dst is [n,n].
        unsafe {
            matmul(
                n,
                n,
                t_len - 1,
                dst.as_mut_ptr(),
                n,
                true,
                grad_drive[base + n..base + tn].as_ptr(),
                1,
                n,
                rates[base..base + tn - n].as_ptr(),
                n,
                1,
                1.0,
            )
        };
    };
    match w {
        BlockW::Shared(_) => (0..trials).for_each(|bi| dw_trial(grad_w, bi)),
        BlockW::PerTrial(_) => {
            for (bi, dst) in grad_w.chunks_mut(n * n).enumerate() {
                dw_trial(dst, bi);
            }
        }
    }
}

#[cfg(test)]
// The reference is deliberately written as naive index loops.
#[allow(clippy::needless_range_loop)]
mod tests {
    use super::*;

    /// Small deterministic PRNG (xorshift64*), uniform in [lo, hi).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
        }
        fn vec(&mut self, len: usize, lo: f64, hi: f64) -> Vec<f32> {
            (0..len).map(|_| (lo + (hi - lo) * self.next()) as f32).collect()
        }
    }

    const ACTS: [Activation; 3] = [Activation::Relu, Activation::Softplus, Activation::Tanh];
    const FORMS: [StateForm; 2] = [StateForm::Rate, StateForm::Voltage];

    fn phi(a: Activation, x: f64) -> f64 {
        match a {
            Activation::Relu => x.max(0.0),
            Activation::Softplus => x.max(0.0) + (-x.abs()).exp().ln_1p(),
            Activation::Tanh => x.tanh(),
        }
    }
    fn dphi(a: Activation, x: f64) -> f64 {
        match a {
            Activation::Relu => f64::from(x > 0.0),
            Activation::Softplus => 1.0 / (1.0 + (-x).exp()),
            Activation::Tanh => 1.0 - x.tanh().powi(2),
        }
    }

    /// Naive f64 problem: all inputs as f64, W always expanded to [B,N,N].
    struct Problem {
        d: ScanDims,
        act: Activation,
        form: StateForm,
        alpha: Vec<f64>,
        drive: Vec<f64>,
        w: Vec<f64>,
        gain: Vec<f64>,
    }

    struct RefFwd {
        r: Vec<f64>,
        z: Vec<f64>,
        x: Vec<f64>,
    }

    impl Problem {
        fn idx(&self, b: usize, t: usize, i: usize) -> usize {
            (b * self.d.steps + t) * self.d.units + i
        }
        fn wij(&self, b: usize, i: usize, j: usize) -> f64 {
            let n = self.d.units;
            self.w[(b * n + i) * n + j]
        }

        fn forward(&self) -> RefFwd {
            let ScanDims { batch, steps, units: n } = self.d;
            let len = batch * steps * n;
            let (mut r, mut z, mut x) = (vec![0.0; len], vec![0.0; len], vec![0.0; len]);
            for b in 0..batch {
                let mut rp = vec![0.0; n];
                let mut xp = vec![0.0; n];
                for t in 0..steps {
                    for i in 0..n {
                        let mut zi = self.drive[self.idx(b, t, i)];
                        for j in 0..n {
                            zi += self.wij(b, i, j) * rp[j];
                        }
                        let pre = self.gain[b * n + i] * zi;
                        let a = self.alpha[i];
                        let k = self.idx(b, t, i);
                        z[k] = zi;
                        match self.form {
                            StateForm::Rate => r[k] = (1.0 - a) * rp[i] + a * phi(self.act, pre),
                            StateForm::Voltage => {
                                x[k] = (1.0 - a) * xp[i] + a * pre;
                                r[k] = phi(self.act, x[k]);
                            }
                        }
                    }
                    for i in 0..n {
                        rp[i] = r[self.idx(b, t, i)];
                        xp[i] = x[self.idx(b, t, i)];
                    }
                }
            }
            RefFwd { r, z, x }
        }

        /// Returns (d drive, dW as [B,N,N], d gain, d alpha).
        fn backward(&self, f: &RefFwd, gr: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
            let ScanDims { batch, steps, units: n } = self.d;
            let mut dd = vec![0.0; batch * steps * n];
            let mut dw = vec![0.0; batch * n * n];
            let mut dg = vec![0.0; batch * n];
            let mut da = vec![0.0; n];
            for b in 0..batch {
                let mut dz_next = vec![0.0; n];
                let mut carry = vec![0.0; n];
                for t in (0..steps).rev() {
                    let mut dz = vec![0.0; n];
                    for i in 0..n {
                        let k = self.idx(b, t, i);
                        let mut dr = gr[k];
                        for (j, dzj) in dz_next.iter().enumerate() {
                            dr += self.wij(b, j, i) * dzj;
                        }
                        let a = self.alpha[i];
                        let g = self.gain[b * n + i];
                        let before = |v: &[f64]| if t == 0 { 0.0 } else { v[self.idx(b, t - 1, i)] };
                        let dpre = match self.form {
                            StateForm::Rate => {
                                dr += (1.0 - a) * carry[i];
                                carry[i] = dr;
                                da[i] += dr * (phi(self.act, g * f.z[k]) - before(&f.r));
                                a * dphi(self.act, g * f.z[k]) * dr
                            }
                            StateForm::Voltage => {
                                let dx = dphi(self.act, f.x[k]) * dr + (1.0 - a) * carry[i];
                                carry[i] = dx;
                                da[i] += dx * (g * f.z[k] - before(&f.x));
                                a * dx
                            }
                        };
                        dz[i] = g * dpre;
                        dd[k] = dz[i];
                        dg[b * n + i] += dpre * f.z[k];
                    }
                    if t > 0 {
                        for i in 0..n {
                            for j in 0..n {
                                dw[(b * n + i) * n + j] += dz[i] * f.r[self.idx(b, t - 1, j)];
                            }
                        }
                    }
                    dz_next = dz;
                }
            }
            (dd, dw, dg, da)
        }
    }

    /// Random problem with gain in [0.5,1.5], alpha in [0.1,0.9].
    struct Case {
        d: ScanDims,
        act: Activation,
        form: StateForm,
        shared: bool,
        alpha: Vec<f32>,
        drive: Vec<f32>,
        w: Vec<f32>,
        gain: Vec<f32>,
        grad_rates: Vec<f32>,
    }

    impl Case {
        fn new(seed: u64, d: ScanDims, act: Activation, form: StateForm, shared: bool) -> Self {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let n = d.units;
            let scale = 1.5 / (n as f64).sqrt();
            let w_len = if shared { n * n } else { d.batch * n * n };
            Case {
                d,
                act,
                form,
                shared,
                alpha: rng.vec(n, 0.1, 0.9),
                drive: rng.vec(d.btn(), -1.0, 1.5),
                w: rng.vec(w_len, -scale, scale),
                gain: rng.vec(d.batch * n, 0.5, 1.5),
                grad_rates: rng.vec(d.btn(), -1.0, 1.0),
            }
        }
        fn spec(&self, threads: usize) -> ScanSpec<'_> {
            ScanSpec { dims: self.d, alpha: &self.alpha, activation: self.act, form: self.form, threads }
        }
        fn w(&self) -> Recurrent<'_> {
            if self.shared { Recurrent::Shared(&self.w) } else { Recurrent::PerTrial(&self.w) }
        }
        fn problem(&self) -> Problem {
            let f = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
            let n = self.d.units;
            let w = if self.shared { (0..self.d.batch).flat_map(|_| self.w.iter()).map(|&x| f64::from(x)).collect() } else { f(&self.w) };
            assert_eq!(w.len(), self.d.batch * n * n);
            Problem { d: self.d, act: self.act, form: self.form, alpha: f(&self.alpha), drive: f(&self.drive), w, gain: f(&self.gain) }
        }
        fn run(&self, threads: usize) -> (Vec<f32>, ScanGrads) {
            let spec = self.spec(threads);
            let cache = scan_forward(&spec, self.drive.clone(), self.w(), &self.gain);
            let g = scan_backward(&spec, self.w(), &self.gain, &cache, self.grad_rates.clone(), true);
            (cache.rates, g)
        }
    }

    fn assert_close(what: &str, got: &[f32], want: &[f64], rel: f64) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-3);
        for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
            let err = (f64::from(g) - w).abs();
            assert!(err <= rel * (w.abs() + scale), "{what}[{k}]: got {g}, want {w} (err {err:.3e}, scale {scale:.3e})");
        }
    }

    fn all_cases(d: ScanDims, seed: u64) -> Vec<Case> {
        let mut cases = Vec::new();
        for (ai, &act) in ACTS.iter().enumerate() {
            for (fi, &form) in FORMS.iter().enumerate() {
                for shared in [true, false] {
                    let s = seed + (ai * 4 + fi * 2 + usize::from(shared)) as u64;
                    cases.push(Case::new(s, d, act, form, shared));
                }
            }
        }
        cases
    }

    const SMALL: [ScanDims; 3] = [
        ScanDims { batch: 3, steps: 7, units: 5 },
        ScanDims { batch: 5, steps: 4, units: 9 },
        // More than one block of trials, and units past gemm's tiny-matrix path.
        ScanDims { batch: 21, steps: 6, units: 40 },
    ];

    #[test]
    fn forward_matches_reference() {
        for (si, &d) in SMALL.iter().enumerate() {
            for c in all_cases(d, 100 * si as u64) {
                let p = c.problem();
                let f = p.forward();
                let spec = c.spec(2);
                let cache = scan_forward(&spec, c.drive.clone(), c.w(), &c.gain);
                let r = &cache.rates;
                let tag = format!("{:?} {:?} shared={} {:?}", c.act, c.form, c.shared, d);
                assert_close(&format!("rates {tag}"), r, &f.r, 1e-4);
                assert_close(&format!("z {tag}"), &cache.z, &f.z, 1e-4);
                if c.form == StateForm::Voltage {
                    assert_close(&format!("x {tag}"), &cache.x, &f.x, 1e-4);
                }
            }
        }
    }

    #[test]
    fn backward_matches_reference() {
        for (si, &d) in SMALL.iter().enumerate() {
            for c in all_cases(d, 1000 + 100 * si as u64) {
                let p = c.problem();
                let f = p.forward();
                let gr: Vec<f64> = c.grad_rates.iter().map(|&x| f64::from(x)).collect();
                let (dd, dw, dg, da) = p.backward(&f, &gr);
                let (_, g) = c.run(2);
                let tag = format!("{:?} {:?} shared={} {:?}", c.act, c.form, c.shared, d);
                assert_close(&format!("d drive {tag}"), &g.drive, &dd, 1e-4);
                assert_close(&format!("d gain {tag}"), &g.gain, &dg, 1e-4);
                assert_close(&format!("d alpha {tag}"), g.alpha.as_deref().expect("asked for"), &da, 1e-4);
                let n = d.units;
                let dw = if c.shared {
                    // Sum the reference's per-trial gradients over the batch.
                    (0..n * n).map(|k| (0..d.batch).map(|b| dw[b * n * n + k]).sum()).collect()
                } else {
                    dw
                };
                assert_close(&format!("dW {tag}"), &g.w, &dw, 1e-4);
            }
        }
    }

    /// Trusts the reference backward: central differences of
    /// L = Σ grad_rates ⊙ r in f64 against the reference gradients.
    #[test]
    fn reference_backward_matches_finite_differences() {
        let d = ScanDims { batch: 2, steps: 5, units: 4 };
        for c in all_cases(d, 7) {
            let mut p = c.problem();
            let gr: Vec<f64> = c.grad_rates.iter().map(|&x| f64::from(x)).collect();
            let f = p.forward();
            let (dd, dw, dg, da) = p.backward(&f, &gr);
            let loss = |p: &Problem| -> f64 { p.forward().r.iter().zip(&gr).map(|(r, g)| r * g).sum() };
            let eps = 1e-6;
            let mut check = |name: &str, get: fn(&mut Problem) -> &mut Vec<f64>, analytic: &[f64]| {
                for k in 0..analytic.len() {
                    let orig = get(&mut p)[k];
                    get(&mut p)[k] = orig + eps;
                    let lp = loss(&p);
                    get(&mut p)[k] = orig - eps;
                    let lm = loss(&p);
                    get(&mut p)[k] = orig;
                    let fd = (lp - lm) / (2.0 * eps);
                    assert!(
                        (fd - analytic[k]).abs() <= 1e-6 * (1.0 + fd.abs()),
                        "{name}[{k}] {:?} {:?}: fd {fd} vs analytic {}",
                        c.act,
                        c.form,
                        analytic[k]
                    );
                }
            };
            check("drive", |p| &mut p.drive, &dd);
            check("w", |p| &mut p.w, &dw);
            check("gain", |p| &mut p.gain, &dg);
            check("alpha", |p| &mut p.alpha, &da);
        }
    }

    #[test]
    fn bit_identical_across_thread_counts() {
        let dims = [
            ScanDims { batch: 37, steps: 9, units: 33 },
            ScanDims { batch: 50, steps: 5, units: 70 },
            ScanDims { batch: 3, steps: 7, units: 5 },
        ];
        for (di, &d) in dims.iter().enumerate() {
            for c in all_cases(d, 5000 + di as u64) {
                let (r1, g1) = c.run(1);
                for threads in [2, 3, 8, 0] {
                    let (r, g) = c.run(threads);
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    let tag = format!("{:?} {:?} shared={} threads={threads}", c.act, c.form, c.shared);
                    assert_eq!(bits(&r), bits(&r1), "rates {tag}");
                    assert_eq!(bits(&g.drive), bits(&g1.drive), "d drive {tag}");
                    assert_eq!(bits(&g.w), bits(&g1.w), "dW {tag}");
                    assert_eq!(bits(&g.gain), bits(&g1.gain), "d gain {tag}");
                    assert_eq!(g.alpha.as_deref().map(bits), g1.alpha.as_deref().map(bits), "d alpha {tag}");
                }
            }
        }
    }

    #[test]
    fn single_step_and_single_trial() {
        for d in [
            ScanDims { batch: 1, steps: 1, units: 3 },
            ScanDims { batch: 1, steps: 6, units: 1 },
            ScanDims { batch: 4, steps: 1, units: 6 },
        ] {
            for c in all_cases(d, 9) {
                let p = c.problem();
                let f = p.forward();
                let gr: Vec<f64> = c.grad_rates.iter().map(|&x| f64::from(x)).collect();
                let (dd, _, dg, _) = p.backward(&f, &gr);
                let (r, g) = c.run(3);
                assert_close("rates", &r, &f.r, 1e-4);
                assert_close("d drive", &g.drive, &dd, 1e-4);
                assert_close("d gain", &g.gain, &dg, 1e-4);
                assert!(g.w.iter().all(|v| v.is_finite()));
            }
        }
    }

    #[test]
    fn empty_dims_do_not_panic() {
        for d in [ScanDims { batch: 0, steps: 4, units: 3 }, ScanDims { batch: 2, steps: 0, units: 3 }] {
            let c = Case::new(1, d, Activation::Relu, StateForm::Rate, true);
            let (r, g) = c.run(2);
            assert!(r.is_empty() && g.drive.is_empty());
            assert_eq!(g.w.len(), 9);
            assert_eq!(g.gain.len(), d.batch * 3);
        }
    }
}
