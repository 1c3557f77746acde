//! Axis ranges and ticks, one algorithm for every figure: round linear ticks, 1-2-5 ticks on a
//! log axis, short labels, and the padding that keeps points off the frame.

/// The fraction of a fitted range added on each side, so no point sits on the frame's edge.
pub const PAD: f64 = 0.04;

/// About five round tick values (1, 2, 2.5 or 5 × 10^k apart) inside [lo, hi].
pub fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !lo.is_finite() || !hi.is_finite() || hi <= lo {
        return if lo.is_finite() { vec![lo] } else { Vec::new() };
    }
    let raw = (hi - lo) / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10.0 * magnitude);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    // rounded to the step's precision so that 0.2 * 3 is 0.6, not 0.6000000000000001
    let scale = 10f64.powi((-step.log10().floor() as i32 + 3).max(0));
    (first..=last).map(|i| (i as f64 * step * scale).round() / scale).collect()
}

/// Ticks for a log axis, as log10 values: 1, 2 and 5 × 10^k inside [lo, hi] (log10 units),
/// thinned to powers of ten when that gives too many; when the range is too narrow to hold two
/// of them, round values of the quantity itself (1.5, 2, 2.5, 3), never round log values (whose
/// labels read 1.259, 1.585, 1.995).
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !lo.is_finite() || !hi.is_finite() || hi < lo {
        return Vec::new();
    }
    let decades = (lo.floor() as i64)..=(hi.ceil() as i64);
    let mantissas: &[f64] = if hi - lo > 3.0 { &[1.0] } else { &[1.0, 2.0, 5.0] };
    let found: Vec<f64> =
        decades.flat_map(|k| mantissas.iter().map(move |m| (m * 10f64.powi(k as i32)).log10())).filter(|t| (lo..=hi).contains(t)).collect();
    if found.len() >= 2 {
        return found;
    }
    ticks(10f64.powf(lo), 10f64.powf(hi)).into_iter().filter(|v| *v > 0.0).map(f64::log10).collect()
}

/// A tick's label: `0.30000000000000004` → `0.3`, `-0` → `0`, `0.000123` → `1e-4`.
pub fn tick_label(v: f64) -> String {
    if v != 0.0 && !(0.001..100_000.0).contains(&v.abs()) {
        return format!("{v:.0e}");
    }
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

/// The smallest and largest finite value, if any.
pub fn min_max(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.filter(|v| v.is_finite()).fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// A range to draw: [0, 1] when empty, ±0.5 around a single value, then [`PAD`] added on each
/// side so the extreme points lie strictly inside the frame.
pub fn padded(range: Option<(f64, f64)>) -> (f64, f64) {
    let (lo, hi) = match range {
        None => (0.0, 1.0),
        Some((lo, hi)) if hi - lo < 1e-12 => (lo - 0.5, hi + 0.5),
        Some(r) => r,
    };
    let pad = PAD * (hi - lo);
    (lo - pad, hi + pad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 1.0), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(ticks(0.0, 1000.0), vec![0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]);
        let t = ticks(8.0, 256.0);
        assert!(t.windows(2).all(|w| (w[1] - w[0] - 50.0).abs() < 1e-9), "{t:?}");
        assert_eq!(ticks(-0.04, 1.04), vec![0.0, 0.25, 0.5, 0.75, 1.0], "padding adds no tick beyond the data");
        assert_eq!(tick_label(0.30000000000000004), "0.3");
        assert_eq!(tick_label(-0.0), "0");
        assert_eq!(tick_label(0.000123), "1e-4");
    }

    #[test]
    fn log_ticks_are_one_two_five() {
        // 0.1 .. 1.5 on a log axis: 0.1, 0.2, 0.5, 1
        let labels: Vec<String> = log_ticks(-1.0, 1.5f64.log10()).into_iter().map(|t| tick_label(10f64.powf(t))).collect();
        assert_eq!(labels, vec!["0.1", "0.2", "0.5", "1"]);
        // six decades: powers of ten only
        assert_eq!(log_ticks(-3.0, 3.0).len(), 7);
        // too narrow for two of 1, 2, 5: round values of the quantity, not of its log
        let labels: Vec<String> = log_ticks(1.1f64.log10(), 3f64.log10()).into_iter().map(|t| tick_label(10f64.powf(t))).collect();
        assert_eq!(labels, vec!["1.5", "2", "2.5", "3"]);
    }

    #[test]
    fn padding_keeps_extremes_inside() {
        let (lo, hi) = padded(Some((0.0, 1.0)));
        assert!(lo < 0.0 && hi > 1.0 && (hi - 1.0 - 0.04).abs() < 1e-12);
        assert_eq!(padded(None), (-0.04, 1.04));
        let (lo, hi) = padded(Some((2.0, 2.0)));
        assert!(lo < 1.5 && hi > 2.5);
        assert_eq!(min_max([1.0, f64::NAN, -2.0].into_iter()), Some((-2.0, 1.0)));
    }
}
