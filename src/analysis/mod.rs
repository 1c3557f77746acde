//! Experiments on trained networks: context ambiguity, task packing, and the dynamics (PCA,
//! fixed points, connectivity spectra).

pub mod ambiguity;
pub mod analyze;
pub mod bifurcation;
pub mod cluster;
pub mod dynamics;
pub mod packing;
pub mod pca;
pub mod sweep;
pub mod switching;

pub use ambiguity::{Ambiguity, AmbiguityKind};
pub use pca::{Covariance, Pca, PcaError};
