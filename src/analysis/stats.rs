//! Statistics over seeds: the mean with its 95 % confidence interval (Student's t), paired
//! comparisons (the exact sign-flip permutation test, Student's paired t beside it, the effect
//! size and the smallest difference the sample could have detected), and Holm's correction for
//! a family of comparisons.
//!
//! Seeds are few (5 to 12), so intervals use the t distribution, not the normal one. Its
//! distribution function is the regularised incomplete beta function, evaluated by its continued
//! fraction (modified Lentz); the quantile is found by bisection on it. The p-value the study
//! reports is the sign-flip test's: exact over all 2ⁿ sign patterns, it makes no assumption of
//! normality, handles counts and ties (tasks held: many equal differences) and never claims
//! more than n seeds can show (with 5 seeds its smallest two-sided p is 2/32 = 0.0625).

/// Two-sided level of every interval and test.
pub const ALPHA: f64 = 0.05;

/// A sample's mean with its 95 % interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n − 1); 0 for a single value.
    pub sd: f64,
    /// The 95 % interval of the mean; NaN bounds when n < 2 (no spread to estimate).
    pub low: f64,
    pub high: f64,
}

impl Summary {
    /// `values` must be finite; an empty sample has a NaN mean.
    pub fn of(values: &[f64]) -> Summary {
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        if n < 2 {
            return Summary { n, mean, sd: 0.0, low: f64::NAN, high: f64::NAN };
        }
        let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        let half = t_quantile(n as f64 - 1.0) * sd / (n as f64).sqrt();
        Summary { n, mean, sd, low: mean - half, high: mean + half }
    }

    /// "0.62 ± 0.05" (the interval's half-width), or the bare mean for one value.
    pub fn text(&self, decimals: usize) -> String {
        if self.low.is_nan() {
            format!("{:.*}", decimals, self.mean)
        } else {
            format!("{:.*} ± {:.*}", decimals, self.mean, decimals, (self.high - self.low) / 2.0)
        }
    }

    /// A difference with its interval, signed: `+0.012 [-0.010, +0.034]`.
    pub fn difference_text(&self) -> String {
        format!("{:+.3} [{:+.3}, {:+.3}]", self.mean, self.low, self.high)
    }
}

/// A paired comparison of `a` against `b` (a[i] and b[i] from the same seed).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairedTest {
    pub n: usize,
    /// Mean of a − b, with its 95 % t-interval.
    pub diff: Summary,
    /// Two-sided p-value of the exact sign-flip permutation test ([`sign_flip_p`]): the one the
    /// study reports. 1 when every difference is 0, NaN when n < 2.
    pub p: f64,
    /// Student's paired t, its degrees of freedom and two-sided p, for comparison. With identical
    /// non-zero differences t is infinite and `p_t` 0, which says more than n seeds can: use `p`.
    pub t: f64,
    pub df: f64,
    pub p_t: f64,
    /// Cohen's d_z: the mean difference over the differences' standard deviation.
    pub dz: f64,
    /// The smallest true mean difference this many seeds would detect with 80 % power at the
    /// observed SD of the differences ([`detectable_difference`]); infinite where no outcome of n
    /// seeds can reach p < 0.05, NaN when n < 2.
    pub detectable: f64,
}

impl PairedTest {
    /// Panics if the samples differ in length (a caller's bug: pairs come from one table).
    pub fn of(a: &[f64], b: &[f64]) -> PairedTest {
        assert_eq!(a.len(), b.len(), "paired samples of different lengths");
        let d: Vec<f64> = a.iter().zip(b).map(|(a, b)| a - b).collect();
        let diff = Summary::of(&d);
        let n = d.len();
        let df = n as f64 - 1.0;
        if n < 2 {
            return PairedTest { n, diff, p: f64::NAN, t: f64::NAN, df, p_t: f64::NAN, dz: f64::NAN, detectable: f64::NAN };
        }
        let p = sign_flip_p(&d);
        let detectable = detectable_difference(n, diff.sd);
        if diff.sd == 0.0 {
            let (t, p_t) = if diff.mean == 0.0 { (0.0, 1.0) } else { (diff.mean.signum() * f64::INFINITY, 0.0) };
            return PairedTest { n, diff, p, t, df, p_t, dz: t, detectable };
        }
        let t = diff.mean / (diff.sd / (n as f64).sqrt());
        PairedTest { n, diff, p, t, df, p_t: t_two_sided_p(t, df), dz: diff.mean / diff.sd, detectable }
    }
}

/// Up to this many pairs the sign-flip test enumerates every sign pattern (2²⁰ ≈ 10⁶).
const EXACT_SIGN_FLIP_MAX: usize = 20;
/// Random sign patterns drawn beyond [`EXACT_SIGN_FLIP_MAX`] pairs.
const SIGN_FLIP_DRAWS: usize = 1 << 20;

/// The two-sided p-value of the paired sign-flip (permutation) test of mean(d) = 0: under the
/// null hypothesis each difference is as likely to have either sign, so p is the share of the
/// 2ⁿ sign patterns whose |Σ ±dᵢ| is at least the observed |Σ dᵢ|. Exact up to 20 pairs;
/// beyond, a Monte-Carlo estimate from a fixed stream, (1 + hits) / (1 + draws).
pub fn sign_flip_p(d: &[f64]) -> f64 {
    let n = d.len();
    if n == 0 {
        return f64::NAN;
    }
    let observed: f64 = d.iter().sum::<f64>().abs();
    // sums equal to the observed one up to rounding count as reaching it (ties are common: counts)
    let scale: f64 = d.iter().map(|v| v.abs()).sum();
    let threshold = observed - 1e-9 * scale.max(f64::MIN_POSITIVE);
    let signed_sum = |pattern: u64| d.iter().enumerate().map(|(i, v)| if pattern >> i & 1 == 1 { -v } else { *v }).sum::<f64>();
    if n <= EXACT_SIGN_FLIP_MAX {
        let patterns = 1u64 << n;
        let hits = (0..patterns).filter(|&p| signed_sum(p).abs() >= threshold).count();
        return hits as f64 / patterns as f64;
    }
    let mut rng = crate::rng::Rng::seed_from(0x5167_f11b);
    let hits = (0..SIGN_FLIP_DRAWS)
        .filter(|_| {
            let sum: f64 = d.iter().map(|v| if rng.next_u64() >> 63 == 1 { -v } else { *v }).sum();
            sum.abs() >= threshold
        })
        .count();
    (1 + hits) as f64 / (1 + SIGN_FLIP_DRAWS) as f64
}

/// The power a detectable difference is computed for.
pub const POWER: f64 = 0.8;

/// The smallest true mean difference n paired seeds detect with [`POWER`] at two-sided level
/// [`ALPHA`], given the SD of the differences: (t_{1−α/2} + t_{power}) · sd / √n with n − 1
/// degrees of freedom (the usual approximation of the non-central t). Infinite when n seeds
/// cannot give the exact sign-flip test a p below α whatever they show (2 / 2ⁿ ≥ α: n ≤ 5), 0
/// when the differences do not vary.
pub fn detectable_difference(n: usize, sd: f64) -> f64 {
    if n < 2 {
        return f64::NAN;
    }
    if n < 64 && 2.0 / (1u64 << n) as f64 >= ALPHA {
        return f64::INFINITY;
    }
    let df = n as f64 - 1.0;
    (t_quantile_at(df, ALPHA) + t_quantile_at(df, 2.0 * (1.0 - POWER))) * sd / (n as f64).sqrt()
}

/// Holm's step-down adjustment of a family of p-values (same order as given). NaN stays NaN
/// and takes no part.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let m = order.len();
    let mut adjusted = vec![f64::NAN; p.len()];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// Two-sided p-value of Student's t with `df` degrees of freedom: P(|T| ≥ |t|) = I_x(df/2, 1/2)
/// with x = df / (df + t²).
pub fn t_two_sided_p(t: f64, df: f64) -> f64 {
    if t.is_infinite() {
        return 0.0;
    }
    regularized_beta(df / (df + t * t), df / 2.0, 0.5)
}

/// The t value with P(|T| ≥ t) = [`ALPHA`] for `df` degrees of freedom (2.776 for df = 4).
pub fn t_quantile(df: f64) -> f64 {
    t_quantile_at(df, ALPHA)
}

/// The t value with P(|T| ≥ t) = `two_sided` for `df` degrees of freedom (one-sided level
/// `two_sided / 2`).
pub fn t_quantile_at(df: f64, two_sided: f64) -> f64 {
    // the two-sided p falls monotonically in t: bisect
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    while t_two_sided_p(hi, df) > two_sided {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if t_two_sided_p(mid, df) > two_sided {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-12 * hi {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, nine coefficients; relative error below 1e-13).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // reflection: Γ(x) Γ(1 − x) = π / sin(πx)
        return std::f64::consts::PI.ln() - (std::f64::consts::PI * x).sin().ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = C[0];
    for (i, c) in C.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// The regularised incomplete beta function I_x(a, b).
fn regularized_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front = (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    // the continued fraction converges fast for x < (a + 1) / (a + b + 2); else use symmetry
    if x < (a + 1.0) / (a + b + 2.0) { front * beta_fraction(x, a, b) / a } else { 1.0 - front * beta_fraction(1.0 - x, b, a) / b }
}

/// The continued fraction of the incomplete beta function, by the modified Lentz method.
fn beta_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..500 {
        let m = m as f64;
        // the even step d_{2m}, then the odd step d_{2m+1}
        for coefficient in
            [m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m)), -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0))]
        {
            d = 1.0 + coefficient * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = 1.0 + coefficient / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn t_quantiles_match_the_tables() {
        // two-sided 95 %: the familiar table values
        for (df, t) in [(1.0, 12.706_204_7), (4.0, 2.776_445_1), (9.0, 2.262_157_2), (30.0, 2.042_272_5), (1000.0, 1.962_339_1)] {
            assert!(close(t_quantile(df), t, 1e-6), "df {df}: {} vs {t}", t_quantile(df));
        }
    }

    #[test]
    fn t_p_values_match_the_tables() {
        // P(|T| ≥ 2) with 10 df, P(|T| ≥ 1) with 1 df (Cauchy: 1/2), P(|T| ≥ 0) = 1
        assert!(close(t_two_sided_p(2.0, 10.0), 0.073_388_03, 1e-7));
        assert!(close(t_two_sided_p(1.0, 1.0), 0.5, 1e-12));
        assert!(close(t_two_sided_p(0.0, 5.0), 1.0, 1e-12));
        assert!(close(t_two_sided_p(-2.0, 10.0), t_two_sided_p(2.0, 10.0), 1e-15));
    }

    #[test]
    fn paired_test_on_students_sleep_data() {
        // Student (1908) / R's `sleep`: t.test(extra ~ group, paired = TRUE) gives
        // t = -4.0621, df = 9, p = 0.002833, mean difference -1.58, 95 % CI [-2.4598858, -0.7001142]
        let g1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
        let g2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];
        let test = PairedTest::of(&g1, &g2);
        assert!(close(test.t, -4.0621, 1e-4), "{test:?}");
        assert_eq!(test.df, 9.0);
        assert!(close(test.p_t, 0.002833, 1e-6), "{test:?}");
        // nine negative differences and one zero: only "all negative" and "all positive" reach
        // |Σ| = 15.8, each with the zero's two signs: 4 of 2¹⁰ patterns
        assert_eq!(test.p, 4.0 / 1024.0);
        assert!(close(test.diff.mean, -1.58, 1e-12));
        assert!(close(test.diff.low, -2.459_885_8, 1e-6) && close(test.diff.high, -0.700_114_2, 1e-6), "{test:?}");
        assert!(close(test.dz, -1.58 / 1.229_995_5, 1e-6), "{test:?}");
    }

    #[test]
    fn summary_of_a_sample() {
        let s = Summary::of(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!((s.n, s.mean), (5, 3.0));
        assert!(close(s.sd, 2.5_f64.sqrt(), 1e-12));
        let half = 2.776_445_1 * 2.5_f64.sqrt() / 5.0_f64.sqrt();
        assert!(close(s.low, 3.0 - half, 1e-6) && close(s.high, 3.0 + half, 1e-6));
        assert_eq!(s.text(2), format!("3.00 ± {half:.2}"));
        let one = Summary::of(&[0.5]);
        assert!(one.low.is_nan() && one.text(2) == "0.50");
    }

    #[test]
    fn degenerate_pairs() {
        let same = PairedTest::of(&[0.5, 0.6, 0.7], &[0.5, 0.6, 0.7]);
        assert_eq!((same.p, same.p_t), (1.0, 1.0));
        // identical non-zero differences: t says p = 0; three seeds can show no more than 2/8
        let shifted = PairedTest::of(&[1.5, 2.5, 3.5], &[1.0, 2.0, 3.0]);
        assert_eq!((shifted.p_t, shifted.p), (0.0, 0.25));
        assert!(PairedTest::of(&[1.0], &[0.0]).p.is_nan());
    }

    #[test]
    fn the_sign_flip_test_is_exact() {
        // five seeds all one way: the smallest two-sided p five seeds allow
        assert_eq!(sign_flip_p(&[1.0; 5]), 2.0 / 32.0);
        assert_eq!(sign_flip_p(&[2.0, 1.0, 1.0, 3.0, 1.0]), 2.0 / 32.0);
        assert_eq!(sign_flip_p(&[0.0; 4]), 1.0);
        // counts with ties, by hand: d = (1, 1, −1, 2), |Σ| = 3; Σ = ±1 ± 1 ± 1 ± 2 takes
        // |Σ| = 5 in 2 patterns and |Σ| = 3 in 6, of 16
        assert_eq!(sign_flip_p(&[1.0, 1.0, -1.0, 2.0]), 8.0 / 16.0);
        // against brute force on random data
        let mut rng = crate::rng::Rng::seed_from(7);
        for n in 2..=9 {
            let d: Vec<f64> = (0..n).map(|_| rng.uniform_range(-1.0, 2.0)).collect();
            let observed = d.iter().sum::<f64>().abs();
            let hits = (0..1u32 << n)
                .filter(|p| (0..n).map(|i| if p >> i & 1 == 1 { -d[i] } else { d[i] }).sum::<f64>().abs() >= observed - 1e-12)
                .count();
            assert_eq!(sign_flip_p(&d), hits as f64 / (1u64 << n) as f64, "n = {n}");
        }
        // beyond 20 pairs: Monte Carlo. 20 of 30 differences +1, 10 −1: |Σ| ≥ 10 when at least
        // 20 signs agree, 2·P(Binomial(30, ½) ≥ 20) = 0.098737
        let many: Vec<f64> = (0..30).map(|i| if i % 3 == 0 { -1.0 } else { 1.0 }).collect();
        let p = sign_flip_p(&many);
        assert!((p - 0.098_737).abs() < 0.002, "{p}");
    }

    #[test]
    fn detectable_differences() {
        // five seeds cannot reach p < 0.05 in the exact test: nothing is detectable
        assert!(detectable_difference(5, 1.0).is_infinite());
        // twelve: (t_0.975,11 + t_0.80,11) · sd / √12 = (2.200985 + 0.875539) / √12
        assert!(close(detectable_difference(12, 1.0), (2.200_985 + 0.875_539) / 12f64.sqrt(), 1e-5));
        assert!(close(detectable_difference(12, 0.5), 0.5 * detectable_difference(12, 1.0), 1e-12));
        assert!(detectable_difference(1, 1.0).is_nan());
        assert!(close(t_quantile_at(11.0, 0.4), 0.875_539, 1e-5));
    }

    #[test]
    fn holm_adjusts_step_down_and_stays_monotone() {
        // m = 4: sorted 0.01, 0.02, 0.03, 0.5 → 0.04, 0.06, 0.06 (monotone), 0.5
        let adjusted = holm(&[0.03, 0.01, 0.5, 0.02]);
        let expected = [0.06, 0.04, 0.5, 0.06];
        for (a, e) in adjusted.iter().zip(expected) {
            assert!(close(*a, e, 1e-12), "{adjusted:?}");
        }
        let with_nan = holm(&[f64::NAN, 0.2]);
        assert!(with_nan[0].is_nan() && close(with_nan[1], 0.2, 1e-12));
    }
}
