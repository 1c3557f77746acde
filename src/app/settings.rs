//! The UI settings remembered between sessions (eframe storage, `#[serde(default)]`).

use serde::{Deserialize, Serialize};

use super::tabs::Tab;

/// UI settings remembered between sessions. Every field has a default, so an old or partial
/// stored value still loads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UiSettings {
    /// Show the Setup side panel.
    pub show_setup: bool,
    /// Plot the loss on a log scale.
    pub loss_log_scale: bool,
    /// Open the "What am I looking at?" texts by default.
    pub help_open: bool,
    /// The view shown in the main area.
    pub tab: Tab,
    /// Trajectories panel: draw every hidden unit as a heat map (else the most active units as lines).
    pub units_heat_map: bool,
    /// PCA panel: show PC1–3 in a rotatable 3-D view.
    pub pca_3d: bool,
    /// Open lesson 1 when the app starts plainly (`modulab`), until "don't show again".
    pub open_first_lesson: bool,
}

impl Default for UiSettings {
    fn default() -> Self {
        Self {
            show_setup: true,
            loss_log_scale: true,
            help_open: false,
            tab: Tab::Training,
            units_heat_map: true,
            pca_3d: false,
            open_first_lesson: true,
        }
    }
}
