//! The views of the main area: which exist, in what order, under what name, and which panel
//! draws each. Adding a view happens here (a [`Tab`] variant with its label and tooltip, a
//! field of [`Tabs`], its entry in [`Tabs::each`]) plus the panel's own file.

use serde::{Deserialize, Serialize};

use super::Panel;
use super::ambiguity::AmbiguityPanel;
use super::dynamics::DynamicsPanel;
use super::packing::PackingPanel;
use super::pca::PcaPanel;
use super::subset::SubsetPanel;
use super::switching::SwitchingPanel;
use super::training::TrainingPanel;
use super::trajectories::TrajectoriesPanel;

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

/// The panel of every view.
#[derive(Default)]
pub struct Tabs {
    pub training: TrainingPanel,
    pub ambiguity: AmbiguityPanel,
    pub trajectories: TrajectoriesPanel,
    pub pca: PcaPanel,
    pub dynamics: DynamicsPanel,
    pub switching: SwitchingPanel,
    pub packing: PackingPanel,
    pub subset: SubsetPanel,
}

impl Tabs {
    /// Every view with its panel, in tab-bar order.
    pub fn each(&mut self) -> [(Tab, &mut dyn Panel); 8] {
        [
            (Tab::Training, &mut self.training),
            (Tab::Ambiguity, &mut self.ambiguity),
            (Tab::Trajectories, &mut self.trajectories),
            (Tab::Pca, &mut self.pca),
            (Tab::Dynamics, &mut self.dynamics),
            (Tab::Switching, &mut self.switching),
            (Tab::Packing, &mut self.packing),
            (Tab::Subset, &mut self.subset),
        ]
    }
}
