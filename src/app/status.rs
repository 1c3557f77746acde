//! The status bar: run state, step, speed and the last message from the worker.

use eframe::egui;

use super::{Level, Panel, PanelContext};
use crate::runner::RunState;

pub struct StatusPanel;

impl Panel for StatusPanel {
    fn title(&self) -> &'static str {
        "Status"
    }

    fn help(&self) -> &'static str {
        "What the training thread is doing, how far it got, how fast it goes, and its last message \
         (evaluations, warnings, errors). If training fails, press Reset to start over."
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>) {
        let run = cx.run;
        ui.horizontal(|ui| {
            let visuals = ui.visuals();
            let color = match run.state {
                RunState::Running => super::widgets::color(crate::figure::palette::role::GOOD),
                RunState::Failed => visuals.error_fg_color,
                RunState::Paused => visuals.warn_fg_color,
                RunState::Ready | RunState::Finished => visuals.text_color(),
            };
            ui.colored_label(color, run.state.label()).on_hover_text(self.help());
            ui.separator();
            ui.label(format!("step {}", run.step)).on_hover_text("Optimiser steps done");
            ui.separator();
            ui.label(format!("{:.1} steps/s", run.steps_per_sec)).on_hover_text("Training speed over the last steps");
            ui.separator();
            if let Some(message) = &run.last_message {
                let visuals = ui.visuals();
                let color = match message.level {
                    Level::Info => visuals.text_color(),
                    Level::Warning => visuals.warn_fg_color,
                    Level::Error => visuals.error_fg_color,
                };
                ui.colored_label(color, &message.text).on_hover_text("The last message from the training thread");
            }
            if let Some(notice) = cx.files.notice() {
                let visuals = ui.visuals();
                let color = match notice.level {
                    Level::Info => visuals.text_color(),
                    Level::Warning => visuals.warn_fg_color,
                    Level::Error => visuals.error_fg_color,
                };
                ui.separator();
                ui.colored_label(color, &notice.text)
                    .on_hover_text("The last file operation: an export, or saving or loading a checkpoint");
            }
        });
    }
}
