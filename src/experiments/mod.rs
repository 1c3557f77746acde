//! The experiments on trained networks: ambiguity sweeps, task packing, the dynamics analysis
//! (`modulab analyze`), the bifurcation view and task switching. Each trains or scores networks
//! through [`crate::train`], computes with [`crate::analysis`] and draws with [`crate::figure`].

pub mod analyze;
pub mod bifurcation;
pub mod capacity;
pub mod comparison;
pub mod document;
pub mod driver;
pub mod dynamics;
pub mod packing;
pub mod report;
pub mod reproduce;
pub mod search_start;
pub mod slurm;
pub mod subset;
pub mod sweep;
pub mod switching;

/// How a computation run unit by unit (a sweep, a job of the app) ended before it was done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stopped {
    Cancelled,
    Failed(String),
}
