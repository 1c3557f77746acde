//! Principal component analysis of hidden states (docs/MODEL.md §4C), in plain Rust.
//!
//! The covariance is accumulated in chunks ([`Covariance::add_rows`]) so a caller never needs all
//! states in one buffer, with the cross products done by `gemm` (the slow part: rows × N² work;
//! 20 tasks × 64 trials × 150 steps × N = 256 is 12.6 G multiply-adds). The symmetric N × N
//! eigen-problem is solved by Householder tridiagonalisation followed by the implicit QL
//! algorithm with Wilkinson shifts: O(N³) with a small constant (~0.1 s for N = 256),
//! where cyclic Jacobi would take several times longer.
//!
//! Numerics: rows are shifted by a fixed reference (the mean of the first chunk) before their
//! products are summed in f32 by gemm and accumulated per chunk in f64. Relu rates have a mean
//! that can be large next to their spread, and E[xxᵀ] − mmᵀ in f32 would cancel catastrophically;
//! with the shift the two terms are of the size of the covariance itself.
//!
//! ```
//! use modulab::analysis::pca::Covariance;
//! // points on the line y = 2x: one component carries everything
//! let mut cov = Covariance::new(2);
//! cov.add_rows(&[0.0, 0.0, 1.0, 2.0, 2.0, 4.0, 3.0, 6.0]);
//! let pca = cov.fit(1).unwrap();
//! assert!((pca.explained_variance_ratio()[0] - 1.0).abs() < 1e-9);
//! assert!((pca.participation_ratio() - 1.0).abs() < 1e-9);
//! ```

/// Why a fit failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PcaError {
    #[error("PCA needs at least 2 samples, got {0}")]
    TooFewSamples(u64),
    #[error("the data contain a NaN or an infinite value")]
    NotFinite,
    #[error("the eigenvalue iteration did not converge")]
    NoConvergence,
}

/// Rows added to the covariance per gemm call (bounds each thread's scratch buffer: rows × N).
/// Small enough that one task's probe trials (16 × ~150 steps) make several chunks to share out.
const CHUNK_ROWS: usize = 1024;
/// Threads that multiply chunks at once.
pub const MAX_THREADS: usize = 4;

/// One chunk's Σ(x − shift) and Σ(x − shift)(x − shift)ᵀ.
struct ChunkProducts {
    rows: usize,
    sum: Vec<f64>,
    product: Vec<f32>,
}

/// Column blocks of the cross product: only the blocks on and below the diagonal are multiplied
/// (the product is symmetric), 10 of 16 at 4 blocks: 37 % less work than the full product.
const SYMMETRY_BLOCKS: usize = 4;

/// The sums of one chunk of rows, shifted by `shift`.
fn chunk_products(chunk: &[f32], shift: &[f32]) -> ChunkProducts {
    chunk_products_blocked(chunk, shift, if shift.len() >= 64 { SYMMETRY_BLOCKS } else { 1 })
}

fn chunk_products_blocked(chunk: &[f32], shift: &[f32], blocks: usize) -> ChunkProducts {
    let n = shift.len();
    let rows = chunk.len() / n;
    let mut shifted = Vec::with_capacity(chunk.len());
    for row in chunk.chunks_exact(n) {
        shifted.extend(row.iter().zip(shift).map(|(x, s)| x - s));
    }
    let mut sum = vec![0.0f64; n];
    for row in shifted.chunks_exact(n) {
        sum.iter_mut().zip(row).for_each(|(s, x)| *s += *x as f64);
    }
    let mut product = vec![0.0f32; n * n];
    let size = n.div_ceil(blocks.max(1));
    let ranges: Vec<(usize, usize)> = (0..n).step_by(size).map(|lo| (lo, (lo + size).min(n))).collect();
    for (bi, &(i0, i1)) in ranges.iter().enumerate() {
        for &(j0, j1) in &ranges[..=bi] {
            // product[i0..i1, j0..j1] = shifted[:, i0..i1]ᵀ · shifted[:, j0..j1]
            // SAFETY: shifted holds rows × n values and product n × n; the block's rows i0..i1
            // and columns j0..j1 lie inside both, read through shifted transposed (element
            // (i, r) at r·n + i0 + i) and written row-major with row stride n.
            unsafe {
                crate::model::scan::matmul(
                    i1 - i0,
                    j1 - j0,
                    rows,
                    product.as_mut_ptr().add(i0 * n + j0),
                    n,
                    false,
                    shifted.as_ptr().add(i0),
                    1,
                    n,
                    shifted.as_ptr().add(j0),
                    n,
                    1,
                    1.0,
                );
            }
        }
    }
    // mirror the blocks below the diagonal into the ones above it
    for i in 0..n {
        for j in 0..i {
            product[j * n + i] = product[i * n + j];
        }
    }
    ChunkProducts { rows, sum, product }
}

/// A running mean and covariance of N-dimensional rows.
#[derive(Clone, Debug)]
pub struct Covariance {
    n: usize,
    count: u64,
    /// The reference every row is shifted by (the mean of the first chunk).
    shift: Option<Vec<f32>>,
    /// Σ (x − shift), f64 [N]
    sum: Vec<f64>,
    /// Σ (x − shift)(x − shift)ᵀ, f64 [N, N] row-major
    cross: Vec<f64>,
}

impl Covariance {
    pub fn new(n: usize) -> Self {
        Self { n, count: 0, shift: None, sum: vec![0.0; n], cross: vec![0.0; n * n] }
    }

    pub fn dim(&self) -> usize {
        self.n
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Add rows (row-major, `data.len()` a multiple of N).
    ///
    /// Chunks of rows are multiplied on up to [`MAX_THREADS`] scoped threads at once, each with
    /// single-threaded gemm, and their products are added in chunk order: the result is the
    /// same bits whatever the number of cores or the machine's load (determinism).
    #[allow(clippy::expect_used, reason = "a panic in a covariance thread is passed on")]
    pub fn add_rows(&mut self, data: &[f32]) {
        let n = self.n;
        assert!(n > 0 && data.len().is_multiple_of(n), "add_rows: data must be whole rows of {n}");
        let chunks: Vec<&[f32]> = data.chunks(CHUNK_ROWS * n).collect();
        let Some(first) = chunks.first() else { return };
        let shift = self
            .shift
            .get_or_insert_with(|| {
                let rows = first.len() / n;
                let mut mean = vec![0.0f64; n];
                for row in first.chunks_exact(n) {
                    mean.iter_mut().zip(row).for_each(|(m, x)| *m += *x as f64);
                }
                mean.iter().map(|m| (m / rows as f64) as f32).collect()
            })
            .clone();
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get()).clamp(1, MAX_THREADS);
        for group in chunks.chunks(threads) {
            let parts: Vec<ChunkProducts> = if group.len() == 1 {
                vec![chunk_products(group[0], &shift)]
            } else {
                std::thread::scope(|scope| {
                    let handles: Vec<_> = group.iter().map(|chunk| scope.spawn(|| chunk_products(chunk, &shift))).collect();
                    handles.into_iter().map(|h| h.join().expect("a covariance thread panicked")).collect()
                })
            };
            for part in parts {
                self.sum.iter_mut().zip(&part.sum).for_each(|(s, x)| *s += x);
                self.cross.iter_mut().zip(&part.product).for_each(|(c, p)| *c += *p as f64);
                self.count += part.rows as u64;
            }
        }
    }

    /// The mean of all rows.
    pub fn mean(&self) -> Vec<f64> {
        let count = self.count.max(1) as f64;
        let shift = self.shift.as_deref().unwrap_or(&[]);
        (0..self.n).map(|i| self.sum[i] / count + shift.get(i).copied().unwrap_or(0.0) as f64).collect()
    }

    /// The covariance matrix (divided by count − 1), [N, N] row-major, symmetric.
    pub fn matrix(&self) -> Result<Vec<f64>, PcaError> {
        if self.count < 2 {
            return Err(PcaError::TooFewSamples(self.count));
        }
        let n = self.n;
        let count = self.count as f64;
        let mut c = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                // average the two halves so the result is exactly symmetric
                let cross = 0.5 * (self.cross[i * n + j] + self.cross[j * n + i]);
                let v = (cross - self.sum[i] * self.sum[j] / count) / (count - 1.0);
                c[i * n + j] = v;
                c[j * n + i] = v;
            }
        }
        if c.iter().any(|v| !v.is_finite()) {
            return Err(PcaError::NotFinite);
        }
        Ok(c)
    }

    /// Fit PCA and keep the first `components` principal axes.
    pub fn fit(&self, components: usize) -> Result<Pca, PcaError> {
        let n = self.n;
        let (values, vectors) = symmetric_eigen(self.matrix()?, n)?;
        let k = components.min(n);
        // vectors are columns of the [N, N] matrix; store the first k as rows
        let axes = (0..k).flat_map(|c| (0..n).map(move |r| (r, c))).map(|(r, c)| vectors[r * n + c]).collect();
        Ok(Pca { mean: self.mean(), axes, n, k, eigenvalues: values.into_iter().map(|v| v.max(0.0)).collect() })
    }
}

/// A fitted PCA: the mean, the first k principal axes and the whole spectrum.
#[derive(Clone, Debug, PartialEq)]
pub struct Pca {
    mean: Vec<f64>,
    /// [k, N] row-major: axis i is row i, unit length
    axes: Vec<f64>,
    n: usize,
    k: usize,
    /// Every eigenvalue of the covariance, largest first (tiny negative round-off clamped to 0).
    eigenvalues: Vec<f64>,
}

impl Pca {
    /// Fit on row-major data [rows, n] (convenience for data already in one buffer).
    pub fn fit(data: &[f32], n: usize, components: usize) -> Result<Pca, PcaError> {
        let mut cov = Covariance::new(n);
        cov.add_rows(data);
        cov.fit(components)
    }

    pub fn n_components(&self) -> usize {
        self.k
    }

    pub fn dim(&self) -> usize {
        self.n
    }

    /// Principal axis `i` (unit length, N values).
    pub fn axis(&self, i: usize) -> &[f64] {
        &self.axes[i * self.n..(i + 1) * self.n]
    }

    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Variances along every principal axis (the covariance's eigenvalues), largest first.
    pub fn eigenvalues(&self) -> &[f64] {
        &self.eigenvalues
    }

    /// The fraction of the total variance along each axis, over the whole spectrum (sums to 1;
    /// all zeros for data without variance).
    pub fn explained_variance_ratio(&self) -> Vec<f64> {
        let total: f64 = self.eigenvalues.iter().sum();
        if total <= 0.0 {
            return vec![0.0; self.eigenvalues.len()];
        }
        self.eigenvalues.iter().map(|v| v / total).collect()
    }

    /// (Σλ)² / Σλ²: how many dimensions the activity effectively spans.
    pub fn participation_ratio(&self) -> f64 {
        participation_ratio(&self.eigenvalues)
    }

    /// Coordinates of every row of `data` [rows, N] on the k axes: [rows, k] row-major.
    pub fn project(&self, data: &[f32]) -> Vec<f32> {
        let (n, k) = (self.n, self.k);
        assert!(data.len().is_multiple_of(n), "project: data must be whole rows of {n}");
        let mut out = Vec::with_capacity(data.len() / n * k);
        let mut centred = vec![0.0f64; n];
        for row in data.chunks_exact(n) {
            centred.iter_mut().zip(row).zip(&self.mean).for_each(|((c, x), m)| *c = *x as f64 - m);
            for axis in self.axes.chunks_exact(n) {
                out.push(axis.iter().zip(&centred).map(|(a, c)| a * c).sum::<f64>() as f32);
            }
        }
        out
    }
}

/// (Σλ)² / Σλ² (0 for an all-zero spectrum). Between 1 (one dimension) and the number of
/// non-zero eigenvalues (all equal).
pub fn participation_ratio(eigenvalues: &[f64]) -> f64 {
    let sum: f64 = eigenvalues.iter().sum();
    let sum_sq: f64 = eigenvalues.iter().map(|v| v * v).sum();
    if sum_sq <= 0.0 { 0.0 } else { sum * sum / sum_sq }
}

/// Eigenvalues (descending) and eigenvectors (columns of an [N, N] row-major matrix) of the
/// symmetric matrix `a` [N, N] row-major.
pub fn symmetric_eigen(mut a: Vec<f64>, n: usize) -> Result<(Vec<f64>, Vec<f64>), PcaError> {
    assert_eq!(a.len(), n * n, "symmetric_eigen: a must be [n, n]");
    if a.iter().any(|v| !v.is_finite()) {
        return Err(PcaError::NotFinite);
    }
    let (mut d, mut e, q) = tridiagonalise(&mut a, n);
    // the QL rotations mix two eigenvector columns at a time: work on Qᵀ so that they touch
    // two contiguous rows instead (several times faster at N = 256)
    let mut vt = transpose(&q, n);
    tridiagonal_ql(&mut d, &mut e, &mut vt, n)?;
    // sort descending, moving the eigenvector columns along
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| d[j].total_cmp(&d[i]));
    let values = order.iter().map(|&i| d[i]).collect();
    let mut vectors = vec![0.0; n * n];
    for (new, &old) in order.iter().enumerate() {
        for r in 0..n {
            vectors[r * n + new] = vt[old * n + r];
        }
    }
    Ok((values, vectors))
}

fn transpose(m: &[f64], n: usize) -> Vec<f64> {
    (0..n * n).map(|idx| m[(idx % n) * n + idx / n]).collect()
}

/// Householder reduction A = Q T Qᵀ. Returns T's diagonal d [N], its sub-diagonal e [N]
/// (e[i] couples i and i + 1; e[N−1] = 0) and Q [N, N] row-major. `a` is overwritten.
fn tridiagonalise(a: &mut [f64], n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut q = vec![0.0; n * n];
    (0..n).for_each(|i| q[i * n + i] = 1.0);
    let mut v = vec![0.0; n];
    let mut p = vec![0.0; n];
    for k in 0..n.saturating_sub(2) {
        // the reflector H = I − 2vvᵀ (v on rows k+1..n) zeroes column k below its sub-diagonal
        let lo = k + 1;
        let norm = (lo..n).map(|i| a[i * n + k] * a[i * n + k]).sum::<f64>().sqrt();
        if norm == 0.0 {
            continue;
        }
        let x0 = a[lo * n + k];
        let alpha = if x0 > 0.0 { -norm } else { norm };
        for i in lo..n {
            v[i] = a[i * n + k];
        }
        v[lo] -= alpha;
        let v_norm = (lo..n).map(|i| v[i] * v[i]).sum::<f64>().sqrt();
        if v_norm == 0.0 {
            continue;
        }
        (lo..n).for_each(|i| v[i] /= v_norm);
        // A' = HAH on the trailing block: with p = Av, K = vᵀp, w = p − Kv:
        // A' = A − 2(vwᵀ + wvᵀ)
        for i in lo..n {
            p[i] = (lo..n).map(|j| a[i * n + j] * v[j]).sum();
        }
        let kk: f64 = (lo..n).map(|i| v[i] * p[i]).sum();
        for i in lo..n {
            p[i] -= kk * v[i];
        }
        for i in lo..n {
            for j in lo..n {
                a[i * n + j] -= 2.0 * (v[i] * p[j] + p[i] * v[j]);
            }
        }
        // column and row k: only the sub-diagonal entry survives
        for i in lo..n {
            a[i * n + k] = 0.0;
            a[k * n + i] = 0.0;
        }
        a[lo * n + k] = alpha;
        a[k * n + lo] = alpha;
        // Q ← Q H
        for r in 0..n {
            let dot: f64 = (lo..n).map(|j| q[r * n + j] * v[j]).sum();
            for j in lo..n {
                q[r * n + j] -= 2.0 * dot * v[j];
            }
        }
    }
    let d = (0..n).map(|i| a[i * n + i]).collect();
    let e = (0..n).map(|i| if i + 1 < n { a[(i + 1) * n + i] } else { 0.0 }).collect();
    (d, e, q)
}

/// Eigen-decomposition of a symmetric tridiagonal matrix (diagonal d, sub-diagonal e) by the
/// implicit QL method with Wilkinson shifts. On return d holds the eigenvalues and the rows of
/// `zt` (which came in as Qᵀ) the eigenvectors of Q T Qᵀ.
fn tridiagonal_ql(d: &mut [f64], e: &mut [f64], zt: &mut [f64], n: usize) -> Result<(), PcaError> {
    const MAX_ITERATIONS: usize = 60;
    // An off-diagonal element is negligible when it is below ε‖T‖. A test relative to its two
    // diagonal neighbours only never fires between two (nearly) zero entries, which silent units
    // produce; the absolute test keeps every eigenvalue accurate to ε‖T‖, all a symmetric
    // eigen-solver promises anyway.
    let norm = (0..n).map(|i| d[i].abs() + if i + 1 < n { e[i].abs() } else { 0.0 }).fold(0.0f64, f64::max);
    for l in 0..n {
        let mut iterations = 0;
        loop {
            // find a negligible off-diagonal element: the block l..=m splits off
            let mut m = l;
            while m + 1 < n {
                if e[m].abs() <= f64::EPSILON * norm {
                    break;
                }
                m += 1;
            }
            if m == l {
                break;
            }
            iterations += 1;
            if iterations > MAX_ITERATIONS {
                return Err(PcaError::NoConvergence);
            }
            // Wilkinson shift from the leading 2×2 block
            let mut g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            let mut r = g.hypot(1.0);
            g = d[m] - d[l] + e[l] / (g + r.copysign(g));
            let (mut s, mut c, mut p) = (1.0f64, 1.0f64, 0.0f64);
            let mut underflow = false;
            // chase the bulge from m − 1 up to l with Givens rotations
            let mut i = m;
            while i > l {
                i -= 1;
                let f = s * e[i];
                let b = c * e[i];
                r = f.hypot(g);
                e[i + 1] = r;
                if r == 0.0 {
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    underflow = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2.0 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
                let (head, tail) = zt.split_at_mut((i + 1) * n);
                let (row_i, row_i1) = (&mut head[i * n..], &mut tail[..n]);
                for (zi, zi1) in row_i.iter_mut().zip(row_i1.iter_mut()) {
                    let (a, b) = (*zi, *zi1);
                    *zi1 = s * a + c * b;
                    *zi = c * a - s * b;
                }
            }
            if underflow {
                continue;
            }
            d[l] -= p;
            e[l] = g;
            e[m] = 0.0;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// Rows of independent normals with standard deviations `sd`, rotated by a random orthogonal
    /// matrix when `rotate` is given; returns the data and the rotation's columns.
    fn gaussian_data(rows: usize, sd: &[f64], rotation: Option<&[f64]>, rng: &mut Rng) -> Vec<f32> {
        let n = sd.len();
        let mut out = Vec::with_capacity(rows * n);
        for _ in 0..rows {
            let z: Vec<f64> = sd.iter().map(|s| s * rng.normal() + 3.0).collect();
            match rotation {
                // x = R z
                Some(r) => out.extend((0..n).map(|i| (0..n).map(|j| r[i * n + j] * z[j]).sum::<f64>() as f32)),
                None => out.extend(z.iter().map(|v| *v as f32)),
            }
        }
        out
    }

    /// A random orthogonal matrix (Gram–Schmidt on normal columns), row-major.
    fn random_rotation(n: usize, rng: &mut Rng) -> Vec<f64> {
        let mut cols: Vec<Vec<f64>> = Vec::new();
        while cols.len() < n {
            let mut v: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
            for c in &cols {
                let dot: f64 = c.iter().zip(&v).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(c).for_each(|(x, c)| *x -= dot * c);
            }
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            v.iter_mut().for_each(|x| *x /= norm);
            cols.push(v);
        }
        (0..n * n).map(|idx| cols[idx % n][idx / n]).collect()
    }

    #[test]
    fn eigen_decomposition_reconstructs_a_random_symmetric_matrix() {
        let mut rng = Rng::seed_from(7);
        for n in [1, 2, 3, 10, 40] {
            let mut a = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..=i {
                    let v = rng.normal();
                    a[i * n + j] = v;
                    a[j * n + i] = v;
                }
            }
            let (values, vectors) = symmetric_eigen(a.clone(), n).expect("converges");
            assert!(values.windows(2).all(|w| w[0] >= w[1]), "sorted descending");
            // A v_c = λ_c v_c and VᵀV = I
            for c in 0..n {
                for r in 0..n {
                    let av: f64 = (0..n).map(|j| a[r * n + j] * vectors[j * n + c]).sum();
                    assert!((av - values[c] * vectors[r * n + c]).abs() < 1e-9, "n {n} column {c}");
                }
                for c2 in 0..n {
                    let dot: f64 = (0..n).map(|r| vectors[r * n + c] * vectors[r * n + c2]).sum();
                    assert!((dot - if c == c2 { 1.0 } else { 0.0 }).abs() < 1e-9);
                }
            }
        }
    }

    #[test]
    fn ratios_sum_to_one_and_are_sorted() {
        let mut rng = Rng::seed_from(1);
        let sd = [3.0, 0.5, 2.0, 1.0, 0.1, 1.5];
        let data = gaussian_data(2000, &sd, None, &mut rng);
        let pca = Pca::fit(&data, sd.len(), 3).expect("fit");
        let ratios = pca.explained_variance_ratio();
        assert_eq!(ratios.len(), 6);
        assert!((ratios.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(ratios.windows(2).all(|w| w[0] >= w[1]));
        // largest variance 9 of a total 9 + 0.25 + 4 + 1 + 0.01 + 2.25 = 16.51, within sampling error
        assert!((ratios[0] - 9.0 / 16.51).abs() < 0.05, "{ratios:?}");
        assert_eq!(pca.project(&data).len(), 2000 * 3);
    }

    #[test]
    fn variance_explained_is_invariant_under_rotation() {
        let mut rng = Rng::seed_from(2);
        let sd = [2.0, 1.0, 0.7, 0.3, 0.2];
        let plain = gaussian_data(1000, &sd, None, &mut Rng::seed_from(3));
        let rotation = random_rotation(sd.len(), &mut rng);
        let rotated = gaussian_data(1000, &sd, Some(&rotation), &mut Rng::seed_from(3));
        let a = Pca::fit(&plain, 5, 5).expect("fit");
        let b = Pca::fit(&rotated, 5, 5).expect("fit");
        // the same samples in rotated coordinates: the same spectrum (up to f32 storage)
        for (x, y) in a.explained_variance_ratio().iter().zip(b.explained_variance_ratio()) {
            assert!((x - y).abs() < 1e-5, "{x} vs {y}");
        }
        assert!((a.participation_ratio() - b.participation_ratio()).abs() < 1e-4);
        // and the projections agree up to the sign of each axis
        let (pa, pb) = (a.project(&plain), b.project(&rotated));
        for c in 0..5 {
            let sign = (0..1000).map(|r| pa[r * 5 + c] * pb[r * 5 + c]).sum::<f32>().signum();
            for r in 0..1000 {
                assert!((pa[r * 5 + c] - sign * pb[r * 5 + c]).abs() < 1e-3);
            }
        }
    }

    #[test]
    fn participation_ratio_of_known_spectra() {
        // one non-zero eigenvalue: 1; k equal ones: k; (1, 1, 2): 4² / (1 + 1 + 4) = 16/6
        assert_eq!(participation_ratio(&[5.0, 0.0, 0.0]), 1.0);
        assert!((participation_ratio(&[2.0; 7]) - 7.0).abs() < 1e-12);
        assert!((participation_ratio(&[1.0, 1.0, 2.0]) - 16.0 / 6.0).abs() < 1e-12);
        assert_eq!(participation_ratio(&[0.0, 0.0]), 0.0);
        // a diagonal covariance has exactly its diagonal as spectrum
        let mut cov = Covariance::new(3);
        // rows ±(1, 0, 0), ±(0, 1, 0), ±(0, 0, 2) → variances (2/5, 2/5, 8/5) with n − 1 = 5
        cov.add_rows(&[1., 0., 0., -1., 0., 0., 0., 1., 0., 0., -1., 0., 0., 0., 2., 0., 0., -2.]);
        let pca = cov.fit(3).expect("fit");
        let expected = [1.6, 0.4, 0.4];
        for (v, e) in pca.eigenvalues().iter().zip(expected) {
            assert!((v - e).abs() < 1e-9, "{:?}", pca.eigenvalues());
        }
        assert!((pca.participation_ratio() - 2.4 * 2.4 / (1.6 * 1.6 + 0.32)).abs() < 1e-9);
    }

    #[test]
    fn recovers_a_known_principal_axis() {
        // variance 25 along u = (1, 2, 2)/3, 1 along the other directions, plus an offset
        let mut rng = Rng::seed_from(4);
        let u = [1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0];
        let mut data = Vec::new();
        for _ in 0..5000 {
            let t = 5.0 * rng.normal();
            for (i, ui) in u.iter().enumerate() {
                data.push((10.0 + i as f64 + t * ui + rng.normal()) as f32);
            }
        }
        let pca = Pca::fit(&data, 3, 1).expect("fit");
        let axis = pca.axis(0);
        let cosine: f64 = axis.iter().zip(u).map(|(a, b)| a * b).sum();
        assert!(cosine.abs() > 0.999, "axis {axis:?}");
        assert!((pca.mean()[1] - 11.0).abs() < 0.2);
        // chunked accumulation gives the same fit as one buffer
        let mut cov = Covariance::new(3);
        for part in data.chunks(3 * 777) {
            cov.add_rows(part);
        }
        let chunked = cov.fit(1).expect("fit");
        for (a, b) in chunked.eigenvalues().iter().zip(pca.eigenvalues()) {
            assert!((a - b).abs() < 1e-3 * b.abs().max(1.0));
        }
    }

    #[test]
    fn degenerate_input_is_an_error_not_a_panic() {
        assert_eq!(Pca::fit(&[1.0, 2.0], 2, 1).unwrap_err(), PcaError::TooFewSamples(1));
        assert_eq!(Pca::fit(&[1.0, f32::NAN, 2.0, 3.0], 2, 1).unwrap_err(), PcaError::NotFinite);
        // constant data: no variance, ratios all zero
        let pca = Pca::fit(&[1.0, 1.0, 1.0, 1.0, 1.0, 1.0], 2, 2).expect("fit");
        assert_eq!(pca.explained_variance_ratio(), vec![0.0, 0.0]);
    }

    #[test]
    fn the_symmetric_blocks_give_the_full_product() {
        let (n, rows) = (70, 300);
        let mut rng = Rng::seed_from(8);
        let mut data = vec![0.0f32; rows * n];
        rng.fill_normal(&mut data, 1.0);
        data.iter_mut().for_each(|x| *x = x.max(0.0));
        let shift = vec![0.25f32; n];
        let full = chunk_products_blocked(&data, &shift, 1);
        for blocks in [2, 3, SYMMETRY_BLOCKS] {
            let blocked = chunk_products_blocked(&data, &shift, blocks);
            assert_eq!(blocked.sum, full.sum);
            for (a, b) in blocked.product.iter().zip(&full.product) {
                assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{blocks} blocks: {a} vs {b}");
            }
            // and against an f64 reference
            for (i, j) in [(0, 0), (69, 3), (5, 64), (40, 41)] {
                let exact: f64 = data.chunks_exact(n).map(|r| (r[i] - 0.25) as f64 * (r[j] - 0.25) as f64).sum();
                assert!((blocked.product[i * n + j] as f64 - exact).abs() < 1e-3 * (1.0 + exact.abs()));
            }
        }
    }

    /// The size the app fits live (and a later issue's 20 × 64 × 150): timing printed, bounded
    /// loosely so a loaded CI machine does not fail it.
    #[test]
    fn fits_20_tasks_of_hidden_states_quickly() {
        let (n, rows) = (256, 20 * 16 * 120);
        let mut rng = Rng::seed_from(5);
        let mut data = vec![0.0f32; rows * n];
        rng.fill_normal(&mut data, 1.0);
        data.iter_mut().for_each(|x| *x = x.max(0.0)); // relu-like
        let started = std::time::Instant::now();
        let mut cov = Covariance::new(n);
        cov.add_rows(&data);
        let pca = cov.fit(10).expect("fit");
        let secs = started.elapsed().as_secs_f64();
        eprintln!("PCA of {rows} × {n}: {secs:.3} s");
        assert!(secs < 5.0, "took {secs} s");
        assert!((pca.explained_variance_ratio().iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }
}
