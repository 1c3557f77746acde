//! The network as it was at earlier evaluations, for looking back (the Training tab's slider):
//! its parameters are kept at every evaluation within a memory budget and a number of entries.
//! When either is reached every other older entry goes, so the steps kept stay spread over the
//! whole run (the first and the latest are always kept).

use crate::model::ParamSet;

/// Memory for the kept parameter sets: 64 MB hold about 160 evaluations of a 256-unit network
/// with 20 tasks (0.4 MB each), and thousands of the quick preset's 64-unit one.
pub const HISTORY_BYTES: usize = 64 << 20;
/// At most this many kept networks, however small: spread over the run, more steps than the
/// slider can show apart. Without it a small network's history grew for most of an hour (the
/// quick preset's 40 kB sets, one a second, fill 64 MB after ~1 600 evaluations) and the app's
/// memory with it; now it is full within minutes and stays flat (the soak benchmark).
pub const HISTORY_ENTRIES: usize = 256;

/// Parameter sets by evaluation step, in step order.
pub struct ParamHistory {
    entries: Vec<(u64, ParamSet)>,
    budget_bytes: usize,
    max_entries: usize,
}

impl Default for ParamHistory {
    fn default() -> Self {
        Self::with_budget(HISTORY_BYTES, HISTORY_ENTRIES)
    }
}

impl ParamHistory {
    pub fn with_budget(budget_bytes: usize, max_entries: usize) -> Self {
        ParamHistory { entries: Vec::new(), budget_bytes, max_entries }
    }

    /// Forget every entry (a new network).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Keep `params` as the network at `step`. Entries at or after `step` are replaced (an
    /// evaluation at the same step again, e.g. after a load).
    pub fn record(&mut self, step: u64, params: &ParamSet) {
        self.entries.retain(|(s, _)| *s < step);
        self.entries.push((step, params.clone()));
        while self.entries.len() > 2 && (self.bytes() > self.budget_bytes || self.entries.len() > self.max_entries) {
            self.thin();
        }
    }

    /// Drop every other entry before the latest (the first stays).
    fn thin(&mut self) {
        let last = self.entries.len() - 1;
        let mut index = 0;
        self.entries.retain(|_| {
            let keep = index % 2 == 0 || index == last;
            index += 1;
            keep
        });
    }

    fn bytes(&self) -> usize {
        self.entries.iter().map(|(_, p)| p.num_params() * size_of::<f32>()).sum()
    }

    /// The network kept at `step`, or else at the latest kept step before it.
    pub fn at_or_before(&self, step: u64) -> Option<(u64, &ParamSet)> {
        self.entries.iter().rev().find(|(s, _)| *s <= step).map(|(s, p)| (*s, p))
    }

    /// The steps kept, in order.
    pub fn steps(&self) -> Vec<u64> {
        self.entries.iter().map(|(s, _)| *s).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ParamTensor;

    fn params(value: f32, len: usize) -> ParamSet {
        let mut t = ParamTensor::zeros("w", &[len]);
        t.data.fill(value);
        ParamSet { tensors: vec![t] }
    }

    #[test]
    fn the_budget_thins_old_entries_and_keeps_the_first_and_latest() {
        // room for 4 sets of 10 floats
        let mut history = ParamHistory::with_budget(4 * 10 * 4, 100);
        for step in 0..4 {
            history.record(step * 100, &params(step as f32, 10));
        }
        assert_eq!(history.steps(), vec![0, 100, 200, 300]);
        history.record(400, &params(4.0, 10));
        assert_eq!(history.steps(), vec![0, 200, 400], "every other older one went");
        for step in 5..12 {
            history.record(step * 100, &params(step as f32, 10));
        }
        let steps = history.steps();
        assert!(steps.len() <= 4 && steps[0] == 0 && *steps.last().unwrap() == 1100, "{steps:?}");
        assert!(steps.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn the_number_of_entries_is_bounded_too() {
        let mut history = ParamHistory::with_budget(usize::MAX, 8);
        for step in 0..1000 {
            history.record(step, &params(0.0, 1));
        }
        let steps = history.steps();
        assert!(steps.len() <= 8 && steps[0] == 0 && *steps.last().unwrap() == 999, "{steps:?}");
    }

    #[test]
    fn lookups_find_the_step_or_the_latest_before_it_and_a_step_again_replaces() {
        let mut history = ParamHistory::default();
        history.record(0, &params(0.0, 3));
        history.record(250, &params(1.0, 3));
        history.record(500, &params(2.0, 3));
        assert_eq!(history.at_or_before(250).map(|(s, p)| (s, p.tensors[0].data[0])), Some((250, 1.0)));
        assert_eq!(history.at_or_before(499).map(|(s, _)| s), Some(250));
        assert_eq!(history.at_or_before(10_000).map(|(s, _)| s), Some(500));
        // a loaded run evaluated at an earlier step: the later entries are not its past
        history.record(250, &params(9.0, 3));
        assert_eq!(history.steps(), vec![0, 250]);
        assert_eq!(history.at_or_before(250).map(|(_, p)| p.tensors[0].data[0]), Some(9.0));
        history.clear();
        assert!(history.at_or_before(250).is_none());
    }
}
