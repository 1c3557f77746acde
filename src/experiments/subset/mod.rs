//! `sweep subset`: train (or clamp) a subset of the excitatory units of a strongly coupled E/I
//! rate network and measure how much task-related activity the untrained units carry, over the
//! coupling g, the trained fraction f and seeds (Kim et al. 2023; docs/MODEL.md §7).
//!
//! One file per part: [`plan`] (what runs), [`rate`], [`spiking`] and [`bptt`] (the three
//! networks' cells), [`measure`] (what every cell measures alike), [`cell`] (one cell of any
//! network, and the sweep), [`table`] (`subset.csv`, resume, the summary), [`figure`].

pub mod bptt;
mod cell;
mod figure;
mod measure;
mod plan;
mod rate;
mod spiking;
mod table;
#[cfg(test)]
mod tests;

pub use cell::*;
pub use figure::*;
pub use measure::*;
pub use plan::*;
pub use rate::*;
pub use spiking::*;
pub use table::*;
