//! The `Panel` trait every tab and side panel implements, and what a panel borrows each frame.

use std::sync::Arc;

use eframe::egui;

use super::export;
use super::lesson;
use super::run_data::RunData;
use super::settings::UiSettings;
use crate::analysis::Ambiguity;
use crate::config::Config;
use crate::model::Pathway;
use crate::runner::{Command, JobHost, LiveViews, LookedBack};
use crate::train::probe::{PcaView, Trajectories};

/// What a panel borrows each frame.
pub struct PanelContext<'a> {
    pub run: &'a RunData,
    pub settings: &'a mut UiSettings,
    /// The configuration being edited in the Setup panel.
    pub draft: &'a mut Config,
    /// The preset the draft came from, if unchanged since.
    pub preset: &'a mut String,
    /// Pathways lesioned at test time.
    pub lesions: &'a mut Vec<Pathway>,
    /// How the context is made ambiguous when testing (Ambiguity panel).
    pub ambiguity: &'a mut Ambiguity,
    /// Commands for the worker, sent after the frame.
    pub commands: &'a mut Vec<Command>,
    /// File choices and exports (see [`export::export_menu_ui`]).
    pub files: &'a mut export::Files,
    /// The Setup sections the open lesson hides.
    pub hidden: &'a [lesson::Control],
    /// The evaluation step looked back at (the Training tab's slider); `None` = the latest.
    pub look_back: &'a mut Option<u64>,
    /// Where panels run their background jobs and read their results.
    pub jobs: &'a mut JobHost,
}

impl PanelContext<'_> {
    /// Does the open lesson hide this Setup section?
    pub fn hides(&self, control: lesson::Control) -> bool {
        control.hidden_by(self.hidden)
    }

    /// The probe trials to draw: the latest network's, or while looking back the earlier
    /// network's (or that it is on its way).
    pub fn probe_shown(&self) -> ProbeShown {
        let snapshot = self.run.snapshot.as_ref();
        match *self.look_back {
            None => ProbeShown::Latest {
                trajectories: snapshot.and_then(|s| s.trajectories.clone()),
                pca: snapshot.and_then(|s| s.pca.clone()),
            },
            Some(asked) => match snapshot.and_then(|s| s.looked_back.clone()).filter(|b| b.asked == asked) {
                Some(back) => ProbeShown::Earlier(back),
                None => ProbeShown::Waiting(asked),
            },
        }
    }
}

/// What the Trajectories and PCA tabs show (see [`PanelContext::probe_shown`]).
pub enum ProbeShown {
    Latest {
        trajectories: Option<Arc<Trajectories>>,
        pca: Option<Arc<PcaView>>,
    },
    /// The network at an earlier evaluation.
    Earlier(Arc<LookedBack>),
    /// Looking back at this step; the worker has not answered yet.
    Waiting(u64),
}

impl ProbeShown {
    pub fn trajectories(&self) -> Option<Arc<Trajectories>> {
        match self {
            ProbeShown::Latest { trajectories, .. } => trajectories.clone(),
            ProbeShown::Earlier(back) => back.trajectories.clone(),
            ProbeShown::Waiting(_) => None,
        }
    }

    pub fn pca(&self) -> Option<Arc<PcaView>> {
        match self {
            ProbeShown::Latest { pca, .. } => pca.clone(),
            ProbeShown::Earlier(back) => back.pca.clone(),
            ProbeShown::Waiting(_) => None,
        }
    }

    /// A line saying which network is shown while looking back (none for the latest).
    pub fn caption_ui(&self, ui: &mut egui::Ui) {
        let text = match self {
            ProbeShown::Latest { .. } => return,
            ProbeShown::Earlier(back) => match back.step {
                Some(step) if step == back.asked => format!("Looking back: the network at step {step}"),
                Some(step) => format!("Looking back: the network at step {step} (the nearest kept before step {})", back.asked),
                None => {
                    format!("Looking back at step {}: that network is not kept (a loaded run starts at its checkpoint's step)", back.asked)
                }
            },
            ProbeShown::Waiting(step) => format!("Looking back at step {step}: running the probe trials…"),
        };
        ui.colored_label(ui.visuals().warn_fg_color, text).on_hover_text(
            "The Training tab's look-back slider is not at its right end, so this tab shows the network as it was at that \
             evaluation (the principal axes fitted to that network). Move the slider to its right end for the latest.",
        );
    }
}

/// One panel of the app. Like eframe's `App`, a panel has a `logic` half, run every frame
/// whether it is shown or not (take the results of background work the runner does for it),
/// and a `ui` half that draws it. Panels read what the worker published and push commands
/// through the [`PanelContext`]; they compute nothing heavy. Background work (a sweep, a switch
/// test, a packing sweep …) is a job submitted to `cx.jobs` (the app's one [`JobHost`]), whose
/// output the panel reads back by id; the host wakes the UI on every change.
pub trait Panel {
    /// The panel's heading.
    fn title(&self) -> &'static str;
    /// The "What am I looking at?" text.
    fn help(&self) -> &'static str;
    /// Every frame, shown or not, before any panel draws.
    fn logic(&mut self, _ctx: &egui::Context, _cx: &mut PanelContext<'_>) {}
    /// Draw the panel.
    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelContext<'_>);
    /// The live analyses the panel shows while it is on screen (the worker skips the others).
    fn live_views(&self) -> LiveViews {
        LiveViews::NONE
    }
    /// Carry out a lesson step's action if it is this panel's (press its Run button, set one of
    /// its controls); whether it was. A Run waits in the panel until its `logic` can start it.
    fn act(&mut self, _action: &lesson::Action, _jobs: &mut JobHost) -> bool {
        false
    }
}

/// A panel's heading with its "What am I looking at?" text underneath.
pub fn heading_ui(ui: &mut egui::Ui, panel: &dyn Panel, settings: &UiSettings) {
    ui.heading(panel.title());
    egui::CollapsingHeader::new("What am I looking at?")
        .id_salt(("help", panel.title()))
        .default_open(settings.help_open)
        .show(ui, |ui| {
            ui.label(panel.help());
        })
        .header_response
        .on_hover_text("A short explanation of this panel, for a first visit");
}
