//! The dynamics analyses at the size of the yang20 preset (N = 256, 20 tasks):
//! - `pca/pooled`: the pooled PCA of 20 tasks × 64 trials × 150 steps of hidden rates (192 000
//!   rows of 256 values; synthetic rectified-Gaussian rates with a low-dimensional structure,
//!   since only the sizes matter for the time) — the target is well under a second;
//! - `analyze/n256`: the whole of `modulab analyze` (trajectories, PCA, principal angles, task
//!   variance, fixed points from 64 starts per task and the connectivity spectra of 20 contexts)
//!   on a network with freshly initialised (untrained) parameters of the yang20 preset: the time
//!   depends on the sizes, and, through the fixed-point search, on the dynamics.
//!
//! `cargo bench --bench analysis` (add `-- --quick` for a short run).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark stops at its first failure, with the message")]

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use modulab::analysis::Covariance;
use modulab::config::Config;
use modulab::experiments::analyze::{AnalyzeOptions, analyze};
use modulab::model::ParamSet;
use modulab::rng::Rng;

const UNITS: usize = 256;
const ROWS: usize = 20 * 64 * 150;
const LATENT: usize = 12;

/// Rectified rates driven by a few latent signals plus private noise.
fn synthetic_rates() -> Vec<f32> {
    let mut rng = Rng::seed_from(7);
    let mut loading = vec![0.0f32; LATENT * UNITS];
    rng.fill_normal(&mut loading, 1.0);
    let mut latent = vec![0.0f32; LATENT];
    let mut data = vec![0.0f32; ROWS * UNITS];
    for row in data.chunks_exact_mut(UNITS) {
        rng.fill_normal(&mut latent, 1.0);
        rng.fill_normal(row, 0.3);
        for (u, r) in row.iter_mut().enumerate() {
            let drive: f32 = (0..LATENT).map(|l| latent[l] * loading[l * UNITS + u]).sum();
            *r = (*r + 0.3 * drive).max(0.0);
        }
    }
    data
}

fn bench_pca(c: &mut Criterion) {
    let data = synthetic_rates();
    let mut group = c.benchmark_group("pca");
    group.sample_size(10).measurement_time(Duration::from_secs(8));
    group.bench_function("pooled/20x64x150/n256", |b| {
        b.iter(|| {
            let mut cov = Covariance::new(UNITS);
            // one task's trials at a time, as analyze adds them
            data.chunks(ROWS / 20 * UNITS).for_each(|task| cov.add_rows(task));
            cov.fit(10).unwrap()
        })
    });
    group.finish();
}

fn bench_analyze(c: &mut Criterion) {
    let config = Config::from_preset("yang20", &[]).unwrap();
    let params = ParamSet::init(&config.model, config.dims(), config.readout(), &mut Rng::seed_from(config.train.seed));
    let options = AnalyzeOptions::default();
    let mut group = c.benchmark_group("analyze");
    group.sample_size(10).measurement_time(Duration::from_secs(30));
    group.bench_function("n256/20tasks/untrained", |b| b.iter(|| analyze(&config, &params, 0, &options, &mut |_| {}).unwrap()));
    group.finish();
}

criterion_group!(benches, bench_pca, bench_analyze);
criterion_main!(benches);
