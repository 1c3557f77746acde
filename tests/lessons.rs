//! The built-in lessons and the trained networks they open (`assets/networks`, made by
//! `scripts/make-lesson-networks`): every lesson reads, every network it names loads, and each
//! network scores what its lesson tells the class (the lesson texts quote these figures, measured
//! with 128 trials per task as `modulab eval --trials 128` does).

use modulab::analysis::Ambiguity;
use modulab::app::lesson::{Action, BUILTIN, Lesson};
use modulab::model::Pathway;
use modulab::train::checkpoint;
use modulab::train::eval::{EvalOptions, evaluate_params};

fn mean(network: &str, ambiguity: &str, lesioned: &[Pathway]) -> f64 {
    let dir = modulab::app::lesson::builtin_dir().join("..").join("networks").join(network);
    let loaded = checkpoint::load(&checkpoint::locate(&dir).checkpoint).unwrap_or_else(|e| panic!("{network}: {e}"));
    let options = EvalOptions {
        trials: Some(128),
        ambiguity: ambiguity.parse::<Ambiguity>().unwrap(),
        lesioned: lesioned.to_vec(),
        stream: 1,
        ..EvalOptions::default()
    };
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

/// Lesson 2 (lesions) and lesson 3 (ambiguity) quote these numbers.
#[test]
fn the_lesson_networks_score_what_their_lessons_say() {
    let close =
        |value: f64, quoted: f64, what: &str| assert!((value - quoted).abs() < 0.015, "{what}: {value:.3}, the lesson says {quoted}");
    // lesson 2: bias+synaptic, 94 % with the clear cue; 65 % without bias; 81 % without synaptic
    close(mean("bias-synaptic", "mixture:0", &[]), 0.94, "bias-synaptic");
    close(mean("bias-synaptic", "mixture:0", &[Pathway::Bias]), 0.65, "bias-synaptic, bias lesioned");
    close(mean("bias-synaptic", "mixture:0", &[Pathway::Synaptic]), 0.81, "bias-synaptic, synaptic lesioned");
    // lesson 3: bias 90 %, 54 % at noise 0.5; synaptic 33 % there; mixture 0.5: 59 % against 63 %
    close(mean("bias", "noise:0", &[]), 0.90, "bias");
    close(mean("bias", "noise:0.5", &[]), 0.54, "bias, noise 0.5");
    close(mean("synaptic", "noise:0.5", &[]), 0.33, "synaptic, noise 0.5");
    close(mean("bias", "mixture:0.5", &[]), 0.59, "bias, mixture 0.5");
    close(mean("synaptic", "mixture:0.5", &[]), 0.63, "synaptic, mixture 0.5");
}
