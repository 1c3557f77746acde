//! Mathematics on networks and their data, independent of training: context ambiguity, PCA,
//! clustering, and the host one-step map of the RNN with its fixed points and spectra.
//! The experiments that train and score networks live one layer up, in [`crate::experiments`].

pub mod ambiguity;
pub mod cluster;
pub mod dynamics;
pub mod pca;
pub mod spread;
pub mod stats;

pub use ambiguity::{Ambiguity, AmbiguityKind};
pub use pca::{Covariance, Pca, PcaError};
