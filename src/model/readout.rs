//! The readout `y = σ(W_out r + b_out)` (or linear) and the masked MSE loss, forward and
//! backward on plain host buffers, for the fused training step.
//!
//! Written with burn's operations, the readout and loss of a training step are a dozen
//! tensor ops on `[B, T, ·]` tensors, and the rates must first be copied from the scan's host
//! buffer into a burn tensor and their gradient read back. Here the rates never leave the host:
//! the scan's output feeds the readout directly, and the readout's gradient feeds the scan's
//! backward directly.
//!
//! ```text
//! lin  = r W_outᵀ + b_out                     [B·T, n_out]
//! y    = σ(lin)  (ring encoding) or lin  (compact)
//! L    = mean((m ⊙ (y − ŷ))²)                 (masked_mse: the mask applied before squaring)
//! dL/dlin = 2 m² (y − ŷ) / count · σ'(lin)    (σ' = y (1 − y), or 1 when linear)
//! dL/dr = dL/dlin · W_out,  dL/dW_out = dL/dlinᵀ r,  dL/db_out = Σ_rows dL/dlin
//! ```
//!
//! Like the scan, the work is cut into blocks of trials whose size depends only on the batch
//! size; block partial sums are reduced in block order, so the results are bit-identical for
//! every thread count.

use super::scan::{ScanDims, block_trials, matmul, run_blocks, thread_count};

/// The readout's weights and the loss's data.
#[derive(Clone, Copy, Debug)]
pub struct ReadoutSpec<'a> {
    /// `B`, `T`, `N`.
    pub dims: ScanDims,
    pub n_out: usize,
    /// `W_out`, `[n_out, N]` row-major.
    pub w_out: &'a [f32],
    /// `b_out`, `[n_out]`.
    pub b_out: &'a [f32],
    /// Sigmoid readout (ring encoding); linear otherwise.
    pub sigmoid: bool,
    /// Worker threads; `0` = all cores. Results are bit-identical for every value.
    pub threads: usize,
}

/// Gradients returned by [`loss_backward`].
#[derive(Clone, Debug)]
pub struct ReadoutGrads {
    /// `dL/dr`, `[B, T, N]`.
    pub rates: Vec<f32>,
    /// `dL/dW_out`, `[n_out, N]`.
    pub w_out: Vec<f32>,
    /// `dL/db_out`, `[n_out]`.
    pub b_out: Vec<f32>,
}

impl ReadoutSpec<'_> {
    fn check(&self, rates: &[f32]) {
        let d = self.dims;
        assert_eq!(rates.len(), d.batch * d.steps * d.units, "rates must be [B, T, N]");
        assert_eq!(self.w_out.len(), self.n_out * d.units, "W_out must be [n_out, N]");
        assert_eq!(self.b_out.len(), self.n_out, "b_out must be [n_out]");
    }

    /// Rows (trial, step pairs) per block, and the number of blocks.
    fn blocks(&self) -> (usize, usize) {
        let g = block_trials(self.dims.batch);
        (g * self.dims.steps, self.dims.batch.div_ceil(g))
    }
}

/// The loss `mean((m ⊙ (y − ŷ))²)` and `dL/dlin` (`[B, T, n_out]`), the only thing the backward
/// needs from the forward besides the rates. `targets` and `mask` are `[B, T, n_out]`.
pub fn loss_forward(spec: &ReadoutSpec, rates: &[f32], targets: &[f32], mask: &[f32]) -> (f32, Vec<f32>) {
    spec.check(rates);
    let d = spec.dims;
    let (n, n_out) = (d.units, spec.n_out);
    let len = d.batch * d.steps * n_out;
    assert_eq!(targets.len(), len, "targets must be [B, T, n_out]");
    assert_eq!(mask.len(), len, "mask must be [B, T, n_out]");
    let mut d_linear = vec![0.0f32; len];
    if len == 0 {
        return (f32::NAN, d_linear); // the mean of nothing, as burn's mean gives
    }
    let (rows, n_blocks) = spec.blocks();
    let mut partial = vec![0.0f64; n_blocks];
    // 2/count folded once: dL/dy = 2 m (m (y − ŷ)) / count.
    let scale = 2.0 / len as f32;
    let items: Vec<_> = d_linear
        .chunks_mut(rows * n_out)
        .zip(rates.chunks(rows * n))
        .zip(targets.chunks(rows * n_out).zip(mask.chunks(rows * n_out)))
        .zip(partial.iter_mut())
        .collect();
    run_blocks(items, thread_count(spec.threads), |(((lin, r), (target, mask)), sum)| {
        let m = r.len() / n;
        // lin = r · W_outᵀ (W_out read with swapped strides), then the rest element-wise.
        // SAFETY: r is [m, n], W_out is [n_out, n], lin is [m, n_out]; no aliasing.
        unsafe { matmul(m, n_out, n, lin.as_mut_ptr(), n_out, false, r.as_ptr(), n, 1, spec.w_out.as_ptr(), 1, n, 1.0) };
        let mut acc = 0.0f64;
        for ((row, t_row), m_row) in lin.chunks_mut(n_out).zip(target.chunks(n_out)).zip(mask.chunks(n_out)) {
            for o in 0..n_out {
                let l = row[o] + spec.b_out[o];
                let y = if spec.sigmoid { sigmoid(l) } else { l };
                let e = m_row[o] * (y - t_row[o]);
                acc += f64::from(e * e);
                let dy = scale * m_row[o] * e;
                row[o] = if spec.sigmoid { dy * y * (1.0 - y) } else { dy };
            }
        }
        *sum = acc;
    });
    // Block order, whatever thread computed each partial.
    let loss = partial.iter().sum::<f64>() / len as f64;
    (loss as f32, d_linear)
}

/// Backpropagates `upstream · dL` through the readout: `d_linear` as returned by
/// [`loss_forward`] for the same `rates`.
pub fn loss_backward(spec: &ReadoutSpec, rates: &[f32], d_linear: &[f32], upstream: f32) -> ReadoutGrads {
    spec.check(rates);
    let d = spec.dims;
    let (n, n_out) = (d.units, spec.n_out);
    assert_eq!(d_linear.len(), d.batch * d.steps * n_out, "d_linear must be [B, T, n_out]");
    let mut grad_rates = vec![0.0f32; rates.len()];
    let (rows, n_blocks) = spec.blocks();
    // One [n_out, N + 1] partial per block: dW_out, then db_out in the last column.
    let width = n + 1;
    let mut partials = vec![0.0f32; n_blocks.max(1) * n_out * width];
    if !rates.is_empty() {
        let items: Vec<_> = grad_rates
            .chunks_mut(rows * n)
            .zip(rates.chunks(rows * n))
            .zip(d_linear.chunks(rows * n_out))
            .zip(partials.chunks_mut(n_out * width))
            .collect();
        run_blocks(items, thread_count(spec.threads), |(((gr, r), dl), part)| {
            let m = r.len() / n;
            // SAFETY: every view below is inside its slice for these shapes; no aliasing.
            unsafe {
                // dL/dr = upstream · dL/dlin [m, n_out] · W_out [n_out, n]
                matmul(m, n, n_out, gr.as_mut_ptr(), n, false, dl.as_ptr(), n_out, 1, spec.w_out.as_ptr(), n, 1, upstream);
                // dW_out partial = upstream · dL/dlinᵀ [n_out, m] · r [m, n], row stride `width`
                matmul(n_out, n, m, part.as_mut_ptr(), width, false, dl.as_ptr(), 1, n_out, r.as_ptr(), n, 1, upstream);
            }
            for row in dl.chunks(n_out) {
                for (o, v) in row.iter().enumerate() {
                    part[o * width + n] += v;
                }
            }
            for o in 0..n_out {
                part[o * width + n] *= upstream;
            }
        });
    }
    // Sum the partials in block order (same bits for any thread count).
    let (acc, rest) = partials.split_at_mut(n_out * width);
    for part in rest.chunks(n_out * width) {
        acc.iter_mut().zip(part).for_each(|(a, p)| *a += p);
    }
    let mut w_out = Vec::with_capacity(n_out * n);
    let mut b_out = Vec::with_capacity(n_out);
    for row in acc.chunks(width) {
        w_out.extend_from_slice(&row[..n]);
        b_out.push(row[n]);
    }
    ReadoutGrads { rates: grad_rates, w_out, b_out }
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive f64 loss for the finite-difference check.
    fn loss64(spec: &ReadoutSpec, rates: &[f64], w: &[f64], b: &[f64], targets: &[f32], mask: &[f32]) -> f64 {
        let (n, n_out) = (spec.dims.units, spec.n_out);
        let rows = rates.len() / n;
        let mut sum = 0.0;
        for k in 0..rows {
            for o in 0..n_out {
                let mut l = b[o];
                for j in 0..n {
                    l += w[o * n + j] * rates[k * n + j];
                }
                let y = if spec.sigmoid { 1.0 / (1.0 + (-l).exp()) } else { l };
                let e = f64::from(mask[k * n_out + o]) * (y - f64::from(targets[k * n_out + o]));
                sum += e * e;
            }
        }
        sum / (rows * n_out) as f64
    }

    #[test]
    fn gradients_match_finite_differences_and_thread_counts_agree() {
        let mut rng = crate::rng::Rng::seed_from(4);
        for sigmoid in [true, false] {
            // 37 trials: several blocks and a short last one.
            let dims = ScanDims { batch: 37, steps: 3, units: 5 };
            let n_out = 3;
            let len = dims.batch * dims.steps;
            let mut fill = |k: usize, s: f32| {
                let mut v = vec![0.0f32; k];
                rng.fill_normal(&mut v, s);
                v
            };
            let (rates, w, b) = (fill(len * dims.units, 1.0), fill(n_out * dims.units, 0.5), fill(n_out, 0.5));
            let targets = fill(len * n_out, 0.5);
            let mask: Vec<f32> = fill(len * n_out, 1.0).iter().map(|x| x.abs()).collect();
            let spec = |threads| ReadoutSpec { dims, n_out, w_out: &w, b_out: &b, sigmoid, threads };
            let (loss, dl) = loss_forward(&spec(1), &rates, &targets, &mask);
            let g = loss_backward(&spec(1), &rates, &dl, 0.5);
            for threads in [2, 3, 0] {
                let (l2, dl2) = loss_forward(&spec(threads), &rates, &targets, &mask);
                let g2 = loss_backward(&spec(threads), &rates, &dl2, 0.5);
                assert_eq!(l2.to_bits(), loss.to_bits());
                assert_eq!((&g2.rates, &g2.w_out, &g2.b_out), (&g.rates, &g.w_out, &g.b_out));
            }
            let f = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
            let (r64, w64, b64) = (f(&rates), f(&w), f(&b));
            let want = loss64(&spec(1), &r64, &w64, &b64, &targets, &mask);
            assert!((f64::from(loss) - want).abs() < 1e-5 * want.abs().max(1.0), "loss {loss} vs {want}");
            let eps = 1e-6;
            let check = |name: &str, analytic: &[f32], which: usize| {
                for (k, &a) in analytic.iter().enumerate() {
                    let at = |delta: f64| {
                        let (mut r, mut w, mut b) = (r64.clone(), w64.clone(), b64.clone());
                        [&mut r, &mut w, &mut b][which][k] += delta;
                        loss64(&spec(1), &r, &w, &b, &targets, &mask)
                    };
                    let fd = 0.5 * (at(eps) - at(-eps)) / (2.0 * eps);
                    assert!((fd - f64::from(a)).abs() < 1e-4 * (1.0 + fd.abs()), "{name}[{k}] sigmoid={sigmoid}: fd {fd} vs {a}");
                }
            };
            check("rates", &g.rates, 0);
            check("w_out", &g.w_out, 1);
            check("b_out", &g.b_out, 2);
        }
    }
}
