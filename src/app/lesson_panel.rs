//! The lesson side panel: the open lesson's steps with Back / Next and what to look for, and the
//! Save as lesson… form (what the saved lesson hides). The app carries out the steps' actions
//! ([`super::ModulabApp`]); this file only draws and reports what was asked.

use eframe::egui;

use super::Tab;
use super::lesson::{Action, Control, Lesson, PanelRun, Step, TrainAction};

/// A lesson being followed.
pub struct LessonPlayer {
    pub lesson: Lesson,
    /// The step shown.
    pub step: usize,
    /// Which steps' actions have been carried out (each once on the way forward).
    done: Vec<bool>,
}

/// What the reader asked for this frame.
#[derive(Clone, Debug, PartialEq)]
pub enum LessonRequest {
    /// Carry out this action (a step was entered, or Do it again).
    Act(Action),
    Close,
}

impl LessonPlayer {
    pub fn new(lesson: Lesson) -> Self {
        let done = vec![false; lesson.steps.len()];
        Self { lesson, step: 0, done }
    }

    pub fn current(&self) -> &Step {
        &self.lesson.steps[self.step]
    }

    /// The current step's action if it has not run yet (marks it done).
    pub fn take_pending(&mut self) -> Option<Action> {
        let done = std::mem::replace(&mut self.done[self.step], true);
        if done { None } else { self.current().action.clone() }
    }

    /// Go to the next step (its action becomes pending); false at the last.
    pub fn next(&mut self) -> bool {
        let more = self.step + 1 < self.lesson.steps.len();
        if more {
            self.step += 1;
        }
        more
    }

    pub fn back(&mut self) {
        self.step = self.step.saturating_sub(1);
    }

    /// The side panel's contents; `open_at_start` is the remembered choice to open this lesson
    /// when the app starts (shown as a checkbox when given).
    pub fn ui(&mut self, ui: &mut egui::Ui, open_at_start: Option<&mut bool>) -> Vec<LessonRequest> {
        let mut requests = Vec::new();
        ui.heading(&self.lesson.title);
        if !self.lesson.summary.is_empty() {
            ui.weak(&self.lesson.summary);
        }
        ui.separator();
        let count = self.lesson.steps.len();
        ui.label(egui::RichText::new(format!("Step {} of {count}", self.step + 1)).strong());
        ui.add(egui::ProgressBar::new((self.step + 1) as f32 / count as f32).desired_height(4.0));
        egui::ScrollArea::vertical().max_height((ui.available_height() - 90.0).max(60.0)).show(ui, |ui| {
            let step = self.current().clone();
            ui.label(egui::RichText::new(&step.text).size(15.0));
            if !step.look_for.is_empty() {
                ui.add_space(6.0);
                egui::Frame::group(ui.style()).show(ui, |ui| {
                    ui.label(egui::RichText::new("Look for").strong());
                    ui.label(&step.look_for);
                });
            }
            if let Some(action) = &step.action {
                ui.add_space(6.0);
                ui.horizontal_wrapped(|ui| {
                    ui.weak(format!("This step: {}.", describe(action)));
                    if ui.small_button("Do it again").on_hover_text("Carry out this step's action once more").clicked() {
                        requests.push(LessonRequest::Act(action.clone()));
                    }
                });
            }
        });
        ui.separator();
        ui.horizontal(|ui| {
            if ui
                .add_enabled(self.step > 0, egui::Button::new("Back"))
                .on_hover_text("The previous step (its action is not redone)")
                .clicked()
            {
                self.back();
            }
            let last = self.step + 1 == count;
            if ui.add_enabled(!last, egui::Button::new("Next")).on_hover_text("The next step: its action happens at once").clicked() {
                self.next();
            }
            if ui.button("Close lesson").on_hover_text("Leave the lesson: every control shows again").clicked() {
                requests.push(LessonRequest::Close);
            }
        });
        if let Some(open) = open_at_start {
            ui.checkbox(open, "Open this lesson when modulab starts")
                .on_hover_text("Untick: modulab opens straight on the Training tab next time (Help → Lessons still has it)");
        }
        if let Some(action) = self.take_pending() {
            requests.insert(0, LessonRequest::Act(action));
        }
        requests
    }
}

/// An action in words, for the step's footnote.
pub fn describe(action: &Action) -> String {
    match action {
        Action::Tab(tab) => format!("open the {} tab", tab.label()),
        Action::Train(TrainAction::Start) => "start training".into(),
        Action::Train(TrainAction::Pause) => "pause training".into(),
        Action::Train(TrainAction::Step) => "one training step".into(),
        Action::Lesion(p) if p.is_empty() => "remove every lesion".into(),
        Action::Lesion(p) => format!("lesion {}", p.iter().map(|p| p.name()).collect::<Vec<_>>().join(" and ")),
        Action::Ambiguity(a) => format!("set the context ambiguity to {a}"),
        Action::Sweep(kind) => format!("sweep {} ambiguity", kind.name()),
        Action::Settings(sets) => format!("start a new network with {}", sets.join(", ")),
        Action::Compare(dir) => format!("add the saved run {} for comparison", dir.display()),
        Action::Load(dir) => format!("open the saved run {}", dir.display()),
        Action::G(g) => format!("set the Subset tab's coupling g to {g}"),
        Action::Run(PanelRun::Dynamics(Some((task, toward)))) => format!("compute the dynamics of {task} blended toward {toward}"),
        Action::Run(PanelRun::Dynamics(None)) => "press Compute in the Dynamics tab".into(),
        Action::Run(PanelRun::Packing) => "run the Packing tab's sweep".into(),
        Action::Run(PanelRun::Switching) => "run the Switching tab's switch test".into(),
        Action::Run(PanelRun::Subset) => "run the Subset tab's network".into(),
    }
}

/// The Save as lesson… form: a title and what the saved lesson hides.
pub struct SaveLessonForm {
    pub title: String,
    pub hidden: Vec<Control>,
    /// The tabs the lesson shows.
    pub tabs: Vec<Tab>,
}

impl Default for SaveLessonForm {
    fn default() -> Self {
        Self { title: "My lesson".into(), hidden: Vec::new(), tabs: Tab::ALL.to_vec() }
    }
}

/// What the form's buttons asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormAnswer {
    Save,
    Cancel,
}

impl SaveLessonForm {
    /// The form as a window; `None` while it stays open.
    pub fn ui(&mut self, ctx: &egui::Context) -> Option<FormAnswer> {
        let mut answer = None;
        egui::Window::new("Save as lesson").collapsible(false).resizable(false).anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO).show(
            ctx,
            |ui| {
                ui.label("Saves the current settings, seed and tab as a lesson file that opens the app the same way.");
                ui.horizontal(|ui| {
                    let label = ui.label("Title");
                    ui.text_edit_singleline(&mut self.title)
                        .labelled_by(label.id)
                        .on_hover_text("The lesson's title: Help → Lessons and the lesson panel show it");
                });
                ui.separator();
                ui.label("Hide from the class:").on_hover_text("Hidden controls keep their values; a lesson shows only what it is about");
                for control in Control::ALL {
                    member_checkbox(ui, &mut self.hidden, control, control.label(), "Ticked: the lesson hides it from the class");
                }
                ui.label("Tabs shown:");
                ui.horizontal_wrapped(|ui| {
                    for tab in Tab::ALL {
                        member_checkbox(ui, &mut self.tabs, tab, tab.label(), "Ticked: the lesson shows this tab");
                    }
                });
                ui.separator();
                ui.horizontal(|ui| {
                    let ready = !self.title.trim().is_empty() && !self.tabs.is_empty();
                    if ui.add_enabled(ready, egui::Button::new("Choose file…")).on_hover_text("Pick where to write the lesson").clicked()
                    {
                        answer = Some(FormAnswer::Save);
                    }
                    if ui.button("Cancel").on_hover_text("Close this form without writing anything").clicked() {
                        answer = Some(FormAnswer::Cancel);
                    }
                });
            },
        );
        answer
    }
}

/// A checkbox that says whether `item` is in `list`, and puts it in or takes it out.
fn member_checkbox<T: PartialEq + Copy>(ui: &mut egui::Ui, list: &mut Vec<T>, item: T, label: &str, tip: &str) {
    let mut member = list.contains(&item);
    if ui.checkbox(&mut member, label).on_hover_text(tip).changed() {
        list.retain(|x| *x != item);
        if member {
            list.push(item);
        }
    }
}
