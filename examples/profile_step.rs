//! Where the time of one training step goes (N = 256, batch 64, 100 steps).
//! `cargo run --release --example profile_step [flex|ndarray]`

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a developer tool stops at its first failure, with the message")]
use std::time::Instant;

use modulab::config::Config;
use modulab::model::Rnn;
use modulab::model::scan::{self, ScanDims, ScanSpec};
use modulab::rng::Rng;
use modulab::train::{batch_input, device, one_hot_rows, rec_noise, rnn_spec};

fn main() {
    modulab::tune_allocator();
    let backend = std::env::args().nth(1).unwrap_or_else(|| "flex".into());
    let config = Config::from_preset("yang20", &[format!("runtime.backend={backend}")]).unwrap();
    let trainer = modulab::train::Trainer::new(config.clone());
    let spec = rnn_spec(&config);
    let dev = device(config.runtime.backend, true);
    let (b, t, n) = (64, 100, 256);
    let mut rng = Rng::seed_from(1);
    let mut trials = modulab::tasks::generate(modulab::tasks::Task::FdGo, &config.tasks, b, spec.alpha, &mut rng).unwrap();
    trials.steps = t;
    trials.inputs.resize(b * t * trials.n_in, 0.1);
    trials.targets.resize(b * t * trials.n_out, 0.05);
    trials.mask.resize(b * t * trials.n_out, 1.0);
    let mut phases = vec![0.0f64; 8];
    let reps = 10;
    for rep in 0..reps + 2 {
        let mut marks = vec![Instant::now()];
        let noise = rec_noise(&trials, &config, &trainer.params, &mut rng);
        marks.push(Instant::now());
        let model = Rnn::from_params(&trainer.params, spec.clone(), &dev);
        let input = batch_input(&trials, one_hot_rows(0, 20, b), true, noise, &dev);
        marks.push(Instant::now());
        // the training step's loss (fused: scan, readout and loss in one op)
        let loss = model.loss(input, trials.targets.clone(), trials.mask.clone());
        let _v = loss.clone().into_data();
        marks.push(Instant::now());
        let grads = loss.backward();
        marks.push(Instant::now());
        let g = model.gradients(&grads, &trainer.params);
        marks.push(Instant::now());
        let mut adam = trainer.adam.clone();
        let mut p = trainer.params.clone();
        adam.step(&trainer.adam_settings(), &mut p, &g);
        marks.push(Instant::now());
        if rep >= 2 {
            for i in 1..marks.len() {
                phases[i - 1] += (marks[i] - marks[i - 1]).as_secs_f64() * 1e3 / reps as f64;
            }
        }
    }
    let names = ["noise", "build tensors", "forward+loss", "backward", "grads to host", "adam (incl clone)"];
    for (name, ms) in names.iter().zip(&phases) {
        println!("{name:<20} {ms:8.2} ms");
    }
    // the kernel alone
    let dims = ScanDims { batch: b, steps: t, units: n };
    let alpha = vec![0.2f32; n];
    let spec_k = ScanSpec { dims, alpha: &alpha, activation: scan::Activation::Relu, form: scan::StateForm::Rate, threads: 0 };
    let mut drive = vec![0.0f32; b * t * n];
    rng.fill_normal(&mut drive, 0.3);
    let w = trainer.params.get("w_rec").unwrap().data.clone();
    let gain = vec![1.0f32; b * n];
    let (mut f, mut bw) = (0.0, 0.0);
    for rep in 0..12 {
        let s = Instant::now();
        let cache = scan::scan_forward(&spec_k, drive.clone(), scan::Recurrent::Shared(&w), &gain);
        let rates = cache.rates.clone();
        let m = Instant::now();
        let _g = scan::scan_backward(&spec_k, scan::Recurrent::Shared(&w), &gain, &cache, rates, false);
        let e = Instant::now();
        if rep >= 2 {
            f += (m - s).as_secs_f64() * 100.0;
            bw += (e - m).as_secs_f64() * 100.0;
        }
    }
    println!("kernel forward       {f:8.2} ms\nkernel backward      {bw:8.2} ms");
    // the readout and loss alone (ring encoding: sigmoid, 33 outputs)
    let n_out = trials.n_out;
    let mut w_out = vec![0.0f32; n_out * n];
    rng.fill_normal(&mut w_out, 0.1);
    let b_out = vec![0.0f32; n_out];
    let readout = modulab::model::readout::ReadoutSpec { dims, n_out, w_out: &w_out, b_out: &b_out, sigmoid: true, threads: 0 };
    let (mut f, mut bw) = (0.0, 0.0);
    for rep in 0..12 {
        let s = Instant::now();
        let (_, d_linear) = modulab::model::readout::loss_forward(&readout, &drive, &trials.targets, &trials.mask);
        let m = Instant::now();
        let _g = modulab::model::readout::loss_backward(&readout, &drive, &d_linear, 1.0);
        let e = Instant::now();
        if rep >= 2 {
            f += (m - s).as_secs_f64() * 100.0;
            bw += (e - m).as_secs_f64() * 100.0;
        }
    }
    println!("readout+loss forward {f:8.2} ms\nreadout+loss backward{bw:8.2} ms");
    ops(&device(config.runtime.backend, false));
}

#[allow(dead_code)]
pub fn ops(dev: &burn::tensor::Device) {
    use burn::tensor::{Tensor, TensorData};
    let v = vec![0.5f32; 64 * 100 * 256];
    let time = |name: &str, f: &mut dyn FnMut()| {
        f();
        let s = Instant::now();
        for _ in 0..10 {
            f();
        }
        println!("{name:<30} {:8.2} ms", s.elapsed().as_secs_f64() * 100.0);
    };
    let t: Tensor<3> = Tensor::from_data(TensorData::new(v.clone(), [64, 100, 256]), dev);
    time("from_data [64,100,256]", &mut || {
        let _t: Tensor<3> = Tensor::from_data(TensorData::new(v.clone(), [64, 100, 256]), dev);
    });
    time("into_data", &mut || {
        let _ = t.clone().into_data().try_into_vec::<f32>().unwrap();
    });
    let u: Tensor<2> = Tensor::ones([6400, 65], dev);
    let w: Tensor<2> = Tensor::ones([256, 65], dev);
    time("matmul 6400x65x256", &mut || {
        let _ = u.clone().matmul(w.clone().transpose()).into_data();
    });
    let s: Tensor<3> = Tensor::ones([64, 1, 256], dev);
    time("broadcast add", &mut || {
        let _ = (t.clone() + s.clone()).into_data();
    });
    let wo: Tensor<2> = Tensor::ones([33, 256], dev);
    time("matmul 6400x256x33", &mut || {
        let _ = t.clone().reshape([6400, 256]).matmul(wo.clone().transpose()).into_data();
    });
    time("sum_dim T", &mut || {
        let _ = t.clone().sum_dim(1).into_data();
    });
}
