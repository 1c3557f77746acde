//! The app's subset-training run as a [`Job`] on a thread of its own (docs/MODEL.md §7): one cell
//! of `sweep subset` (build, RLS loops one per unit, then the test trials), so the panel shows
//! the training's progress and its error as it goes.

use std::sync::atomic::AtomicBool;

use super::job::{Job, JobError, Stopped};
use crate::analysis::spread::Spread;
use crate::experiments::subset::{Measured, SubsetCell, SubsetError, SubsetPlan, start_cell};

/// While a run trains, its spread is probed every [`Runner::probe_every`](crate::experiments::subset::Runner::probe_every) loops (10 RLS
/// trials, 100 BPTT steps) and after the last, with this many test trials per condition (about
/// a fifth more time). Not before the first: the spiking network's initial plastic weights,
/// balanced for the network's own rates, let the cued trained neurons excite each other into
/// runaway firing (task variance in the millions of Hz²) until RLS tames it.
const PROBE_TRIALS: usize = 4;

/// What the run has done so far.
#[derive(Clone, Debug, Default)]
pub struct SubsetOutput {
    pub g: f64,
    pub fraction: f64,
    /// RLS loops done and to do.
    pub loops_done: usize,
    pub loops: usize,
    /// The trained units' error in each RLS loop so far (BPTT: each step's task loss).
    pub errors: Vec<f64>,
    /// (loops done, the spread then), probed every few loops while training.
    pub live_spread: Vec<(usize, Spread)>,
    pub measured: Option<Measured>,
    pub stopped: Option<Stopped>,
}

/// One network: built in the first unit, trained one loop (RLS trial or BPTT step) per unit,
/// measured in the last.
pub struct SubsetJob {
    plan: SubsetPlan,
    cell: Option<SubsetCell>,
    seed: u64,
    output: SubsetOutput,
}

impl SubsetJob {
    /// The plan's first gain and fraction, one seed.
    pub fn new(plan: SubsetPlan, seed: u64) -> Self {
        let output = SubsetOutput { g: plan.gains[0], fraction: plan.fractions[0], ..SubsetOutput::default() };
        Self { plan, cell: None, seed, output }
    }
}

impl Job for SubsetJob {
    type Output = SubsetOutput;

    fn name(&self) -> &'static str {
        "subset training"
    }

    fn unit(&mut self, _cancel: &AtomicBool) -> Result<bool, JobError> {
        let Some(cell) = self.cell.as_mut() else {
            self.plan.validate()?;
            let cell = start_cell(&self.plan, self.output.g, self.output.fraction, self.seed)?;
            self.output.loops = cell.loops();
            self.cell = Some(cell);
            return Ok(false);
        };
        if self.output.loops_done < self.output.loops {
            self.output.errors.push(cell.train_loop(self.output.loops_done));
            if let Some(failure) = cell.failure() {
                let (g, fraction, seed) = (self.output.g, self.output.fraction, self.seed);
                return Err(SubsetError::Cell { g, fraction, seed, why: failure.to_string() }.into());
            }
            self.output.loops_done += 1;
            if self.output.loops_done.is_multiple_of(cell.probe_every()) || self.output.loops_done == self.output.loops {
                self.output.live_spread.push((self.output.loops_done, cell.probe(PROBE_TRIALS)));
            }
            return Ok(false);
        }
        self.output.measured = Some(cell.measure());
        Ok(true)
    }

    fn output(&self) -> &SubsetOutput {
        &self.output
    }

    fn stop(&mut self, why: Stopped) {
        self.output.stopped = Some(why);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::subset::{Training, run_cell};

    /// RLS probes every this many loops.
    const PROBE_EVERY: usize = 10;

    /// The job's units give the same measures as `sweep subset`'s cell: its probes draw from
    /// a stream of their own. Rate and spiking network.
    #[test]
    fn the_job_measures_what_the_sweep_measures() {
        let spiking = SubsetPlan {
            model: crate::experiments::subset::SubsetModel::Spiking,
            gains: vec![1.0],
            fractions: vec![0.5],
            neurons: 200,
            k: 20,
            loops: PROBE_EVERY + 1,
            training: Training::Rls,
            test_trials: 2,
            trial_ms: 200.0,
            ..SubsetPlan::default()
        };
        let mut job = SubsetJob::new(spiking.clone(), 3);
        let cancel = AtomicBool::new(false);
        while !job.unit(&cancel).unwrap() {}
        let output = job.output();
        let probed: Vec<usize> = output.live_spread.iter().map(|(loops, _)| *loops).collect();
        assert_eq!(probed, [PROBE_EVERY, PROBE_EVERY + 1], "every 10 loops and after the last");
        let measured = output.measured.as_ref().unwrap();
        assert_eq!(measured.row, run_cell(&spiking, 1.0, 0.5, 3, &AtomicBool::new(false)).unwrap().unwrap());
        assert_eq!((measured.raster.len(), measured.raster_neurons.len()), (2, 90));

        let plan = SubsetPlan {
            gains: vec![1.0],
            fractions: vec![0.2],
            neurons: 80,
            k: 10,
            loops: 2,
            training: Training::Rls,
            test_trials: 2,
            trial_ms: 200.0,
            ..SubsetPlan::default()
        };
        let mut job = SubsetJob::new(plan.clone(), 1);
        let cancel = AtomicBool::new(false);
        let mut units = 0;
        while !job.unit(&cancel).unwrap() {
            units += 1;
        }
        assert_eq!(units, 3, "build, two loops, then the measure");
        let output = job.output();
        assert_eq!((output.loops_done, output.errors.len()), (2, 2));
        assert_eq!(output.live_spread.len(), 1, "probed after the last loop");
        assert_eq!(output.live_spread[0].0, 2);
        let measured = output.measured.as_ref().unwrap();
        assert_eq!(measured.row, run_cell(&plan, 1.0, 0.2, 1, &AtomicBool::new(false)).unwrap().unwrap());
        assert_eq!(measured.means.len(), 2);
        assert_eq!(measured.trained, (0..8).collect::<Vec<_>>());

        // BPTT: one optimiser step per unit, probes every 100 steps and after the last
        let bptt = SubsetPlan { neurons: 40, k: 4, loops: 101, training: Training::Bptt, test_trials: 2, threads: 1, ..plan };
        let mut job = SubsetJob::new(bptt.clone(), 2);
        while !job.unit(&cancel).unwrap() {}
        let output = job.output();
        assert_eq!(output.errors.len(), 101);
        assert!(output.errors.iter().all(|loss| loss.is_finite()));
        assert_eq!(output.live_spread.iter().map(|(loops, _)| *loops).collect::<Vec<_>>(), [100, 101]);
        let measured = output.measured.as_ref().unwrap();
        assert_eq!(measured.row, run_cell(&bptt, 1.0, 0.2, 2, &AtomicBool::new(false)).unwrap().unwrap());
        assert_eq!(measured.trained, (0..4).collect::<Vec<_>>(), "f = 0.2 of 20 excitatory units");
    }
}
