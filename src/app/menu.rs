//! The menu bar: File (checkpoints, networks, lessons) and Help (lessons).

use eframe::egui;

use super::panel::PanelContext;
use super::{export, lesson};
use crate::runner::RunState;

/// What the menu asked of the app.
pub enum MenuRequest {
    SaveLessonForm,
    /// Built-in lesson number (1-based).
    Lesson(usize),
}

/// The menu bar: File (checkpoints, lessons, quit).
pub fn menu_bar_ui(ui: &mut egui::Ui, cx: &mut PanelContext<'_>) -> Vec<MenuRequest> {
    let mut requests = Vec::new();
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| {
            let has_network = cx.run.config.is_some() && cx.run.state != RunState::Failed;
            if ui
                .add_enabled(has_network, egui::Button::new("Save checkpoint…"))
                .on_hover_text(
                    "Save the network, optimiser state and history into a run directory, to continue later \
                     (also readable by `modulab eval --run DIR`)",
                )
                .clicked()
            {
                cx.files.begin(export::FileJob::SaveCheckpoint);
                ui.close();
            }
            if ui
                .button("Load checkpoint…")
                .on_hover_text(
                    "Replace the current run with a saved one (a run directory from `modulab train` or from \
                     Save checkpoint…); the current run is kept if the checkpoint is unreadable",
                )
                .clicked()
            {
                cx.files.begin(export::FileJob::LoadCheckpoint);
                ui.close();
            }
            if ui
                .add_enabled(has_network, egui::Button::new("Export network…"))
                .on_hover_text(
                    "Write the weights, the settings (as JSON) and every task's probe trials (inputs, rates, outputs) \
                     to a NumPy .npz or .safetensors file: np.load(\"file.npz\")[\"w_rec\"] in Python (docs/EXCHANGE.md)",
                )
                .clicked()
            {
                cx.files.begin(export::FileJob::ExportNetwork);
                ui.close();
            }
            ui.separator();
            if ui
                .button("Open lesson…")
                .on_hover_text("Open a lesson file (*.modulab.toml): its settings, tab and steps, with Back / Next in a side panel")
                .clicked()
            {
                cx.files.begin(export::FileJob::OpenLesson);
                ui.close();
            }
            if ui
                .button("Save as lesson…")
                .on_hover_text("Write the current settings, seed and tab as a lesson file, choosing which controls it hides")
                .clicked()
            {
                requests.push(MenuRequest::SaveLessonForm);
                ui.close();
            }
            ui.separator();
            if ui.button("Quit").on_hover_text("Close modulab (training stops; save a checkpoint first to keep it)").clicked() {
                ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
            }
        })
        .response
        .on_hover_text("Checkpoints and lessons");
        ui.menu_button("Help", |ui| {
            ui.menu_button("Lessons", |ui| {
                for (index, (_, text)) in lesson::BUILTIN.iter().enumerate() {
                    let title = lesson::title_of(text);
                    if ui.button(title).on_hover_text(lesson::summary_of(text)).clicked() {
                        requests.push(MenuRequest::Lesson(index + 1));
                        ui.close();
                    }
                }
            })
            .response
            .on_hover_text("Guided tours, a few minutes each: each sets the app up and walks you through it step by step");
        })
        .response
        .on_hover_text("Lessons");
    });
    requests
}
