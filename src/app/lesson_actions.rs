//! What a lesson does to the app: opening one (its settings, network and tab), carrying out a
//! step's action, and the Save as lesson… form's starting point (the app as it is now).

use super::{Level, ModulabApp, Tab, lesson, lesson_panel};
use crate::analysis::Ambiguity;
use crate::config::Config;
use crate::runner::Command;

impl ModulabApp {
    /// Open the lesson at `path`: its settings replace the draft and the network, its tab opens
    /// and its first step's action runs. A lesson that cannot be read changes nothing (the
    /// status bar says why).
    pub(super) fn open_lesson(&mut self, path: &std::path::Path, commands: &mut Vec<Command>) {
        match lesson::Lesson::open(path) {
            Ok(lesson) => self.start_lesson(lesson, commands),
            Err(e) => self.files.set_notice(Level::Error, e.to_string()),
        }
    }

    /// Follow `lesson` from its first step.
    pub(super) fn start_lesson(&mut self, lesson: lesson::Lesson, commands: &mut Vec<Command>) {
        self.draft = lesson.config.clone();
        self.preset = lesson.preset.clone().unwrap_or_default();
        commands.push(Command::Reset(Box::new(lesson.config.clone())));
        if let Some(run) = &lesson.checkpoint {
            commands.push(Command::LoadCheckpoint(run.clone()));
        }
        self.lesions.clear();
        commands.push(Command::SetLesions(Vec::new()));
        self.ambiguity = Ambiguity::none();
        commands.push(Command::SetAmbiguity(self.ambiguity));
        self.settings.tab = lesson.tab;
        self.files.set_notice(Level::Info, format!("opened the lesson \"{}\" ({} steps)", lesson.title, lesson.steps.len()));
        let mut player = lesson_panel::LessonPlayer::new(lesson);
        let first = player.take_pending();
        self.lesson = Some(player);
        if let Some(action) = first {
            self.act(action, commands);
        }
    }

    /// Carry out a lesson step's action.
    pub(super) fn act(&mut self, action: lesson::Action, commands: &mut Vec<Command>) {
        use lesson::{Action, TrainAction};
        match action {
            Action::Tab(tab) => self.settings.tab = tab,
            Action::Train(TrainAction::Start) => commands.push(Command::Start),
            Action::Train(TrainAction::Pause) => commands.push(Command::Pause),
            Action::Train(TrainAction::Step) => commands.push(Command::StepOnce),
            Action::Lesion(pathways) => {
                self.lesions = pathways.clone();
                commands.push(Command::SetLesions(pathways));
            }
            Action::Ambiguity(a) => {
                self.ambiguity = a;
                commands.push(Command::SetAmbiguity(a));
            }
            Action::Sweep(kind) => {
                self.ambiguity = Ambiguity { kind, level: kind.clean_level() };
                commands.push(Command::SetAmbiguity(self.ambiguity));
                // the Ambiguity panel's job goes to the worker after this frame's commands (the
                // lesson's reset first)
                self.panels_act(&Action::Sweep(kind));
            }
            Action::Settings(sets) => {
                let base = self.lesson.as_ref().map_or_else(|| self.draft.clone(), |p| p.lesson.config.clone());
                match Config::from_toml_with_overrides(&base.to_toml(), "the lesson's settings", &sets) {
                    Ok(config) => {
                        self.draft = config.clone();
                        self.preset.clear();
                        commands.push(Command::Reset(Box::new(config)));
                    }
                    Err(e) => self.files.set_notice(Level::Error, e.to_string()),
                }
            }
            Action::Compare(dir) => self.files.add_compare_runs(vec![dir]),
            Action::Load(dir) => commands.push(Command::LoadCheckpoint(dir)),
            Action::G(_) => self.panels_act(&action),
            Action::Run(run) => {
                self.settings.tab = run.tab();
                self.panels_act(&Action::Run(run));
            }
        }
    }

    /// Give a panel's action to the panel it is meant for (through [`super::Panel::act`]).
    fn panels_act(&mut self, action: &lesson::Action) {
        let jobs = &mut self.jobs;
        if !self.tabs.each().into_iter().any(|(_, panel)| panel.act(action, jobs)) {
            self.files.set_notice(Level::Error, format!("no panel carries out the lesson's action {action:?}"));
        }
    }

    /// The Save as lesson… form, filled from the open lesson if there is one.
    pub(super) fn save_form(&self) -> lesson_panel::SaveLessonForm {
        match &self.lesson {
            Some(p) => lesson_panel::SaveLessonForm {
                title: p.lesson.title.clone(),
                hidden: p.lesson.hidden.clone(),
                tabs: Tab::ALL.into_iter().filter(|t| p.lesson.shows_tab(*t)).collect(),
            },
            None => lesson_panel::SaveLessonForm::default(),
        }
    }

    /// The current setup as a lesson: the draft settings, the tab shown, what the form hides,
    /// and the open lesson's steps (or one step that says what the setup is for).
    pub(super) fn current_as_lesson(&self) -> lesson::Lesson {
        let form = self.lesson_form.as_ref().map_or_else(
            || self.save_form(),
            |f| lesson_panel::SaveLessonForm { title: f.title.clone(), hidden: f.hidden.clone(), tabs: f.tabs.clone() },
        );
        let all_tabs = form.tabs.len() == Tab::ALL.len();
        let tab = if form.tabs.contains(&self.settings.tab) { self.settings.tab } else { form.tabs[0] };
        let steps = self.lesson.as_ref().map_or_else(
            || {
                vec![lesson::Step {
                    text: "Press Train and watch the loss fall and each task's performance rise.".into(),
                    look_for: String::new(),
                    action: None,
                }]
            },
            |p| p.lesson.steps.clone(),
        );
        lesson::Lesson {
            title: form.title.trim().to_string(),
            summary: self.lesson.as_ref().map_or_else(String::new, |p| p.lesson.summary.clone()),
            config: self.draft.clone(),
            preset: None,
            checkpoint: self.lesson.as_ref().and_then(|p| p.lesson.checkpoint.clone()),
            tab,
            tabs: if all_tabs { Vec::new() } else { form.tabs },
            hidden: form.hidden,
            steps,
            path: None,
        }
    }
}
