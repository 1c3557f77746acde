//! The desktop app driven through egui_kittest: click by label, run frames, assert on state.
//! The worker trains for real (a tiny network, so an evaluation arrives within seconds).

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use eframe::egui::accesskit::Role;
use modulab::analysis::{Ambiguity, AmbiguityKind};
use modulab::app::{AppOptions, ModulabApp};
use modulab::config::Config;
use modulab::model::Pathway;
use modulab::train::worker::RunState;

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
    let app = ModulabApp::new(AppOptions { config: tiny(), preset: None, quit_after: None, train: false }, None);
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
        assert!(run.loss.iter().all(|[step, loss]| *step >= 1.0 && loss.is_finite()));
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
    run_until(&mut harness, "the restart", |app| {
        app.run_data().config.as_ref().is_some_and(|c| c.model.pathways.len() == 3)
    });
    assert!(harness.state().run_data().loss.is_empty(), "a restart clears the run data");

    // Train the new network to its first evaluation, then lesion each pathway
    harness.get_by_label("Train").click();
    run_until(&mut harness, "an evaluation of the new network", |app| {
        app.run_data().evaluations.iter().any(|e| e.step > 0)
    });
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
    run_until(&mut harness, "the new configuration", |app| {
        app.run_data().config.as_ref().is_some_and(|c| c.model.has(Pathway::Gain))
    });
    assert!(harness.query_by_label("Restart with these settings").is_none());
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
    harness.get_by_role(Role::Slider).set_value_accesskit(0.8);
    let wanted = Ambiguity { kind: AmbiguityKind::Mixture, level: 0.8 };
    run_until(&mut harness, "the ambiguous re-evaluation", |app| {
        app.ambiguity() == wanted
            && app.run_data().snapshot.as_ref().and_then(|s| s.ambiguity.as_ref()).is_some_and(|a| a.ambiguity == wanted)
    });
    harness.run_steps(2);
    assert!(harness.query_by_label_contains("mixture 0.80: mean").is_some(), "the re-evaluation is shown");
    {
        let snapshot = harness.state().run_data().snapshot.clone().expect("snapshot");
        let eval = snapshot.ambiguity.expect("ambiguity");
        assert_eq!((eval.clean.len(), eval.ambiguous.len()), (4, 4));
        assert!(eval.ambiguous.iter().all(|(_, p)| (0.0..=1.0).contains(p)));
    }

    // Sweep: the whole curve arrives, with its progress
    harness.get_by_label("Sweep").click();
    run_until(&mut harness, "the sweep", |app| {
        app.run_data().snapshot.as_ref().and_then(|s| s.sweep.as_ref()).is_some_and(|s| s.is_complete())
    });
    {
        let snapshot = harness.state().run_data().snapshot.clone().expect("snapshot");
        let sweep = snapshot.sweep.expect("sweep");
        assert_eq!((sweep.kind, sweep.summary().len()), (AmbiguityKind::Mixture, 11));
    }

    // Trajectories and PCA have data and draw it
    harness.get_by_label("Trajectories").click();
    harness.run_steps(2);
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
    for tab in ["Training", "Ambiguity", "Trajectories", "PCA"] {
        // the tab is the topmost node with this label ("Training" is also a heading and a label)
        harness
            .get_all_by_label(tab)
            .min_by(|a, b| a.rect().min.y.total_cmp(&b.rect().min.y))
            .expect("tab")
            .click();
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
