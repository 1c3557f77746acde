//! Experiments on trained networks: context ambiguity, task packing (and, later, dynamics).

pub mod ambiguity;
pub mod dynamics;
pub mod packing;
pub mod sweep;

pub use ambiguity::{Ambiguity, AmbiguityKind};
