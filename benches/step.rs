//! One training step (N = 256, batch 64, 100 time steps: forward + backward + Adam) for each
//! pathway set on each backend, beside the same step written plainly with burn's autodiff and
//! this machine's f32 matmul throughput on both cores, all measured in one run.
//!
//! `cargo bench --bench step` prints criterion's figures and, at the end, a summary table with
//! ms/step, GFLOP/s and the ratios.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark stops at its first failure, with the message")]

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use modulab::config::{BackendKind, Config};
use modulab::model::Pathway;
use modulab::rng::Rng;
use modulab::tasks::{Task, TrialBatch};
use modulab::train::Trainer;

const UNITS: usize = 256;
const BATCH: usize = 64;
const STEPS: usize = 100;

/// Mean seconds per iteration, by benchmark name, for the summary.
static TIMES: Mutex<BTreeMap<String, f64>> = Mutex::new(BTreeMap::new());

fn record(name: &str, total: Duration, iters: u64) {
    TIMES.lock().unwrap().insert(name.to_string(), total.as_secs_f64() / iters as f64);
}

/// FLOPs of one step: forward 2·B·T·N·(N + n_in + n_out) multiply-adds, backward twice that.
fn step_flops(n_in: usize, n_out: usize) -> f64 {
    3.0 * 2.0 * (BATCH * STEPS * UNITS * (UNITS + n_in + n_out)) as f64
}

/// A batch of exactly STEPS time steps (the task generators draw variable lengths).
fn fixed_batch(config: &Config) -> TrialBatch {
    let (n_in, n_out) = (config.tasks.n_inputs(), config.tasks.n_outputs());
    let mut rng = Rng::seed_from(1);
    let mut inputs = vec![0.0; BATCH * STEPS * n_in];
    rng.fill_normal(&mut inputs, 0.5);
    TrialBatch {
        task: Task::FdGo,
        encoding: config.tasks.encoding,
        batch: BATCH,
        steps: STEPS,
        n_in,
        n_out,
        dt_ms: config.tasks.dt_ms,
        inputs,
        targets: vec![0.05; BATCH * STEPS * n_out],
        mask: vec![1.0; BATCH * STEPS * n_out],
        go_step: STEPS / 2,
        target_angle: vec![None; BATCH],
        epochs: Vec::new(),
    }
}

fn trainer(backend: &str, pathways: &[Pathway], fused: bool, settings: &[&str]) -> Trainer {
    let names: Vec<String> = pathways.iter().map(|p| format!("\"{}\"", p.name())).collect();
    let mut overrides = vec![
        format!("runtime.backend={backend}"),
        format!("runtime.fused={fused}"),
        format!("model.n_units={UNITS}"),
        format!("model.pathways=[{}]", names.join(",")),
    ];
    overrides.extend(settings.iter().map(|s| s.to_string()));
    Trainer::new(Config::from_preset("yang20", &overrides).unwrap())
}

fn pathway_sets() -> Vec<Vec<Pathway>> {
    use Pathway::*;
    vec![vec![], vec![Bias], vec![Gain], vec![Synaptic], vec![Bias, Synaptic], vec![Gain, Synaptic], vec![Bias, Gain, Synaptic]]
}

fn bench_steps(c: &mut Criterion) {
    let mut group = c.benchmark_group("train_step");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    for backend in BackendKind::BUILT.iter().map(|b| b.name()) {
        let mut cases: Vec<(String, Vec<Pathway>, bool, &[&str])> =
            pathway_sets().into_iter().map(|set| (Pathway::set_label(&set), set, true, &[] as &[&str])).collect();
        cases.push(("bias plain-autodiff".into(), vec![Pathway::Bias], false, &[]));
        // Dale's law: f(W̃)·D and the masked readout are [N, N]- and [n_out, N]-sized work per step
        let dale: &[&str] = &["model.dale=true"];
        cases.push(("bias dale".into(), vec![Pathway::Bias], true, dale));
        cases.push(("bias+synaptic dale".into(), vec![Pathway::Bias, Pathway::Synaptic], true, dale));
        cases.push(("bias dale plain-autodiff".into(), vec![Pathway::Bias], false, dale));
        // per-unit time constants: an [N] α in the kernel; trained, one more pass over [B, T, N]
        // in the backward for dL/dα
        let hetero: &[&str] = &["model.tau_distribution=log_uniform"];
        let trained: &[&str] = &["model.tau_distribution=log_uniform", "model.tau_trainable=true"];
        cases.push(("bias hetero-tau".into(), vec![Pathway::Bias], true, hetero));
        cases.push(("bias hetero-tau trained".into(), vec![Pathway::Bias], true, trained));
        cases.push(("bias hetero-tau trained plain-autodiff".into(), vec![Pathway::Bias], false, trained));
        for (label, set, fused, settings) in cases {
            let mut trainer = trainer(backend, &set, fused, settings);
            let batch = fixed_batch(&trainer.config);
            group.throughput(Throughput::Elements(step_flops(batch.n_in, batch.n_out) as u64));
            let name = format!("{backend}/{label}");
            group.bench_function(&name, |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        trainer.gradient_step(&batch, 0).unwrap();
                    }
                    let total = start.elapsed();
                    record(&name, total, iters);
                    total
                })
            });
        }
    }
    group.finish();
}

/// f32 matmul at the step's shape ([64, 256] × [256, 256], 100 times), one independent stream
/// per core: the throughput floor a fully matmul-bound step could reach.
fn bench_matmul(c: &mut Criterion) {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut rng = Rng::seed_from(2);
    let mut a = vec![0.0f32; BATCH * UNITS];
    let mut w = vec![0.0f32; UNITS * UNITS];
    rng.fill_normal(&mut a, 1.0);
    rng.fill_normal(&mut w, 1.0);
    let mut group = c.benchmark_group("matmul");
    group.sample_size(10).measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements((2 * BATCH * UNITS * UNITS * STEPS * threads) as u64));
    let name = format!("{threads}-cores/64x256x256x100");
    group.bench_function(&name, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                std::thread::scope(|s| {
                    for _ in 0..threads {
                        s.spawn(|| {
                            let mut out = vec![0.0f32; BATCH * UNITS];
                            for _ in 0..STEPS {
                                matmul(&a, &w, &mut out);
                            }
                            std::hint::black_box(&out);
                        });
                    }
                });
            }
            let total = start.elapsed();
            record(&format!("matmul/{name}"), total, iters);
            total
        })
    });
    group.finish();
    summary(threads);
}

fn matmul(a: &[f32], w: &[f32], out: &mut [f32]) {
    // SAFETY: the pointers and strides describe the three row-major buffers exactly.
    unsafe {
        gemm::gemm(
            BATCH,
            UNITS,
            UNITS,
            out.as_mut_ptr(),
            1,
            UNITS as isize,
            false,
            a.as_ptr(),
            1,
            UNITS as isize,
            w.as_ptr(),
            1,
            UNITS as isize,
            0.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

fn summary(threads: usize) {
    let times = TIMES.lock().unwrap();
    let config = Config::default();
    let flops = step_flops(config.tasks.n_inputs(), config.tasks.n_outputs());
    let matmul_gflops = times
        .iter()
        .find(|(k, _)| k.starts_with("matmul/"))
        .map(|(_, t)| (2 * BATCH * UNITS * UNITS * STEPS * threads) as f64 / t / 1e9)
        .unwrap_or(f64::NAN);
    println!("\nSummary: one training step, N = {UNITS}, batch {BATCH}, {STEPS} time steps ({:.2} GFLOP)", flops / 1e9);
    println!("f32 matmul on {threads} cores at the step's shape: {matmul_gflops:.1} GFLOP/s\n");
    println!("{:<34} {:>9} {:>9} {:>12} {:>12}", "case", "ms/step", "GFLOP/s", "vs plain", "of matmul");
    for backend in BackendKind::BUILT.iter().map(|b| b.name()) {
        let plain = times.get(&format!("{backend}/bias plain-autodiff")).copied().unwrap_or(f64::NAN);
        for (name, t) in times.iter().filter(|(k, _)| k.starts_with(&format!("{backend}/"))) {
            let gflops = flops / t / 1e9;
            println!("{name:<34} {:>9.1} {:>9.1} {:>11.2}x {:>11.0}%", t * 1e3, gflops, plain / t, 100.0 * gflops / matmul_gflops);
        }
    }
}

/// Trial generation: a batch of 64 trials of one task, noise included (the bar: well under 1 ms).
fn bench_generate(c: &mut Criterion) {
    modulab::tune_allocator();
    let config = Config::default();
    let mut rng = Rng::seed_from(3);
    let alpha = config.model.alpha(config.tasks.dt_ms);
    let mut group = c.benchmark_group("generate");
    group.sample_size(20).measurement_time(Duration::from_secs(2));
    for task in [Task::FdGo, Task::DelayDm1, Task::DmsGo] {
        group.bench_function(format!("ring/{}/64", task.name()), |b| {
            b.iter(|| modulab::tasks::generate(task, &config.tasks, BATCH, alpha, &mut rng).unwrap())
        });
    }
    // The input-noise fill alone (fdgo's 64 × 84 × 65 inputs), on one thread and on all cores.
    let mut noise = vec![0.0f32; BATCH * 84 * config.tasks.n_inputs()];
    group.bench_function("noise/one-thread", |b| b.iter(|| rng.fill_normal(&mut noise, 0.1)));
    let chunk = noise.len() / 4;
    group.bench_function("noise/all-cores", |b| b.iter(|| rng.fill_normal_chunked(&mut noise, 0.1, chunk, 0)));
    group.finish();
}

criterion_group!(benches, bench_generate, bench_steps, bench_matmul);
criterion_main!(benches);
