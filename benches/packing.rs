//! Throughput of the packing sweep (`modulab sweep packing`, issue 5B): cells of size 32 with
//! K = 8 tasks, trained exactly as the sweep trains them (`packing::run_cell`), one cell alone on
//! one thread and two cells side by side (the sweep's default on 2 cores: one job per core).
//!
//! The criterion is set to 100 % on every task, which these cells do not reach, so every cell
//! runs its whole budget of `BUDGET` steps (checked): the figures are the cost of a
//! budget-limited cell. Cells that reach the criterion stop earlier.
//! Base settings: the `quick` preset, as `modulab sweep packing` without `--preset`.
//! `cargo bench --bench packing` prints criterion's figures and then cells/hour.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark stops at its first failure, with the message")]

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use modulab::config::Config;
use modulab::experiments::packing::{Cell, PackingPlan, PathwaySet, TaskOrder};

const SIZE: usize = 32;
const TASKS: usize = 8;
const BUDGET: u64 = 300;

fn plan() -> PackingPlan {
    PackingPlan {
        // the sweep's default base settings
        base: Config::from_preset("quick", &[]).expect("quick preset"),
        sizes: vec![SIZE],
        task_counts: vec![TASKS],
        pathway_sets: vec!["bias+synaptic".parse::<PathwaySet>().unwrap()],
        seeds: vec![1, 2],
        budget_steps: BUDGET,
        // no plateau rule: every cell trains the whole budget
        plateau_steps: 0,
        criterion: 0.9,
        order: TaskOrder::Families,
    }
}

fn run(plan: &PackingPlan, cell: &Cell) {
    let result =
        modulab::experiments::packing::run_cell(plan, cell, 1, &AtomicBool::new(false)).expect("cell trains").expect("not cancelled");
    assert_eq!(result.steps, BUDGET, "the cell stopped early: the figures would not be of a {BUDGET}-step cell");
}

fn bench_packing(c: &mut Criterion) {
    modulab::tune_allocator();
    let plan = plan();
    plan.validate().unwrap();
    let cells = plan.cells();
    let mut group = c.benchmark_group("packing");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(30));
    let mut alone = Duration::ZERO;
    let mut alone_iters = 0;
    group.bench_function(format!("cell N={SIZE} K={TASKS} {BUDGET} steps, 1 job"), |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                run(&plan, &cells[0]);
            }
            let spent = start.elapsed();
            alone += spent;
            alone_iters += iters;
            spent
        })
    });
    let mut pair = Duration::ZERO;
    let mut pair_iters = 0;
    group.bench_function(format!("2 cells N={SIZE} K={TASKS} {BUDGET} steps, 2 jobs"), |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                std::thread::scope(|s| {
                    for cell in &cells {
                        s.spawn(|| run(&plan, cell));
                    }
                });
            }
            let spent = start.elapsed();
            pair += spent;
            pair_iters += iters;
            spent
        })
    });
    group.finish();
    let per_cell = alone.as_secs_f64() / alone_iters as f64;
    let per_pair = pair.as_secs_f64() / pair_iters as f64;
    println!("\npacking throughput, N = {SIZE}, K = {TASKS}, {BUDGET}-step budget (criterion out of reach):");
    println!("  1 job : {:>6.2} s/cell  {:>8.0} cells/hour  {:>6.0} steps/s", per_cell, 3600.0 / per_cell, BUDGET as f64 / per_cell);
    println!("  2 jobs: {:>6.2} s/pair  {:>8.0} cells/hour  {:>6.0} steps/s", per_pair, 7200.0 / per_pair, 2.0 * BUDGET as f64 / per_pair);
}

criterion_group!(benches, bench_packing);
criterion_main!(benches);
