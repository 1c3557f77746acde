//! Mean rates of the LIF network (Kim et al. 2023) at a given size, and the time one simulated
//! second takes: `cargo run --release --example lif_probe -- N_E K G SECONDS [FRACTION]`.
//! With FRACTION, that share of the excitatory neurons also gets the code's plastic inputs and
//! one trial of the given length is trained by RLS (every 20 ms after the first second), to time
//! a training trial and size its P matrices.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a developer tool stops at its first failure, with the message")]
use std::time::Instant;

use modulab::model::lif::{Learn, LifNetwork, LifSettings, TrialOptions};
use modulab::rng::Rng;

fn main() {
    let args: Vec<f64> = std::env::args().skip(1).map(|a| a.parse().expect("a number")).collect();
    let (n_e, k, g, seconds) = (args[0] as usize, args[1] as usize, args[2], args[3]);
    let started = Instant::now();
    let mut net = LifNetwork::new(LifSettings { n_e, n_i: n_e, k, g, ..LifSettings::default() }).expect("settings");
    let built = started.elapsed();
    net.run(200.0, 0); // the random initial state settles
    let started = Instant::now();
    let record = net.run(seconds * 1000.0, 0);
    let took = started.elapsed();
    let (e, i) = record.rates(n_e);
    println!(
        "N = {}, K = {k}, g = {g}: E {e:.2} Hz, I {i:.2} Hz; {seconds} s simulated in {:.2} s (built in {:.2} s, synapses {:.0} MB)",
        2 * n_e,
        took.as_secs_f64(),
        built.as_secs_f64(),
        net.synapse_bytes() as f64 / 1e6
    );
    let Some(fraction) = args.get(4) else { return };
    let trained: Vec<usize> = (0..(fraction * n_e as f64).round() as usize).collect();
    net.add_plastic(&trained, 150.0, &mut Rng::seed_from(1));
    let target = net.settings.drive().0 - 0.2;
    let (dt, count) = (net.settings.dt_ms, trained.len());
    let every = (20.0 / dt).round() as usize;
    let first = (1000.0 / dt).round() as usize;
    let targets = move |step: usize| (step >= first && step.is_multiple_of(every)).then(|| vec![target; count]);
    net.reset(&mut Rng::seed_from(2));
    let started = Instant::now();
    let record = net
        .run_trial(seconds * 1000.0, &TrialOptions { learn: Some(Learn { targets: &targets, update: true }), ..TrialOptions::default() });
    let plastic = net.plastic().expect("plastic inputs");
    println!(
        "RLS on {count} trained neurons ({} plastic inputs each): one {seconds} s training trial in {:.2} s, P matrices {:.0} MB, input error {:.3}",
        plastic.pre[0].len(),
        started.elapsed().as_secs_f64(),
        plastic.p_bytes() as f64 / 1e6,
        record.learn_error
    );
}
