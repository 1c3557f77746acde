//! The panel that draws each view of the main area. Adding a view happens here (a field of
//! [`Tabs`], its entry in [`Tabs::each`]), in `lesson/tab.rs` (its [`Tab`] variant with label and
//! tooltip, which lessons name) and in the panel's own file.

use super::Panel;
use super::ambiguity::AmbiguityPanel;
use super::dynamics::DynamicsPanel;
use super::packing::PackingPanel;
use super::pca::PcaPanel;
use super::subset::SubsetPanel;
use super::switching::SwitchingPanel;
use super::training::TrainingPanel;
use super::trajectories::TrajectoriesPanel;
pub use crate::lesson::Tab;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::AmbiguityKind;
    use crate::lesson::{Action, PanelRun};
    use crate::runner::{JobHost, UiWaker};

    /// A lesson's panel actions reach their panel through [`Panel::act`]: each is taken by
    /// exactly one panel, and a Run by the panel of the tab the lesson shows for it.
    #[test]
    fn every_panel_action_is_taken_by_exactly_one_panel() {
        let mut jobs = JobHost::new(UiWaker::none());
        let runs = [PanelRun::Packing, PanelRun::Dynamics(None), PanelRun::Switching, PanelRun::Subset];
        let mut actions: Vec<(Action, Option<Tab>)> = runs.into_iter().map(|run| (Action::Run(run), Some(run.tab()))).collect();
        actions.push((Action::G(1.5), Some(Tab::Subset)));
        actions.push((Action::Sweep(AmbiguityKind::Mixture), Some(Tab::Ambiguity)));
        actions.push((Action::Tab(Tab::Pca), None));
        for (action, expected) in actions {
            let mut tabs = Tabs::default();
            let takers: Vec<Tab> =
                tabs.each().into_iter().filter_map(|(tab, panel)| panel.act(&action, &mut jobs).then_some(tab)).collect();
            assert_eq!(takers, expected.into_iter().collect::<Vec<_>>(), "{action:?}");
        }
        assert_eq!(jobs.take_network_jobs().len(), 1, "the sweep went to the worker as a job");
    }
}
