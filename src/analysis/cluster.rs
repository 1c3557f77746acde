//! k-means clustering with the number of clusters chosen by the silhouette score: how Yang et al.
//! (2019) grouped units by their normalised task variance (they searched 3–40 clusters with
//! scikit-learn's KMeans; here the range is a parameter and everything is seeded).

use crate::rng::Rng;

/// A partition of the points into clusters.
#[derive(Clone, Debug, PartialEq)]
pub struct Clustering {
    /// The cluster of each point, `0..k`.
    pub labels: Vec<usize>,
    /// Cluster centres, `k` rows of the points' dimension.
    pub centres: Vec<Vec<f64>>,
    /// Mean silhouette over the points (−1 … 1; higher = better separated); 0 for k = 1.
    pub silhouette: f64,
}

impl Clustering {
    pub fn k(&self) -> usize {
        self.centres.len()
    }
}

/// k-means restarts per k (k-means++ starts); the partition with the least inertia is kept.
const RESTARTS: usize = 10;
const MAX_ITERATIONS: usize = 200;

/// The best k-means partition of `points` for each k in `ks`, and of those the one with the
/// highest mean silhouette. Deterministic for a given `seed`. Fewer than three points, or no k
/// in range (2 ≤ k < number of points), gives one cluster.
pub fn cluster_by_silhouette(points: &[Vec<f64>], ks: std::ops::RangeInclusive<usize>, seed: u64) -> Clustering {
    let n = points.len();
    // more clusters than distinct points would leave some empty (k-means would only churn)
    let mut distinct: Vec<Vec<u64>> = points.iter().map(|p| p.iter().map(|x| x.to_bits()).collect()).collect();
    distinct.sort();
    distinct.dedup();
    let mut best: Option<Clustering> = None;
    for k in ks.filter(|&k| k >= 2 && k < n && k <= distinct.len()) {
        let mut clustering = kmeans(points, k, seed ^ k as u64);
        clustering.silhouette = silhouette(points, &clustering.labels, k);
        if best.as_ref().is_none_or(|b| clustering.silhouette > b.silhouette) {
            best = Some(clustering);
        }
    }
    best.unwrap_or_else(|| kmeans(points, 1, seed))
}

/// Lloyd's k-means from [`RESTARTS`] k-means++ starts; the lowest inertia wins. Empty clusters
/// are re-seeded with the point farthest from its centre. `silhouette` is left at 0.
#[allow(clippy::expect_used, reason = "cannot fail: at least one restart")]
pub fn kmeans(points: &[Vec<f64>], k: usize, seed: u64) -> Clustering {
    let n = points.len();
    let k = k.clamp(1, n.max(1));
    let dim = points.first().map_or(0, Vec::len);
    if n == 0 {
        return Clustering { labels: Vec::new(), centres: vec![vec![0.0; dim]; k], silhouette: 0.0 };
    }
    let mut rng = Rng::seed_from(seed);
    let mut best: Option<(f64, Clustering)> = None;
    for _ in 0..RESTARTS {
        let mut centres = plus_plus_start(points, k, &mut rng);
        let mut labels = vec![usize::MAX; n];
        for _ in 0..MAX_ITERATIONS {
            let mut changed = false;
            for (label, p) in labels.iter_mut().zip(points) {
                let nearest = nearest(&centres, p).0;
                changed |= *label != nearest;
                *label = nearest;
            }
            if !changed {
                break;
            }
            centres = means(points, &labels, k, dim);
            // an empty cluster takes the point farthest from its own centre
            for c in 0..k {
                if labels.iter().all(|&l| l != c) {
                    let (far, _) = points
                        .iter()
                        .enumerate()
                        .map(|(i, p)| (i, squared_distance(p, &centres[labels[i]])))
                        .fold((0, -1.0), |a, b| if b.1 > a.1 { b } else { a });
                    centres[c] = points[far].clone();
                    labels[far] = c;
                }
            }
        }
        let inertia: f64 = points.iter().zip(&labels).map(|(p, &l)| squared_distance(p, &centres[l])).sum();
        if best.as_ref().is_none_or(|(b, _)| inertia < *b) {
            best = Some((inertia, Clustering { labels, centres, silhouette: 0.0 }));
        }
    }
    best.expect("at least one restart").1
}

/// Mean silhouette (Rousseeuw 1987) of a partition into `k` clusters, Euclidean distance; a point
/// alone in its cluster scores 0.
pub fn silhouette(points: &[Vec<f64>], labels: &[usize], k: usize) -> f64 {
    let n = points.len();
    if n == 0 || k < 2 {
        return 0.0;
    }
    let sizes: Vec<usize> = (0..k).map(|c| labels.iter().filter(|&&l| l == c).count()).collect();
    let mut total = 0.0;
    for i in 0..n {
        let mut sums = vec![0.0; k];
        for j in (0..n).filter(|&j| j != i) {
            sums[labels[j]] += squared_distance(&points[i], &points[j]).sqrt();
        }
        let own = labels[i];
        if sizes[own] <= 1 {
            continue;
        }
        let a = sums[own] / (sizes[own] - 1) as f64;
        let b = (0..k).filter(|&c| c != own && sizes[c] > 0).map(|c| sums[c] / sizes[c] as f64).fold(f64::INFINITY, f64::min);
        if b.is_finite() && a.max(b) > 0.0 {
            total += (b - a) / a.max(b);
        }
    }
    total / n as f64
}

fn plus_plus_start(points: &[Vec<f64>], k: usize, rng: &mut Rng) -> Vec<Vec<f64>> {
    let mut centres = vec![points[rng.below(points.len())].clone()];
    while centres.len() < k {
        let weights: Vec<f64> = points.iter().map(|p| nearest(&centres, p).1).collect();
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            // every point sits on a centre already: any point will do
            centres.push(points[rng.below(points.len())].clone());
            continue;
        }
        let mut target = rng.uniform() * total;
        let mut chosen = points.len() - 1;
        for (i, w) in weights.iter().enumerate() {
            if target < *w {
                chosen = i;
                break;
            }
            target -= w;
        }
        centres.push(points[chosen].clone());
    }
    centres
}

fn means(points: &[Vec<f64>], labels: &[usize], k: usize, dim: usize) -> Vec<Vec<f64>> {
    let mut sums = vec![vec![0.0; dim]; k];
    let mut counts = vec![0usize; k];
    for (p, &l) in points.iter().zip(labels) {
        counts[l] += 1;
        sums[l].iter_mut().zip(p).for_each(|(s, x)| *s += x);
    }
    for (sum, count) in sums.iter_mut().zip(counts) {
        sum.iter_mut().for_each(|s| *s /= count.max(1) as f64);
    }
    sums
}

/// (index, squared distance) of the centre nearest to `p`; ties go to the lower index.
fn nearest(centres: &[Vec<f64>], p: &[f64]) -> (usize, f64) {
    centres
        .iter()
        .enumerate()
        .map(|(c, centre)| (c, squared_distance(p, centre)))
        .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a })
}

fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three tight, well separated blobs in 4-D, shuffled.
    fn blobs() -> (Vec<Vec<f64>>, Vec<usize>) {
        let mut rng = Rng::seed_from(4);
        let centres = [[0.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 1.0]];
        let mut points = Vec::new();
        let mut truth = Vec::new();
        for i in 0..60 {
            let c = (i * 7) % 3;
            points.push(centres[c].iter().map(|x| x + 0.05 * rng.normal()).collect());
            truth.push(c);
        }
        (points, truth)
    }

    #[test]
    fn finds_three_separated_blobs_and_says_so_by_silhouette() {
        let (points, truth) = blobs();
        let result = cluster_by_silhouette(&points, 2..=8, 1);
        assert_eq!(result.k(), 3, "silhouette picks the true number of clusters");
        assert!(result.silhouette > 0.8, "{}", result.silhouette);
        // the same partition up to renaming: points share a label exactly when they share a blob
        for i in 0..points.len() {
            for j in 0..points.len() {
                assert_eq!(result.labels[i] == result.labels[j], truth[i] == truth[j]);
            }
        }
        assert_eq!(cluster_by_silhouette(&points, 2..=8, 1), result, "deterministic");
    }

    #[test]
    fn silhouette_of_known_partitions() {
        // two pairs far apart: a(i) = 1, b(i) ≈ 100 → s ≈ 0.99; the swapped labelling is negative
        let points = vec![vec![0.0], vec![1.0], vec![100.0], vec![101.0]];
        let good = silhouette(&points, &[0, 0, 1, 1], 2);
        assert!((good - (1.0 - 1.0 / 100.0)).abs() < 1e-3, "{good}");
        assert!(silhouette(&points, &[0, 1, 0, 1], 2) < 0.0);
        assert_eq!(silhouette(&points, &[0, 0, 0, 0], 1), 0.0);
    }

    #[test]
    fn degenerate_inputs_give_one_cluster_without_panicking() {
        assert_eq!(cluster_by_silhouette(&[], 2..=5, 0).labels, Vec::<usize>::new());
        let two = vec![vec![0.0, 1.0], vec![1.0, 0.0]];
        assert_eq!(cluster_by_silhouette(&two, 2..=5, 0).k(), 1);
        let same = vec![vec![0.5; 3]; 10];
        let result = cluster_by_silhouette(&same, 2..=4, 0);
        assert!(result.labels.iter().all(|&l| l < result.k()));
    }
}
