//! The network and its pathways: shapes, gradients, lesions, context independence, and the fused
//! kernel against the plain burn reference.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails at its first broken expectation, with the message")]

use burn::tensor::{Device, Tensor, TensorData};
use modulab::config::{BackendKind, Config};
use modulab::model::params::Dims;
use modulab::model::pass::RnnSpec;
use modulab::model::rnn::masked_mse;
use modulab::model::{Activation, ModelConfig, ParamSet, Pathway, Readout, Rnn, RnnInput, StateForm, SynapticForm};
use modulab::rng::Rng;
use modulab::train::device;

const B: usize = 3;
const T: usize = 6;
const N: usize = 10;
const K: usize = 4;

fn all_pathway_sets() -> Vec<Vec<Pathway>> {
    (0..8u8).map(|mask| Pathway::ALL.into_iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, p)| p).collect()).collect()
}

fn spec(pathways: &[Pathway], fused: bool) -> RnnSpec {
    let config = ModelConfig { n_units: N, pathways: pathways.to_vec(), synaptic_rank: 2, ..Default::default() };
    RnnSpec {
        config,
        dims: Dims { n_in: 5, n_out: 3, n_units: N, n_contexts: K },
        alpha: 0.2,
        dt_ms: 20.0,
        readout: Readout::Linear,
        fused,
        threads: 2,
    }
}

/// Parameters with every pathway parameter non-zero (G and M start at 0 otherwise).
fn params(spec: &RnnSpec, seed: u64) -> ParamSet {
    let mut rng = Rng::seed_from(seed);
    let mut p = ParamSet::init(&spec.config, spec.dims, spec.readout, &mut rng);
    for t in &mut p.tensors {
        if t.name == "ctx_gain" || t.name == "syn_m" || t.name == "b_rec" {
            rng.fill_normal(&mut t.data, 0.3);
        }
    }
    p
}

fn input(device: &Device, context: Vec<f32>, shared: bool, seed: u64) -> RnnInput {
    let mut rng = Rng::seed_from(seed);
    let mut u = vec![0.0; B * T * 5];
    rng.fill_normal(&mut u, 1.0);
    let mut noise = vec![0.0; B * T * N];
    rng.fill_normal(&mut noise, 0.1);
    RnnInput {
        inputs: std::sync::Arc::new(u),
        input_shape: [B, T, 5],
        context: Tensor::from_data(TensorData::new(context, [B, K]), device),
        context_shared: shared,
        rec_noise: Some(std::sync::Arc::new(noise)),
    }
}

fn one_hot(k: usize) -> Vec<f32> {
    (0..B * K).map(|i| if i % K == k { 1.0 } else { 0.0 }).collect()
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn every_pathway_set_has_right_shapes_and_trainable_parameters() {
    let device = device(BackendKind::Flex, true);
    for set in all_pathway_sets() {
        for fused in [false, true] {
            let spec = spec(&set, fused);
            let p = params(&spec, 1);
            let model = Rnn::from_params(&p, spec.clone(), &device);
            let fw = model.forward(input(&device, one_hot(1), true, 2), &[]);
            assert_eq!(fw.outputs.dims(), [B, T, 3]);
            assert_eq!(fw.rates.dims(), [B, T, N]);
            let target = Tensor::<3>::zeros([B, T, 3], &device);
            let mask = Tensor::<3>::ones([B, T, 3], &device);
            let loss = masked_mse(fw.outputs, target, mask);
            let grads = model.gradients(&loss.backward(), &p);
            for (tensor, grad) in p.tensors.iter().zip(&grads) {
                let nonzero = grad.iter().filter(|g| **g != 0.0).count();
                assert!(nonzero > 0, "set {set:?} fused {fused}: {} has an all-zero gradient", tensor.name);
            }
        }
    }
}

#[test]
fn without_pathways_the_output_ignores_context_and_lesions_remove_effects() {
    let device = device(BackendKind::Flex, false);
    for set in all_pathway_sets() {
        let spec = spec(&set, true);
        let p = params(&spec, 3);
        let model = Rnn::from_params(&p, spec, &device);
        let run = |context: Vec<f32>, lesioned: &[Pathway]| values(model.forward(input(&device, context, true, 4), lesioned).outputs);
        let task0 = run(one_hot(0), &[]);
        let task2 = run(one_hot(2), &[]);
        let zero = run(vec![0.0; B * K], &[]);
        if set.is_empty() {
            assert_eq!(task0, task2, "no pathway: context must not matter");
        } else {
            assert!(max_diff(&task0, &task2) > 1e-4, "{set:?}: context must matter");
        }
        // lesioning every pathway = the network at c = 0
        assert!(max_diff(&run(one_hot(0), &set), &zero) < 1e-6, "{set:?}: full lesion must equal c = 0");
        for &p in &set {
            // lesioning one pathway = that pathway alone seeing c = 0
            let lesioned = run(one_hot(0), &[p]);
            if set.len() == 1 {
                assert!(max_diff(&lesioned, &zero) < 1e-6);
            } else {
                assert!(max_diff(&lesioned, &task0) > 1e-5, "{set:?}: lesioning {p:?} must change the output");
            }
        }
    }
}

/// The fused kernel computes the same outputs and gradients as the step-by-step burn reference,
/// for shared and per-trial contexts, both state forms, every activation and synaptic form.
#[test]
fn fused_kernel_matches_plain_burn() {
    let device = device(BackendKind::Flex, true);
    let mixed_context: Vec<f32> = (0..B * K).map(|i| ((i * 7 % 5) as f32 - 2.0) * 0.3).collect();
    let cases = [
        (Activation::Relu, StateForm::Rate, SynapticForm::Lowrank),
        (Activation::Softplus, StateForm::Voltage, SynapticForm::Elementwise),
        (Activation::Tanh, StateForm::Rate, SynapticForm::Elementwise),
        (Activation::Tanh, StateForm::Voltage, SynapticForm::Lowrank),
    ];
    for (activation, form, synaptic_form) in cases {
        for (context, shared) in [(one_hot(1), true), (mixed_context.clone(), false)] {
            let run = |fused: bool| {
                let mut spec = spec(&Pathway::ALL, fused);
                spec.config.activation = activation;
                spec.config.state_form = form;
                spec.config.synaptic_form = synaptic_form;
                let p = params(&spec, 5);
                let model = Rnn::from_params(&p, spec, &device);
                let fw = model.forward(input(&device, context.clone(), shared, 6), &[]);
                let outputs = values(fw.outputs.clone());
                let target = Tensor::<3>::ones([B, T, 3], &device) * 0.3;
                let mask = Tensor::<3>::ones([B, T, 3], &device);
                let grads = model.gradients(&masked_mse(fw.outputs, target, mask).backward(), &p);
                (outputs, grads)
            };
            let (out_plain, grads_plain) = run(false);
            let (out_fused, grads_fused) = run(true);
            assert!(max_diff(&out_plain, &out_fused) < 1e-5, "{activation:?} {form:?} outputs differ");
            for (gp, gf) in grads_plain.iter().zip(&grads_fused) {
                let scale = gp.iter().map(|g| g.abs()).fold(1e-6, f32::max);
                assert!(max_diff(gp, gf) / scale < 1e-3, "{activation:?} {form:?} {synaptic_form:?} shared={shared}: gradients differ");
            }
        }
    }
}

/// Under Dale's law (either magnitude, either readout) the fused kernel still computes what the
/// plain burn reference does, and the gradients reach W̃ through f(W̃)·D.
#[test]
fn fused_kernel_matches_plain_burn_under_dale() {
    use modulab::model::{CellTarget, DaleMagnitude, SynapticBlock};
    let device = device(BackendKind::Flex, true);
    let mixed_context: Vec<f32> = (0..B * K).map(|i| ((i * 7 % 5) as f32 - 2.0) * 0.3).collect();
    for (magnitude, from_excitatory, restricted) in
        [(DaleMagnitude::Relu, true, false), (DaleMagnitude::Abs, false, false), (DaleMagnitude::Relu, true, true)]
    {
        let run = |fused: bool| {
            let mut spec = spec(&Pathway::ALL, fused);
            spec.config.dale = true;
            spec.config.dale_magnitude = magnitude;
            spec.config.readout_from_excitatory = from_excitatory;
            if restricted {
                // cell-type-specific modulation: bias on E cells, gain on I cells, synapses E→E and I→E
                spec.config.bias_cells = CellTarget::Excitatory;
                spec.config.gain_cells = CellTarget::Inhibitory;
                spec.config.synaptic_blocks = vec![SynapticBlock::Ee, SynapticBlock::Ie];
            }
            let p = params(&spec, 5);
            let model = Rnn::from_params(&p, spec, &device);
            let targets = vec![0.3; B * T * 3];
            let loss = model.loss(input(&device, mixed_context.clone(), false, 6), targets, vec![1.0; B * T * 3]);
            (values(loss.clone())[0], model.gradients(&loss.backward(), &p))
        };
        let (loss_plain, grads_plain) = run(false);
        let (loss_fused, grads_fused) = run(true);
        assert!((loss_plain - loss_fused).abs() <= 1e-5 * loss_plain.abs().max(1e-3), "{magnitude:?}: loss {loss_plain} vs {loss_fused}");
        for (gp, gf) in grads_plain.iter().zip(&grads_fused) {
            let scale = gp.iter().map(|g| g.abs()).fold(1e-6, f32::max);
            assert!(max_diff(gp, gf) / scale < 1e-3, "{magnitude:?}: gradients differ");
        }
        // index 2 is W_rec, 3 is W_out (the layout's order)
        assert!(grads_fused[2].iter().any(|g| *g != 0.0), "{magnitude:?}: W̃ gets a gradient");
        if from_excitatory {
            let w_out = &grads_fused[3];
            let n_e = (0.8f32 * N as f32).round() as usize;
            assert!((0..3).all(|row| (n_e..N).all(|j| w_out[row * N + j] == 0.0)), "inhibitory readout weights get no gradient");
        }
    }
}

/// Per-unit time constants: the fused kernel's α_i and its gradient dL/d log τ_i equal the plain
/// burn reference's, alone and with Dale's law, in both state forms; the gradient also matches a
/// central finite difference of the loss; untrained τ_i get no gradient.
#[test]
fn fused_kernel_matches_plain_burn_with_per_unit_time_constants() {
    use modulab::model::TauDistribution;
    let device = device(BackendKind::Flex, true);
    let mixed_context: Vec<f32> = (0..B * K).map(|i| ((i * 7 % 5) as f32 - 2.0) * 0.3).collect();
    for (distribution, form, dale) in [
        (TauDistribution::LogUniform, StateForm::Rate, false),
        (TauDistribution::Gamma, StateForm::Voltage, false),
        (TauDistribution::LogUniform, StateForm::Rate, true),
    ] {
        let tagged = |fused: bool, trainable: bool| {
            let mut spec = spec(&Pathway::ALL, fused);
            spec.config.tau_distribution = distribution;
            spec.config.tau_trainable = trainable;
            spec.config.state_form = form;
            spec.config.dale = dale;
            spec
        };
        let targets = vec![0.3; B * T * 3];
        let loss_of = |spec: RnnSpec, p: &ParamSet| {
            let model = Rnn::from_params(p, spec, &device);
            let loss = model.loss(input(&device, mixed_context.clone(), false, 6), targets.clone(), vec![1.0; B * T * 3]);
            (values(loss.clone())[0], model.gradients(&loss.backward(), p))
        };
        let p = params(&tagged(true, true), 5);
        let log_tau = p.tensors.iter().position(|t| t.name == "log_tau").expect("a log_tau parameter");
        let (loss_plain, grads_plain) = loss_of(tagged(false, true), &p);
        let (loss_fused, grads_fused) = loss_of(tagged(true, true), &p);
        let tag = format!("{distribution:?} {form:?} dale={dale}");
        assert!((loss_plain - loss_fused).abs() <= 1e-5 * loss_plain.abs().max(1e-3), "{tag}: loss {loss_plain} vs {loss_fused}");
        for (gp, gf) in grads_plain.iter().zip(&grads_fused) {
            let scale = gp.iter().map(|g| g.abs()).fold(1e-6, f32::max);
            assert!(max_diff(gp, gf) / scale < 1e-3, "{tag}: gradients differ");
        }
        let g = &grads_fused[log_tau];
        assert!(g.iter().all(|v| *v != 0.0), "{tag}: every τ_i gets a gradient: {g:?}");
        // central differences on the two units with the largest gradients
        let mut order: Vec<usize> = (0..N).collect();
        order.sort_by(|a, b| g[*b].abs().total_cmp(&g[*a].abs()));
        for &i in &order[..2] {
            let eps = 1e-2;
            let at = |delta: f32| {
                let mut q = p.clone();
                q.tensors[log_tau].data[i] += delta;
                loss_of(tagged(true, true), &q).0 as f64
            };
            let fd = (at(eps) - at(-eps)) / (2.0 * eps as f64);
            assert!((fd - g[i] as f64).abs() <= 0.05 * fd.abs() + 1e-6, "{tag}: unit {i}: finite difference {fd} vs {}", g[i]);
        }
        // drawn but not trained: the same loss, no gradient
        let (loss_fixed, grads_fixed) = loss_of(tagged(true, false), &p);
        assert_eq!(loss_fixed, loss_fused, "{tag}");
        assert!(grads_fixed[log_tau].iter().all(|v| *v == 0.0), "{tag}");
    }
}

/// The fused training loss (scan + readout + masked MSE as one operation) gives the same value
/// and gradients as the plain burn forward followed by `masked_mse`, for both readouts.
#[test]
fn fused_training_loss_matches_plain_burn() {
    let mixed_context: Vec<f32> = (0..B * K).map(|i| ((i * 7 % 5) as f32 - 2.0) * 0.3).collect();
    for &backend in BackendKind::BUILT {
        let device = device(backend, true);
        for encoding in [Readout::Sigmoid, Readout::Linear] {
            for (context, shared) in [(one_hot(2), true), (mixed_context.clone(), false)] {
                let mut rng = Rng::seed_from(11);
                let mut targets = vec![0.0; B * T * 3];
                rng.fill_normal(&mut targets, 0.5);
                let mask: Vec<f32> = (0..B * T * 3).map(|i| (i % 4) as f32 * 0.5).collect();
                let run = |fused: bool| {
                    let mut spec = spec(&Pathway::ALL, fused);
                    spec.readout = encoding;
                    let p = params(&spec, 8);
                    let model = Rnn::from_params(&p, spec, &device);
                    let loss = model.loss(input(&device, context.clone(), shared, 9), targets.clone(), mask.clone());
                    let value = values(loss.clone())[0];
                    (value, model.gradients(&loss.backward(), &p))
                };
                let (loss_plain, grads_plain) = run(false);
                let (loss_fused, grads_fused) = run(true);
                let tag = format!("{backend:?} {encoding:?} shared={shared}");
                assert!((loss_plain - loss_fused).abs() <= 1e-5 * loss_plain.abs().max(1e-3), "{tag}: loss {loss_plain} vs {loss_fused}");
                for (gp, gf) in grads_plain.iter().zip(&grads_fused) {
                    let scale = gp.iter().map(|g| g.abs()).fold(1e-6, f32::max);
                    assert!(gp.iter().any(|g| *g != 0.0), "{tag}: an all-zero gradient");
                    assert!(max_diff(gp, gf) / scale < 1e-3, "{tag}: gradients differ");
                }
            }
        }
    }
}

#[test]
fn config_defaults_follow_the_spec() {
    let c = Config::default();
    assert_eq!(c.model.n_units, 256);
    assert_eq!(c.model.alpha(c.tasks.dt_ms), 0.2);
    assert_eq!(c.model.effective_recurrent_scale(), 0.5);
    assert_eq!(c.train.batch_size, 64);
    assert_eq!(c.train.learning_rate, 1e-3);
    assert_eq!(c.train.tasks.len(), 20);
}

/// Under Dale's law the affine gain is max(0, 1 + G c) (docs/MODEL.md §2). A context that drives
/// 1 + G c below 0 (here a hand-set G; a noisy or mixed context can do the same) leaves every
/// unit's gain ≥ 0, so the effective input g_i·W_ij(c) from each presynaptic unit j keeps j's sign,
/// in the plain burn pass, the fused kernel, the host StepMap and the task-switch host simulation
/// alike. The clamped units' drive is negative: with the gain of −2 they would fire (checked on
/// the host), clamped they stay silent on every path, and G gets no gradient there.
#[test]
fn under_dale_the_gain_stays_non_negative_on_every_path() {
    use modulab::analysis::Ambiguity;
    use modulab::analysis::dynamics::StepMap;
    use modulab::experiments::switching::{PathwayContexts, simulate, switch_schedule};
    use modulab::model::ContextTaus;
    use modulab::train::probe::{ProbeTrials, run_probe};
    let config_for = |fused: bool| {
        let sets =
            ["model.n_units=10", "model.dale=true", r#"model.pathways=["bias","gain","synaptic"]"#, &format!("runtime.fused={fused}")];
        Config::from_preset("quick", &sets.map(String::from)).unwrap()
    };
    let config = config_for(true);
    let (n, n_e, k) = (10, config.model.n_excitatory(), config.train.tasks.len());
    assert_eq!(n_e, 8);
    let mut params = ParamSet::init(&config.model, config.dims(), config.readout(), &mut Rng::seed_from(4));
    // task 0's G: 1 − 3 = −2 on units 0, 3, 6 (excitatory) and 9 (inhibitory), 1.5 elsewhere; the
    // other tasks' G drawn; the clamped units' drive b = −2 outweighs their other inputs
    let clamped = [0, 3, 6, 9];
    let g = params.get_mut("ctx_gain").unwrap();
    Rng::seed_from(5).fill_normal(&mut g.data, 0.8);
    (0..n).for_each(|i| g.data[i] = if clamped.contains(&i) { -3.0 } else { 0.5 });
    clamped.iter().for_each(|&i| params.get_mut("b_rec").unwrap().data[i] = -2.0);

    // the host map: every gain ≥ 0, 0 exactly where 1 + G c < 0, and g_i·W_ij(c) of j's sign,
    // for the clear context and for a noisy one that drives other units' affine gain below 0
    let noisy = [0.9, -0.7, 0.8, -0.9];
    for c in [[1.0, 0.0, 0.0, 0.0], noisy] {
        let map = StepMap::new(&config, &params, &c, &[]);
        let g_tensor = &params.get("ctx_gain").unwrap().data;
        for i in 0..n {
            let affine = 1.0 + (0..k).map(|t| c[t] as f64 * g_tensor[t * n + i] as f64).sum::<f64>();
            assert!((map.gain[i] - affine.max(0.0)).abs() < 1e-6, "unit {i}: gain {} for 1 + G c = {affine}", map.gain[i]);
            for j in 0..n {
                let sign = if j < n_e { 1.0 } else { -1.0 };
                assert!(map.gain[i] * map.w[(i, j)] * sign >= 0.0, "the input {j} → {i} turned its sign under context {c:?}");
            }
        }
        assert!((0..n).any(|i| map.gain[i] == 0.0), "the context {c:?} drives some affine gain below 0");
    }
    let map = StepMap::new(&config, &params, &[1.0, 0.0, 0.0, 0.0], &[]);
    let probe = ProbeTrials::draw_from(&config, 3, 11).unwrap();
    let batch = &probe.batches[0];
    let d = map.drive_with_input(batch.input(0, 0));
    let first = map.step(&nalgebra::DVector::zeros(n), &d);
    let mut unclamped = map.clone();
    clamped.iter().for_each(|&i| unclamped.gain[i] = -2.0);
    let would = unclamped.step(&nalgebra::DVector::zeros(n), &d);
    for &i in &clamped {
        assert_eq!(first[i], 0.0, "unit {i} is silent with its gain clamped");
        assert!(would[i] > 0.05, "unit {i} would fire with the gain −2 ({})", would[i]);
    }

    // the same rates from the plain burn pass, the fused kernel and the host simulation, and the
    // clamped units silent throughout on each
    let plain = run_probe(&config_for(false), &params, 0, &probe, Ambiguity::none(), &[]).unwrap().tasks.remove(0).rates;
    let fused = run_probe(&config, &params, 0, &probe, Ambiguity::none(), &[]).unwrap().tasks.remove(0).rates;
    let raw = switch_schedule(k, 0, 0, batch.steps, 0);
    let host = simulate(&config, &params, batch, &PathwayContexts::filtered(&raw, config.tasks.dt_ms, ContextTaus::INSTANT));
    let host: Vec<f32> = host.rates.iter().map(|r| *r as f32).collect();
    assert!(max_diff(&plain, &fused) < 1e-5, "plain and fused differ by {}", max_diff(&plain, &fused));
    assert!(max_diff(&plain, &host) < 1e-4, "plain and host differ by {}", max_diff(&plain, &host));
    for (path, rates) in [("plain", &plain), ("fused", &fused), ("host", &host)] {
        assert!(rates.chunks(n).all(|r| clamped.iter().all(|&i| r[i] == 0.0)), "{path}: a clamped unit fired");
        assert!(rates.chunks(n).any(|r| r.iter().any(|v| *v > 0.0)), "{path}: the other units are active");
    }

    // training: G gets no gradient where the gain is clamped, in both passes alike
    let device = device(BackendKind::Flex, true);
    let gradients = |fused: bool| {
        let mut spec = spec(&[Pathway::Gain], fused);
        spec.config.dale = true;
        let mut p = ParamSet::init(&spec.config, spec.dims, spec.readout, &mut Rng::seed_from(7));
        let g = p.get_mut("ctx_gain").unwrap();
        (0..N).for_each(|i| g.data[i] = if i % 3 == 0 { -3.0 } else { 0.5 });
        let model = Rnn::from_params(&p, spec, &device);
        let loss = model.loss(input(&device, one_hot(0), true, 6), vec![0.3; B * T * 3], vec![1.0; B * T * 3]);
        model.gradients(&loss.backward(), &p).remove(5)
    };
    let (plain, fused) = (gradients(false), gradients(true));
    for (path, g) in [("plain", &plain), ("fused", &fused)] {
        assert!((0..N).all(|i| (i % 3 == 0) == (g[i] == 0.0)), "{path}: task 0's G gradient {:?}", &g[..N]);
    }
    assert!(max_diff(&plain, &fused) <= 1e-3 * plain.iter().map(|v| v.abs()).fold(1e-6, f32::max));
}
