//! Who works next on the worker thread: training and the background jobs take turns, round
//! robin, so a long analysis never stalls training and training never starves an analysis.
//! When training is paused, the jobs run back to back.

/// A participant in the turn order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Turn {
    Train,
    Dynamics,
    Sweep,
    Switching,
}

/// The round-robin position.
#[derive(Clone, Copy, Debug, Default)]
pub struct Turns {
    /// Index into [`Turns::ORDER`] of the participant that goes first next time.
    next: usize,
}

impl Turns {
    const ORDER: [Turn; 4] = [Turn::Train, Turn::Dynamics, Turn::Sweep, Turn::Switching];

    /// The next participant that `ready` accepts, starting after the one that went last;
    /// `None` when nobody is ready.
    pub fn next(&mut self, ready: impl Fn(Turn) -> bool) -> Option<Turn> {
        let n = Self::ORDER.len();
        let found = (0..n).map(|i| (self.next + i) % n).find(|&i| ready(Self::ORDER[i]))?;
        self.next = (found + 1) % n;
        Some(Self::ORDER[found])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sequence(turns: &mut Turns, ready: &[Turn], n: usize) -> Vec<Turn> {
        (0..n).filter_map(|_| turns.next(|t| ready.contains(&t))).collect()
    }

    #[test]
    fn ready_participants_take_turns() {
        let mut turns = Turns::default();
        assert_eq!(sequence(&mut turns, &[Turn::Train, Turn::Sweep], 4), [Turn::Train, Turn::Sweep, Turn::Train, Turn::Sweep]);
        let all = [Turn::Train, Turn::Dynamics, Turn::Sweep, Turn::Switching];
        let mut turns = Turns::default();
        assert_eq!(sequence(&mut turns, &all, 5), [Turn::Train, Turn::Dynamics, Turn::Sweep, Turn::Switching, Turn::Train]);
    }

    #[test]
    fn a_lone_participant_runs_back_to_back_and_nobody_means_none() {
        let mut turns = Turns::default();
        assert_eq!(sequence(&mut turns, &[Turn::Switching], 3), [Turn::Switching; 3]);
        assert_eq!(turns.next(|_| false), None);
    }
}
