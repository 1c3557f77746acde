//! `sweep subset`: train (or clamp) a subset of the excitatory units of a strongly coupled E/I
//! rate network and measure how much task-related activity the untrained units carry, over the
//! coupling g, the trained fraction f and seeds (Kim et al. 2023; docs/MODEL.md §7).
//!
//! One file per part: [`plan`] (what runs), [`rate`], [`spiking`] and [`bptt`] (the three
//! networks' cells), [`measure`] (what every cell measures alike, and the `Runner` trait each network implements), [`run`] (one cell of any
//! network, and the sweep the driver runs), [`table`] (`subset.csv`, resume, the summary), [`figure`].

pub mod bptt;
mod figure;
mod measure;
mod plan;
mod rate;
mod run;
mod spiking;
mod table;
#[cfg(test)]
mod tests;

pub use figure::*;
pub use measure::*;
pub use plan::*;
pub use rate::*;
pub use run::*;
pub use spiking::*;
pub use table::*;

use std::path::PathBuf;

/// Why a subset sweep, or one of its cells, could not go on.
#[derive(Debug, thiserror::Error)]
pub enum SubsetError {
    /// The plan, or a setting of the network it builds, is refused (the message names it).
    #[error("{0}")]
    Invalid(String),
    /// A cell's training failed (it diverged).
    #[error("g = {g}, f = {fraction}, seed {seed}: {why}")]
    Cell { g: f64, fraction: f64, seed: u64, why: String },
    /// A table that cannot be read, or holds another plan's cells (the message says which).
    #[error("{0}")]
    Table(String),
    #[error("cannot {action} {path}: {source}")]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
    #[error("cannot write the figure: {0}")]
    Figure(String),
}

/// The networks' own settings checks (model layer) answer with a message naming the setting.
impl From<String> for SubsetError {
    fn from(message: String) -> Self {
        SubsetError::Invalid(message)
    }
}
