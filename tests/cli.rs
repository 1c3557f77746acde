//! The command-line contract, run through the real binary.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails at its first broken expectation, with the message")]

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::*;

const SMALL: &[&str] = &[
    "--set",
    "model.n_units=16",
    "--set",
    "train.batch_size=8",
    "--set",
    "train.eval_every=3",
    "--set",
    "train.eval_trials=8",
    "--set",
    "train.checkpoint_every=3",
];

fn train(out: &Path, steps: &str, extra: &[&str]) -> Output {
    let mut args = vec!["train", "--preset", "quick", "--seed", "4", "--steps", steps, "--quiet", "--out", out.to_str().unwrap()];
    args.extend_from_slice(SMALL);
    args.extend_from_slice(extra);
    modulab(&args)
}

/// metrics.csv without the wall-clock column, which legitimately differs between runs.
fn metrics_without_time(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("metrics.csv"))
        .unwrap()
        .lines()
        .map(|l| l.split(',').enumerate().filter(|(i, _)| *i != 3).map(|(_, f)| f).collect::<Vec<_>>().join(","))
        .collect()
}

#[test]
fn train_writes_config_metrics_and_checkpoint_and_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full");
    let o = train(&full, "6", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let metrics = std::fs::read_to_string(full.join("metrics.csv")).unwrap();
    let mut lines = metrics.lines();
    assert_eq!(lines.next().unwrap(), "step,trials,loss,elapsed_secs,perf_min,perf_mean,perf_fdgo,perf_reactgo,perf_delaygo,perf_fdanti");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2);
    assert!(rows[0].starts_with("3,24,") && rows[1].starts_with("6,48,"), "{rows:?}");
    let config = std::fs::read_to_string(full.join("config.toml")).unwrap();
    assert!(config.contains("n_units = 16") && config.contains("seed = 4") && config.contains("backend = \"flex\""));
    assert!(full.join("checkpoint/state.bin").exists());

    // same seed, same numbers; and a run stopped at 3 then resumed reproduces it
    let again = dir.path().join("again");
    assert!(train(&again, "6", &[]).status.success());
    assert_eq!(metrics_without_time(&full), metrics_without_time(&again));
    let resumed = dir.path().join("resumed");
    assert!(train(&resumed, "3", &[]).status.success());
    let o = train(&resumed, "6", &["--resume"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(metrics_without_time(&full), metrics_without_time(&resumed));

    // resuming with another network is refused, naming the difference
    let o = train(&resumed, "9", &["--resume", "--set", "model.n_units=20"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("n_units"), "{}", stderr(&o));

    // eval: JSON contract, task subset, ambiguity, lesion
    let run = full.to_str().unwrap();
    let o = modulab(&["eval", "--run", run, "--json", "--trials", "8"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc["perf"].as_object().unwrap().len(), 4);
    assert!(doc["perf_min"].as_f64().unwrap() <= doc["perf_mean"].as_f64().unwrap());
    let o = modulab(&["eval", "--run", run, "--json", "--tasks", "fdgo,fdanti", "--ambiguity", "noise:0.5", "--lesion", "bias"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc["perf"].as_object().unwrap().keys().collect::<Vec<_>>(), ["fdanti", "fdgo"]);
    let o = modulab(&["eval", "--run", run, "--tasks", "dm1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not trained"), "{}", stderr(&o));
    let o = modulab(&["eval", "--run", run, "--ambiguity", "fog:1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("mixture"));
    let o = modulab(&["eval", "--run", run, "--lesion", "dopamine"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("synaptic"));

    // a corrupt checkpoint is a clear error, not a panic
    std::fs::write(full.join("checkpoint/state.bin"), b"garbage").unwrap();
    let o = modulab(&["eval", "--run", run]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a modulab checkpoint") && !stderr(&o).contains("panicked"), "{}", stderr(&o));
}

#[test]
fn bad_input_is_a_one_line_error_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    let out = out.to_str().unwrap();
    let newer = dir.path().join("newer.modulab.toml");
    std::fs::write(&newer, "format = 9\ntitle = \"t\"\n[[step]]\ntext = \"x\"\n").unwrap();
    let newer = newer.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["lesson", "/nonexistent.modulab.toml"], "cannot read the lesson"),
        (&["lesson", newer], "newer modulab"),
        (&["train", "--preset", "quik", "--out", out], "quick"),
        (&["train", "--preset", "quick", "--set", "model.n_unitz=4", "--out", out], "model.n_units"),
        (&["train", "--preset", "quick", "--set", "model.n_units=many", "--out", out], "n_units"),
        (&["train", "--preset", "quick", "--set", "train.tasks=[\"fdgoo\"]", "--out", out], "fdgo"),
        (&["train", "--preset", "quick", "--set", "model.pathways=[\"dopamine\"]", "--out", out], "synaptic"),
        (&["train", "--preset", "quick", "--set", "nonsense", "--out", out], "KEY=VALUE"),
        (&["train", "--config", "/nonexistent.toml", "--out", out], "/nonexistent.toml"),
        (&["tasks", "sample", "--task", "fdgoo", "--json"], "fdanti"),
        (&["tasks", "sample", "--task", "dm1", "--encoding", "compact", "--json"], "ring"),
        (&["gui", "--preset", "quik"], "quick"),
        (&["gui", "--preset", "quick", "--set", "model.n_unitz=4"], "model.n_units"),
        (&["gui", "--config", "/nonexistent.toml"], "/nonexistent.toml"),
        (&["gui", "--quit-after", "nan"], "--quit-after"),
        (&["gui", "--run", "/nonexistent-run"], "no run at"),
        (&["gui", "--compare", "/nonexistent-run"], "no run at"),
        (&["gui", "--tab", "pcaa"], "valid tabs: training, ambiguity"),
        (&["train", "--preset", "quick", "--set", "model.n_units=100000000", "--out", out], "GB"),
    ];
    for (args, needle) in cases {
        let o = modulab(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: not one line: {err}");
    }
}

/// A run whose config.toml was edited says so instead of silently using the checkpoint's
/// settings (eval here; the app's loader and the sweeps read runs the same way); a different
/// step budget is not a disagreement, and a run without the file uses the checkpoint's.
#[test]
fn a_run_whose_config_disagrees_with_its_checkpoint_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    assert!(train(&run, "3", &[]).status.success());
    let run_str = run.to_str().unwrap();
    let eval = || modulab(&["eval", "--run", run_str, "--trials", "4"]);
    assert!(eval().status.success(), "{}", stderr(&eval()));
    let config = run.join("config.toml");
    let original = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, original.replace("steps = 3", "steps = 300")).unwrap();
    assert!(eval().status.success(), "another step budget is fine: {}", stderr(&eval()));
    std::fs::write(&config, original.replace("n_units = 16", "n_units = 32")).unwrap();
    let o = eval();
    let err = stderr(&o);
    assert!(!o.status.success() && err.contains("disagrees") && err.contains("n_units = 16") && err.contains("n_units = 32"), "{err}");
    let loaded = modulab::runner::checkpointing::load_run(&run).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(loaded.contains("disagrees"), "the app's loader: {loaded}");
    std::fs::remove_file(&config).unwrap();
    assert!(eval().status.success(), "{}", stderr(&eval()));
}

#[test]
fn no_command_opens_the_app_and_without_a_display_says_so() {
    // no display: the window cannot open; one line, exit code 1, no panic
    for args in [&[][..], &["gui", "--quit-after", "0"][..]] {
        let o = Command::new(env!("CARGO_BIN_EXE_modulab"))
            .args(args)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("WAYLAND_SOCKET")
            .output()
            .expect("the binary runs");
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("cannot open the app window") && !err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn tasks_list_sample_and_presets() {
    let o = modulab(&["tasks", "list"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o).lines().count(), 20);
    assert!(stdout(&o).contains("contextdelaydm2"));

    let o = modulab(&["tasks", "sample", "--task", "fdanti", "--seed", "3", "--batch", "2", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc["task"], "fdanti");
    assert_eq!(doc["dt_ms"], 20.0);
    let inputs = doc["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 2);
    let steps = inputs[0].as_array().unwrap().len();
    assert_eq!(inputs[0][0].as_array().unwrap().len(), 65);
    assert_eq!(doc["targets"][1].as_array().unwrap().len(), steps);
    assert_eq!(doc["targets"][0][0].as_array().unwrap().len(), 33);
    assert_eq!(doc["mask"][0][0].as_array().unwrap().len(), 33);
    assert_eq!(doc["context"][0][0].as_array().unwrap().len(), 20);
    assert_eq!(doc["context"][0][0][3], 1.0); // fdanti is task 3 in Yang's order
    assert!(doc["go_step"].as_u64().unwrap() < steps as u64);
    assert_eq!(doc["target_angle"].as_array().unwrap().len(), 2);

    let o = modulab(&["tasks", "sample", "--task", "dmsnogo", "--seed", "1", "--batch", "16", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(doc["target_angle"].as_array().unwrap().iter().any(|a| a.is_null()), "some nogo trials must fixate");

    let o = modulab(&["presets"]);
    assert!(o.status.success());
    let text = stdout(&o);
    for name in [
        "quick",
        "yang20",
        "bias",
        "gain",
        "synaptic",
        "bias-synaptic",
        "gain-synaptic",
        "none",
        "dale",
        "dale-gain-inhibitory",
        "dale-synaptic-ee",
        "hetero-tau",
    ] {
        assert!(text.lines().any(|l| l.starts_with(name)), "{name} missing from:\n{text}");
    }
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    use std::process::Stdio;
    // the reading end is closed before the child writes (`modulab presets | grep -q quick`)
    let mut child = Command::new(env!("CARGO_BIN_EXE_modulab"))
        .arg("presets")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("it ends");
    let text = stderr(&output);
    assert!(!text.contains("panicked") && !text.contains("Broken pipe"), "{text}");
    // either it wrote everything before the pipe closed, or SIGPIPE ended it (no message)
    use std::os::unix::process::ExitStatusExt;
    assert!(output.status.success() || output.status.signal() == Some(13), "{:?}", output.status);
}
