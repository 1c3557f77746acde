//! The views of the app's main area, by name: the tab bar's order, labels and tooltips, and the
//! names lesson files use for them. (Which panel draws each is the app's `tabs.rs`.)

use serde::{Deserialize, Serialize};

/// A view of the main area (remembered between sessions as the one shown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tab {
    #[default]
    Training,
    Ambiguity,
    Trajectories,
    Pca,
    Dynamics,
    Switching,
    Packing,
    Subset,
}

impl Tab {
    /// The tab's name in the tab bar.
    pub fn label(self) -> &'static str {
        match self {
            Tab::Training => "Training",
            Tab::Ambiguity => "Ambiguity",
            Tab::Trajectories => "Trajectories",
            Tab::Pca => "PCA",
            Tab::Dynamics => "Dynamics",
            Tab::Switching => "Switching",
            Tab::Packing => "Packing",
            Tab::Subset => "Subset",
        }
    }

    /// Every tab, in the tab bar's order.
    pub const ALL: [Tab; 8] =
        [Tab::Training, Tab::Ambiguity, Tab::Trajectories, Tab::Pca, Tab::Dynamics, Tab::Switching, Tab::Packing, Tab::Subset];

    /// The tab whose label is `name` (any case), or a message naming the valid ones.
    pub fn from_name(name: &str) -> Result<Tab, String> {
        Tab::ALL.into_iter().find(|t| t.label().eq_ignore_ascii_case(name)).ok_or_else(|| {
            let valid: Vec<String> = Tab::ALL.iter().map(|t| t.label().to_lowercase()).collect();
            format!("unknown tab '{name}'; valid tabs: {}", valid.join(", "))
        })
    }

    /// What the tab shows, on hover.
    pub fn tooltip(self) -> &'static str {
        match self {
            Tab::Training => "Loss and per-task performance while the network learns",
            Tab::Ambiguity => "How well the network does when the task cue (context) is unclear",
            Tab::Trajectories => "One trial in detail: inputs, target, the network's output and its hidden units",
            Tab::Pca => "The hidden activity of every task on shared principal components",
            Tab::Dynamics => "Fixed points and how they change between tasks, connectivity spectra, and which units serve which task",
            Tab::Switching => "Switch the task cue mid-trial: how fast each pathway follows, as a function of its time constant",
            Tab::Packing => "How many tasks fit into networks of each size, per pathway set: a small sweep in the background",
            Tab::Subset => "Train a few neurons of a strongly coupled E/I network: does the task activity spread to the others?",
        }
    }
}
