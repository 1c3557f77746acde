//! Checkpoints: everything needed to resume a run exactly.
//!
//! `DIR/state.bin` holds, in order: the magic `MODULAB-CKPT\0` and a format version (u32 LE);
//! the header length (u64 LE) and a JSON header (resolved config as TOML, step, trials, elapsed
//! time, RNG state, Adam step, the losses since the last evaluation, parameter names and shapes); then every parameter, Adam first and
//! second moment as f32 LE; then a 64-bit FNV-1a checksum of all preceding bytes. `DIR/config.toml`
//! is a copy of the config for people. Both are written to a temporary file and renamed, so a crash
//! mid-write leaves the previous checkpoint whole.

use crate::io::write_atomic;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{AdamState, LossSinceEval, Plateau, Trainer};
use crate::config::Config;
use crate::model::{ParamSet, ParamTensor};
use crate::rng::Rng;

const MAGIC: &[u8; 13] = b"MODULAB-CKPT\0";
const VERSION: u32 = 1;
pub const STATE_FILE: &str = "state.bin";
/// The checkpoint directory inside a run directory.
pub const RUN_CHECKPOINT_DIR: &str = "checkpoint";
/// The run directory's own copy of its settings.
pub const RUN_CONFIG_FILE: &str = "config.toml";

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("no checkpoint at {0} (expected a file named {STATE_FILE} there)")]
    Missing(String),
    #[error("cannot read checkpoint {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot write checkpoint {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("checkpoint {path} is corrupt or truncated: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("checkpoint {path} does not match its configuration: {reason}")]
    Mismatch { path: String, reason: String },
}

#[derive(Serialize, Deserialize)]
struct Header {
    config_toml: String,
    step: u64,
    trials: u64,
    elapsed_secs: f64,
    rng: Rng,
    adam_t: u64,
    /// Absent in checkpoints from before it was kept (read as none).
    #[serde(default)]
    loss_since_eval: LossSinceEval,
    /// Absent in checkpoints from before the plateau rule (read as a fresh memory).
    #[serde(default)]
    plateau: Plateau,
    tensors: Vec<(String, Vec<usize>)>,
}

/// Load the checkpoint of the run directory `dir` and check the run's `config.toml` against it.
pub fn load_run_dir(dir: &Path) -> Result<Checkpoint, CheckpointError> {
    let ckpt = load(&dir.join(RUN_CHECKPOINT_DIR))?;
    check_run_config(dir, &ckpt)?;
    Ok(ckpt)
}

/// A run whose `config.toml` was edited, or copied from another run, says so instead of
/// silently using the checkpoint's settings. The step budget and the runtime may differ (a run
/// resumes with more steps, on another backend); a run directory without the file (older, or
/// made by hand) uses the checkpoint's settings.
pub fn check_run_config(dir: &Path, ckpt: &Checkpoint) -> Result<(), CheckpointError> {
    let path = dir.join(RUN_CONFIG_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
    let mismatch = |reason: String| CheckpointError::Mismatch { path: dir.join(RUN_CHECKPOINT_DIR).display().to_string(), reason };
    let shown = path.display().to_string();
    let mut file = Config::from_toml_with_overrides(&text, &shown, &[]).map_err(|e| mismatch(format!("{e}")))?;
    file.train.steps = ckpt.config.train.steps;
    file.runtime = ckpt.config.runtime.clone();
    if file != ckpt.config {
        return Err(mismatch(format!(
            "{shown} disagrees with it ({}); put config.toml back as the checkpoint has it, or delete it to use the checkpoint's settings",
            crate::config::difference(&ckpt.config, "the checkpoint", &file, "config.toml")
        )));
    }
    Ok(())
}

/// A loaded checkpoint.
pub struct Checkpoint {
    pub config: Config,
    pub params: ParamSet,
    pub adam: AdamState,
    pub rng: Rng,
    pub step: u64,
    pub trials: u64,
    pub elapsed_secs: f64,
    pub loss_since_eval: LossSinceEval,
    pub plateau: Plateau,
}

impl Checkpoint {
    pub fn into_trainer(self) -> Trainer {
        let mut trainer = Trainer::from_parts(self.config, self.params, self.adam, self.rng, self.step, self.trials, self.elapsed_secs);
        trainer.loss_since_eval = self.loss_since_eval;
        trainer.plateau = self.plateau;
        trainer
    }
}

/// Write `trainer`'s state into directory `dir` (created if needed).
#[allow(clippy::expect_used, reason = "cannot fail: the header is plain data")]
pub fn save(dir: &Path, trainer: &Trainer) -> Result<(), CheckpointError> {
    let write_err = |path: &Path| {
        let path = path.display().to_string();
        move |source| CheckpointError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(write_err(dir))?;
    // what an earlier run killed in the middle of a save left
    crate::io::remove_stale_temporaries(dir);
    let header = Header {
        config_toml: trainer.config.to_toml(),
        step: trainer.step,
        trials: trainer.trials,
        elapsed_secs: trainer.elapsed_secs(),
        rng: trainer.rng.clone(),
        adam_t: trainer.adam.t,
        loss_since_eval: trainer.loss_since_eval,
        plateau: trainer.plateau.clone(),
        tensors: trainer.params.tensors.iter().map(|t| (t.name.clone(), t.shape.clone())).collect(),
    };
    let header = serde_json::to_vec(&header).expect("header serialises");
    let mut bytes = Vec::with_capacity(64 + header.len() + 12 * trainer.params.num_params());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&header);
    let blocks = trainer.params.tensors.iter().map(|t| &t.data).chain(&trainer.adam.m).chain(&trainer.adam.v);
    for block in blocks {
        block.iter().for_each(|x| bytes.extend_from_slice(&x.to_le_bytes()));
    }
    let checksum = fnv1a(&bytes);
    bytes.extend_from_slice(&checksum.to_le_bytes());
    write_atomic(&dir.join(STATE_FILE), &bytes).map_err(write_err(&dir.join(STATE_FILE)))?;
    write_atomic(&dir.join("config.toml"), trainer.config.to_toml().as_bytes()).map_err(write_err(&dir.join("config.toml")))
}

/// Read a checkpoint directory (or its `state.bin` directly), checking its integrity and that
/// its parameters have the shapes its configuration calls for.
#[allow(clippy::expect_used, reason = "cannot fail: slices of exactly 4 or 8 bytes become arrays")]
pub fn load(path: &Path) -> Result<Checkpoint, CheckpointError> {
    let file: PathBuf = if path.is_dir() { path.join(STATE_FILE) } else { path.to_path_buf() };
    let shown = file.display().to_string();
    if !file.exists() {
        return Err(CheckpointError::Missing(path.display().to_string()));
    }
    let bytes = std::fs::read(&file).map_err(|source| CheckpointError::Read { path: shown.clone(), source })?;
    let corrupt = |reason: &str| CheckpointError::Corrupt { path: shown.clone(), reason: reason.to_string() };
    if bytes.len() < MAGIC.len() + 4 + 8 + 8 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(corrupt("not a modulab checkpoint (bad magic)"));
    }
    let (body, tail) = bytes.split_at(bytes.len() - 8);
    if fnv1a(body).to_le_bytes() != tail {
        return Err(corrupt("checksum mismatch (the file was truncated or altered)"));
    }
    let mut at = MAGIC.len();
    let version = u32::from_le_bytes(body[at..at + 4].try_into().expect("4 bytes"));
    at += 4;
    if version != VERSION {
        return Err(corrupt(&format!("format version {version}, this modulab reads version {VERSION}")));
    }
    let header_len = u64::from_le_bytes(body[at..at + 8].try_into().expect("8 bytes")) as usize;
    at += 8;
    let header_bytes = body.get(at..at.saturating_add(header_len)).ok_or_else(|| corrupt("header runs past the end"))?;
    at += header_len;
    let header: Header = serde_json::from_slice(header_bytes).map_err(|e| corrupt(&format!("bad header: {e}")))?;
    let mismatch = |reason: String| CheckpointError::Mismatch { path: shown.clone(), reason };
    let config = Config::from_toml_with_overrides(&header.config_toml, "", &[]).map_err(|e| mismatch(e.to_string()))?;

    let mut floats = body[at..].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")));
    if !(body.len() - at).is_multiple_of(4) {
        return Err(corrupt("data section is not a whole number of f32 values"));
    }
    let mut take = |n: usize| -> Result<Vec<f32>, CheckpointError> {
        let v: Vec<f32> = floats.by_ref().take(n).collect();
        if v.len() == n { Ok(v) } else { Err(corrupt("data section is too short")) }
    };
    let mut params = ParamSet { tensors: Vec::with_capacity(header.tensors.len()) };
    for (name, shape) in &header.tensors {
        let data = take(shape.iter().product())?;
        params.tensors.push(ParamTensor { name: name.clone(), shape: shape.clone(), data });
    }
    let sizes: Vec<usize> = params.tensors.iter().map(ParamTensor::len).collect();
    let m = sizes.iter().map(|&n| take(n)).collect::<Result<Vec<_>, _>>()?;
    let v = sizes.iter().map(|&n| take(n)).collect::<Result<Vec<_>, _>>()?;
    if floats.next().is_some() {
        return Err(corrupt("data section is too long"));
    }
    params.check_layout(&config.model, config.dims()).map_err(|e| mismatch(e.to_string()))?;
    let adam = AdamState { t: header.adam_t, m, v };
    Ok(Checkpoint {
        config,
        params,
        adam,
        rng: header.rng,
        step: header.step,
        trials: header.trials,
        elapsed_secs: header.elapsed_secs,
        loss_since_eval: header.loss_since_eval,
        plateau: header.plateau,
    })
}

/// Where a checkpoint the user pointed at lives.
#[derive(Clone, Debug, PartialEq)]
pub struct Located {
    /// The checkpoint directory (the one holding `state.bin`).
    pub checkpoint: PathBuf,
    /// The run directory around it (with `config.toml` and `metrics.csv`), if there is one.
    pub run_dir: Option<PathBuf>,
}

/// The checkpoint behind `path`: a run directory written by `modulab train` or the app
/// (`DIR/checkpoint/state.bin`), a checkpoint directory, or a `state.bin` file. Nothing is
/// read here; [`load`] reports a missing or bad checkpoint.
pub fn locate(path: &Path) -> Located {
    if path.join(RUN_CHECKPOINT_DIR).join(STATE_FILE).is_file() {
        return Located { checkpoint: path.join(RUN_CHECKPOINT_DIR), run_dir: Some(path.to_path_buf()) };
    }
    let checkpoint = if path.is_file() { path.parent().unwrap_or(Path::new(".")).to_path_buf() } else { path.to_path_buf() };
    // a checkpoint dir named `checkpoint` inside a run dir: the run's history is next to it
    let run_dir = checkpoint
        .parent()
        .filter(|_| checkpoint.file_name().is_some_and(|n| n == RUN_CHECKPOINT_DIR))
        .filter(|parent| parent.join(super::metrics::METRICS_FILE).is_file())
        .map(Path::to_path_buf);
    Located { checkpoint, run_dir }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= b as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A checkpoint written before the losses since the last evaluation were kept loads, with
    /// none kept, and everything else as saved.
    #[test]
    fn a_checkpoint_from_before_loss_since_eval_loads() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::from_preset("quick", &["model.n_units=8".into()]).unwrap();
        let mut trainer = Trainer::new(config);
        for _ in 0..3 {
            trainer.step().unwrap();
        }
        trainer.loss_since_eval = LossSinceEval { sum: 1.5, count: 3 };
        save(dir.path(), &trainer).unwrap();
        let now = load(dir.path()).unwrap();
        assert_eq!(now.loss_since_eval, trainer.loss_since_eval);

        // the same file with the key taken out of its header, as older modulab wrote it
        let bytes = std::fs::read(dir.path().join(STATE_FILE)).unwrap();
        let at = MAGIC.len() + 4;
        let header_len = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
        let mut header: serde_json::Value = serde_json::from_slice(&bytes[at + 8..at + 8 + header_len]).unwrap();
        assert!(header.as_object_mut().unwrap().remove("loss_since_eval").is_some());
        let header = serde_json::to_vec(&header).unwrap();
        let mut old = bytes[..at].to_vec();
        old.extend_from_slice(&(header.len() as u64).to_le_bytes());
        old.extend_from_slice(&header);
        old.extend_from_slice(&bytes[at + 8 + header_len..bytes.len() - 8]);
        old.extend_from_slice(&fnv1a(&old).to_le_bytes());
        std::fs::write(dir.path().join(STATE_FILE), old).unwrap();

        let before = load(dir.path()).unwrap();
        assert_eq!(before.loss_since_eval, LossSinceEval::default());
        assert_eq!((before.step, before.trials, &before.params, &before.adam.m), (now.step, now.trials, &now.params, &now.adam.m));
    }
}
