//! Mean rates of the LIF network (Kim et al. 2023) at a given size, and the time one simulated
//! second takes: `cargo run --release --example lif_probe -- N_E K G SECONDS`.
use std::time::Instant;

use modulab::model::lif::{LifNetwork, LifSettings};

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
}
