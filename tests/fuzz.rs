//! Bad input never panics: every loader of a file a user hands modulab (config TOML, lesson,
//! checkpoint, metrics and sweep CSVs, packing plan files, exported or foreign .npz and
//! .safetensors networks, shard and τ lists) gets random text and random edits of a
//! valid file, a bounded number of cases from a fixed seed (the same cases in every run), and must
//! answer with a value or an error, never a panic or an allocation it cannot make.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails at its first broken expectation, with the message")]

use std::path::Path;

use modulab::app::lesson::{BUILTIN, Lesson};
use modulab::config::Config;
use modulab::experiments::packing::PlanFile;
use modulab::tasks::Task;
use modulab::train::{Trainer, checkpoint, exchange, metrics};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, RngSeed};

fn runner(cases: u32) -> RunnerConfig {
    RunnerConfig { cases, rng_seed: RngSeed::Fixed(15), failure_persistence: None, ..RunnerConfig::default() }
}

/// An edit of a byte string: (where, what, byte) with what = replace, insert or delete.
fn edits() -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
    prop::collection::vec((any::<usize>(), 0u8..3, any::<u8>()), 1..12)
}

fn edited(base: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut out = base.to_vec();
    for &(at, what, byte) in edits {
        let at = if out.is_empty() { 0 } else { at % (out.len() + 1) };
        match what {
            0 if at < out.len() => out[at] = byte,
            2 if at < out.len() => {
                out.remove(at);
            }
            _ => out.insert(at, byte),
        }
    }
    out
}

/// Text edits put printable ASCII and line breaks (a character they cut in two becomes U+FFFD),
/// so they reach the parser behind the UTF-8 check.
fn edited_text(base: &str, edits: &[(usize, u8, u8)]) -> String {
    let printable: Vec<(usize, u8, u8)> =
        edits.iter().map(|&(at, what, b)| (at, what, if b % 16 == 0 { b'\n' } else { 32 + b % 95 })).collect();
    String::from_utf8_lossy(&edited(base.as_bytes(), &printable)).into_owned()
}

const PRESET: &str = include_str!("../assets/presets/yang20.toml");

proptest! {
    #![proptest_config(runner(2000))]

    #[test]
    fn config_files(edits in edits(), junk in ".{0,200}") {
        let _ = Config::from_toml_with_overrides(&edited_text(PRESET, &edits), "fuzz.toml", &[]);
        let _ = Config::from_toml_with_overrides(&junk, "fuzz.toml", &[]);
        let _ = Config::from_preset("quick", &[junk]);
    }

    #[test]
    fn lesson_files(which in 0..BUILTIN.len(), edits in edits(), junk in ".{0,200}") {
        let _ = Lesson::parse(&edited_text(BUILTIN[which].1, &edits), Path::new("/nonexistent"), "fuzz");
        let _ = Lesson::parse(&junk, Path::new("/nonexistent"), "fuzz");
    }

    #[test]
    fn csv_tables_and_lists(junk in ".{0,300}", edits in edits()) {
        let tasks = [Task::FdGo, Task::FdAnti];
        let metrics_text = format!("{}\n3,24,0.5,0.1,0.5,0.5,0.25,0.75\n", metrics::header(&tasks));
        let _ = metrics::parse(&edited_text(&metrics_text, &edits), &tasks);
        let _ = metrics::parse(&junk, &tasks);
        let _ = modulab::experiments::packing::parse_csv(&junk, "fuzz");
        let _ = modulab::experiments::driver::parse_shard(&junk);
        let _ = modulab::experiments::sweep::parse_ambiguity_csv(&junk, "fuzz");
        let _ = modulab::experiments::sweep::parse_levels(&junk);
        let _ = modulab::experiments::switching::parse_taus(&junk);
        let _ = modulab::experiments::reproduce::parse_dynamics_csv(&junk, "fuzz");
        let _ = modulab::experiments::reproduce::parse_switching_csv(&junk, "fuzz");
        let _ = PlanFile::parse(&junk);
    }

    #[test]
    fn packing_plan_files(edits in edits()) {
        let _ = PlanFile::parse(&edited_text(&plan_file().to_toml(), &edits));
    }
}

fn plan_file() -> PlanFile {
    PlanFile {
        sizes: vec![8, 16],
        task_counts: vec![1, 2],
        pathways: vec!["bias".into(), "gain+synaptic".into()],
        seeds: vec![0, 1],
        budget_steps: 300,
        plateau_steps: 2000,
        criterion: 0.9,
        order: "battery".into(),
        base: Config::from_preset("quick", &[]).unwrap().to_toml(),
    }
}

/// Exported networks (.npz and .safetensors), edited at random, read back for import: the
/// archive, array headers, dtypes and shapes (checked before any array's data is read, so a
/// shape claiming terabytes allocates nothing), the derived arrays checked against the
/// parameters (Dale's law, per-unit τ) and the configuration text.
#[test]
fn exported_networks() {
    assert_eq!(PlanFile::parse(&plan_file().to_toml()), Ok(plan_file()));
    let dir = tempfile::tempdir().unwrap();
    let sets = ["model.n_units=8", r#"model.pathways=["bias","synaptic"]"#, "model.dale=true", "model.tau_distribution=log_uniform"];
    let config = Config::from_preset("quick", &sets.map(String::from)).unwrap();
    let trainer = Trainer::new(config.clone());
    for name in ["net.npz", "net.safetensors"] {
        let file = dir.path().join(name);
        exchange::export_network(&file, &config, &trainer.params, 0, false).unwrap();
        let valid = std::fs::read(&file).unwrap();
        assert!(exchange::import(&file, &config, None).is_ok());
        let mut runner = proptest::test_runner::TestRunner::new(runner(1000));
        runner
            .run(&edits(), |edits| {
                std::fs::write(&file, edited(&valid, &edits)).unwrap();
                let _ = exchange::import(&file, &config, None);
                let _ = exchange::read_config_json(&file);
                Ok(())
            })
            .unwrap();
    }
}

/// The checkpoint's own checksum (FNV-1a over everything before its last 8 bytes), so edited
/// files reach the parser behind it.
fn with_checksum(mut body: Vec<u8>) -> Vec<u8> {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in &body {
        hash ^= b as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    body.extend_from_slice(&hash.to_le_bytes());
    body
}

#[test]
fn checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_preset("quick", &["model.n_units=8".into(), "train.batch_size=4".into()]).unwrap();
    let mut trainer = Trainer::new(config);
    trainer.step().unwrap();
    checkpoint::save(dir.path(), &trainer).unwrap();
    let file = dir.path().join(checkpoint::STATE_FILE);
    let valid = std::fs::read(&file).unwrap();
    assert!(checkpoint::load(dir.path()).is_ok());
    let body = &valid[..valid.len() - 8];
    // the header (13-byte magic, format, length, JSON with the configuration and tensor
    // shapes) comes first
    let header_end = (13 + 4 + 8 + u64::from_le_bytes(valid[17..25].try_into().unwrap()) as usize).min(body.len());
    let mut runner = proptest::test_runner::TestRunner::new(runner(1000));
    runner
        .run(&(edits(), any::<bool>()), |(edits, in_header)| {
            let damaged = if in_header {
                // edits inside the header, the checksum made right: the parser itself is tested
                let mut header = edited(&body[..header_end], &edits);
                header.extend_from_slice(&body[header_end..]);
                with_checksum(header)
            } else {
                edited(&valid, &edits)
            };
            std::fs::write(&file, &damaged).unwrap();
            let _ = checkpoint::load(dir.path());
            Ok(())
        })
        .unwrap();
}
