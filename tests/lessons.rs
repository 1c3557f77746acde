//! The built-in lessons and the trained networks they open (`assets/networks`, made by
//! `scripts/make-lesson-networks`): every lesson reads, every network it names loads, and each
//! network scores what its lesson tells the class, as the tab beside the lesson shows it (each
//! figure measured through the same evaluation the app runs for that view).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails at its first broken expectation, with the message")]

use modulab::analysis::Ambiguity;
use modulab::app::lesson::{Action, BUILTIN, Lesson};
use modulab::experiments::sweep::{SWEEP_TRIALS, score_level};
use modulab::model::Pathway;
use modulab::runner::live;
use modulab::tasks::Task;
use modulab::train::checkpoint;
use modulab::train::eval::{EvalOptions, evaluate_params};

/// A lesson network as the app loads it.
fn network(name: &str) -> checkpoint::Checkpoint {
    let dir = modulab::app::lesson::builtin_dir().join("..").join("networks").join(name);
    checkpoint::load(&checkpoint::locate(&dir).checkpoint).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The mean the Training tab's bars and the status bar show for the loaded network: the worker's
/// evaluation (`train.eval_trials` per task, its stream), with `lesioned` removed.
fn training_tab_mean(name: &str, lesioned: &[Pathway]) -> f64 {
    let loaded = network(name);
    let options = EvalOptions { lesioned: lesioned.to_vec(), ..EvalOptions::default() };
    evaluate_params(&loaded.config, &loaded.params, loaded.step, &options).unwrap().perf_mean()
}

/// The Training tab's bars, task by task.
fn training_tab_perf(name: &str, lesioned: &[Pathway]) -> std::collections::BTreeMap<Task, f32> {
    let loaded = network(name);
    let options = EvalOptions { lesioned: lesioned.to_vec(), ..EvalOptions::default() };
    evaluate_params(&loaded.config, &loaded.params, loaded.step, &options).unwrap().perf.into_iter().collect()
}

/// The mean over tasks of one point of the Ambiguity tab's sweep plot (the current network's
/// sweep and a compared run's score a level alike).
fn sweep_mean(name: &str, ambiguity: &str) -> f64 {
    let loaded = network(name);
    let ambiguity = ambiguity.parse::<Ambiguity>().unwrap();
    let scores = score_level(&loaded.config, &loaded.params, loaded.step, &[], ambiguity, Some(SWEEP_TRIALS), 1).unwrap();
    scores.iter().map(|(_, p)| *p as f64).sum::<f64>() / scores.len() as f64
}

/// The mean the Ambiguity tab's bars show for the loaded (not training) network at `ambiguity`:
/// the live evaluation with its full count of trials.
fn ambiguity_tab_mean(name: &str, ambiguity: &str) -> f64 {
    let loaded = network(name);
    let options =
        EvalOptions { ambiguity: ambiguity.parse::<Ambiguity>().unwrap(), ..live::ambiguity_options(live::AMBIGUITY_TRIALS_IDLE, &[]) };
    evaluate_params(&loaded.config, &loaded.params, loaded.step, &options).unwrap().perf_mean()
}

#[test]
fn every_built_in_lesson_reads_and_its_networks_exist() {
    for number in 1..=BUILTIN.len() {
        let lesson = Lesson::builtin(number).unwrap_or_else(|e| panic!("lesson {number}: {e}"));
        assert!(lesson.title.starts_with(&format!("{number}. ")), "{}", lesson.title);
        let mut runs: Vec<_> = lesson.checkpoint.iter().cloned().collect();
        runs.extend(lesson.steps.iter().filter_map(|s| match &s.action {
            Some(Action::Compare(dir) | Action::Load(dir)) => Some(dir.clone()),
            _ => None,
        }));
        for run in runs {
            let loaded = checkpoint::load(&checkpoint::locate(&run).checkpoint).unwrap_or_else(|e| panic!("lesson {number}: {e}"));
            // the lesson's own settings are the network's, so its actions (lesions) fit it
            if lesson.checkpoint.as_ref() == Some(&run) {
                assert_eq!(loaded.config.model, lesson.config.model, "lesson {number}: its settings are its network's");
            }
        }
    }
    assert!(Lesson::builtin(0).is_err() && Lesson::builtin(BUILTIN.len() + 1).is_err());
}

/// Lesson 2 (lesions) and lesson 3 (ambiguity) quote these numbers, each as the tab beside it
/// shows it.
#[test]
fn the_lesson_networks_score_what_their_lessons_say() {
    let close =
        |value: f64, quoted: f64, what: &str| assert!((value - quoted).abs() < 0.005, "{what}: {value:.3}, the lesson says {quoted}");
    // lesson 2 (the Training tab's bars): bias+synaptic 95 %; 61 % without bias; 81 % without synaptic
    close(training_tab_mean("bias-synaptic", &[]), 0.95, "bias-synaptic");
    close(training_tab_mean("bias-synaptic", &[Pathway::Bias]), 0.61, "bias-synaptic, bias lesioned");
    close(training_tab_mean("bias-synaptic", &[Pathway::Synaptic]), 0.81, "bias-synaptic, synaptic lesioned");
    // ... and the tasks its steps name ("about": within 0.05)
    let about =
        |value: f32, quoted: f32, what: &str| assert!((value - quoted).abs() <= 0.05, "{what}: {value:.2}, the lesson says about {quoted}");
    let no_bias = training_tab_perf("bias-synaptic", &[Pathway::Bias]);
    for (task, quoted) in [(Task::ReactAnti, 0.35), (Task::DelayAnti, 0.35), (Task::DelayGo, 0.5), (Task::FdGo, 1.0), (Task::ReactGo, 1.0)]
    {
        about(no_bias[&task], quoted, &format!("{} without bias", task.name()));
    }
    let no_synaptic = training_tab_perf("bias-synaptic", &[Pathway::Synaptic]);
    let suffer = [Task::FdAnti, Task::DelayAnti, Task::DmsGo, Task::DmsNogo];
    let spared = no_synaptic.iter().filter(|(t, _)| !suffer.contains(t)).map(|(_, p)| *p).fold(1.0, f32::min);
    assert!(suffer.iter().all(|t| no_synaptic[t] < spared), "the tasks lesson 2 says suffer most: {no_synaptic:?}");
    // lesson 3 (the Ambiguity tab's bars): bias 93 %, 57 % at noise 0.5
    close(ambiguity_tab_mean("bias", "noise:0"), 0.93, "bias");
    close(ambiguity_tab_mean("bias", "noise:0.5"), 0.57, "bias, noise 0.5");
    // ... and its sweep plot, where the current network and the compared one are swept alike:
    // noise 0.6, bias 50 % against synaptic 28 %; mixture 0.5, 62 % against 57 %
    close(sweep_mean("bias", "noise:0.6"), 0.50, "bias swept, noise 0.6");
    close(sweep_mean("synaptic", "noise:0.6"), 0.28, "synaptic swept, noise 0.6");
    close(sweep_mean("bias", "mixture:0.5"), 0.62, "bias swept, mixture 0.5");
    close(sweep_mean("synaptic", "mixture:0.5"), 0.57, "synaptic swept, mixture 0.5");
}
