//! Who works next on the worker thread: training and the background jobs take turns, round
//! robin, so a long analysis never stalls training and training never starves an analysis.
//! When training is paused, the jobs run back to back.

/// A participant in the turn order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Turn {
    Train,
    /// The job at the front of the worker's queue (which then goes to the back).
    Job,
}

/// The round-robin position: training, then each job in turn, then training again.
#[derive(Clone, Copy, Debug)]
pub struct Turns {
    /// Jobs that have had their turn since training last had its (at first: all of them, so
    /// training goes first).
    since_train: usize,
}

impl Default for Turns {
    fn default() -> Self {
        Turns { since_train: usize::MAX }
    }
}

impl Turns {
    /// The next participant: training when it is `training` and every one of the `jobs` has
    /// had a turn since it last had one; else the next job; `None` when nobody is ready.
    pub fn next(&mut self, training: bool, jobs: usize) -> Option<Turn> {
        if training && (jobs == 0 || self.since_train >= jobs) {
            self.since_train = 0;
            return Some(Turn::Train);
        }
        if jobs == 0 {
            return None;
        }
        if self.since_train >= jobs {
            // training is not running: the jobs go round on their own
            self.since_train = 0;
        }
        self.since_train += 1;
        Some(Turn::Job)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sequence(turns: &mut Turns, training: bool, jobs: usize, n: usize) -> Vec<Turn> {
        (0..n).filter_map(|_| turns.next(training, jobs)).collect()
    }

    #[test]
    fn training_and_every_job_take_turns() {
        let mut turns = Turns::default();
        assert_eq!(sequence(&mut turns, true, 1, 4), [Turn::Train, Turn::Job, Turn::Train, Turn::Job]);
        let mut turns = Turns::default();
        assert_eq!(sequence(&mut turns, true, 3, 5), [Turn::Train, Turn::Job, Turn::Job, Turn::Job, Turn::Train]);
    }

    #[test]
    fn jobs_alone_run_back_to_back_and_nobody_means_none() {
        let mut turns = Turns::default();
        assert_eq!(sequence(&mut turns, false, 1, 3), [Turn::Job; 3]);
        assert_eq!(sequence(&mut turns, true, 0, 2), [Turn::Train; 2]);
        assert_eq!(turns.next(false, 0), None);
    }
}
