//! The loss curve the Training tab draws: every step's loss, in bounded memory.

/// Points kept before neighbours merge. A run's loss arrives once per step, so without a bound
/// an app left training grows by 16 bytes a step for as long as it runs (a lecture's hour of
/// the quick preset: ~4 MB, ~5 % of the app's memory; the soak benchmark measures it).
pub const LOSS_POINTS: usize = 16_384;

/// (step, loss) points: one per step until [`LOSS_POINTS`] are kept, then each pair of
/// neighbours becomes their mean and every new point is the mean of twice as many steps, so
/// the whole run stays drawn, evenly.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LossCurve {
    points: Vec<[f64; 2]>,
    /// Steps averaged into each new point (1 until the curve first fills).
    per_point: usize,
    /// Sums of the steps and losses not yet a point, and how many there are.
    pending: [f64; 2],
    pending_count: usize,
}

impl LossCurve {
    pub fn push(&mut self, step: f64, loss: f64) {
        self.pending[0] += step;
        self.pending[1] += loss;
        self.pending_count += 1;
        if self.pending_count >= self.per_point.max(1) {
            let n = self.pending_count as f64;
            self.points.push([self.pending[0] / n, self.pending[1] / n]);
            (self.pending, self.pending_count) = ([0.0; 2], 0);
            if self.points.len() >= LOSS_POINTS {
                self.halve();
            }
        }
    }

    fn halve(&mut self) {
        self.points = self.points.chunks(2).map(|pair| [mean(pair.iter().map(|p| p[0])), mean(pair.iter().map(|p| p[1]))]).collect();
        self.per_point = self.per_point.max(1) * 2;
    }

    /// The points, oldest first.
    pub fn points(&self) -> &[[f64; 2]] {
        &self.points
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Steps per point of the newest points (1: every step is its own point).
    pub fn steps_per_point(&self) -> usize {
        self.per_point.max(1)
    }
}

impl From<Vec<[f64; 2]>> for LossCurve {
    /// A curve of points that were already made (a loaded run's, one per evaluation).
    fn from(points: Vec<[f64; 2]>) -> Self {
        let mut curve = LossCurve { points, ..LossCurve::default() };
        while curve.points.len() >= LOSS_POINTS {
            curve.halve();
        }
        curve
    }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0), |(s, n), v| (s + v, n + 1));
    sum / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_run_stays_bounded_and_drawn_evenly() {
        let mut curve = LossCurve::default();
        for step in 1..=10_000 {
            curve.push(step as f64, 0.5);
        }
        assert_eq!((curve.points().len(), curve.steps_per_point()), (10_000, 1), "one point per step at first");
        for step in 10_001..=200_000 {
            // a loss equal to its step: every merged point's loss is still its (mean) step
            curve.push(step as f64, step as f64);
        }
        let points = curve.points();
        assert!(points.len() < LOSS_POINTS && points.len() > LOSS_POINTS / 4, "{}", points.len());
        assert!(points.windows(2).all(|w| w[0][0] < w[1][0]), "in step order");
        assert!(points.iter().filter(|p| p[0] > 20_000.0).all(|p| (p[0] - p[1]).abs() < 1e-6), "means of steps and losses agree");
        assert!(points.last().unwrap()[0] > 199_000.0, "the newest steps are there");
        assert_eq!(curve.steps_per_point(), 16);
    }

    #[test]
    fn a_loaded_curve_keeps_its_points() {
        let curve = LossCurve::from(vec![[100.0, 0.3], [200.0, 0.2]]);
        assert_eq!(curve.points(), &[[100.0, 0.3], [200.0, 0.2]]);
        assert!(LossCurve::default().is_empty());
    }
}
