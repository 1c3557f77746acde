//! Training, evaluation and checkpoints end to end (small networks, so this runs in seconds).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails at its first broken expectation, with the message")]

use std::sync::atomic::AtomicBool;

use modulab::analysis::{Ambiguity, AmbiguityKind};
use modulab::config::{BackendKind, Config};
use modulab::model::Pathway;
use modulab::train::checkpoint::{self, CheckpointError};
use modulab::train::eval::{EvalOptions, evaluate_params};
use modulab::train::{self, Evaluation, MetricsRow, NoProgress, ProgressSink, StepReport, Trainer};

fn small(sets: &[&str]) -> Config {
    let mut overrides: Vec<String> = vec![
        "model.n_units=24".into(),
        "train.batch_size=16".into(),
        "train.eval_every=5".into(),
        "train.eval_trials=16".into(),
        "train.checkpoint_every=5".into(),
        "train.steps=10".into(),
    ];
    overrides.extend(sets.iter().map(|s| s.to_string()));
    Config::from_preset("quick", &overrides).unwrap()
}

#[derive(Default)]
struct Record {
    losses: Vec<f32>,
    evals: Vec<Evaluation>,
}

impl ProgressSink for Record {
    fn on_step(&mut self, _: &Trainer, report: &StepReport) {
        self.losses.push(report.loss);
    }
    fn on_eval(&mut self, _: &Trainer, eval: &Evaluation, _: &MetricsRow) {
        self.evals.push(eval.clone());
    }
}

fn train_steps(config: Config) -> (Trainer, Record) {
    let mut trainer = Trainer::new(config);
    let mut record = Record::default();
    train::run(&mut trainer, &mut record, &AtomicBool::new(false), None).unwrap();
    (trainer, record)
}

#[test]
fn same_seed_same_numbers_and_another_seed_differs() {
    let (_, a) = train_steps(small(&[]));
    let (_, b) = train_steps(small(&[]));
    assert_eq!(a.losses, b.losses);
    assert_eq!(a.evals, b.evals);
    let (_, c) = train_steps(small(&["train.seed=9"]));
    assert_ne!(a.losses, c.losses);
}

#[cfg(feature = "ndarray")]
#[test]
fn both_backends_train_to_closely_matching_losses() {
    let (_, flex) = train_steps(small(&["runtime.backend=flex"]));
    let (_, ndarray) = train_steps(small(&["runtime.backend=ndarray"]));
    for (f, n) in flex.losses.iter().zip(&ndarray.losses) {
        assert!((f - n).abs() <= 1e-3 * f.abs().max(1e-3), "flex {f} vs ndarray {n}");
    }
}

#[test]
fn plain_and_fused_training_agree() {
    let (_, fused) = train_steps(small(&["runtime.fused=true", "train.steps=5"]));
    let (_, plain) = train_steps(small(&["runtime.fused=false", "train.steps=5"]));
    for (f, p) in fused.losses.iter().zip(&plain.losses) {
        assert!((f - p).abs() <= 1e-3 * f.abs().max(1e-3), "fused {f} vs plain {p}");
    }
}

#[test]
fn resume_from_checkpoint_reproduces_the_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let (full, full_record) = train_steps(small(&[]));

    // first half, saved; then a fresh process-like resume from the checkpoint
    let mut half = Trainer::new(small(&["train.steps=5"]));
    train::run(&mut half, &mut NoProgress, &AtomicBool::new(false), Some(dir.path())).unwrap();
    let mut resumed = checkpoint::load(dir.path()).unwrap().into_trainer();
    assert_eq!(resumed.step, 5);
    resumed.config.train.steps = 10;
    let mut record = Record::default();
    train::run(&mut resumed, &mut record, &AtomicBool::new(false), Some(dir.path())).unwrap();

    assert_eq!(record.losses, full_record.losses[5..]);
    assert_eq!(record.evals.last(), full_record.evals.last());
    assert_eq!(resumed.params, full.params);
    assert_eq!(resumed.adam, full.adam);
}

#[test]
fn checkpoint_round_trip_gives_identical_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let (trainer, _) = train_steps(small(&["train.steps=3", r#"model.pathways=["gain","synaptic"]"#]));
    checkpoint::save(dir.path(), &trainer).unwrap();
    let loaded = checkpoint::load(dir.path()).unwrap();
    assert_eq!(loaded.params, trainer.params);
    assert_eq!(loaded.config, trainer.config);
    let options = EvalOptions::default();
    let before = evaluate_params(&trainer.config, &trainer.params, trainer.step, &options).unwrap();
    let after = evaluate_params(&loaded.config, &loaded.params, loaded.step, &options).unwrap();
    assert_eq!(before, after);
}

#[test]
fn corrupt_truncated_and_mismatched_checkpoints_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (trainer, _) = train_steps(small(&["train.steps=2"]));
    checkpoint::save(dir.path(), &trainer).unwrap();
    let file = dir.path().join(checkpoint::STATE_FILE);
    let good = std::fs::read(&file).unwrap();

    std::fs::write(&file, &good[..good.len() / 2]).unwrap();
    let e = checkpoint::load(dir.path()).err().unwrap();
    assert!(matches!(e, CheckpointError::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("truncated"), "{e}");

    let mut flipped = good.clone();
    let middle = flipped.len() - 100;
    flipped[middle] ^= 0x40;
    std::fs::write(&file, &flipped).unwrap();
    assert!(checkpoint::load(dir.path()).err().unwrap().to_string().contains("corrupt"));

    std::fs::write(&file, b"hello").unwrap();
    assert!(checkpoint::load(dir.path()).err().unwrap().to_string().contains("not a modulab checkpoint"));

    // parameters that do not fit the config they claim
    let mut other = Trainer::new(small(&["model.n_units=12"]));
    other.config = trainer.config.clone();
    checkpoint::save(dir.path(), &other).unwrap();
    let e = checkpoint::load(dir.path()).err().unwrap();
    assert!(matches!(e, CheckpointError::Mismatch { .. }), "{e}");
    assert!(e.to_string().contains("w_rec"), "{e}");

    let e = checkpoint::load(&dir.path().join("nowhere")).err().unwrap();
    assert!(e.to_string().contains("no checkpoint"), "{e}");
}

#[test]
fn divergence_stops_with_a_clear_message_and_keeps_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut trainer = Trainer::new(small(&["train.steps=5"]));
    train::run(&mut trainer, &mut NoProgress, &AtomicBool::new(false), Some(dir.path())).unwrap();
    let saved = std::fs::read(dir.path().join(checkpoint::STATE_FILE)).unwrap();
    // poison the weights so the next forward pass produces NaN
    trainer.params.tensors[2].data[0] = f32::NAN;
    trainer.config.train.steps = 10;
    let before = trainer.params.clone();
    let e = train::run(&mut trainer, &mut NoProgress, &AtomicBool::new(false), Some(dir.path())).unwrap_err();
    assert!(e.to_string().contains("diverged at step 6"), "{e}");
    assert_eq!(trainer.step, 5);
    assert_eq!(trainer.params.tensors[1], before.tensors[1]);
    assert_eq!(std::fs::read(dir.path().join(checkpoint::STATE_FILE)).unwrap(), saved);
}

#[test]
fn cancellation_stops_before_the_next_step() {
    let mut trainer = Trainer::new(small(&[]));
    let end = train::run(&mut trainer, &mut NoProgress, &AtomicBool::new(true), None).unwrap();
    assert_eq!(end, train::RunEnd::Cancelled);
    assert_eq!(trainer.step, 0);
}

#[test]
fn ambiguity_and_lesions_evaluate() {
    let (trainer, _) = train_steps(small(&["train.steps=2", r#"model.pathways=["bias","synaptic"]"#]));
    for kind in AmbiguityKind::ALL {
        let options = EvalOptions { ambiguity: Ambiguity { kind, level: 0.5 }, ..Default::default() };
        let e = evaluate_params(&trainer.config, &trainer.params, 2, &options).unwrap();
        assert_eq!(e.perf.len(), 4);
        assert!(e.perf.iter().all(|(_, p)| (0.0..=1.0).contains(p)));
    }
    let options = EvalOptions { lesioned: vec![Pathway::Bias, Pathway::Synaptic], trials: Some(8), ..Default::default() };
    evaluate_params(&trainer.config, &trainer.params, 2, &options).unwrap();
    let _ = BackendKind::Flex;
}

/// The first-run preset must learn every task (optimised test profile; ~20 s on two cores).
#[test]
fn quick_preset_learns_every_task_to_criterion() {
    let config = Config::from_preset("quick", &["train.stop_at_perf=0.9".into(), "train.eval_every=50".into()]).unwrap();
    let mut trainer = Trainer::new(config);
    let mut record = Record::default();
    let end = train::run(&mut trainer, &mut record, &AtomicBool::new(false), None).unwrap();
    let last = record.evals.last().unwrap();
    assert_eq!(end, train::RunEnd::Converged, "min performance only reached {:.3} in {} steps", last.perf_min(), trainer.step);
    assert!(last.perf_min() >= 0.9);
    assert_eq!(last.perf.len(), 4);
}

/// Dale's law: after training every unit's outgoing recurrent weights keep its sign, the readout
/// reads the excitatory units only, and training did change the weights; the settings survive a
/// checkpoint, and configurations without them read back unchanged.
#[test]
fn dale_keeps_every_units_sign_through_training() {
    use modulab::analysis::dynamics::StepMap;
    let config = small(&["model.dale=true", r#"model.pathways=["bias","synaptic"]"#, "train.steps=20"]);
    let initial = Trainer::new(config.clone()).params;
    let (trainer, _) = train_steps(config.clone());
    let n = config.model.n_units;
    let n_e = config.model.n_excitatory();
    assert_eq!(n_e, 19, "round(0.8 · 24)");
    for c in [[1.0f32, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], [0.5, 0.0, 0.5, 0.0]] {
        let w = StepMap::new(&config, &trainer.params, &c, &[]).w;
        for j in 0..n {
            let column = w.column(j);
            if j < n_e {
                assert!(column.iter().all(|v| *v >= 0.0), "excitatory unit {j} has a negative outgoing weight");
            } else {
                assert!(column.iter().all(|v| *v <= 0.0), "inhibitory unit {j} has a positive outgoing weight");
            }
            assert!(column.iter().any(|v| *v != 0.0), "unit {j} is silent");
        }
    }
    let moved = |name: &str| {
        let (a, b) = (initial.get(name).unwrap(), trainer.params.get(name).unwrap());
        a.data.iter().zip(&b.data).any(|(x, y)| x != y)
    };
    assert!(moved("w_rec") && moved("w_out"));
    // the readout: its weights on inhibitory units do not matter
    let mut changed = trainer.params.clone();
    let w_out = changed.get_mut("w_out").unwrap();
    for row in 0..w_out.shape[0] {
        for j in n_e..n {
            w_out.data[row * n + j] = 5.0;
        }
    }
    let options = EvalOptions { trials: Some(8), ..EvalOptions::default() };
    let a = evaluate_params(&config, &trainer.params, 0, &options).unwrap();
    let b = evaluate_params(&config, &changed, 0, &options).unwrap();
    assert_eq!(a, b, "inhibitory units are not read out");
    // a checkpoint carries the settings; a configuration without Dale's law writes none of them
    let dir = tempfile::tempdir().unwrap();
    checkpoint::save(&dir.path().join("ckpt"), &trainer).unwrap();
    let loaded = checkpoint::load(&dir.path().join("ckpt")).unwrap();
    assert!(loaded.config.model.dale && loaded.config.model.readout_from_excitatory);
    assert!(!small(&[]).to_toml().contains("dale") && !small(&[]).to_toml().contains("excitatory"));
    assert!(config.to_toml().contains("dale = true"));
    let bad = Config::from_preset("quick", &["model.dale=true".into(), "model.excitatory_fraction=1.0".into()]).unwrap_err().to_string();
    assert!(bad.contains("excitatory_fraction") && bad.contains("one inhibitory"), "{bad}");
}

/// Cell-type-specific modulation: a pathway restricted to one cell type leaves the other type's
/// inputs untouched, and the synaptic pathway changes only its blocks.
#[test]
fn a_pathway_restricted_to_one_cell_type_leaves_the_other_untouched() {
    use modulab::analysis::dynamics::StepMap;
    for (bias, gain, blocks) in [("excitatory", "inhibitory", r#"["ee"]"#), ("inhibitory", "excitatory", r#"["ie", "ii"]"#)] {
        let config = small(&[
            "model.dale=true",
            r#"model.pathways=["bias","gain","synaptic"]"#,
            &format!("model.bias_cells={bias}"),
            &format!("model.gain_cells={gain}"),
            &format!("model.synaptic_blocks={blocks}"),
        ]);
        let mut params = Trainer::new(config.clone()).params;
        // G starts at 0 (gain 1 everywhere): give it values
        let g = params.get_mut("ctx_gain").unwrap();
        g.data.iter_mut().enumerate().for_each(|(i, v)| *v = 0.1 + 0.01 * i as f32);
        let n = config.model.n_units;
        let n_e = config.model.n_excitatory();
        let excitatory = |i: usize| i < n_e;
        let cue = StepMap::new(&config, &params, &[1.0, 0.0, 0.0, 0.0], &[]);
        let none = StepMap::new(&config, &params, &[0.0; 4], &[]);
        for i in 0..n {
            let bias_moved = cue.drive[i] != none.drive[i];
            assert_eq!(bias_moved, excitatory(i) == (bias == "excitatory"), "bias on unit {i} ({bias} only)");
            let gain_moved = cue.gain[i] != none.gain[i];
            assert_eq!(gain_moved, excitatory(i) == (gain == "excitatory"), "gain on unit {i} ({gain} only)");
            for j in 0..n {
                let block = format!("{}{}", if excitatory(j) { "e" } else { "i" }, if excitatory(i) { "e" } else { "i" });
                if !blocks.contains(&block) {
                    assert_eq!(cue.w[(i, j)], none.w[(i, j)], "synapse {j}→{i} ({block}) changed");
                }
            }
        }
        assert!((0..n).any(|i| (0..n).any(|j| cue.w[(i, j)] != none.w[(i, j)])), "the synaptic pathway acts somewhere");
    }
    let bad = Config::from_preset("quick", &["model.gain_cells=inhibitory".into()]).unwrap_err().to_string();
    assert!(bad.contains("gain_cells") && bad.contains("model.dale = true"), "{bad}");
    let bad = Config::from_preset("quick", &["model.dale=true".into(), "model.synaptic_blocks=[]".into()]).unwrap_err().to_string();
    assert!(bad.contains("ee, ei, ie, ii"), "{bad}");
}

/// Heterogeneous time constants: τ_i drawn within their bounds from the seed; trained, they move
/// and stay within the bounds; untrained, they stay as drawn while the weights learn; they survive a
/// checkpoint, a resumed run continues bit for bit, and a configuration without them writes none
/// of the settings.
#[test]
fn per_unit_time_constants_are_drawn_trained_within_bounds_and_saved() {
    let (lo, hi) = (40.0f32, 400.0f32);
    let within = |taus: &[f32]| taus.iter().all(|t| *t >= lo * (1.0 - 1e-5) && *t <= hi * (1.0 + 1e-5));
    for distribution in ["log_uniform", "gamma"] {
        let sets = [&format!("model.tau_distribution={distribution}") as &str, "model.tau_trainable=true", "train.learning_rate=0.05"];
        let config = small(&sets);
        let initial = Trainer::new(config.clone()).params;
        let drawn = initial.unit_taus(&config.model);
        assert!(within(&drawn), "{distribution}: drawn τ {drawn:?}");
        assert!(drawn.windows(2).any(|w| w[0] != w[1]), "{distribution}: the units differ");
        let (trainer, _) = train_steps(config.clone());
        let trained = trainer.params.unit_taus(&config.model);
        assert!(within(&trained), "{distribution}: trained τ {trained:?}");
        assert!(drawn.iter().zip(&trained).any(|(a, b)| a != b), "{distribution}: τ trained");
    }
    // untrained: τ stays as drawn, everything else learns
    let config = small(&["model.tau_distribution=log_uniform"]);
    let initial = Trainer::new(config.clone()).params;
    let (trainer, _) = train_steps(config.clone());
    assert_eq!(initial.get("log_tau"), trainer.params.get("log_tau"));
    assert_ne!(initial.get("w_rec"), trainer.params.get("w_rec"));
    // the same seed gives the same weights with and without per-unit τ (log τ is drawn last)
    assert_eq!(Trainer::new(small(&[])).params.get("w_rec"), initial.get("w_rec"));
    // checkpoint and resume
    let sets = ["model.tau_distribution=gamma", "model.tau_trainable=true"];
    let config = small(&sets);
    let (full, _) = train_steps(config.clone());
    let dir = tempfile::tempdir().unwrap();
    let mut half = Trainer::new(small(&[sets[0], sets[1], "train.steps=5"]));
    train::run(&mut half, &mut NoProgress, &AtomicBool::new(false), Some(dir.path())).unwrap();
    let mut resumed = checkpoint::load(dir.path()).unwrap().into_trainer();
    assert_eq!(resumed.config.model, config.model);
    resumed.config.train.steps = 10;
    train::run(&mut resumed, &mut NoProgress, &AtomicBool::new(false), Some(dir.path())).unwrap();
    assert_eq!(resumed.params, full.params);
    assert!(config.to_toml().contains("tau_distribution = \"gamma\""));
    assert!(!small(&[]).to_toml().contains("tau_distribution") && !small(&[]).to_toml().contains("tau_min"));
    // invalid bounds: one line naming the settings
    for (sets, expect) in [
        (["model.tau_distribution=log_uniform", "model.tau_min_ms=500"], "tau_min_ms"),
        (["model.tau_distribution=gamma", "model.tau_min_ms=10"], "dt_ms"),
        (["model.tau_distribution=gamma", "model.tau_ms=30"], "within [tau_min_ms, tau_max_ms]"),
    ] {
        let overrides: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let bad = Config::from_preset("quick", &overrides).unwrap_err().to_string();
        assert!(bad.contains(expect) && !bad.contains('\n'), "{bad}");
    }
    let bad = Config::from_preset("quick", &["model.tau_distribution=uniform".into()]).unwrap_err().to_string();
    assert!(bad.contains("log_uniform") && bad.contains("gamma"), "{bad}");
}

/// Gamma(shape 3) draws have the configured mean and the spread of shape 3 (CV = 1/√3), within the
/// sampling error of 4 000 units; log-uniform draws are uniform in log τ.
#[test]
fn time_constant_draws_follow_their_distributions() {
    use modulab::model::{ModelConfig, TauDistribution, params::draw_log_tau};
    let n = 4000;
    let draw = |tau_distribution| {
        let config = ModelConfig { tau_distribution, tau_min_ms: 20.0, tau_max_ms: 5000.0, ..ModelConfig::default() };
        draw_log_tau(&config, n, &mut modulab::rng::Rng::seed_from(1)).iter().map(|l| *l as f64).collect::<Vec<_>>()
    };
    let taus: Vec<f64> = draw(TauDistribution::Gamma).iter().map(|l| l.exp()).collect();
    let mean = taus.iter().sum::<f64>() / n as f64;
    let sd = (taus.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    // mean 100 ms, sd 100/√3 = 57.7 ms; the standard error of the mean is 0.9 ms
    assert!((mean - 100.0).abs() < 4.0, "mean {mean}");
    assert!((sd - 57.7).abs() < 4.0, "sd {sd}");
    let logs = draw(TauDistribution::LogUniform);
    let (a, b) = (20f64.ln(), 5000f64.ln());
    let below_mid = logs.iter().filter(|l| **l < (a + b) / 2.0).count() as f64 / n as f64;
    assert!((below_mid - 0.5).abs() < 0.04, "{below_mid}");
    assert!(logs.iter().all(|l| *l >= a - 1e-6 && *l <= b + 1e-6));
}

/// The cell-type and time-constant presets load, train a few steps, save and reload, and the
/// reloaded run continues exactly as the uninterrupted one.
#[test]
fn extension_presets_train_save_reload_and_resume() {
    for preset in ["dale", "dale-gain-inhibitory", "dale-synaptic-ee", "hetero-tau"] {
        let overrides: Vec<String> = [
            "model.n_units=20",
            "train.batch_size=8",
            "train.eval_every=2",
            "train.eval_trials=8",
            "train.checkpoint_every=2",
            "train.steps=2",
        ]
        .map(String::from)
        .to_vec();
        let config = Config::from_preset(preset, &overrides).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut trainer = Trainer::new(config.clone());
        train::run(&mut trainer, &mut NoProgress, &AtomicBool::new(false), Some(dir.path())).unwrap();
        let mut resumed = checkpoint::load(dir.path()).unwrap().into_trainer();
        assert_eq!(resumed.config, config, "{preset}: the settings survive the checkpoint");
        assert_eq!(resumed.params, trainer.params, "{preset}");
        let mut longer =
            Trainer::new(Config { train: modulab::config::TrainConfig { steps: 4, ..config.train.clone() }, ..config.clone() });
        train::run(&mut longer, &mut NoProgress, &AtomicBool::new(false), None).unwrap();
        resumed.config.train.steps = 4;
        train::run(&mut resumed, &mut NoProgress, &AtomicBool::new(false), Some(dir.path())).unwrap();
        assert_eq!(resumed.params, longer.params, "{preset}: resumed = uninterrupted");
    }
}

/// The small network under Dale's law, half its 24 units excitatory, in the balanced state
/// (K = 4 inputs per population, g = 1.5), with the settings `sets`.
fn balanced_subset(sets: &[&str]) -> Config {
    let mut all = vec![
        "model.dale=true",
        "model.excitatory_fraction=0.5",
        "model.recurrent_init=balanced",
        "model.balanced_inputs=4",
        "model.recurrent_scale=1.5",
    ];
    all.extend(sets);
    small(&all)
}

/// Subset training (Kim et al. 2023) by BPTT: the balanced initialisation is the sparse E/I
/// connectivity with the balanced drive; only the first round(f·N_E) units' incoming weights,
/// biases, context parameters and readout columns change, bit for bit, the others are exactly
/// as initialised; untrained units receive no task input, context or readout weight; with f = 0
/// nothing but the readout bias changes.
#[test]
fn subset_training_changes_only_the_trained_units_incoming_weights() {
    let subset = |fraction: &str| {
        balanced_subset(&[
            r#"model.pathways=["bias","gain","synaptic"]"#,
            "model.tau_trainable=true",
            &format!("model.trained_fraction={fraction}"),
        ])
    };
    let config = subset("0.5");
    let (n, n_e, trained) = (24, 12, 6);
    let start = Trainer::new(config.clone()).params;
    // the balanced connectivity: K = 4 inputs from each population of magnitude g·|j|/√K
    let w = &start.get("w_rec").unwrap().data;
    for i in 0..n {
        let row = &w[i * n..(i + 1) * n];
        assert_eq!(row[..n_e].iter().filter(|v| **v > 0.0).count(), 4, "unit {i}: E inputs");
        assert_eq!(row[n_e..].iter().filter(|v| **v > 0.0).count(), 4, "unit {i}: I inputs");
        assert_eq!(row[i], 0.0, "no self-connection");
        // j_EE = j_IE = 1: every excitatory input is g/√K
        assert!(row[..n_e].iter().all(|v| *v == 0.0 || (v - 1.5 / 2.0).abs() < 1e-6), "{row:?}");
    }
    let b = &start.get("b_rec").unwrap().data;
    // the drive g·√K·I_a grows with g like the connections (Kim et al.'s code): 1.5·2 and 1.5·1.6
    assert!((b[0] - 3.0).abs() < 1e-6 && (b[n - 1] - 2.4).abs() < 1e-6, "drive g·√K·I_a: {b:?}");
    // untrained units are cut off from the task's inputs, the context and the readout
    let w_in = start.get("w_in").unwrap();
    let n_in = w_in.shape[1];
    assert!(w_in.data[trained * n_in..].iter().all(|v| *v == 0.0) && w_in.data[..trained * n_in].iter().any(|v| *v != 0.0));
    let w_out = start.get("w_out").unwrap();
    assert!(w_out.data.chunks(n).all(|row| row[trained..].iter().all(|v| *v == 0.0) && row[..trained].iter().any(|v| *v != 0.0)));

    let (trainer, record) = train_steps(config);
    assert!(record.losses.iter().all(|l| l.is_finite()), "{:?}", record.losses);
    let end = &trainer.params;
    for (before, after) in start.tensors.iter().zip(&end.tensors) {
        let rows = |t: &modulab::model::ParamTensor, unit: usize| -> Vec<f32> {
            match t.name.as_str() {
                "w_in" | "w_rec" | "syn_u" => t.data.chunks(t.shape[1]).nth(unit).unwrap().to_vec(),
                "b_rec" | "log_tau" => vec![t.data[unit]],
                "w_out" | "ctx_bias" | "ctx_gain" => t.data.chunks(n).map(|row| row[unit]).collect(),
                _ => vec![],
            }
        };
        for unit in 0..n {
            let (a, b) = (rows(before, unit), rows(after, unit));
            if unit >= trained {
                assert_eq!(a, b, "{} of untrained unit {unit} changed", before.name);
            }
        }
        if before.name != "b_out" && before.name != "syn_v" {
            let moved = (0..trained).any(|unit| rows(before, unit) != rows(after, unit));
            assert!(moved, "{} of the trained units never changed", before.name);
        }
    }

    let (none, _) = train_steps(subset("0"));
    let fresh = Trainer::new(subset("0")).params;
    for (before, after) in fresh.tensors.iter().zip(&none.params.tensors) {
        if before.name != "b_out" && before.name != "syn_v" {
            assert_eq!(before.data, after.data, "{} changed with f = 0", before.name);
        }
    }
    let bad = Config::from_preset("quick", &["model.trained_fraction=0.5".into()]).unwrap_err().to_string();
    assert!(bad.contains("model.dale = true"), "{bad}");
    let bad = Config::from_preset(
        "quick",
        &["model.dale=true".into(), "model.recurrent_init=balanced".into(), "model.balanced_inputs=60".into()],
    )
    .unwrap_err()
    .to_string();
    assert!(bad.contains("balanced_inputs"), "{bad}");
}

/// docs/MODEL.md §7: under Dale's law with f = max(0, ·) a zero entry of W̃ gets no gradient
/// (relu's derivative is 0 there), so subset training reweights the sparse balanced graph but
/// grows no synapse; the low-rank synaptic pathway adds Σ c_k U_k V_kᵀ to W̃ before f, which can
/// open a zero entry, and then it learns.
#[test]
fn under_dale_a_zero_weight_grows_only_through_the_low_rank_synaptic_pathway() {
    let subset = |pathways: &str| balanced_subset(&["model.trained_fraction=0.5", &format!("model.pathways={pathways}")]);
    let (n, trained) = (24, 6);
    for (pathways, grows) in [(r#"["bias"]"#, false), (r#"["bias","synaptic"]"#, true)] {
        let config = subset(pathways);
        let start = Trainer::new(config.clone()).params.get("w_rec").unwrap().data.clone();
        let (trainer, _) = train_steps(config);
        let end = &trainer.params.get("w_rec").unwrap().data;
        let trained_entries = 0..trained * n;
        let zeros: Vec<usize> = trained_entries.clone().filter(|&at| start[at] == 0.0).collect();
        let synapses: Vec<usize> = trained_entries.filter(|&at| start[at] != 0.0).collect();
        assert_eq!((zeros.len(), synapses.len()), (trained * (n - 8), trained * 8), "{pathways}: K = 4 inputs per population");
        assert!(synapses.iter().any(|&at| end[at] != start[at]), "{pathways}: the synapses learn");
        let grown = zeros.iter().filter(|&&at| end[at] != 0.0).count();
        assert_eq!(grown > 0, grows, "{pathways}: {grown} zero entries of the trained rows moved");
    }
}
