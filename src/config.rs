//! The run configuration: one TOML document with a section per concern.
//!
//! Every field has a default (docs/MODEL.md's), so a preset or a user file only names what it changes.
//! `--set KEY=VALUE` edits the document by its TOML path before it is checked, so the same
//! validation (unknown keys, bad values) covers files, presets and the command line.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::params::Dims;
use crate::model::{ModelConfig, ParamSet, Readout};
use crate::tasks::{Encoding, Task, TaskSettings};

/// A complete, validated run configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Trial generation: encoding, time step, input noise, the metric's tolerance.
    pub tasks: TaskSettings,
    /// The network and its context pathways.
    pub model: ModelConfig,
    /// The optimisation loop.
    pub train: TrainConfig,
    /// Where and how the numbers are computed.
    pub runtime: RuntimeConfig,
}

/// The training loop's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// The tasks trained together; the context vector has one entry per task, in this order.
    pub tasks: Vec<Task>,
    /// Seed of every random draw: initial weights, trials, noise.
    pub seed: u64,
    /// Number of optimiser steps (one batch of one task each).
    pub steps: u64,
    /// Trials per batch; all trials of a batch belong to one task.
    pub batch_size: usize,
    /// Adam learning rate (at the first step; see `learning_rate_half_life`).
    pub learning_rate: f64,
    /// The learning rate halves every this many steps: η(t) = η · 2^(−t/h) after t steps done
    /// (0 = constant). It depends on the step only, so a resumed run keeps its schedule.
    #[serde(skip_serializing_if = "is_zero")]
    pub learning_rate_half_life: u64,
    /// Adam's first-moment decay.
    pub beta1: f64,
    /// Adam's second-moment decay.
    pub beta2: f64,
    /// Adam's epsilon.
    pub epsilon: f64,
    /// Gradients are clipped element-wise to [-clip, clip] before the Adam update (0 = off).
    pub grad_clip_value: f64,
    /// Evaluate every this many steps (and at the last step).
    pub eval_every: u64,
    /// Fresh trials per task in each evaluation.
    pub eval_trials: usize,
    /// Write the checkpoint every this many steps (and at the end); 0 = only at the end.
    pub checkpoint_every: u64,
    /// Stop early once every task's performance reaches this value (0 = never stop early).
    pub stop_at_perf: f64,
    /// The plateau rule: stop once the best mean task performance of the evaluations in the
    /// last this many steps is less than `plateau_min_gain` above the best before them (0 =
    /// off; `steps` stays the cap). One rule for every network of a study, so each trains until
    /// it stops improving rather than for a budget that suits some (docs/MODEL.md §5).
    #[serde(skip_serializing_if = "is_zero")]
    pub plateau_window: u64,
    /// See `plateau_window`.
    #[serde(skip_serializing_if = "is_default_plateau_gain")]
    pub plateau_min_gain: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            tasks: Task::ALL.to_vec(),
            seed: 0,
            steps: 10_000,
            batch_size: 64,
            learning_rate: 1e-3,
            learning_rate_half_life: 0,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            grad_clip_value: 1.0,
            eval_every: 250,
            eval_trials: 64,
            checkpoint_every: 1000,
            stop_at_perf: 0.0,
            plateau_window: 0,
            plateau_min_gain: DEFAULT_PLATEAU_GAIN,
        }
    }
}

/// `train.plateau_min_gain` unless set: one hundredth of mean performance.
pub const DEFAULT_PLATEAU_GAIN: f64 = 0.01;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_default_plateau_gain(gain: &f64) -> bool {
    *gain == DEFAULT_PLATEAU_GAIN
}

impl TrainConfig {
    /// The learning rate of the step taken after `steps_done` steps.
    pub fn learning_rate_at(&self, steps_done: u64) -> f64 {
        if self.learning_rate_half_life == 0 {
            self.learning_rate
        } else {
            self.learning_rate * 0.5f64.powf(steps_done as f64 / self.learning_rate_half_life as f64)
        }
    }
}

/// The compute backend (both run on the CPU).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// burn-flex: burn's recommended CPU backend.
    #[default]
    Flex,
    /// burn-ndarray: the ndarray-based CPU backend.
    Ndarray,
}

/// The longest trial of the battery the memory estimate allows for, in ms (the delayed tasks'
/// longest draws stay below it).
pub const LONGEST_TRIAL_MS: f64 = 6000.0;
/// [B, T, N]-sized buffers a training step holds at once, counted generously (inputs, noise,
/// pre-activations, rates and outputs forward; their gradients backward; burn's copies).
const ACTIVATION_BUFFERS: u128 = 12;

/// Why `runtime.backend = "ndarray"` is refused by a build without it.
pub const NDARRAY_MISSING: &str = "runtime.backend = \"ndarray\" needs a modulab built with the ndarray backend \
     (cargo build --release --features ndarray); this build has flex only, the default";

impl BackendKind {
    /// Every backend this build has.
    pub const BUILT: &[BackendKind] =
        if cfg!(feature = "ndarray") { &[BackendKind::Flex, BackendKind::Ndarray] } else { &[BackendKind::Flex] };

    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Flex => "flex",
            BackendKind::Ndarray => "ndarray",
        }
    }
}

/// How the computation runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// `flex` (default) or `ndarray`.
    pub backend: BackendKind,
    /// Use the fused recurrent kernel (hand-written backward; much faster). `false` runs the
    /// same equations as plain burn operations, which is the reference the kernel is tested on.
    pub fused: bool,
    /// Threads for the fused kernel (0 = all cores). Results do not depend on it.
    pub threads: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self { backend: BackendKind::Flex, fused: true, threads: 0 }
    }
}

/// A configuration problem, worded for the person who made it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("invalid config{origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error("unknown key '{key}'; valid keys here: {valid}")]
    UnknownKey { key: String, valid: String },
    #[error("bad --set '{0}': expected KEY=VALUE, e.g. model.n_units=64")]
    BadAssignment(String),
    #[error("unknown preset '{name}'; valid presets: {valid}")]
    UnknownPreset { name: String, valid: String },
}

/// A configuration whose settings do not fit together; the message names the setting.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidConfig(pub String);

/// The presets shipped in `assets/presets/`, compiled into the binary.
pub const PRESETS: &[(&str, &str)] = &[
    ("quick", include_str!("../assets/presets/quick.toml")),
    ("yang20", include_str!("../assets/presets/yang20.toml")),
    ("bias", include_str!("../assets/presets/bias.toml")),
    ("gain", include_str!("../assets/presets/gain.toml")),
    ("synaptic", include_str!("../assets/presets/synaptic.toml")),
    ("bias-synaptic", include_str!("../assets/presets/bias-synaptic.toml")),
    ("gain-synaptic", include_str!("../assets/presets/gain-synaptic.toml")),
    ("none", include_str!("../assets/presets/none.toml")),
    ("dale", include_str!("../assets/presets/dale.toml")),
    ("dale-gain-inhibitory", include_str!("../assets/presets/dale-gain-inhibitory.toml")),
    ("dale-synaptic-ee", include_str!("../assets/presets/dale-synaptic-ee.toml")),
    ("hetero-tau", include_str!("../assets/presets/hetero-tau.toml")),
];

/// The one-line summary of a preset: its first comment line.
pub fn preset_summary(text: &str) -> &str {
    text.lines().find_map(|l| l.strip_prefix('#')).map(str::trim).unwrap_or("")
}

fn preset_names() -> String {
    PRESETS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// The TOML text of a preset.
pub fn preset_text(name: &str) -> Result<&'static str, ConfigError> {
    PRESETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .ok_or_else(|| ConfigError::UnknownPreset { name: name.to_string(), valid: preset_names() })
}

impl Config {
    /// How the network's outputs are read: the ring encoding's targets lie in [0, 1] (sigmoid
    /// readout), the compact encoding's are linear.
    pub fn readout(&self) -> Readout {
        match self.tasks.encoding {
            Encoding::Ring => Readout::Sigmoid,
            Encoding::Compact => Readout::Linear,
        }
    }

    /// Parse a TOML document (missing fields take their defaults), apply `--set` overrides,
    /// and validate.
    pub fn from_toml_with_overrides(text: &str, origin: &str, overrides: &[String]) -> Result<Config, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { origin: origin_label(origin), message };
        let mut doc: toml::Table = toml::from_str(text).map_err(|e| invalid(one_line(&e.to_string())))?;
        for assignment in overrides {
            apply_override(&mut doc, assignment)?;
        }
        check_keys(&doc)?;
        let config: Config = toml::Value::Table(doc).try_into().map_err(|e: toml::de::Error| invalid(one_line(&e.to_string())))?;
        config.validate().map_err(|e| invalid(e.0))?;
        Ok(config)
    }

    /// A shipped preset with overrides, as `modulab train --preset NAME --set ...` builds it.
    ///
    /// ```
    /// let config = modulab::config::Config::from_preset("quick", &["model.n_units=32".into()]).unwrap();
    /// assert_eq!(config.model.n_units, 32);
    /// assert_eq!(config.train.tasks.len(), 4);
    /// ```
    pub fn from_preset(name: &str, overrides: &[String]) -> Result<Config, ConfigError> {
        Self::from_toml_with_overrides(preset_text(name)?, &format!("preset '{name}'"), overrides)
    }

    pub fn from_file(path: &Path, overrides: &[String]) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        Self::from_toml_with_overrides(&text, &path.display().to_string(), overrides)
    }

    /// The fully resolved document, every field written out.
    #[allow(clippy::expect_used, reason = "cannot fail: a Config always serialises")]
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a Config always serialises")
    }

    /// Cross-field checks that serde cannot express.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let t = &self.train;
        if t.tasks.is_empty() {
            return Err(InvalidConfig("train.tasks is empty: enable at least one task".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for task in &t.tasks {
            if !seen.insert(task) {
                return Err(InvalidConfig(format!("train.tasks lists '{}' twice", task.name())));
            }
            task.check_supported(self.tasks.encoding).map_err(|e| InvalidConfig(e.to_string()))?;
        }
        if t.batch_size == 0 {
            return Err(InvalidConfig("train.batch_size must be at least 1".into()));
        }
        if !(t.learning_rate > 0.0 && t.learning_rate.is_finite()) {
            return Err(InvalidConfig("train.learning_rate must be a positive number".into()));
        }
        if t.eval_every == 0 {
            return Err(InvalidConfig("train.eval_every must be at least 1".into()));
        }
        if t.eval_trials == 0 {
            return Err(InvalidConfig("train.eval_trials must be at least 1".into()));
        }
        if !(t.plateau_min_gain >= 0.0 && t.plateau_min_gain.is_finite()) {
            return Err(InvalidConfig("train.plateau_min_gain must be a number ≥ 0".into()));
        }
        if t.plateau_window > 0 && t.plateau_window < t.eval_every {
            return Err(InvalidConfig(format!(
                "train.plateau_window ({}) must span at least one evaluation (train.eval_every = {})",
                t.plateau_window, t.eval_every
            )));
        }
        if !(self.tasks.dt_ms > 0.0) {
            return Err(InvalidConfig("tasks.dt_ms must be positive".into()));
        }
        if !(self.tasks.tolerance_pi > 0.0 && self.tasks.tolerance_pi <= 1.0) {
            return Err(InvalidConfig("tasks.tolerance_pi must be in (0, 1]".into()));
        }
        if !BackendKind::BUILT.contains(&self.runtime.backend) {
            return Err(InvalidConfig(NDARRAY_MISSING.into()));
        }
        self.model.validate(self.tasks.dt_ms).map_err(|e| InvalidConfig(e.to_string()))?;
        match crate::io::total_memory_bytes() {
            Some(total) => self.check_fits_in(total),
            None => Ok(()),
        }
    }

    /// Sizes of the network this configuration implies.
    pub fn dims(&self) -> Dims {
        Dims { n_in: self.tasks.n_inputs(), n_out: self.tasks.n_outputs(), n_units: self.model.n_units, n_contexts: self.train.tasks.len() }
    }

    /// About how many bytes training this network takes: the parameters with their gradients
    /// and Adam's two moments, and one batch's activations ([B, T, N] buffers of the forward
    /// pass and its backward, at the longest trial of [`LONGEST_TRIAL_MS`]). An upper estimate
    /// meant to catch a network far too big before it is allocated, not a measurement.
    pub fn memory_estimate_bytes(&self) -> u128 {
        let dims = self.dims();
        let params: u128 =
            ParamSet::layout(&self.model, dims).iter().map(|(_, shape)| shape.iter().map(|&d| d as u128).product::<u128>()).sum();
        let steps = (LONGEST_TRIAL_MS / self.tasks.dt_ms.max(1e-3) as f64).ceil() as u128;
        let activations = self.train.batch_size as u128 * steps * (self.model.n_units + dims.n_in + dims.n_out) as u128;
        let floats = 4 * params + ACTIVATION_BUFFERS * activations;
        floats * size_of::<f32>() as u128
    }

    /// Refuse a network whose [`Self::memory_estimate_bytes`] exceeds `total` bytes of memory.
    pub fn check_fits_in(&self, total: u64) -> Result<(), InvalidConfig> {
        let needed = self.memory_estimate_bytes();
        if needed <= total as u128 {
            return Ok(());
        }
        let gb = |bytes: u128| match bytes as f64 / 1e9 {
            gb if gb < 1e5 => format!("{gb:.1}"),
            gb => format!("{gb:.1e}"),
        };
        Err(InvalidConfig(format!(
            "this network would need about {} GB to train (model.n_units = {}, train.batch_size = {}: parameters, \
             gradients, Adam's moments and one batch's activations), more than this machine's {} GB of memory; \
             choose fewer units or a smaller batch",
            gb(needed),
            self.model.n_units,
            self.train.batch_size,
            gb(total as u128)
        )))
    }
}

/// What two configurations disagree on: the TOML lines only one of them has, e.g. "checkpoint
/// has [n_units = 64], config.toml has [n_units = 128]".
pub fn difference(a: &Config, a_name: &str, b: &Config, b_name: &str) -> String {
    let (ta, tb) = (a.to_toml(), b.to_toml());
    let la: Vec<&str> = ta.lines().collect();
    let lb: Vec<&str> = tb.lines().collect();
    let only_a: Vec<&str> = la.iter().filter(|l| !lb.contains(l)).copied().collect();
    let only_b: Vec<&str> = lb.iter().filter(|l| !la.contains(l)).copied().collect();
    format!("{a_name} has [{}], {b_name} has [{}]", only_a.join("; "), only_b.join("; "))
}

fn origin_label(origin: &str) -> String {
    if origin.is_empty() { String::new() } else { format!(" in {origin}") }
}

/// A (TOML parser's) multi-line message on one line.
pub fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Set `a.b.c = value` in the document. The value is parsed as TOML; a bare word that is not
/// valid TOML (e.g. `ndarray`) is taken as a string, so quoting is optional on the command line.
fn apply_override(doc: &mut toml::Table, assignment: &str) -> Result<(), ConfigError> {
    let (key, raw) = assignment.split_once('=').ok_or_else(|| ConfigError::BadAssignment(assignment.to_string()))?;
    let key = key.trim();
    let raw = raw.trim();
    if key.is_empty() {
        return Err(ConfigError::BadAssignment(assignment.to_string()));
    }
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let parts: Vec<&str> = key.split('.').collect();
    let mut table = doc;
    for part in &parts[..parts.len() - 1] {
        let entry = table.entry(part.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry
            .as_table_mut()
            .ok_or_else(|| ConfigError::UnknownKey { key: key.to_string(), valid: format!("'{part}' is a value, not a section") })?;
    }
    table.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

/// Reject keys the Config does not have, naming the valid ones at that level.
#[allow(clippy::expect_used, reason = "cannot fail: the config serialises")]
fn check_keys(doc: &toml::Table) -> Result<(), ConfigError> {
    // settings written only when not at their default (Dale's law, time constants, subset
    // training, the learning-rate schedule, the plateau rule) set away from it, so that
    // every key appears
    let mut all = Config::default();
    all.model.dale = true;
    all.model.excitatory_fraction = 0.5;
    all.model.dale_magnitude = crate::model::DaleMagnitude::Abs;
    all.model.readout_from_excitatory = false;
    all.model.bias_cells = crate::model::CellTarget::Excitatory;
    all.model.gain_cells = crate::model::CellTarget::Excitatory;
    all.model.synaptic_blocks = vec![crate::model::SynapticBlock::Ee];
    all.model.tau_distribution = crate::model::TauDistribution::Gamma;
    all.model.tau_min_ms = 1.0;
    all.model.tau_max_ms = 2.0;
    all.model.tau_trainable = true;
    all.model.balanced_inputs = 1;
    all.model.trained_fraction = 0.5;
    all.train.learning_rate_half_life = 1;
    all.train.plateau_window = 1;
    all.train.plateau_min_gain = 0.5;
    let reference = toml::Table::try_from(all).expect("the config serialises");
    check_table(doc, &reference, "")
}

fn check_table(doc: &toml::Table, reference: &toml::Table, prefix: &str) -> Result<(), ConfigError> {
    for (key, value) in doc {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match reference.get(key) {
            None => {
                let valid = reference
                    .keys()
                    .map(|k| if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") })
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(ConfigError::UnknownKey { key: path, valid });
            }
            Some(toml::Value::Table(sub_reference)) => {
                if let toml::Value::Table(sub) = value {
                    check_table(sub, sub_reference, &path)?;
                }
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses_and_validates() {
        for (name, _) in PRESETS {
            Config::from_preset(name, &[]).unwrap_or_else(|e| panic!("preset {name}: {e}"));
        }
    }

    #[test]
    fn overrides_apply_and_round_trip() {
        let c = Config::from_preset(
            "quick",
            &["model.n_units=48".into(), "runtime.threads=1".into(), r#"model.pathways=["gain","synaptic"]"#.into()],
        )
        .unwrap();
        assert_eq!(c.model.n_units, 48);
        assert_eq!(c.runtime.threads, 1);
        assert_eq!(c.model.pathways.len(), 2);
        let again = Config::from_toml_with_overrides(&c.to_toml(), "", &[]).unwrap();
        assert_eq!(c, again);
    }

    #[test]
    fn the_learning_rate_halves_every_half_life_and_is_written_only_when_set() {
        let constant = Config::from_preset("quick", &[]).unwrap();
        assert_eq!(constant.train.learning_rate_at(10_000), constant.train.learning_rate);
        assert!(!constant.to_toml().contains("half_life"), "older configs and study fingerprints stay the same");
        let c = Config::from_preset("quick", &["train.learning_rate_half_life=1000".into()]).unwrap();
        let rate = c.train.learning_rate;
        assert_eq!(c.train.learning_rate_at(0), rate);
        assert!((c.train.learning_rate_at(1000) - rate / 2.0).abs() < 1e-15);
        assert!((c.train.learning_rate_at(3000) - rate / 8.0).abs() < 1e-15);
        assert!((c.train.learning_rate_at(500) - rate / 2f64.sqrt()).abs() < 1e-15);
        assert_eq!(Config::from_toml_with_overrides(&c.to_toml(), "", &[]).unwrap(), c);
    }

    #[test]
    fn the_ndarray_backend_is_there_only_in_a_build_with_it() {
        let asked = Config::from_preset("quick", &["runtime.backend=ndarray".into()]);
        if cfg!(feature = "ndarray") {
            assert_eq!(asked.unwrap().runtime.backend, BackendKind::Ndarray);
        } else {
            let e = asked.unwrap_err().to_string();
            assert!(e.contains("--features ndarray") && e.contains("flex"), "{e}");
        }
    }

    #[test]
    fn a_network_too_big_for_the_machine_is_refused_with_the_estimate() {
        let e = Config::from_preset("quick", &["model.n_units=100000000".into()]).unwrap_err().to_string();
        assert!(e.contains("GB") && e.contains("model.n_units = 100000000") && e.contains("fewer units"), "{e}");
        // the presets fit in 2 GB with room to spare; the estimate grows as N² and with the batch
        for (name, _) in PRESETS {
            let c = Config::from_preset(name, &[]).unwrap();
            assert!(c.check_fits_in(2_000_000_000).is_ok(), "{name}: {} bytes", c.memory_estimate_bytes());
        }
        let small = Config::from_preset("quick", &[]).unwrap();
        let wide = Config::from_preset("quick", &["model.n_units=128".into()]).unwrap();
        let batch = Config::from_preset("quick", &["train.batch_size=128".into()]).unwrap();
        assert!(wide.memory_estimate_bytes() > small.memory_estimate_bytes());
        assert!(batch.memory_estimate_bytes() > small.memory_estimate_bytes());
        assert!(small.check_fits_in(1000).is_err());
    }

    #[test]
    fn the_longest_trial_of_the_memory_estimate_bounds_the_battery() {
        let settings = TaskSettings::default();
        let mut rng = crate::rng::Rng::seed_from(5);
        for task in Task::ALL {
            let trials = crate::tasks::generate(task, &settings, 256, 0.2, &mut rng).unwrap();
            assert!((trials.duration_ms() as f64) < LONGEST_TRIAL_MS, "{task}: {} ms", trials.duration_ms());
        }
    }

    #[test]
    fn unknown_key_names_valid_choices() {
        let e = Config::from_preset("quick", &["model.n_unitz=3".into()]).unwrap_err().to_string();
        assert!(e.contains("model.n_unitz") && e.contains("model.n_units"), "{e}");
        let e = Config::from_preset("quick", &["modle.x=3".into()]).unwrap_err().to_string();
        assert!(e.contains("modle") && e.contains("model"), "{e}");
    }

    #[test]
    fn bad_values_are_clear() {
        let e = Config::from_preset("quick", &["model.n_units=lots".into()]).unwrap_err().to_string();
        assert!(e.contains("n_units"), "{e}");
        let e = Config::from_preset("quick", &["train.tasks=[\"fdgoo\"]".into()]).unwrap_err().to_string();
        assert!(e.contains("fdgoo") && e.contains("fdgo"), "{e}");
        let e = Config::from_toml_with_overrides("[model\nn_units=3", "x.toml", &[]).unwrap_err().to_string();
        assert!(e.contains("x.toml"), "{e}");
        let e = Config::from_preset("nope", &[]).unwrap_err().to_string();
        assert!(e.contains("quick") && e.contains("yang20"), "{e}");
    }
}
