//! Experiments on trained networks: context ambiguity (and, later, packing and dynamics).

pub mod ambiguity;

pub use ambiguity::{Ambiguity, AmbiguityKind};
