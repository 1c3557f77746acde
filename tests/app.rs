//! The desktop app driven through egui_kittest: click by label, run frames, assert on state.
//! The worker trains for real (a tiny network, so an evaluation arrives within seconds).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails at its first broken expectation, with the message")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use modulab::analysis::{Ambiguity, AmbiguityKind};
use modulab::app::{AppOptions, ModulabApp};
use modulab::config::Config;
use modulab::experiments::dynamics::DynamicsResult;
use modulab::experiments::sweep::SweepResult;
use modulab::experiments::switching::SwitchResult;
use modulab::model::Pathway;
use modulab::runner::RunState;

fn tiny() -> Config {
    Config::from_preset(
        "quick",
        &[
            "model.n_units=16".into(),
            "train.batch_size=8".into(),
            "train.eval_every=4".into(),
            "train.eval_trials=8".into(),
            "train.steps=400".into(),
        ],
    )
    .expect("tiny config")
}

fn harness() -> Harness<'static, ModulabApp> {
    harness_with(AppOptions { config: tiny(), preset: None, file_dialogs: false, ..AppOptions::default() })
}

/// The app as `modulab gui` builds it, minus the window; file choices go through the path field
/// (there is no dialog in tests).
fn harness_with(options: AppOptions) -> Harness<'static, ModulabApp> {
    let app = ModulabApp::new(options, None);
    Harness::builder().with_size([1400.0, 900.0]).build_ui_state(
        |ui, app: &mut ModulabApp| {
            let ctx = ui.ctx().clone();
            app.logic_ctx(&ctx);
            app.show(ui);
        },
        app,
    )
}

/// Run frames until `done` holds (the worker runs on its own thread meanwhile).
fn run_until(harness: &mut Harness<'_, ModulabApp>, what: &str, done: impl Fn(&ModulabApp) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done(harness.state()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}; run state {:?}", harness.state().run_data().state);
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.step();
}

#[test]
fn train_until_an_evaluation_toggle_pathways_lesion_and_reset() {
    let mut harness = harness();
    run_until(&mut harness, "the worker", |app| app.run_data().config.is_some());
    assert_eq!(harness.state().run_data().state, RunState::Ready);

    run_until(&mut harness, "the untrained network's evaluation", |app| !app.run_data().evaluations.is_empty());
    assert_eq!(harness.state().run_data().evaluations[0].step, 0);
    harness.get_by_label("Train").click();
    run_until(&mut harness, "an evaluation", |app| app.run_data().evaluations.iter().any(|e| e.step > 0));
    {
        let run = harness.state().run_data();
        assert!(!run.loss.is_empty(), "the loss curve has data");
        assert!(run.loss.points().iter().all(|[step, loss]| *step >= 1.0 && loss.is_finite()));
        let first = &run.evaluations[0];
        assert_eq!(first.perf.len(), 4, "one performance per task");
        assert!(first.perf.iter().all(|(_, p)| (0.0..=1.0).contains(p)));
        assert!(run.latest_evaluation().is_some(), "the bar chart has data");
    }

    // Pause, then one step at a time
    harness.get_by_label("Pause").click();
    run_until(&mut harness, "the pause", |app| app.run_data().state == RunState::Paused);
    let step = harness.state().run_data().step;
    harness.get_by_label("Step").click();
    run_until(&mut harness, "one step", |app| app.run_data().step == step + 1);

    // Toggle every pathway in the draft: the run is started, so a restart is offered
    for pathway in [Pathway::Gain, Pathway::Synaptic] {
        harness.get_by_label(pathway.name()).click();
        harness.run_steps(2); // the layout may shift (the restart offer appears): settle before the next click
        assert!(harness.state().draft().model.has(pathway), "{} switched on", pathway.name());
    }
    harness.get_by_label("bias").click();
    harness.run_steps(2);
    assert!(!harness.state().draft().model.has(Pathway::Bias));
    harness.get_by_label("bias").click();
    harness.run_steps(2);
    assert_eq!(harness.state().draft().model.pathways, vec![Pathway::Bias, Pathway::Gain, Pathway::Synaptic]);
    assert_eq!(harness.state().run_data().config.as_ref().map(|c| c.model.pathways.clone()), Some(vec![Pathway::Bias]));

    harness.get_by_label("Restart with these settings").click();
    run_until(&mut harness, "the restart", |app| app.run_data().config.as_ref().is_some_and(|c| c.model.pathways.len() == 3));
    assert!(harness.state().run_data().loss.is_empty(), "a restart clears the run data");

    // Train the new network to its first evaluation, then lesion each pathway
    harness.get_by_label("Train").click();
    run_until(&mut harness, "an evaluation of the new network", |app| app.run_data().evaluations.iter().any(|e| e.step > 0));
    for pathway in Pathway::ALL {
        let label = format!("Lesion {}", pathway.name());
        harness.get_by_label(&label).click();
        run_until(&mut harness, "a lesioned evaluation", |app| {
            app.lesions().contains(&pathway)
                && app
                    .run_data()
                    .latest_evaluation()
                    .and_then(|e| e.lesioned.as_ref())
                    .is_some_and(|(lesioned, perf)| lesioned.contains(&pathway) && perf.len() == 4)
        });
    }

    // Reset: a fresh, untrained network with the same settings
    harness.get_by_label("Reset").click();
    run_until(&mut harness, "the reset", |app| {
        let run = app.run_data();
        run.state == RunState::Ready && run.step == 0 && run.loss.is_empty() && run.evaluations.iter().all(|e| e.step == 0)
    });
    // dropping the harness drops the app, which stops and joins the worker
}

#[test]
fn an_untrained_network_takes_setting_changes_at_once() {
    let mut harness = harness();
    run_until(&mut harness, "the worker", |app| app.run_data().config.is_some());
    harness.get_by_label("gain").click();
    run_until(&mut harness, "the new configuration", |app| app.run_data().config.as_ref().is_some_and(|c| c.model.has(Pathway::Gain)));
    assert!(harness.query_by_label("Restart with these settings").is_none());
}

/// Press Step `n` times, waiting for each step.
fn step_n(harness: &mut Harness<'_, ModulabApp>, n: u64) {
    for _ in 0..n {
        let step = harness.state().run_data().step;
        harness.get_by_label("Step").click();
        run_until(harness, "one step", |app| app.run_data().step == step + 1);
    }
}

/// Type `path` into the path window (the fallback for the file dialog) and press `action`.
fn choose_path(harness: &mut Harness<'_, ModulabApp>, path: &Path, action: &str) {
    harness.run_steps(2);
    harness.get_by_label("File path").set_text_value_accesskit(path.to_str().expect("utf-8 path"));
    harness.run_steps(2);
    harness.get_by_label(action).click();
    harness.run_steps(2);
}

/// Open the File menu and pick `item`.
fn file_menu(harness: &mut Harness<'_, ModulabApp>, item: &str) {
    harness.get_by_label("File").click();
    harness.run_steps(2);
    harness.get_by_label(item).click();
}

fn notice_contains(app: &ModulabApp, text: &str) -> bool {
    app.file_notice().is_some_and(|m| m.text.contains(text))
}

#[test]
fn export_the_loss_curve_as_csv_and_an_unwritable_path_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut harness = harness();
    run_until(&mut harness, "the untrained evaluation", |app| !app.run_data().evaluations.is_empty());
    step_n(&mut harness, 3);

    // the loss plot's Export menu is the first; no extension and a new folder: both are added
    harness.get_all_by_label("Export").next().expect("an export menu").click();
    harness.run_steps(2);
    harness.get_by_label("CSV…").click();
    choose_path(&mut harness, &dir.path().join("plots").join("loss"), "Write file");
    run_until(&mut harness, "the export", |app| notice_contains(app, "exported"));
    let text = std::fs::read_to_string(dir.path().join("plots").join("loss.csv")).expect("loss.csv written");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("series,step,loss"));
    let every: Vec<[f64; 2]> = lines
        .filter_map(|l| l.strip_prefix("every step,"))
        .map(|xy| {
            let (x, y) = xy.split_once(',').expect("two numbers");
            [x.parse().expect("step"), y.parse().expect("loss")]
        })
        .collect();
    assert_eq!(every, harness.state().run_data().loss.points(), "the CSV holds exactly the plotted losses");
    assert_eq!(text.lines().filter(|l| l.starts_with("mean of ")).count(), 3, "and the running mean");

    // the bar chart (the third menu): one row per task, the latest evaluation's numbers
    harness.get_all_by_label("Export").nth(2).expect("the bar chart's export menu").click();
    harness.run_steps(2);
    harness.get_by_label("CSV…").click();
    choose_path(&mut harness, &dir.path().join("bars.csv"), "Write file");
    run_until(&mut harness, "the bar export", |app| notice_contains(app, "bars.csv"));
    let text = std::fs::read_to_string(dir.path().join("bars.csv")).expect("bars.csv written");
    let latest = harness.state().run_data().latest_evaluation().expect("an evaluation").clone();
    let expected: Vec<String> = std::iter::once("task,intact".to_string())
        .chain(latest.perf.iter().map(|(task, p)| format!("{},{}", task.label(), *p as f64)))
        .collect();
    assert_eq!(text.lines().collect::<Vec<_>>(), expected);

    // a path that cannot be written: an error in the status bar, the app goes on
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"x").expect("write");
    harness.get_all_by_label("Export").next().expect("an export menu").click();
    harness.run_steps(2);
    harness.get_by_label("CSV…").click();
    choose_path(&mut harness, &blocker.join("loss.csv"), "Write file");
    run_until(&mut harness, "the failed export", |app| notice_contains(app, "could not write"));
    assert!(harness.query_by_label_contains("could not write").is_some(), "the error is on screen");
    step_n(&mut harness, 1);
}

#[test]
fn a_corrupt_checkpoint_is_refused_and_the_current_run_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad-run");
    std::fs::create_dir_all(bad.join("checkpoint")).expect("mkdir");
    std::fs::write(bad.join("checkpoint").join("state.bin"), b"not a checkpoint at all").expect("write");
    let mut harness = harness();
    run_until(&mut harness, "the worker", |app| app.run_data().config.is_some());
    step_n(&mut harness, 2);

    file_menu(&mut harness, "Load checkpoint…");
    choose_path(&mut harness, &bad, "Load");
    run_until(&mut harness, "the refusal", |app| notice_contains(app, "corrupt"));
    assert!(harness.query_by_label_contains("corrupt").is_some(), "the error is on screen");
    let run = harness.state().run_data();
    assert_eq!((run.step, run.config.as_ref()), (2, Some(&tiny())), "the current run is kept");
    step_n(&mut harness, 1); // and still trains
}

#[test]
fn save_then_load_a_checkpoint_and_train_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let saved: PathBuf = dir.path().join("saved-run");
    let mut harness = harness();
    run_until(&mut harness, "the worker", |app| app.run_data().config.is_some());
    step_n(&mut harness, 4); // eval_every = 4: one evaluation in the history

    file_menu(&mut harness, "Save checkpoint…");
    choose_path(&mut harness, &saved, "Save");
    run_until(&mut harness, "the save", |app| notice_contains(app, "saved the run at step 4"));
    assert!(saved.join("checkpoint").join("state.bin").is_file() && saved.join("metrics.csv").is_file());

    // start over with other settings (untrained, so the change applies at once)
    harness.get_by_label("Reset").click();
    run_until(&mut harness, "the reset", |app| app.run_data().step == 0 && app.run_data().loss.is_empty());
    harness.get_by_label("gain").click();
    run_until(&mut harness, "the gain network", |app| app.run_data().config.as_ref().is_some_and(|c| c.model.has(Pathway::Gain)));

    file_menu(&mut harness, "Load checkpoint…");
    choose_path(&mut harness, &saved, "Load");
    run_until(&mut harness, "the load", |app| notice_contains(app, "loaded"));
    {
        let app = harness.state();
        let run = app.run_data();
        assert_eq!(run.config.as_ref(), Some(&tiny()), "the saved run's settings are back");
        assert_eq!(app.draft(), &tiny(), "the Setup panel follows the loaded run");
        assert_eq!((run.step, run.state), (4, RunState::Paused));
        assert_eq!(run.evaluations.first().map(|e| e.step), Some(4), "the history came along");
    }
    harness.get_by_label("Train").click();
    run_until(&mut harness, "training on from step 4", |app| app.run_data().step >= 6);
    harness.get_by_label("Pause").click();
    run_until(&mut harness, "the pause", |app| app.run_data().state == RunState::Paused);
}

#[test]
fn export_the_network_for_python() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut harness = harness();
    run_until(&mut harness, "the worker", |app| app.run_data().config.is_some());
    step_n(&mut harness, 4);

    // no extension: .npz is added
    file_menu(&mut harness, "Export network…");
    choose_path(&mut harness, &dir.path().join("net"), "Export network");
    run_until(&mut harness, "the export", |app| notice_contains(app, "exported the network at step 4"));
    file_menu(&mut harness, "Save checkpoint…");
    choose_path(&mut harness, &dir.path().join("run"), "Save");
    run_until(&mut harness, "the save", |app| notice_contains(app, "saved the run at step 4"));

    let file = dir.path().join("net.npz");
    let imported = modulab::train::exchange::import(&file, &tiny(), None).expect("the export reads back");
    let saved = modulab::train::checkpoint::load_run_dir(&dir.path().join("run")).expect("the checkpoint");
    assert_eq!((imported.params, imported.step), (saved.params, 4), "the weights of the network at step 4");
    let zip = zip::ZipArchive::new(std::fs::File::open(&file).unwrap()).unwrap();
    for task in &tiny().train.tasks {
        let wanted = format!("probe/{}/rates.npy", task.name());
        assert!(zip.file_names().any(|f| f.is_ok_and(|f| f == wanted)), "{wanted}");
    }

    // an unwritable place is an error message; the app trains on
    file_menu(&mut harness, "Export network…");
    choose_path(&mut harness, &dir.path().join("no-such-dir").join("net.npz"), "Export network");
    run_until(&mut harness, "the refusal", |app| notice_contains(app, "could not export the network"));
    step_n(&mut harness, 1);
}

#[test]
fn open_a_run_directory_written_by_modulab_train() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("trained");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_modulab"))
        .args(["train", "--preset", "quick", "--steps", "8", "--quiet", "--out", out.to_str().expect("utf-8")])
        .args(["--set", "model.n_units=16", "--set", "train.batch_size=8", "--set", "train.eval_every=4", "--set", "train.eval_trials=8"])
        .output()
        .expect("modulab train runs");
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let mut harness = harness_with(AppOptions { open_run: Some(out), file_dialogs: false, ..AppOptions::default() });
    run_until(&mut harness, "the run", |app| app.run_data().step == 8);
    let run = harness.state().run_data();
    assert_eq!(run.state, RunState::Finished, "all 8 steps were done");
    let steps: Vec<u64> = run.evaluations.iter().map(|e| e.step).collect();
    assert_eq!(&steps[..2], &[4, 8], "metrics.csv's evaluations are the curves' history");
    assert_eq!(run.config.as_ref().map(|c| c.model.n_units), Some(16));
}

#[test]
fn ambiguity_trajectories_and_pca_panels_follow_the_network() {
    let mut harness = harness();
    run_until(&mut harness, "the first analyses", |app| {
        app.run_data().snapshot.as_ref().is_some_and(|s| s.trajectories.is_some() && s.pca.is_some() && s.ambiguity.is_some())
    });
    harness.get_by_label("Train").click();
    run_until(&mut harness, "an evaluation", |app| app.run_data().evaluations.iter().any(|e| e.step > 0));
    harness.get_by_label("Pause").click();
    run_until(&mut harness, "the pause", |app| app.run_data().state == RunState::Paused);

    // Ambiguity: move the slider; the worker re-evaluates at once (paused) and the panel shows it
    harness.get_by_label("Ambiguity").click();
    harness.run_steps(2);
    harness.get_by_role(Role::Slider).set_value_accesskit(0.4);
    let wanted = Ambiguity { kind: AmbiguityKind::Mixture, level: 0.4 };
    run_until(&mut harness, "the ambiguous re-evaluation", |app| {
        app.ambiguity() == wanted
            && app.run_data().snapshot.as_ref().and_then(|s| s.ambiguity.as_ref()).is_some_and(|a| a.ambiguity == wanted)
    });
    harness.run_steps(2);
    assert!(harness.query_by_label_contains("mixture 0.40: mean").is_some(), "the re-evaluation is shown");
    {
        let snapshot = harness.state().run_data().snapshot.clone().expect("snapshot");
        let eval = snapshot.ambiguity.expect("ambiguity");
        assert_eq!((eval.clean.len(), eval.ambiguous.len()), (4, 4));
        assert!(eval.ambiguous.iter().all(|(_, p)| (0.0..=1.0).contains(p)));
    }

    // Sweep: the whole curve arrives, with its progress
    harness.get_by_label("Sweep").click();
    run_until(&mut harness, "the sweep", |app| app.job_output::<SweepResult>().is_some_and(|s| s.is_complete()));
    {
        let sweep = harness.state().job_output::<SweepResult>().expect("sweep");
        assert_eq!((sweep.kind, sweep.summary().len()), (AmbiguityKind::Mixture, 11));
    }

    // Trajectories and PCA have data and draw it: computed only while shown (the worker skips
    // live analyses no view shows), so they catch up with the trained network when opened
    harness.get_by_label("Trajectories").click();
    let paused_at = harness.state().run_data().step;
    assert!(paused_at > 0);
    run_until(&mut harness, "the trajectories of the trained network", |app| {
        app.run_data().snapshot.as_ref().and_then(|s| s.trajectories.as_ref()).is_some_and(|t| t.step == paused_at)
    });
    assert!(harness.query_by_label_contains("Hidden units").is_some());
    harness.get_by_label("PCA").click();
    harness.run_steps(2);
    assert!(harness.query_by_label_contains("participation ratio").is_some());
    let (fitted, step) = {
        let snapshot = harness.state().run_data().snapshot.clone().expect("snapshot");
        let trajectories = snapshot.trajectories.expect("trajectories");
        assert_eq!(trajectories.tasks.len(), 4);
        assert!(trajectories.tasks.iter().all(|t| t.rates.iter().all(|r| r.is_finite())));
        let pca = snapshot.pca.expect("pca");
        assert_eq!(pca.tasks.len(), 4);
        (pca.fitted_step, pca.step)
    };

    // Drawing stays cheap: the worker computes, the UI only draws (the fastest of a few frames
    // of each view, so a busy machine does not make this flaky)
    for tab in ["Training", "Ambiguity", "Trajectories", "PCA", "Packing"] {
        // the tab is the topmost node with this label ("Training" is also a heading and a label)
        harness.get_all_by_label(tab).min_by(|a, b| a.rect().min.y.total_cmp(&b.rect().min.y)).expect("tab").click();
        harness.run_steps(2);
        assert_eq!(harness.state().settings().tab.label(), tab, "the {tab} view is shown");
        let fastest = (0..5)
            .map(|_| {
                let started = Instant::now();
                harness.step();
                started.elapsed()
            })
            .min()
            .expect("frames");
        eprintln!("{tab}: {fastest:?} per frame");
        assert!(fastest < Duration::from_millis(16), "{tab} takes {fastest:?} per frame");
    }
    harness.get_by_label("PCA").click();
    harness.run_steps(2);

    // A lesion re-projects the activity on the same axes
    harness.get_by_label("Lesion bias").click();
    run_until(&mut harness, "the re-projection", |app| {
        app.run_data().snapshot.as_ref().and_then(|s| s.pca.as_ref()).is_some_and(|p| p.lesioned == [Pathway::Bias])
    });
    let snapshot = harness.state().run_data().snapshot.clone().expect("snapshot");
    let pca = snapshot.pca.expect("pca");
    assert_eq!((pca.fitted_step, pca.step), (fitted, step), "re-projected, not re-fitted");
    assert_eq!(snapshot.trajectories.expect("trajectories").lesioned, vec![Pathway::Bias]);
}

/// Whether the `nth` Export menu of the view shown offers SVG (heat maps do not).
fn offers_svg(harness: &mut Harness<'_, ModulabApp>, nth: usize) -> bool {
    harness.get_all_by_label("Export").nth(nth).expect("the plot's export menu").click();
    harness.run_steps(2);
    let enabled = !harness.get_by_label("SVG…").accesskit_node().is_disabled();
    harness.key_press(eframe::egui::Key::Escape);
    harness.run_steps(2);
    assert!(harness.query_by_label("SVG…").is_none(), "the menu is closed");
    enabled
}

/// Open the `nth` Export menu of the view shown, write its CSV to `path` through the path field,
/// and read the file back.
fn export_csv(harness: &mut Harness<'_, ModulabApp>, nth: usize, path: &Path) -> String {
    harness.get_all_by_label("Export").nth(nth).expect("the plot's export menu").click();
    harness.run_steps(2);
    harness.get_by_label("CSV…").click();
    choose_path(harness, path, "Write file");
    let shown = path.display().to_string();
    run_until(harness, "the export", |app| notice_contains(app, &format!("exported {shown}")));
    std::fs::read_to_string(path).expect("the CSV is written")
}

/// The numbers of CSV rows after the header, each row's first `skip` fields left out.
fn numbers(text: &str, skip: usize) -> Vec<Vec<f64>> {
    text.lines()
        .skip(1)
        .map(|line| line.split(',').skip(skip).map(|v| v.parse().unwrap_or_else(|_| panic!("a number in {line:?}"))).collect())
        .collect()
}

#[test]
fn export_the_ambiguity_trajectories_and_pca_plots_as_csv() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut harness = harness();
    // the untrained network's analyses are enough, and stay put while nothing trains
    run_until(&mut harness, "the first analyses", |app| {
        app.run_data().snapshot.as_ref().is_some_and(|s| s.trajectories.is_some() && s.pca.is_some() && s.ambiguity.is_some())
    });
    let snapshot = harness.state().run_data().snapshot.clone().expect("snapshot");

    // Ambiguity: the bars, one row per task, clear and ambiguous cue
    harness.get_by_label("Ambiguity").click();
    harness.run_steps(2);
    assert!(offers_svg(&mut harness, 0) && offers_svg(&mut harness, 1), "bars and curves are drawn as SVG");
    let text = export_csv(&mut harness, 0, &dir.path().join("ambiguity-bars.csv"));
    let eval = snapshot.ambiguity.as_ref().expect("ambiguity");
    let mut expected = vec![format!("task,clear cue,{} {:.2}", eval.ambiguity.kind.name(), eval.ambiguity.level)];
    expected.extend(
        eval.clean
            .iter()
            .zip(&eval.ambiguous)
            .map(|((task, clean), (_, blurred))| format!("{},{},{}", task.label(), *clean as f64, *blurred as f64)),
    );
    assert_eq!(text.lines().collect::<Vec<_>>(), expected);

    // Trajectories: the hidden units' heat map of the first task's first trial, one row per step
    harness.get_by_label("Trajectories").click();
    harness.run_steps(2);
    assert!(!offers_svg(&mut harness, 0) && !offers_svg(&mut harness, 2), "no SVG of the heat maps");
    let text = export_csv(&mut harness, 2, &dir.path().join("units.csv"));
    let t = &snapshot.trajectories.as_ref().expect("trajectories").tasks[0];
    let header: Vec<String> = std::iter::once("time (ms)".to_string()).chain((0..t.n_units).map(|u| format!("unit {u}"))).collect();
    assert_eq!(text.lines().next(), Some(header.join(",").as_str()));
    let dt = t.dt_ms as f64;
    let expected: Vec<Vec<f64>> =
        (0..t.steps).map(|s| std::iter::once(s as f64 * dt + dt / 2.0).chain(t.rate(0, s).iter().map(|r| *r as f64)).collect()).collect();
    assert_eq!(numbers(&text, 0), expected, "every unit's rate at every step of the trial");
    // and its inputs: fixation first, then the two rings
    let text = export_csv(&mut harness, 0, &dir.path().join("inputs.csv"));
    assert!(text.starts_with("time (ms),fixation,ring 1 unit 0,"), "{}", &text[..60.min(text.len())]);
    let inputs: Vec<Vec<f64>> = numbers(&text, 1);
    assert_eq!(inputs.len(), t.steps);
    assert!((0..t.steps).all(|s| inputs[s] == t.input(0, s).iter().map(|v| *v as f64).collect::<Vec<_>>()));

    // PCA: each task's mean trajectory on PC1 and PC2, then the variance bars
    harness.get_by_label("PCA").click();
    harness.run_steps(2);
    assert!(offers_svg(&mut harness, 0) && offers_svg(&mut harness, 1));
    let text = export_csv(&mut harness, 0, &dir.path().join("pca.csv"));
    let pca = snapshot.pca.as_ref().expect("pca");
    let mut expected = vec!["task,time step,PC1,PC2".to_string()];
    for (task, coords) in &pca.tasks {
        for (s, p) in coords.chunks_exact(pca.components).enumerate() {
            expected.push(format!("{},{s},{},{}", task.label(), p[0] as f64, p[1] as f64));
        }
    }
    assert_eq!(text.lines().collect::<Vec<_>>(), expected);
    let text = export_csv(&mut harness, 1, &dir.path().join("variance.csv"));
    let mut expected = vec!["PC,at fit,now".to_string()];
    expected.extend((0..pca.components).map(|i| format!("PC{},{},{}", i + 1, pca.explained[i], pca.captured[i])));
    assert_eq!(text.lines().collect::<Vec<_>>(), expected);
}

#[test]
fn the_switching_panel_runs_a_switch_test_and_exports_its_curves() {
    let dir = tempfile::tempdir().expect("tempdir");
    // two pathways, so there are two curves; the sliders start at the run's context time constants
    let mut config = tiny();
    config.model.pathways = vec![Pathway::Bias, Pathway::Synaptic];
    config.model.context_tau_ms.synaptic = 40.0;
    let mut harness = harness_with(AppOptions { config, preset: None, file_dialogs: false, ..AppOptions::default() });
    run_until(&mut harness, "the first evaluation", |app| !app.run_data().evaluations.is_empty());
    harness.get_by_label("Switching").click();
    harness.run_steps(2);
    harness.get_by_label("Run switch test").click();
    run_until(&mut harness, "the switch test", |app| app.job_output::<SwitchResult>().is_some_and(|r| r.is_complete()));
    let result = harness.state().job_output::<SwitchResult>().expect("switch test");
    assert_eq!((result.from.name(), result.to.name()), ("fdgo", "reactgo"), "the first two trained tasks");
    assert_eq!(result.taus_ms, vec![0.0, 20.0, 50.0, 100.0, 200.0, 500.0]);
    let pathways: Vec<Pathway> = result.pathways.iter().map(|s| s.pathway).collect();
    assert_eq!(pathways, vec![Pathway::Bias, Pathway::Synaptic]);
    for sweep in &result.pathways {
        assert_eq!(result.perf_points(sweep).len(), 6, "a point per τ");
    }
    let (taus, outcome) = result.combination.as_ref().expect("the sliders' combination");
    assert_eq!((taus.bias, taus.synaptic), (0.0, 40.0));
    assert!(outcome.as_ref().is_some_and(|o| !o.distance.is_empty()));

    // the perf-vs-τ curves and the transients as CSV, point for point
    harness.run_steps(2);
    let text = export_csv(&mut harness, 0, &dir.path().join("switching-perf.csv"));
    assert_eq!(text.lines().next(), Some("series,tau (ms),fraction correct"));
    assert_eq!(text.lines().filter(|l| l.starts_with("bias,")).count(), 6);
    assert_eq!(text.lines().filter(|l| l.starts_with("synaptic,")).count(), 6);
    let text = export_csv(&mut harness, 1, &dir.path().join("switching-transient.csv"));
    let steps_after = result.steps - result.switch_step;
    assert_eq!(text.lines().count(), 1 + 7 * steps_after, "six τ and the combination, one row per step after the switch");
    assert!(text.lines().nth(1).unwrap().starts_with("tau 0 ms,0,"), "{text}");
    // the transient plot switches pathway
    harness.get_all_by_label("synaptic").last().expect("the synaptic choice").click();
    harness.run_steps(2);
    let text = export_csv(&mut harness, 1, &dir.path().join("switching-transient-synaptic.csv"));
    let expected = result.pathways[1].outcomes[5].as_ref().expect("τ 500").distance[0];
    assert!(text.contains(&format!("tau 500 ms,0,{expected}")), "{text}");
}

#[test]
fn compare_a_saved_run_in_the_ambiguity_sweep() {
    let dir = tempfile::tempdir().expect("tempdir");
    let saved = dir.path().join("saved-run");
    let mut harness = harness();
    run_until(&mut harness, "the worker", |app| app.run_data().config.is_some());
    step_n(&mut harness, 4);
    file_menu(&mut harness, "Save checkpoint…");
    choose_path(&mut harness, &saved, "Save");
    run_until(&mut harness, "the save", |app| notice_contains(app, "saved the run at step 4"));

    // a directory that is not a run: an error in the status bar, and the app goes on
    harness.get_by_label("Ambiguity").click();
    harness.run_steps(2);
    harness.get_by_label("Add run for comparison…").click();
    choose_path(&mut harness, dir.path(), "Add");
    run_until(&mut harness, "the refusal", |app| notice_contains(app, "cannot load run"));
    assert!(harness.state().compared_runs().is_empty());

    // the saved run: loaded, then swept with the current run
    harness.get_by_label("Add run for comparison…").click();
    choose_path(&mut harness, &saved, "Add");
    run_until(&mut harness, "the compared run", |app| app.compared_runs().len() == 1);
    assert!(harness.query_by_label_contains("saved-run (bias)").is_some(), "the run is listed by name and pathways");
    harness.get_by_label("Sweep").click();
    run_until(&mut harness, "both sweeps", |app| {
        let current = app.job_output::<SweepResult>().is_some_and(|s| s.is_complete());
        current && app.compared_runs()[0].progress() == (11, 11)
    });
    let current = harness.state().job_output::<SweepResult>().expect("sweep");
    let compared = &harness.state().compared_runs()[0];
    assert_eq!(current.summary().len(), 11, "the current run's curve");
    assert_eq!(compared.summary().len(), 11, "the saved run's curve");
    assert_eq!(compared.swept.as_ref().map(|(kind, levels)| (*kind, levels.clone())), Some((current.kind, current.levels.clone())));
    // the saved network is the current one (nothing trained since): the same curve up to trial sampling
    assert!(compared.summary().iter().all(|(_, mean, worst)| (0.0..=1.0).contains(mean) && worst <= mean));

    // the plot's CSV is an ambiguity.csv table of both runs
    let text = export_csv(&mut harness, 1, &dir.path().join("sweep.csv"));
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("run,pathways,seed,kind,level,task,perf"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.iter().filter(|l| l.starts_with("current run,bias,")).count(), 11 * 4);
    let saved_name = saved.display().to_string();
    assert_eq!(rows.iter().filter(|l| l.starts_with(&format!("{saved_name},bias,"))).count(), 11 * 4);

    // a second run of the same set: Seed spread draws both as one curve with its band
    assert!(harness.query_by_label("Seed spread").is_none(), "one run has no spread");
    harness.get_by_label("Add run for comparison…").click();
    choose_path(&mut harness, &saved, "Add");
    run_until(&mut harness, "the second run swept", |app| app.compared_runs().len() == 2 && app.compared_runs()[1].progress() == (11, 11));
    harness.get_by_label("Seed spread").click();
    harness.run_steps(2);
    assert!(harness.query_by_label_contains("bias (2 runs)").is_some(), "the group's legend entry");
    assert_eq!(harness.query_all_by_label_contains("saved-run (bias)").count(), 2, "the runs stay listed");

    for _ in 0..2 {
        harness.get_all_by_label("Remove").next().expect("a Remove button").click();
        harness.run_steps(2);
    }
    assert!(harness.state().compared_runs().is_empty(), "removed");
}

#[test]
fn packing_sweep_runs_to_the_end_and_cancels_pausing_training_meanwhile() {
    let mut config = tiny();
    config.train.steps = 1_000_000;
    let mut harness = harness_with(AppOptions { config, preset: None, file_dialogs: false, ..AppOptions::default() });
    run_until(&mut harness, "the worker", |app| app.run_data().config.is_some());
    harness.get_by_label("Packing").click();
    harness.run_steps(2);
    assert!(harness.query_by_label("27 cells").is_some(), "the default sweep's size is shown");
    {
        let form = harness.state_mut().packing_mut().form_mut();
        form.sizes = "8,12".into();
        form.task_counts = "1,2".into();
        form.pathways = "bias,synaptic".into();
        form.budget_steps = 4;
    }
    harness.run_steps(2);
    harness.get_by_label("Run").click();
    run_until(&mut harness, "the tiny sweep", |app| app.packing().end().is_some());
    assert_eq!(harness.state().packing().end(), Some(&modulab::app::SweepEnd::Finished));
    assert_eq!(harness.state().packing().results().len(), 8);
    let capacity = harness.state().packing().capacity();
    assert_eq!(capacity.len(), 2, "a line per pathway set");
    assert!(capacity.iter().all(|(_, points)| points.len() == 2), "a point per size: {capacity:?}");
    assert!(notice_contains(harness.state(), "packing sweep done: 8 cells"));
    // Save table… writes the CLI's packing.csv
    let dir = tempfile::tempdir().expect("tempdir");
    harness.get_by_label("Save table…").click();
    let table = dir.path().join("packing.csv");
    choose_path(&mut harness, &table, "Write file");
    run_until(&mut harness, "the table", |app| notice_contains(app, "exported"));
    let text = std::fs::read_to_string(&table).expect("packing.csv written");
    assert_eq!(text, modulab::experiments::packing::to_csv(harness.state().packing().results()));
    assert_eq!(modulab::experiments::packing::parse_csv(&text, "packing.csv").expect("the CLI reads it").len(), 8);

    // while training: a long sweep pauses it, Cancel stops the sweep promptly and training resumes
    click_tab(&mut harness, "Training");
    harness.get_by_label("Train").click();
    run_until(&mut harness, "training", |app| app.run_data().state == RunState::Running);
    harness.get_by_label("Packing").click();
    harness.run_steps(2);
    harness.state_mut().packing_mut().form_mut().budget_steps = 1_000_000;
    harness.run_steps(2);
    harness.get_by_label("Run").click();
    run_until(&mut harness, "the pause", |app| app.run_data().state == RunState::Paused && app.packing().running());
    assert!(harness.query_by_label_contains("Training is paused while the sweep runs").is_some());
    harness.get_by_label("Cancel").click();
    let cancelled = Instant::now();
    run_until(&mut harness, "the cancel", |app| app.packing().end().is_some());
    assert!(cancelled.elapsed() < Duration::from_secs(20), "cancelled in {:?}", cancelled.elapsed());
    assert_eq!(harness.state().packing().end(), Some(&modulab::app::SweepEnd::Cancelled));
    run_until(&mut harness, "training again", |app| app.run_data().state == RunState::Running);
    click_tab(&mut harness, "Training");
    harness.get_by_label("Pause").click();
    run_until(&mut harness, "the pause", |app| app.run_data().state == RunState::Paused);
}

/// Show the view `tab` (the topmost node with that label: "Training" is also a heading).
fn click_tab(harness: &mut Harness<'_, ModulabApp>, tab: &str) {
    harness.get_all_by_label(tab).min_by(|a, b| a.rect().min.y.total_cmp(&b.rect().min.y)).expect("tab").click();
    harness.run_steps(2);
}

#[test]
fn dynamics_panel_computes_fixed_points_along_the_interpolation() {
    let mut harness = harness();
    harness.get_by_label("Train").click();
    run_until(&mut harness, "an evaluation", |app| app.run_data().evaluations.iter().any(|e| e.step > 0));
    harness.get_by_label("Pause").click();
    run_until(&mut harness, "the pause", |app| app.run_data().state == RunState::Paused);

    harness.get_by_label("Dynamics").click();
    harness.run_steps(2);
    assert!(harness.query_by_label_contains("Press Compute").is_some());
    harness.get_by_label("Compute").click();
    run_until(&mut harness, "the dynamics analysis", |app| app.job_output::<DynamicsResult>().is_some_and(|d| d.is_complete()));
    let result = harness.state().job_output::<DynamicsResult>().expect("dynamics");
    assert!(result.error.is_none(), "{:?}", result.error);
    assert_eq!((result.task, result.other, result.alphas.len(), result.slices.len()), (0, 1, 11, 11));
    assert_eq!(result.spectra.len(), 4);
    assert!(result.variance.as_ref().is_some_and(|v| !v.units.is_empty()));
    harness.run_steps(2);
    for label in ["Fixed points at α = 0.00", "Bifurcation view", "Connectivity spectrum", "Task variance ("] {
        assert!(harness.query_by_label_contains(label).is_some(), "{label} is shown");
    }
    // the slider picks an α of the grid: the PCA view follows
    harness.get_by_role(Role::Slider).set_value_accesskit(10.0);
    harness.run_steps(2);
    assert!(harness.query_by_label_contains("Fixed points at α = 1.00").is_some());
    // exports: the bifurcation (third plot) as CSV, one row per fixed point and α
    let dir = tempfile::tempdir().unwrap();
    assert!(offers_svg(&mut harness, 2), "the bifurcation view draws as SVG");
    let csv = export_csv(&mut harness, 2, &dir.path().join("bifurcation.csv"));
    assert!(csv.starts_with("fixed point,alpha,PC1,PC2,PC3,stable"), "{csv}");
    assert_eq!(csv.lines().count() - 1, result.slices.iter().map(Vec::len).sum::<usize>());
    // the fourth plot: task subspaces' principal angles (angles.csv of `modulab analyze`) and
    // each task's participation ratio, beside the pooled one
    let subspaces = result.subspaces.as_ref().expect("task subspaces");
    harness.get_by_label("Subspace angles").click();
    harness.run_steps(2);
    let csv = export_csv(&mut harness, 3, &dir.path().join("angles.csv"));
    assert_eq!(csv.lines().next(), Some("task_a,task_b,angle_1_deg,angle_2_deg,angle_3_deg"));
    assert_eq!(csv.lines().count() - 1, 6, "one row per pair of the 4 tasks: {csv}");
    let first_angle: f64 = csv.lines().nth(1).unwrap().split(',').nth(2).unwrap().parse().unwrap();
    assert!((first_angle - subspaces.angles[0][1][0]).abs() < 1e-3, "{csv}");
    harness.get_by_label("Participation").click();
    harness.run_steps(2);
    let csv = export_csv(&mut harness, 3, &dir.path().join("participation.csv"));
    assert_eq!(csv.lines().next(), Some("task,participation ratio"));
    assert_eq!(csv.lines().count() - 1, 5, "4 tasks and the pooled value: {csv}");
    assert!(csv.contains(&format!("all tasks pooled,{}", result.pooled_participation)), "{csv}");
    assert!(subspaces.participation.iter().all(|p| *p >= 1.0 - 1e-9), "{:?}", subspaces.participation);
}

/// Per-unit time constants from the Setup panel: choosing log-uniform τ rebuilds the untrained
/// network at once with τ_i drawn within the bounds, the τ histogram shows the network's own
/// values, "Train τ" trains them (still within the bounds), and the Trajectories panel offers to
/// order the units by τ.
#[test]
fn time_constants_are_set_drawn_and_trained_from_the_setup_panel() {
    let mut harness = harness();
    run_until(&mut harness, "the worker", |app| app.run_data().config.is_some());
    harness.get_by_value("one τ for all").click();
    harness.run_steps(2);
    harness.get_by_label("log-uniform").click();
    let taus = |app: &ModulabApp| app.run_data().snapshot.as_ref().and_then(|s| s.unit_taus.clone());
    run_until(&mut harness, "the network with per-unit τ", |app| {
        app.run_data().config.as_ref().is_some_and(|c| c.model.per_unit_tau()) && taus(app).is_some()
    });
    assert!(harness.query_by_label_contains("The network's τ_i at step 0").is_some(), "the histogram shows the network's τ");
    let drawn = taus(harness.state()).unwrap();
    assert_eq!(drawn.len(), 16);
    assert!(drawn.iter().all(|t| (40.0 * 0.9999..=400.0 * 1.0001).contains(t)), "{drawn:?}");
    harness.get_by_label("Train τ").click();
    run_until(&mut harness, "trainable τ", |app| app.run_data().config.as_ref().is_some_and(|c| c.model.tau_trainable));
    harness.get_by_label("Train").click();
    run_until(&mut harness, "an evaluation", |app| app.run_data().evaluations.iter().any(|e| e.step >= 8) && taus(app).is_some());
    let trained = taus(harness.state()).unwrap();
    assert!(trained.iter().all(|t| (40.0 * 0.9999..=400.0 * 1.0001).contains(t)), "{trained:?}");
    assert_ne!(*trained, *drawn, "τ is trained");
    harness.get_by_label("Pause").click();
    click_tab(&mut harness, "Trajectories");
    run_until(&mut harness, "the trajectories", |app| app.run_data().snapshot.as_ref().is_some_and(|s| s.trajectories.is_some()));
    // the checkbox exists only for networks whose units have their own τ
    harness.get_by_label("Order by τ").click();
    harness.run_steps(2);
}

/// The Subset tab: Run builds and clamps an 800-unit E/I network on its own thread, and the
/// panel shows the measured spread ratio.
#[test]
fn the_subset_tab_runs_a_network_and_shows_its_spread() {
    let mut harness = harness();
    run_until(&mut harness, "the worker", |app| app.run_data().config.is_some());
    click_tab(&mut harness, "Subset");
    harness.get_by_label("Run").click();
    run_until(&mut harness, "the subset run", |app| !app.subset().running() && app.subset().measured().is_some());
    // clamped, the trained units tell the conditions apart: the ratio is determined
    let spread = harness.state().subset().last_spread().expect("a determined ratio");
    assert!(spread.is_finite() && spread.abs() < 5.0, "spread ratio at g = 1: {spread}");
    assert!(harness.query_by_label_contains("untrained / trained selective variance").is_some());
    assert!(harness.query_by_label("Untrained excitatory units").is_some());
}

/// The Subset tab's BPTT training: choosing bptt and pressing Run trains the engine's balanced
/// network with only its subset plastic, probes the spread as it trains and measures it.
#[test]
fn the_subset_tab_trains_the_engines_network_by_bptt() {
    let mut harness = harness();
    run_until(&mut harness, "the worker", |app| app.run_data().config.is_some());
    click_tab(&mut harness, "Subset");
    harness.get_by_value("clamp").click();
    harness.run_steps(2);
    harness.get_by_label("bptt").click();
    harness.run_steps(2);
    harness.state_mut().subset_mut().set_loops(150);
    harness.get_by_label("Run").click();
    run_until(&mut harness, "the BPTT subset run", |app| !app.subset().running() && app.subset().measured().is_some());
    let measured = harness.state().subset().measured().unwrap().clone();
    assert_eq!((measured.row.training.name(), measured.row.neurons, measured.row.k), ("bptt", 200, 20));
    // after 150 steps the ratio may be undetermined; the selective variances are measured either way
    assert!(measured.row.selective_trained.is_finite() && measured.row.target_error > 0.0 && measured.row.target_variance > 0.0);
    assert_eq!(harness.state().subset().live_probes(), 2, "after 100 steps and after the last");
    assert!(harness.query_by_label_contains("task loss").is_some());
}

/// The Subset tab's spiking network: choosing it and pressing Run clamps the subset of a
/// 2 000-neuron LIF network, and the panel shows both conditions' rasters with all three groups.
#[test]
fn the_subset_tab_runs_the_spiking_network_and_draws_its_rasters() {
    let mut harness = harness();
    run_until(&mut harness, "the worker", |app| app.run_data().config.is_some());
    click_tab(&mut harness, "Subset");
    harness.get_by_value("rate").click();
    harness.run_steps(2);
    harness.get_by_label("spiking").click();
    harness.run_steps(2);
    harness.get_by_label("Run").click();
    run_until(&mut harness, "the spiking subset run", |app| !app.subset().running() && app.subset().measured().is_some());
    let measured = harness.state().subset().measured().unwrap().clone();
    assert_eq!(measured.row.model.name(), "spiking");
    assert_eq!(measured.raster_neurons.len(), 90);
    assert_eq!(measured.raster.len(), 2);
    for raster in &measured.raster {
        // every group fires: trained rows 0–29, untrained E 30–59, inhibitory 60–89
        for group in 0..3 {
            assert!(raster.iter().any(|(_, row)| *row as usize / 30 == group), "group {group} silent");
        }
        assert!(raster.iter().all(|(ms, _)| (0.0..600.0).contains(ms)));
    }
    assert!(harness.query_by_label("Spikes, condition A").is_some() && harness.query_by_label("Spikes, condition B").is_some());
}

/// A lesson for the tests: the tiny network, three tabs, the network and task settings hidden,
/// and a step for each kind of action the app carries out at once.
const LESSON: &str = r#"
format = 1
title = "Lesions and blur"
summary = "A test lesson"
preset = "quick"
tab = "training"
tabs = ["training", "ambiguity", "subset"]
hide = ["network", "tasks"]

[config]
model.n_units = 16
train.batch_size = 8
train.eval_every = 4
train.eval_trials = 8
train.steps = 400
train.seed = 5

[[step]]
text = "Press nothing: the network trains."
action = { train = "start" }

[[step]]
text = "Lesion the bias pathway."
look_for = "Which tasks fail?"
action = { lesion = ["bias"] }

[[step]]
text = "Blur the cue."
action = { ambiguity = "mixture:0.5" }

[[step]]
text = "Look at the Ambiguity tab."
action = { tab = "ambiguity" }

[[step]]
text = "Stop training."
action = { train = "pause" }

[[step]]
text = "Strong coupling."
action = { g = 2.5 }
"#;

/// A lesson opens with its settings, tab and hidden controls, each Next carries out its step's
/// action, Save as lesson… writes a lesson that opens the same way, and a newer or corrupt
/// lesson is refused with the app running on.
#[test]
fn a_lesson_opens_walks_its_steps_saves_and_reopens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("test.modulab.toml");
    std::fs::write(&path, LESSON).expect("write the lesson");
    let lesson = modulab::app::lesson::Lesson::open(&path).expect("the lesson reads");
    let options = AppOptions { config: tiny(), preset: None, file_dialogs: false, lesson: Some(lesson.clone()), ..AppOptions::default() };
    let mut harness = harness_with(options);
    run_until(&mut harness, "the lesson's network training", |app| {
        app.run_data().config.as_ref() == Some(&lesson.config) && app.run_data().state == RunState::Running
    });
    assert_eq!(harness.state().lesson().map(|(l, step)| (l.title.as_str(), step)), Some(("Lesions and blur", 0)));
    assert!(harness.query_by_label("Step 1 of 6").is_some());
    assert!(harness.query_by_label("Packing").is_none() && harness.query_by_label("Ambiguity").is_some(), "only the lesson's tabs");
    assert!(harness.query_by_label("Activation").is_none() && harness.query_by_label("Context pathways").is_some(), "network hidden");

    let next = |harness: &mut Harness<'_, ModulabApp>| {
        harness.get_by_label("Next").click();
        harness.run_steps(3);
    };
    next(&mut harness);
    assert_eq!(harness.state().lesions(), &[Pathway::Bias]);
    assert!(harness.query_by_label("Which tasks fail?").is_some());
    next(&mut harness);
    assert_eq!(harness.state().ambiguity(), Ambiguity { kind: AmbiguityKind::Mixture, level: 0.5 });
    next(&mut harness);
    assert_eq!(harness.state().settings().tab, modulab::app::Tab::Ambiguity);
    next(&mut harness);
    run_until(&mut harness, "the pause", |app| app.run_data().state == RunState::Paused);
    next(&mut harness);
    assert_eq!(harness.state().subset().g(), 2.5);
    harness.get_by_label("Back").click();
    harness.run_steps(2);
    assert_eq!(harness.state().lesson().map(|(_, step)| step), Some(4));

    // save the setup as a lesson (hiding the lesions too), close, reopen it
    let saved = dir.path().join("saved");
    file_menu(&mut harness, "Save as lesson…");
    harness.run_steps(2);
    harness.get_by_label("lesions").click();
    harness.run_steps(2);
    harness.get_by_label("Choose file…").click();
    harness.run_steps(1); // the path window opens after the frame that closed the form
    choose_path(&mut harness, &saved, "Save");
    run_until(&mut harness, "the saved lesson", |app| notice_contains(app, "saved the lesson"));
    let saved = dir.path().join("saved.modulab.toml");
    assert!(saved.is_file());
    harness.get_by_label("Close lesson").click();
    harness.run_steps(3);
    assert!(harness.state().lesson().is_none());
    assert!(harness.query_by_label("Activation").is_some() && harness.query_by_label("Packing").is_some(), "every control is back");

    file_menu(&mut harness, "Open lesson…");
    choose_path(&mut harness, &saved, "Open");
    run_until(&mut harness, "the reopened lesson", |app| app.lesson().is_some());
    {
        let app = harness.state();
        let (reopened, step) = app.lesson().unwrap();
        assert_eq!((reopened.title.as_str(), step, reopened.steps.len()), ("Lesions and blur", 0, 6));
        assert_eq!(app.draft(), &lesson.config, "the settings and seed");
        assert_eq!(app.settings().tab, modulab::app::Tab::Ambiguity, "the tab it was saved on");
        assert!(reopened.hides(modulab::app::lesson::Control::Lesions) && reopened.hides(modulab::app::lesson::Control::Network));
    }
    harness.run_steps(2);
    assert!(harness.query_by_label("Lesions (test time)").is_none() && harness.query_by_label("Packing").is_none());

    // a lesson from a newer modulab, and one that is not a lesson: refused, the open one stays
    let newer = dir.path().join("newer.modulab.toml");
    std::fs::write(&newer, "format = 7\ntitle = \"later\"\n[[step]]\ntext = \"x\"\n").unwrap();
    file_menu(&mut harness, "Open lesson…");
    choose_path(&mut harness, &newer, "Open");
    run_until(&mut harness, "the refusal", |app| notice_contains(app, "newer modulab"));
    let corrupt = dir.path().join("corrupt.modulab.toml");
    std::fs::write(&corrupt, [0xff, 0xfe, 0x00, 0x41]).unwrap();
    file_menu(&mut harness, "Open lesson…");
    choose_path(&mut harness, &corrupt, "Open");
    run_until(&mut harness, "the second refusal", |app| notice_contains(app, "corrupt.modulab.toml"));
    assert_eq!(harness.state().lesson().map(|(l, _)| l.title.as_str()), Some("Lesions and blur"));
    // and the reopened lesson's network trains on (its first step started it)
    run_until(&mut harness, "training", |app| app.run_data().step >= 2 && app.run_data().state == RunState::Running);
}

/// Help → Lessons opens every built-in lesson; walking all its steps carries out each step's
/// action (the tab shown, training started or paused, lesions, ambiguity, a sweep of the frozen
/// network, a saved run added for comparison, the Subset tab's g, a panel's own Run: the packing
/// sweep, the dynamics of the named tasks, the switch test), and a lesson that names a trained
/// network opens it at once.
#[test]
fn every_built_in_lesson_opens_and_walks_through_all_its_steps() {
    use modulab::app::lesson::{Action, BUILTIN, Lesson, PanelRun, TrainAction};
    let mut harness = harness();
    run_until(&mut harness, "the worker", |app| app.run_data().config.is_some());
    for number in 1..=BUILTIN.len() {
        let lesson = Lesson::builtin(number).unwrap();
        harness.get_by_label("Help").click();
        harness.run_steps(2);
        harness.get_by_label("Lessons").click();
        harness.run_steps(2);
        harness.get_by_label(lesson.title.as_str()).click();
        harness.run_steps(2);
        assert_eq!(harness.state().lesson().map(|(l, step)| (l.title.clone(), step)), Some((lesson.title.clone(), 0)), "lesson {number}");
        if lesson.checkpoint.is_some() {
            run_until(&mut harness, "the lesson's network", |app| app.run_data().step == 4000 && notice_contains(app, "loaded"));
        }
        for (index, step) in lesson.steps.iter().enumerate() {
            if index > 0 {
                harness.get_by_label("Next").click();
                harness.run_steps(2);
            }
            assert_eq!(harness.state().lesson().map(|(_, s)| s), Some(index), "lesson {number}");
            assert!(harness.query_by_label(&format!("Step {} of {}", index + 1, lesson.steps.len())).is_some());
            let what = format!("lesson {number}, step {}", index + 1);
            match &step.action {
                None => {}
                Some(Action::Tab(tab)) => assert_eq!(harness.state().settings().tab, *tab, "{what}"),
                Some(Action::Train(TrainAction::Start)) => run_until(&mut harness, &what, |app| app.run_data().state == RunState::Running),
                Some(Action::Train(TrainAction::Pause)) => run_until(&mut harness, &what, |app| app.run_data().state == RunState::Paused),
                Some(Action::Train(TrainAction::Step)) => {}
                Some(Action::Lesion(p)) => assert_eq!(harness.state().lesions(), &p[..], "{what}"),
                Some(Action::Ambiguity(a)) => assert_eq!(harness.state().ambiguity(), *a, "{what}"),
                Some(Action::Sweep(kind)) => {
                    run_until(&mut harness, &what, |app| app.job_output::<SweepResult>().is_some_and(|s| s.kind == *kind))
                }
                Some(Action::Compare(_)) => run_until(&mut harness, &what, |app| !app.compared_runs().is_empty()),
                Some(Action::G(g)) => assert_eq!(harness.state().subset().g(), *g, "{what}"),
                Some(Action::Run(run)) => {
                    assert_eq!(harness.state().settings().tab, run.tab(), "{what}");
                    match run {
                        PanelRun::Packing => {
                            run_until(&mut harness, &what, |app| app.packing().running());
                            // the sweep's 27 cells take minutes: cancel it (the panel's own button)
                            harness.get_by_label("Cancel").click();
                            run_until(&mut harness, "the cancelled sweep", |app| !app.packing().running());
                        }
                        PanelRun::Dynamics(pair) => run_until(&mut harness, &what, |app| {
                            let result = app.job_output::<DynamicsResult>();
                            result.is_some_and(|r| pair.is_none_or(|(a, b)| (r.tasks[r.task], r.tasks[r.other]) == (a, b)))
                        }),
                        PanelRun::Switching => run_until(&mut harness, &what, |app| app.job_output::<SwitchResult>().is_some()),
                        PanelRun::Subset => run_until(&mut harness, &what, |app| app.subset().running()),
                    }
                }
                Some(Action::Settings(_) | Action::Load(_)) => unreachable!("no built-in lesson uses these yet"),
            }
        }
        assert!(harness.get_by_label("Next").accesskit_node().is_disabled(), "lesson {number}: the last step");
        harness.get_by_label("Close lesson").click();
        harness.run_steps(2);
        assert!(harness.state().lesson().is_none());
    }
}

/// The Training tab looks back: the slider shows an earlier evaluation's bars (and says so), and
/// the Trajectories and PCA tabs that step's network; at its right end the latest again. Reset starts from the same initial weights: the fresh
/// network's untrained evaluation is the first one's, number for number.
#[test]
fn look_back_at_an_earlier_evaluation_and_reset_to_the_same_initial_weights() {
    let mut harness = harness();
    run_until(&mut harness, "the untrained network's evaluation", |app| !app.run_data().evaluations.is_empty());
    let untrained = harness.state().run_data().evaluations[0].clone();
    harness.get_by_label("Train").click();
    run_until(&mut harness, "three evaluations", |app| app.run_data().evaluations.len() >= 3);
    harness.get_by_label("Pause").click();
    run_until(&mut harness, "the pause", |app| app.run_data().state == RunState::Paused);
    let steps: Vec<u64> = harness.state().run_data().evaluations.iter().map(|e| e.step).collect();
    harness.get_by_label("look back (latest)").decrement_accesskit();
    harness.run_steps(2);
    let earlier = steps[steps.len() - 2];
    assert!(harness.query_by_label(&format!("Evaluation at step {earlier} (looking back)")).is_some(), "steps {steps:?}");
    // the Trajectories and PCA tabs show the network of that step
    let caption = format!("Looking back: the network at step {earlier}");
    for tab in ["Trajectories", "PCA"] {
        click_tab(&mut harness, tab);
        run_until(&mut harness, tab, |app| {
            app.run_data().snapshot.as_ref().and_then(|s| s.looked_back.as_ref()).is_some_and(|b| b.step == Some(earlier))
        });
        harness.run_steps(2);
        assert!(harness.query_by_label(&caption).is_some(), "{tab}");
    }
    let back = harness.state().run_data().snapshot.as_ref().and_then(|s| s.looked_back.clone()).unwrap();
    assert_eq!(back.trajectories.as_ref().map(|t| t.step), Some(earlier));
    assert_eq!(back.pca.as_ref().map(|p| p.fitted_step), Some(earlier), "axes fitted to that network");
    click_tab(&mut harness, "Training");
    harness.get_by_label("look back").increment_accesskit();
    harness.run_steps(2);
    assert!(harness.query_by_label_contains("Latest evaluation (step").is_some());
    click_tab(&mut harness, "PCA");
    assert!(harness.query_by_label(&caption).is_none(), "the latest network again");
    click_tab(&mut harness, "Training");

    harness.get_by_label("Reset").click();
    run_until(&mut harness, "the fresh network's evaluation", |app| {
        app.run_data().step == 0 && app.run_data().evaluations.first().is_some_and(|e| e.step == 0)
    });
    assert_eq!(harness.state().run_data().evaluations[0], untrained, "the same initial weights score the same");
}

/// A plain start opens lesson 1 at its first step, with the choice not to next time (a setting
/// remembered between sessions); any other start does not.
#[test]
fn a_plain_start_opens_lesson_one_until_told_not_to() {
    let options = AppOptions { config: tiny(), preset: None, file_dialogs: false, offer_first_lesson: true, ..AppOptions::default() };
    let mut first_start = harness_with(options);
    run_until(&mut first_start, "the worker", |app| app.run_data().config.is_some());
    let first = modulab::app::lesson::Lesson::builtin(1).unwrap();
    assert_eq!(first_start.state().lesson().map(|(l, step)| (l.title.clone(), step)), Some((first.title.clone(), 0)));
    assert_eq!(first_start.state().draft(), &first.config, "the lesson's settings, not the options'");
    assert!(first_start.state().settings().open_first_lesson);
    first_start.get_by_label("Open this lesson when modulab starts").click();
    first_start.run_steps(2);
    assert!(!first_start.state().settings().open_first_lesson, "remembered (UiSettings are stored on exit)");

    let mut other = harness();
    run_until(&mut other, "the worker", |app| app.run_data().config.is_some());
    assert!(other.state().lesson().is_none());
}
