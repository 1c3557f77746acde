//! modulab: watch a recurrent network learn many tasks at once, and see how neuromodulation lets
//! one network hold them. A reconstruction of Vedovati & Ching (2024); see `MODEL.md`-derived docs
//! in the README.

pub mod analysis;
pub mod app;
pub mod config;
pub mod model;
pub mod rng;
pub mod tasks;
pub mod train;
pub mod cli;
