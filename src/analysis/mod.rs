//! Experiments on trained networks: context ambiguity, dynamics (PCA) and, later, packing.

pub mod ambiguity;
pub mod pca;

pub use ambiguity::{Ambiguity, AmbiguityKind};
pub use pca::{Covariance, Pca, PcaError};
