//! `modulab analyze` through the real binary, on a tiny trained run.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails at its first broken expectation, with the message")]

use std::path::Path;

mod common;
use common::{check, modulab, read};

#[test]
fn analyze_writes_every_table_and_figure() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    check(&modulab(&[
        "train",
        "--preset",
        "quick",
        "--steps",
        "3",
        "--quiet",
        "--out",
        run.to_str().unwrap(),
        "--set",
        "model.n_units=16",
        "--set",
        "train.batch_size=8",
        "--set",
        "train.eval_trials=8",
        "--set",
        r#"model.pathways=["bias","gain"]"#,
    ]));
    let out = dir.path().join("analysis");
    let args = [
        "analyze",
        "--run",
        run.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--trials",
        "8",
        "--fixed-point-starts",
        "8",
        "--quiet",
    ];
    check(&modulab(&args));
    let headers = [
        ("pca.csv", "pc,variance_ratio,cumulative"),
        ("participation.csv", "task,participation_ratio"),
        ("angles.csv", "task_a,task_b,angle_1_deg,angle_2_deg,angle_3_deg"),
        ("fixed_points.csv", "task,point,speed,stable,unstable_dims,max_abs_eigenvalue,hits,pc1,pc2,pc3"),
        ("spectrum.csv", "task,index,re,im,modulus"),
    ];
    for (file, header) in headers {
        let text = read(&out.join(file));
        assert_eq!(text.lines().next(), Some(header), "{file}");
        assert!(text.lines().count() > 1, "{file} has no rows:\n{text}");
    }
    let pca = read(&out.join("pca.csv"));
    assert_eq!(pca.lines().count(), 1 + 16);
    let last: f64 = pca.lines().last().unwrap().split(',').nth(2).unwrap().parse().unwrap();
    assert!((last - 1.0).abs() < 1e-3, "{pca}");
    let participation = read(&out.join("participation.csv"));
    assert!(participation.lines().last().unwrap().starts_with("pooled,"), "{participation}");
    let variance = read(&out.join("task_variance.csv"));
    assert!(variance.lines().next().unwrap().starts_with("unit,cluster,preferred_task,"), "{variance}");
    for line in variance.lines().skip(1) {
        let max = line.split(',').skip(3).map(|v| v.parse::<f64>().unwrap()).fold(0.0, f64::max);
        assert!((max - 1.0).abs() < 1e-6, "{line}");
    }
    // 16 eigenvalues per task context
    let spectrum = read(&out.join("spectrum.csv"));
    assert_eq!((spectrum.lines().count() - 1) % 16, 0, "{spectrum}");
    for figure in ["pca", "task_variance", "spectrum"] {
        for ext in ["png", "svg"] {
            let name = format!("{figure}.{ext}");
            assert!(std::fs::metadata(out.join(&name)).unwrap().len() > 1000, "{name}");
        }
    }
    // deterministic given the run and the options
    let again = dir.path().join("again");
    let mut args2 = args.to_vec();
    args2[4] = again.to_str().unwrap();
    check(&modulab(&args2));
    for (file, _) in headers {
        assert_eq!(read(&out.join(file)), read(&again.join(file)), "{file}");
    }
}

#[test]
fn analyze_writes_the_task_switch_tables_and_figures() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    check(&modulab(&[
        "train",
        "--preset",
        "quick",
        "--steps",
        "3",
        "--quiet",
        "--out",
        run.to_str().unwrap(),
        "--set",
        "model.n_units=16",
        "--set",
        "train.batch_size=8",
        "--set",
        "train.eval_trials=8",
        "--set",
        r#"model.pathways=["bias","synaptic"]"#,
        "--set",
        "model.context_tau_ms.gain=30",
    ]));
    let out = dir.path().join("analysis");
    check(&modulab(&[
        "analyze",
        "--run",
        run.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--trials",
        "4",
        "--fixed-point-starts",
        "2",
        "--switch",
        "fdgo:fdanti",
        "--taus",
        "0, 100,400",
        "--switch-trials",
        "6",
        "--quiet",
    ]));
    let switching = read(&out.join("switching.csv"));
    let lines: Vec<&str> = switching.lines().collect();
    assert_eq!(lines[0], "pathway,tau_ms,from,to,perf,perf_unswitched,mean_distance");
    // only the run's pathways (bias, synaptic) at the three τ
    let keys: Vec<String> = lines[1..].iter().map(|l| l.split(',').take(4).collect::<Vec<_>>().join(",")).collect();
    assert_eq!(
        keys,
        [
            "bias,0,fdgo,fdanti",
            "bias,100,fdgo,fdanti",
            "bias,400,fdgo,fdanti",
            "synaptic,0,fdgo,fdanti",
            "synaptic,100,fdgo,fdanti",
            "synaptic,400,fdgo,fdanti"
        ]
    );
    for line in &lines[1..] {
        let perf: f64 = line.split(',').nth(4).unwrap().parse().unwrap();
        assert!((0.0..=1.0).contains(&perf), "{line}");
    }
    let transient = read(&out.join("transient.csv"));
    assert_eq!(transient.lines().next(), Some("pathway,tau_ms,step_after_switch,time_ms,distance"));
    let first: Vec<&str> = transient.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(&first[..4], ["bias", "0", "0", "0"]);
    let second: Vec<&str> = transient.lines().nth(2).unwrap().split(',').collect();
    assert_eq!(&second[..4], ["bias", "0", "1", "20"]);
    for figure in ["switching", "transient_bias", "transient_synaptic"] {
        for ext in ["png", "svg"] {
            let name = format!("{figure}.{ext}");
            assert!(std::fs::metadata(out.join(&name)).unwrap().len() > 1000, "{name}");
        }
    }
    assert!(!out.join("transient_gain.svg").exists());
    // bad switch requests are usage errors that say what is wrong
    for (args, says) in [
        (["--switch", "fdgo"], "FROM:TO"),
        (["--switch", "fdgo:dmsgo"], "dmsgo"),
        (["--taus", "0,-3"], "--taus"),
        (["--epoch", "nonsense"], "fixation, stimulus, delay, response"),
    ] {
        let mut all = vec!["analyze", "--run", run.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"];
        all.extend(args);
        let o = modulab(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// Fixed points under another epoch's input: a different input, so (in general) other points.
#[test]
fn the_fixed_point_epoch_is_a_choice() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    check(&modulab(&[
        "train",
        "--preset",
        "quick",
        "--steps",
        "20",
        "--quiet",
        "--out",
        run.to_str().unwrap(),
        "--set",
        "model.n_units=16",
        "--set",
        "train.batch_size=8",
        "--set",
        "train.eval_trials=8",
    ]));
    let analyse = |epoch: &str| {
        let out = dir.path().join(epoch);
        check(&modulab(&[
            "analyze",
            "--run",
            run.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--trials",
            "4",
            "--fixed-point-starts",
            "8",
            "--epoch",
            epoch,
            "--quiet",
        ]));
        read(&out.join("fixed_points.csv"))
    };
    let (stimulus, response) = (analyse("stimulus"), analyse("response"));
    assert!(stimulus.lines().count() > 1 && response.lines().count() > 1, "{stimulus}\n{response}");
    assert_ne!(stimulus, response, "the response epoch's input (no fixation cue) gives other fixed points");
}

#[test]
fn a_bad_run_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = modulab(&["analyze", "--run", dir.path().join("missing").to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("cannot load run"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let o = modulab(&["analyze", "--run", ".", "--out", out.to_str().unwrap(), "--lesion", "nonsense", "--quiet"]);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn interpolate_writes_the_bifurcation_view_and_checks_its_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    check(&modulab(&[
        "train",
        "--preset",
        "quick",
        "--steps",
        "3",
        "--quiet",
        "--out",
        run.to_str().unwrap(),
        "--set",
        "model.n_units=16",
        "--set",
        "train.batch_size=8",
        "--set",
        "train.eval_trials=8",
    ]));
    let out = dir.path().join("analysis");
    let base = [
        "analyze",
        "--run",
        run.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--trials",
        "4",
        "--fixed-point-starts",
        "6",
        "--quiet",
    ];
    let with = |extra: &[&str]| modulab(&[&base[..], extra].concat());
    check(&with(&["--interpolate", "fdgo:fdanti", "--alphas", "5"]));
    let text = read(&out.join("bifurcation.csv"));
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("alpha,point,pc1,pc2,pc3,speed,stable,unstable_dims,max_abs_eigenvalue"));
    let alphas: Vec<f64> = lines.map(|l| l.split(',').next().unwrap().parse().unwrap()).collect();
    // every α of the grid, in order, each with at least one fixed point on this small network
    let mut distinct = alphas.clone();
    distinct.dedup();
    assert_eq!(distinct, vec![0.0, 0.25, 0.5, 0.75, 1.0], "{text}");
    for ext in ["png", "svg"] {
        assert!(std::fs::metadata(out.join(format!("bifurcation.{ext}"))).unwrap().len() > 1000);
    }
    // bad input: a clear usage error (exit code 2), no panic
    for (extra, says) in [
        (&["--interpolate", "fdgo"][..], "FROM:TO"),
        (&["--interpolate", "fdgo:dm1"][..], "not trained"),
        (&["--interpolate", "fdgo:fdgo"][..], "different"),
        (&["--interpolate", "fdgo:fdanti", "--alphas", "1"][..], "--alphas"),
    ] {
        let o = with(extra);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(stderr.contains(says) && !stderr.contains("panicked"), "{extra:?}: {stderr}");
    }
}

/// `analyze` on a network with E/I cells and per-unit time constants: every analysis runs (the
/// host map uses each unit's α), and the task-variance table names each unit's type and τ.
#[test]
fn analyze_runs_on_cell_types_and_per_unit_time_constants() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    check(&modulab(&[
        "train",
        "--preset",
        "dale-gain-inhibitory",
        "--steps",
        "3",
        "--quiet",
        "--out",
        run.to_str().unwrap(),
        "--set",
        "model.n_units=20",
        "--set",
        "train.batch_size=8",
        "--set",
        "train.eval_trials=8",
        "--set",
        "model.tau_distribution=gamma",
        "--set",
        "model.tau_trainable=true",
    ]));
    let out = dir.path().join("analysis");
    let (run, out) = (run.to_str().unwrap(), out.to_str().unwrap());
    check(&modulab(&[
        "analyze",
        "--run",
        run,
        "--out",
        out,
        "--trials",
        "4",
        "--fixed-point-starts",
        "4",
        "--switch",
        "fdgo:fdanti",
        "--quiet",
    ]));
    let variance = read(&Path::new(out).join("task_variance.csv"));
    assert!(variance.starts_with("unit,cluster,preferred_task,cell_type,tau_ms,fdgo,"), "{variance}");
    for line in variance.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let unit: usize = fields[0].parse().unwrap();
        assert_eq!(fields[3], if unit < 16 { "E" } else { "I" }, "{line}");
        let tau: f64 = fields[4].parse().unwrap();
        assert!((40.0 - 0.01..=400.0 + 0.01).contains(&tau), "{line}");
    }
    for file in ["fixed_points.csv", "spectrum.csv", "switching.csv", "transient.csv"] {
        assert!(read(&Path::new(out).join(file)).lines().count() > 1, "{file}");
    }
}
