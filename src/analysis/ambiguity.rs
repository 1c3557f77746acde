//! Context ambiguity (docs/MODEL.md §4A): the context a frozen network sees while it is scored against
//! task i's targets.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::rng::Rng;

/// How the context is made ambiguous.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AmbiguityKind {
    /// c = (1−λ) e_i + λ e_j, with j ≠ i cycling over the other tasks across trials.
    Mixture,
    /// c = e_i + σ·N(0, I), a fresh draw per trial.
    Noise,
    /// c = (1−λ) e_i + λ·1/K: a blend toward "every task at once".
    Uniform,
    /// c = a·e_i: the right task, at amplitude a (1 = unambiguous, 0 = no context).
    Amplitude,
}

impl AmbiguityKind {
    pub const ALL: [AmbiguityKind; 4] = [AmbiguityKind::Mixture, AmbiguityKind::Noise, AmbiguityKind::Uniform, AmbiguityKind::Amplitude];

    pub fn name(self) -> &'static str {
        match self {
            AmbiguityKind::Mixture => "mixture",
            AmbiguityKind::Noise => "noise",
            AmbiguityKind::Uniform => "uniform",
            AmbiguityKind::Amplitude => "amplitude",
        }
    }

    /// The level at which the context is exactly e_i.
    pub fn clean_level(self) -> f32 {
        match self {
            AmbiguityKind::Amplitude => 1.0,
            _ => 0.0,
        }
    }
}

/// An ambiguity kind at one level, e.g. `mixture:0.3`.
///
/// ```
/// use modulab::analysis::{Ambiguity, AmbiguityKind};
/// let a: Ambiguity = "uniform:0.5".parse().unwrap();
/// assert_eq!(a.kind, AmbiguityKind::Uniform);
/// // task 0 of 2, one trial: half of e_0 plus half of the uniform vector (1/2, 1/2)
/// let (c, shared) = a.contexts(0, 2, 1, &mut modulab::rng::Rng::seed_from(0));
/// assert_eq!(c, vec![0.75, 0.25]);
/// assert!(shared);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ambiguity {
    pub kind: AmbiguityKind,
    pub level: f32,
}

impl Ambiguity {
    pub fn none() -> Self {
        Self { kind: AmbiguityKind::Mixture, level: 0.0 }
    }

    /// Per-trial contexts [batch, k] for task index `task` of `k`, and whether all rows are equal.
    pub fn contexts(&self, task: usize, k: usize, batch: usize, rng: &mut Rng) -> (Vec<f32>, bool) {
        let level = self.level;
        let mut c = vec![0.0f32; batch * k];
        let mut shared = true;
        for (b, row) in c.chunks_exact_mut(k).enumerate() {
            match self.kind {
                AmbiguityKind::Mixture => {
                    row[task] = 1.0 - level;
                    if k > 1 && level != 0.0 {
                        // cycle j over the other tasks so every j is represented equally
                        let j = (task + 1 + b % (k - 1)) % k;
                        row[j] += level;
                        shared = false;
                    }
                }
                AmbiguityKind::Noise => {
                    row[task] = 1.0;
                    if level != 0.0 {
                        row.iter_mut().for_each(|x| *x += level * rng.normal() as f32);
                        shared = false;
                    }
                }
                AmbiguityKind::Uniform => {
                    row.iter_mut().for_each(|x| *x = level / k as f32);
                    row[task] += 1.0 - level;
                }
                AmbiguityKind::Amplitude => row[task] = level,
            }
        }
        (c, shared && batch > 0)
    }
}

impl fmt::Display for Ambiguity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.name(), self.level)
    }
}

/// Why `KIND:LEVEL` is not an ambiguity.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmbiguityParseError {
    #[error("bad ambiguity '{0}': expected KIND:LEVEL, e.g. mixture:0.3 (valid kinds: mixture, noise, uniform, amplitude)")]
    Format(String),
    #[error("unknown ambiguity kind '{0}'; valid kinds: mixture, noise, uniform, amplitude")]
    UnknownKind(String),
    #[error("bad ambiguity level '{0}': expected a number")]
    Level(String),
}

impl FromStr for Ambiguity {
    type Err = AmbiguityParseError;

    fn from_str(s: &str) -> Result<Self, AmbiguityParseError> {
        let (kind, level) = s.split_once(':').ok_or_else(|| AmbiguityParseError::Format(s.to_string()))?;
        let kind =
            AmbiguityKind::ALL.into_iter().find(|k| k.name() == kind).ok_or_else(|| AmbiguityParseError::UnknownKind(kind.to_string()))?;
        let level: f32 = level.parse().ok().filter(|l: &f32| l.is_finite()).ok_or_else(|| AmbiguityParseError::Level(level.to_string()))?;
        Ok(Self { kind, level })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_follow_the_definitions() {
        let mut rng = Rng::seed_from(0);
        let (c, shared) = Ambiguity { kind: AmbiguityKind::Mixture, level: 0.25 }.contexts(1, 3, 4, &mut rng);
        assert!(!shared);
        // trial 0 mixes toward task 2, trial 1 toward task 0, then 2, 0 again
        assert_eq!(&c[0..3], &[0.0, 0.75, 0.25]);
        assert_eq!(&c[3..6], &[0.25, 0.75, 0.0]);
        let (c, shared) = Ambiguity { kind: AmbiguityKind::Uniform, level: 0.6 }.contexts(0, 3, 2, &mut rng);
        assert!(shared);
        assert!((c[0] - 0.6).abs() < 1e-6 && (c[1] - 0.2).abs() < 1e-6);
        assert!((c.iter().take(3).sum::<f32>() - 1.0).abs() < 1e-6);
        let (c, _) = Ambiguity { kind: AmbiguityKind::Amplitude, level: 0.5 }.contexts(2, 3, 1, &mut rng);
        assert_eq!(c, vec![0.0, 0.0, 0.5]);
        let (c, shared) = Ambiguity { kind: AmbiguityKind::Noise, level: 0.0 }.contexts(2, 3, 2, &mut rng);
        assert!(shared && c == vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn parses_kind_and_level() {
        assert_eq!("noise:0.5".parse::<Ambiguity>().unwrap(), Ambiguity { kind: AmbiguityKind::Noise, level: 0.5 });
        assert!("fog:0.5".parse::<Ambiguity>().unwrap_err().to_string().contains("mixture"));
        assert!("noise".parse::<Ambiguity>().is_err());
        assert!("noise:x".parse::<Ambiguity>().is_err());
    }
}
