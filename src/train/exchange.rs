//! Networks in and out for other tools: NumPy `.npz` and safetensors files (docs/EXCHANGE.md).
//!
//! An export holds every parameter under its own name (`w_in`, `w_rec`, …; the names and shapes
//! of [`ParamSet::layout`]) as float32 in C order; where the network runs something other than a
//! parameter, that too ([`derived_layout`]: under Dale's law the effective weights f(W̃)·D, the
//! cell signs and the readout mask; with per-unit time constants each τ_i); the resolved
//! configuration as JSON text, the schema version and the step; optionally each task's probe
//! trials (inputs, targets, outputs, rates). An import reads the parameters back for a
//! configuration, checking every name, shape, dtype and value (and any derived array against
//! what the parameters give) before anything is written, and makes a run directory of them.
//!
//! The formats are the `npyz` and `zip` crates' (.npy arrays in a zip archive, stored as
//! `np.savez` writes them; deflated archives of `np.savez_compressed` are read too) and the
//! `safetensors` crate's.

use std::collections::HashMap;
use std::io::{Cursor, Read, Seek};
use std::path::Path;

use npyz::{DType, TypeChar, WriterBuilder};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::probe::{ProbeTrials, Trajectories, run_probe};
use crate::analysis::Ambiguity;
use crate::config::Config;
use crate::io::write_atomic;
use crate::model::params::{LOG_TAU, W_OUT, W_REC};
use crate::model::{ParamSet, ParamTensor};

/// The version of the exchange schema (the key names, their shapes and meaning). 2 added the
/// derived arrays ([`derived_layout`]); a file of schema 1, without them, imports as before.
pub const SCHEMA_VERSION: u32 = 2;
/// Key of the resolved configuration as JSON text (npz: a 0-d unicode array; safetensors: metadata).
pub const CONFIG_KEY: &str = "config_json";
/// Key of the schema version (npz: a 0-d int64 array; safetensors: metadata).
pub const SCHEMA_KEY: &str = "schema_version";
/// Key of the training step the network was taken at.
pub const STEP_KEY: &str = "step";
/// Prefix of the probe trials' arrays: `probe/TASK/inputs` and so on.
pub const PROBE_PREFIX: &str = "probe/";
/// Under Dale's law: the recurrent weights the network runs, f(W̃)·D [N, N] (`w_rec` holds W̃).
pub const W_REC_EFFECTIVE: &str = "w_rec_effective";
/// Under Dale's law: the readout weights the network runs, f(W̃_out)·diag(readout mask) [n_out, N].
pub const W_OUT_EFFECTIVE: &str = "w_out_effective";
/// Under Dale's law: each unit's sign D [N], +1 excitatory, −1 inhibitory.
pub const CELL_SIGN: &str = "cell_sign";
/// Under Dale's law: each unit's factor on its readout weights [N]: 1 on excitatory units, 0
/// (`readout_from_excitatory`) or −1 on inhibitory ones.
pub const READOUT_MASK: &str = "readout_mask";
/// With per-unit time constants: each unit's τ_i in ms [N], exp(`log_tau`).
pub const TAU_MS: &str = "tau_ms";
/// How far a derived array in an imported file may be from what its parameters give, relative
/// to max(1, |value|): float32 rounding of a computation done elsewhere (exp of `log_tau`).
const DERIVED_TOLERANCE: f32 = 1e-5;
/// A configuration longer than this is not one of ours (bounds what a hostile file allocates).
const MAX_CONFIG_CHARS: u64 = 1 << 20;
/// An `.npy` header longer than this is refused before it is read (NumPy writes 128 bytes; the
/// length field could claim 4 GB).
const NPY_HEADER_ROOM: usize = 64 * 1024;

/// Which file format, from the file's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Npz,
    Safetensors,
}

impl Format {
    pub fn of(path: &Path) -> Result<Format, ExchangeError> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("npz") => Ok(Format::Npz),
            Some("safetensors") => Ok(Format::Safetensors),
            _ => Err(ExchangeError::Format(format!("{}: the file name must end in .npz (NumPy) or .safetensors", path.display()))),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("{0}")]
    Format(String),
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("cannot run the probe trials: {0}")]
    Probe(String),
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
    /// The file is readable but its arrays do not make the network the configuration asks for.
    #[error("{path} does not fit the configuration: {reason}")]
    Mismatch { path: String, reason: String },
}

/// One named float32 array in C (row-major) order.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// What an export holds besides the parameters.
pub struct ExportContents<'a> {
    pub config: &'a Config,
    pub params: &'a ParamSet,
    pub step: u64,
    /// The probe trials run through this network, if they are to be included.
    pub trajectories: Option<&'a Trajectories>,
}

/// The arrays an export derives from the parameters for `config`, names and shapes in the
/// order it writes them: what the network runs where that is not a parameter itself. Under
/// Dale's law (where `w_rec` and `w_out` hold the trained W̃ and W̃_out, of either sign)
/// `w_rec_effective`, `w_out_effective`, `cell_sign` and `readout_mask`; with per-unit time
/// constants `tau_ms`. None for other networks.
pub fn derived_layout(config: &Config) -> Vec<(&'static str, Vec<usize>)> {
    let dims = config.dims();
    let (n, n_out) = (dims.n_units, dims.n_out);
    let mut layout = Vec::new();
    if config.model.dale {
        layout.extend([(W_REC_EFFECTIVE, vec![n, n]), (W_OUT_EFFECTIVE, vec![n_out, n]), (CELL_SIGN, vec![n]), (READOUT_MASK, vec![n])]);
    }
    if config.model.per_unit_tau() {
        layout.push((TAU_MS, vec![n]));
    }
    layout
}

/// The derived arrays ([`derived_layout`]) of `params`, which fit `config`. With the synaptic
/// pathway the context changes W̃ before f and D (docs/MODEL.md §1), so `w_rec_effective` is
/// the matrix the network runs where that change is 0 (c = 0, or the pathway lesioned).
#[allow(clippy::expect_used, reason = "cannot fail: parameters fit their configuration")]
pub fn derived_arrays(config: &Config, params: &ParamSet) -> Vec<Array> {
    let model = &config.model;
    let param = |name: &str| &params.get(name).expect("parameters fit their configuration").data;
    let signs = model.dale_signs().unwrap_or_default();
    let readout = model.dale_readout_scales().unwrap_or_default();
    derived_layout(config)
        .into_iter()
        .map(|(name, shape)| {
            let data = match name {
                W_REC_EFFECTIVE => model.dale_applied(param(W_REC), &signs),
                W_OUT_EFFECTIVE => model.dale_applied(param(W_OUT), &readout),
                CELL_SIGN => signs.clone(),
                READOUT_MASK => readout.clone(),
                TAU_MS => param(LOG_TAU).iter().map(|l| l.exp()).collect(),
                other => unreachable!("derived_layout names {other}"),
            };
            Array { name: name.to_string(), shape, data }
        })
        .collect()
}

/// The arrays of an export: the parameters, the derived arrays, then each task's probe trials.
fn arrays(contents: &ExportContents) -> Vec<Array> {
    let mut arrays: Vec<Array> =
        contents.params.tensors.iter().map(|t| Array { name: t.name.clone(), shape: t.shape.clone(), data: t.data.clone() }).collect();
    arrays.extend(derived_arrays(contents.config, contents.params));
    for task in contents.trajectories.iter().flat_map(|t| &t.tasks) {
        let name = |what: &str| format!("{PROBE_PREFIX}{}/{what}", task.task.name());
        let shape = |width: usize| vec![task.trials, task.steps, width];
        arrays.push(Array { name: name("inputs"), shape: shape(task.n_in), data: task.inputs.clone() });
        arrays.push(Array { name: name("targets"), shape: shape(task.n_out), data: task.targets.clone() });
        arrays.push(Array { name: name("outputs"), shape: shape(task.n_out), data: task.outputs.clone() });
        arrays.push(Array { name: name("rates"), shape: shape(task.n_units), data: task.rates.clone() });
    }
    arrays
}

/// Write the network `params` of `config` at `step` to `path`, with each task's probe trials
/// run through it (clear context, nothing lesioned) when `trajectories` is set.
pub fn export_network(path: &Path, config: &Config, params: &ParamSet, step: u64, trajectories: bool) -> Result<(), ExchangeError> {
    Format::of(path)?;
    let probe = |e: super::TrainError| ExchangeError::Probe(e.to_string());
    let trajectories = match trajectories {
        true => Some(run_probe(config, params, step, &ProbeTrials::draw(config).map_err(probe)?, Ambiguity::none(), &[]).map_err(probe)?),
        false => None,
    };
    export(path, &ExportContents { config, params, step, trajectories: trajectories.as_ref() })
}

/// Write an export to `path` (format from its extension), atomically.
#[allow(clippy::expect_used, reason = "cannot fail: a Config always serialises")]
pub fn export(path: &Path, contents: &ExportContents) -> Result<(), ExchangeError> {
    let format = Format::of(path)?;
    let write_err = |reason: String| ExchangeError::Write { path: path.display().to_string(), reason };
    let config_json = serde_json::to_string_pretty(contents.config).expect("a Config always serialises");
    let arrays = arrays(contents);
    let bytes = match format {
        Format::Npz => npz_bytes(&arrays, &config_json, contents.step).map_err(|e| write_err(e.to_string()))?,
        Format::Safetensors => safetensors_bytes(&arrays, &config_json, contents.step).map_err(write_err)?,
    };
    write_atomic(path, &bytes).map_err(|e| write_err(e.to_string()))
}

#[allow(clippy::expect_used, reason = "cannot fail: a valid type string")]
fn npz_bytes(arrays: &[Array], config_json: &str, step: u64) -> std::io::Result<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    // stored, as np.savez writes them: numpy reads either, stored is faster both ways
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored).large_file(true);
    let entry = |zip: &mut zip::ZipWriter<Cursor<Vec<u8>>>, name: &str| zip.start_file(npyz::npz::file_name_from_array_name(name), options);
    for array in arrays {
        entry(&mut zip, &array.name)?;
        let shape: Vec<u64> = array.shape.iter().map(|&d| d as u64).collect();
        let mut writer = npyz::WriteOptions::<f32>::new().default_dtype().shape(&shape).writer(&mut zip).begin_nd()?;
        writer.extend(array.data.iter().copied())?;
        writer.finish()?;
    }
    entry(&mut zip, CONFIG_KEY)?;
    let text_dtype = DType::new_scalar(format!("<U{}", config_json.chars().count().max(1)).parse().expect("a valid type string"));
    let mut writer = npyz::WriteOptions::<String>::new().dtype(text_dtype).shape(&[]).writer(&mut zip).begin_nd()?;
    writer.push(&config_json.to_string())?;
    writer.finish()?;
    for (name, value) in [(SCHEMA_KEY, i64::from(SCHEMA_VERSION)), (STEP_KEY, step as i64)] {
        entry(&mut zip, name)?;
        let mut writer = npyz::WriteOptions::<i64>::new().default_dtype().shape(&[]).writer(&mut zip).begin_nd()?;
        writer.push(&value)?;
        writer.finish()?;
    }
    Ok(zip.finish().map_err(std::io::Error::other)?.into_inner())
}

fn safetensors_bytes(arrays: &[Array], config_json: &str, step: u64) -> Result<Vec<u8>, String> {
    let bytes: Vec<Vec<u8>> = arrays.iter().map(|a| a.data.iter().flat_map(|x| x.to_le_bytes()).collect()).collect();
    let views = arrays
        .iter()
        .zip(&bytes)
        .map(|(a, b)| TensorView::new(Dtype::F32, a.shape.clone(), b).map(|v| (a.name.clone(), v)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let metadata = HashMap::from([
        ("format".to_string(), "modulab".to_string()),
        (SCHEMA_KEY.to_string(), SCHEMA_VERSION.to_string()),
        (STEP_KEY.to_string(), step.to_string()),
        (CONFIG_KEY.to_string(), config_json.to_string()),
    ]);
    safetensors::serialize(views, Some(metadata)).map_err(|e| e.to_string())
}

/// A file read for import: the arrays asked for, and what else it said about itself.
#[derive(Debug)]
pub struct Imported {
    pub params: ParamSet,
    /// The configuration the file carries (a modulab export), if any.
    pub config_json: Option<String>,
    /// The step the network was taken at: the one asked for, else the file's, else 0.
    pub step: u64,
}

/// The configuration a file carries, if it carries one (a modulab export does).
pub fn read_config_json(path: &Path) -> Result<Option<String>, ExchangeError> {
    let read_err = |reason: String| ExchangeError::Read { path: path.display().to_string(), reason };
    match Format::of(path)? {
        Format::Npz => NpzSource(open_npz(path)?).text(CONFIG_KEY).map_err(read_err),
        Format::Safetensors => {
            let bytes = std::fs::read(path).map_err(|e| read_err(e.to_string()))?;
            SafetensorsSource(bytes).metadata(CONFIG_KEY).map_err(|e| read_err(format!("not a safetensors file ({e})")))
        }
    }
}

/// Read the parameters `config` calls for from `path`. Every array the configuration needs must
/// be there with its shape, as float32 or float64, all values finite in float32; arrays the
/// network does not use are refused by name (a misspelt key would otherwise be silently left
/// out), except the export's own extras (configuration, schema, step, probe trials). The derived
/// arrays of [`derived_layout`] may be left out; present, each must be what the parameters give
/// (to [`DERIVED_TOLERANCE`]), so an edit of the wrong array is an error, not ignored. A file of
/// a newer schema than this modulab's is refused. `step` given, the file's step is not read.
pub fn import(path: &Path, config: &Config, step: Option<u64>) -> Result<Imported, ExchangeError> {
    let shown = path.display().to_string();
    let read_err = |reason: String| ExchangeError::Read { path: shown.clone(), reason };
    let mismatch = |reason: String| ExchangeError::Mismatch { path: shown.clone(), reason };
    let layout = ParamSet::layout(&config.model, config.dims());
    let expected = || layout.iter().map(|(n, s)| format!("{n}{s:?}")).collect::<Vec<_>>().join(" ");
    let is_extra = |name: &str| [CONFIG_KEY, SCHEMA_KEY, STEP_KEY].contains(&name) || name.starts_with(PROBE_PREFIX);

    let (mut source, names): (Box<dyn ArraySource>, Vec<String>) = match Format::of(path)? {
        Format::Npz => {
            let zip = open_npz(path)?;
            let files = zip.file_names().collect::<Result<Vec<_>, _>>().map_err(|e| read_err(format!("a damaged archive ({e})")))?;
            let names = files.iter().filter_map(|f| npyz::npz::array_name_from_file_name(f)).map(str::to_string).collect();
            (Box::new(NpzSource(zip)), names)
        }
        Format::Safetensors => {
            let bytes = std::fs::read(path).map_err(|e| read_err(e.to_string()))?;
            let names = SafeTensors::deserialize(&bytes)
                .map_err(|e| read_err(format!("not a safetensors file ({e})")))?
                .names()
                .into_iter()
                .map(str::to_string)
                .collect();
            (Box::new(SafetensorsSource(bytes)), names)
        }
    };
    // a newer schema may mean other arrays: say that, not what it seems to lack
    if let Some(schema) = source.integer(SCHEMA_KEY).map_err(read_err)?
        && schema > i64::from(SCHEMA_VERSION)
    {
        return Err(mismatch(format!(
            "it was written with exchange schema {schema}, and this modulab reads schema {SCHEMA_VERSION} and older: a newer modulab wrote it"
        )));
    }
    let derived = derived_layout(config);
    let known = |n: &str| layout.iter().chain(&derived).any(|(name, _)| *name == n);
    let mut unknown: Vec<&str> = names.iter().map(String::as_str).filter(|n| !is_extra(n) && !known(n)).collect();
    unknown.sort_unstable();
    if !unknown.is_empty() {
        return Err(mismatch(format!(
            "it has arrays this network does not use: {} (the network's arrays: {}; docs/EXCHANGE.md lists them)",
            unknown.join(", "),
            expected()
        )));
    }
    let mut read_finite = |name: &str, shape: &[usize]| {
        let data = source.read(name, shape).map_err(|e| match e {
            SourceError::Mismatch(reason) => mismatch(format!("array '{name}': {reason}")),
            SourceError::Read(reason) => read_err(format!("array '{name}': {reason}")),
        })?;
        match data.iter().filter(|x| !x.is_finite()).count() {
            0 => Ok(data),
            bad => Err(mismatch(format!("array '{name}' has {bad} values that are not finite numbers (NaN or infinite)"))),
        }
    };
    let mut tensors = Vec::with_capacity(layout.len());
    for (name, shape) in &layout {
        if !names.iter().any(|n| n == name) {
            return Err(mismatch(format!("array '{name}' {shape:?} is missing (the network's arrays: {})", expected())));
        }
        let data = read_finite(name, shape)?;
        tensors.push(ParamTensor { name: name.to_string(), shape: shape.clone(), data });
    }
    let params = ParamSet { tensors };
    for want in derived_arrays(config, &params).into_iter().filter(|a| names.contains(&a.name)) {
        let found = read_finite(&want.name, &want.shape)?;
        let off = found.iter().zip(&want.data).position(|(f, w)| !((f - w).abs() <= DERIVED_TOLERANCE * w.abs().max(1.0)));
        if let Some(at) = off {
            return Err(mismatch(format!(
                "array '{}' is derived from the parameters and does not match them (at {:?}: {} in the file, {} from the \
                 parameters): change the parameters (under Dale's law w_rec and w_out hold W̃), or leave the derived arrays \
                 ({}) out; docs/EXCHANGE.md",
                want.name,
                multi_index(at, &want.shape),
                found[at],
                want.data[at],
                derived.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let step = match step {
        Some(step) => step,
        None => match source.integer(STEP_KEY).map_err(read_err)? {
            Some(step) => u64::try_from(step).map_err(|_| read_err(format!("{STEP_KEY} is negative ({step})")))?,
            None => 0,
        },
    };
    let config_json = source.text(CONFIG_KEY).map_err(read_err)?;
    Ok(Imported { params, config_json, step })
}

/// The multi-index of the C-order position `at` in an array of `shape`.
fn multi_index(at: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    c_order_index(at, shape, &mut index);
    index
}

/// Write the multi-index of the C-order position `at` in an array of `shape` into `index`.
fn c_order_index(mut at: usize, shape: &[usize], index: &mut [usize]) {
    for (d, &n) in shape.iter().enumerate().rev() {
        index[d] = at % n;
        at /= n;
    }
}

enum SourceError {
    /// The array is not what the configuration needs (shape, dtype).
    Mismatch(String),
    /// The file is damaged.
    Read(String),
}

/// A file's arrays, one at a time, each checked against the shape wanted before its data is
/// converted.
trait ArraySource {
    fn read(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, SourceError>;
    /// The text stored under `key` (the configuration), if the file has it.
    fn text(&mut self, key: &str) -> Result<Option<String>, String>;
    /// The integer stored under `key` (schema version, step), if the file has it.
    fn integer(&mut self, key: &str) -> Result<Option<i64>, String>;
}

/// float64 values as float32, refusing those beyond float32's range (they would become
/// infinite; infinities and NaN already in the file are left to the caller's finiteness check).
fn narrow(values: impl Iterator<Item = f64>) -> Result<Vec<f32>, SourceError> {
    let mut beyond = 0;
    let narrowed: Vec<f32> = values
        .map(|x| {
            let y = x as f32;
            beyond += usize::from(x.is_finite() && y.is_infinite());
            y
        })
        .collect();
    match beyond {
        0 => Ok(narrowed),
        n => Err(SourceError::Mismatch(format!("{n} values are beyond float32's range (±3.4e38)"))),
    }
}

type NpzArchive = zip::ZipArchive<std::io::BufReader<std::fs::File>>;

fn open_npz(path: &Path) -> Result<NpzArchive, ExchangeError> {
    let read_err = |reason: String| ExchangeError::Read { path: path.display().to_string(), reason };
    let file = std::fs::File::open(path).map_err(|e| read_err(e.to_string()))?;
    zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| read_err(format!("not a NumPy .npz (zip) archive ({e})")))
}

/// The `.npy` bytes of the npz entry for array `name` (None if there is none), with at most
/// `max_data` bytes after the header, and whether that is the whole entry.
///
/// Read whole, because zip checks an entry's checksum only when it is read to its end: an
/// array parsed straight from the entry would take a damaged stored (uncompressed) entry's
/// values without a word. The bound keeps a hostile entry from allocating more than the array
/// can need; what is beyond it is left unread.
fn npz_entry<R: Read + Seek>(zip: &mut zip::ZipArchive<R>, name: &str, max_data: u64) -> Result<Option<(Vec<u8>, bool)>, String> {
    let file = match zip.by_name(&npyz::npz::file_name_from_array_name(name)) {
        Ok(file) => file,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(format!("{name}: {e}")),
    };
    let limit = NPY_HEADER_ROOM as u64 + 16 + max_data;
    let mut bytes = Vec::with_capacity(file.size().min(limit) as usize);
    // one byte past the limit: an entry that fits is read to its end, where its checksum is checked
    file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| format!("{name}: a damaged archive entry ({e})"))?;
    let whole = bytes.len() as u64 <= limit;
    bytes.truncate(limit as usize);
    Ok(Some((bytes, whole)))
}

/// The `.npy` array in `bytes`, its header length checked first (npyz would allocate whatever
/// the length field claims).
fn npy_in<'a>(name: &str, bytes: &'a [u8]) -> Result<npyz::NpyFile<&'a [u8]>, String> {
    let header_len = match (bytes.get(..6), bytes.get(6)) {
        (Some(b"\x93NUMPY"), Some(1)) => bytes.get(8..10).map(|b| usize::from(u16::from_le_bytes([b[0], b[1]]))),
        (Some(b"\x93NUMPY"), Some(_)) => bytes.get(8..12).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize),
        _ => return Err(format!("{name} is not a .npy array")),
    };
    if header_len.is_some_and(|n| n > NPY_HEADER_ROOM) {
        return Err(format!("{name}: its .npy header claims more than {NPY_HEADER_ROOM} bytes"));
    }
    npyz::NpyFile::new(bytes).map_err(|e| format!("{name}: {e}"))
}

struct NpzSource(NpzArchive);

impl NpzSource {
    /// The whole `.npy` entry of a small extra (text or integer) of at most `max_data` bytes.
    fn small_entry(&mut self, key: &str, max_data: u64) -> Result<Option<Vec<u8>>, String> {
        match npz_entry(&mut self.0, key, max_data)? {
            None => Ok(None),
            Some((bytes, true)) => Ok(Some(bytes)),
            Some((_, false)) => Err(format!("{key} is larger than it can be (at most {max_data} bytes)")),
        }
    }
}

impl ArraySource for NpzSource {
    fn read(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, SourceError> {
        let max_data = shape.iter().product::<usize>() as u64 * 8;
        let (bytes, whole) = npz_entry(&mut self.0, name, max_data)
            .map_err(SourceError::Read)?
            .ok_or_else(|| SourceError::Read("listed in the archive, but not found in it".into()))?;
        let npy = npy_in(name, &bytes).map_err(SourceError::Read)?;
        let found: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
        if found != shape {
            return Err(SourceError::Mismatch(format!("shape {found:?}, the configuration needs {shape:?}")));
        }
        if !whole {
            return Err(SourceError::Read(format!("more bytes than a float64 array of shape {shape:?} has")));
        }
        let read = |e: std::io::Error| SourceError::Read(e.to_string());
        let fortran = npy.order() == npyz::Order::Fortran;
        let data: Vec<f32> = match npy.dtype() {
            DType::Plain(t) if t.type_char() == TypeChar::Float && t.size_field() == 4 => npy.into_vec::<f32>().map_err(read)?,
            DType::Plain(t) if t.type_char() == TypeChar::Float && t.size_field() == 8 => {
                narrow(npy.into_vec::<f64>().map_err(read)?.into_iter())?
            }
            other => return Err(SourceError::Mismatch(format!("dtype {}, modulab reads float32 or float64", other.descr()))),
        };
        Ok(if fortran { fortran_to_c(&data, shape) } else { data })
    }

    /// A 0-d or 1-element unicode array.
    fn text(&mut self, key: &str) -> Result<Option<String>, String> {
        let Some(bytes) = self.small_entry(key, MAX_CONFIG_CHARS * 4)? else { return Ok(None) };
        let npy = npy_in(key, &bytes)?;
        let size = match npy.dtype() {
            DType::Plain(t) if t.type_char() == TypeChar::UnicodeStr => t.size_field(),
            other => return Err(format!("{key} should be a unicode string, not {}", other.descr())),
        };
        if npy.len() != 1 || size > MAX_CONFIG_CHARS {
            return Err(format!("{key} should be one string of at most {MAX_CONFIG_CHARS} characters"));
        }
        let mut text = npy.into_vec::<String>().map_err(|e| format!("{key}: {e}"))?;
        Ok(text.pop())
    }

    /// A 0-d or 1-element array of any integer type (np.savez keeps Python ints as int64, but
    /// code elsewhere may store int32 or unsigned).
    fn integer(&mut self, key: &str) -> Result<Option<i64>, String> {
        let Some(bytes) = self.small_entry(key, 8)? else { return Ok(None) };
        let npy = npy_in(key, &bytes)?;
        if npy.len() != 1 {
            return Err(format!("{key} should be a single integer"));
        }
        let first = |values: Vec<i64>| values.first().copied().ok_or_else(|| format!("{key} holds no value"));
        let e = |e: std::io::Error| format!("{key}: {e}");
        let value = match npy.dtype() {
            DType::Plain(t) => match (t.type_char(), t.size_field()) {
                (TypeChar::Int, 1) => first(npy.into_vec::<i8>().map_err(e)?.into_iter().map(i64::from).collect())?,
                (TypeChar::Int, 2) => first(npy.into_vec::<i16>().map_err(e)?.into_iter().map(i64::from).collect())?,
                (TypeChar::Int, 4) => first(npy.into_vec::<i32>().map_err(e)?.into_iter().map(i64::from).collect())?,
                (TypeChar::Int, 8) => first(npy.into_vec::<i64>().map_err(e)?)?,
                (TypeChar::Uint, 1) => first(npy.into_vec::<u8>().map_err(e)?.into_iter().map(i64::from).collect())?,
                (TypeChar::Uint, 2) => first(npy.into_vec::<u16>().map_err(e)?.into_iter().map(i64::from).collect())?,
                (TypeChar::Uint, 4) => first(npy.into_vec::<u32>().map_err(e)?.into_iter().map(i64::from).collect())?,
                (TypeChar::Uint, 8) => {
                    let v = npy.into_vec::<u64>().map_err(e)?;
                    first(
                        v.into_iter()
                            .map(|x| i64::try_from(x).map_err(|_| format!("{key} = {x} is too large")))
                            .collect::<Result<_, _>>()?,
                    )?
                }
                _ => return Err(format!("{key} should be an integer, not {t}")),
            },
            other => return Err(format!("{key} should be an integer, not {}", other.descr())),
        };
        Ok(Some(value))
    }
}

/// A Fortran-order (column-major) array, as NumPy writes a transposed view, in C order.
fn fortran_to_c(data: &[f32], shape: &[usize]) -> Vec<f32> {
    let mut out = vec![0.0; data.len()];
    let mut index = vec![0usize; shape.len()];
    for (c_at, value) in out.iter_mut().enumerate() {
        // the C-order position's multi-index, then its Fortran-order offset
        c_order_index(c_at, shape, &mut index);
        let (mut f_at, mut stride) = (0, 1);
        for (d, &n) in shape.iter().enumerate() {
            f_at += index[d] * stride;
            stride *= n;
        }
        *value = data[f_at];
    }
    out
}

struct SafetensorsSource(Vec<u8>);

impl ArraySource for SafetensorsSource {
    #[allow(clippy::expect_used, reason = "cannot fail: slices of exactly 4 or 8 bytes become arrays")]
    fn read(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, SourceError> {
        let tensors = SafeTensors::deserialize(&self.0).map_err(|e| SourceError::Read(e.to_string()))?;
        let view = tensors.tensor(name).map_err(|e| SourceError::Read(e.to_string()))?;
        if view.shape() != shape {
            return Err(SourceError::Mismatch(format!("shape {:?}, the configuration needs {shape:?}", view.shape())));
        }
        let bytes = view.data();
        match view.dtype() {
            Dtype::F32 => Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect()),
            Dtype::F64 => narrow(bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))),
            other => Err(SourceError::Mismatch(format!("dtype {other}, modulab reads F32 or F64"))),
        }
    }

    fn text(&mut self, key: &str) -> Result<Option<String>, String> {
        self.metadata(key)
    }

    fn integer(&mut self, key: &str) -> Result<Option<i64>, String> {
        match self.metadata(key)? {
            Some(s) => s.parse::<i64>().map(Some).map_err(|_| format!("metadata {key} = '{s}' is not an integer")),
            None => Ok(None),
        }
    }
}

impl SafetensorsSource {
    /// The metadata entry `key` (safetensors keeps its extras as text).
    fn metadata(&self, key: &str) -> Result<Option<String>, String> {
        let (_, metadata) = SafeTensors::read_metadata(&self.0).map_err(|e| e.to_string())?;
        Ok(metadata.metadata().as_ref().and_then(|m| m.get(key).cloned()))
    }
}

/// A float64 array of a file written elsewhere: name, shape, values (C order).
#[cfg(test)]
type ForeignArray<'a> = (&'a str, Vec<usize>, Vec<f64>);

/// An npz as NumPy code elsewhere would write it: float64 arrays, column-major when `fortran`
/// (as np.savez writes a transposed view), and int32 scalars.
#[cfg(test)]
fn npz_of(arrays: &[ForeignArray], fortran: bool, ints: &[(&str, i32)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, shape, data) in arrays {
        zip.start_file(npyz::npz::file_name_from_array_name(name), options).unwrap();
        let dims: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
        let order = if fortran { npyz::Order::Fortran } else { npyz::Order::C };
        let mut w = npyz::WriteOptions::<f64>::new().default_dtype().shape(&dims).order(order).writer(&mut zip).begin_nd().unwrap();
        if fortran {
            // column-major: the first index runs fastest
            let strides: Vec<usize> = (0..shape.len()).map(|d| shape[d + 1..].iter().product()).collect();
            for f_at in 0..data.len() {
                let (mut rest, mut c_at) = (f_at, 0);
                for (d, &n) in shape.iter().enumerate() {
                    c_at += (rest % n) * strides[d];
                    rest /= n;
                }
                w.push(&data[c_at]).unwrap();
            }
        } else {
            w.extend(data.iter().copied()).unwrap();
        }
        w.finish().unwrap();
    }
    for (name, value) in ints {
        zip.start_file(npyz::npz::file_name_from_array_name(name), options).unwrap();
        let mut w = npyz::WriteOptions::<i32>::new().default_dtype().shape(&[]).writer(&mut zip).begin_nd().unwrap();
        w.push(value).unwrap();
        w.finish().unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::model::Pathway;

    fn small() -> Config {
        Config::from_preset("quick", &["model.n_units=8".into()]).unwrap()
    }

    fn params(config: &Config) -> ParamSet {
        ParamSet::init(&config.model, config.dims(), config.readout(), &mut crate::rng::Rng::seed_from(3))
    }

    #[test]
    fn npz_and_safetensors_round_trip_every_parameter() {
        let dir = tempfile::tempdir().unwrap();
        let config = small();
        let params = params(&config);
        for file in ["net.npz", "net.safetensors"] {
            let path = dir.path().join(file);
            export(&path, &ExportContents { config: &config, params: &params, step: 42, trajectories: None }).unwrap();
            let back = import(&path, &config, None).unwrap();
            assert_eq!(back.params, params, "{file}");
            assert_eq!(back.step, 42);
            let json = back.config_json.expect("the export carries its configuration");
            assert_eq!(serde_json::from_str::<Config>(&json).unwrap(), config);
            assert_eq!(read_config_json(&path).unwrap(), Some(json));
        }
    }

    fn foreign(params: &ParamSet) -> Vec<ForeignArray<'_>> {
        params.tensors.iter().map(|t| (t.name.as_str(), t.shape.clone(), t.data.iter().map(|&x| f64::from(x)).collect())).collect()
    }

    #[test]
    fn foreign_float64_and_fortran_order_arrays_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let config = small();
        let want = params(&config);
        for fortran in [false, true] {
            let path = dir.path().join(format!("torch-{fortran}.npz"));
            std::fs::write(&path, npz_of(&foreign(&want), fortran, &[])).unwrap();
            let back = import(&path, &config, None).unwrap();
            assert_eq!(back.params, want, "Fortran order: {fortran}");
            assert_eq!((back.config_json, back.step), (None, 0));
        }
        // a [2, 3] array stored column-major reads back in row-major order
        assert_eq!(fortran_to_c(&[1.0, 4.0, 2.0, 5.0, 3.0, 6.0], &[2, 3]), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn the_step_is_any_integer_or_the_one_asked_for_and_a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let config = small();
        let want = params(&config);
        let path = dir.path().join("int32.npz");
        std::fs::write(&path, npz_of(&foreign(&want), false, &[(STEP_KEY, 1234), (SCHEMA_KEY, 1)])).unwrap();
        assert_eq!(import(&path, &config, None).unwrap().step, 1234);
        assert_eq!(import(&path, &config, Some(7)).unwrap().step, 7);
        // a step that is no step: an error, unless the step is given
        std::fs::write(&path, npz_of(&foreign(&want), false, &[(STEP_KEY, -5)])).unwrap();
        assert!(import(&path, &config, None).unwrap_err().to_string().contains("step is negative (-5)"));
        assert_eq!(import(&path, &config, Some(7)).unwrap().step, 7);
        std::fs::write(&path, npz_of(&foreign(&want), false, &[(SCHEMA_KEY, 3)])).unwrap();
        let e = import(&path, &config, None).unwrap_err().to_string();
        assert!(e.contains("written with exchange schema 3, and this modulab reads schema 2 and older"), "{e}");
    }

    #[test]
    fn a_damaged_stored_array_is_refused_not_imported() {
        let dir = tempfile::tempdir().unwrap();
        let config = small();
        let params = params(&config);
        let path = dir.path().join("net.npz");
        export(&path, &ExportContents { config: &config, params: &params, step: 1, trajectories: None }).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        // one bit of w_rec's stored values flipped, as a bad disk or transfer would
        let w_rec = &params.tensors.iter().find(|t| t.name == "w_rec").unwrap().data;
        let needle: Vec<u8> = w_rec[..4].iter().flat_map(|x| x.to_le_bytes()).collect();
        let at = bytes.windows(needle.len()).position(|w| w == needle.as_slice()).expect("w_rec stored as is");
        bytes[at + 5] ^= 0x10;
        std::fs::write(&path, &bytes).unwrap();
        let e = import(&path, &config, None).unwrap_err().to_string();
        assert!(e.contains("array 'w_rec'") && e.contains("damaged"), "{e}");
    }

    /// Dale's law and per-unit time constants, with the synaptic pathway; W̃ and W̃_out of
    /// either sign, as training leaves them.
    fn dale_and_tau() -> (Config, ParamSet) {
        let sets = ["model.n_units=8", "model.dale=true", "model.tau_distribution=log_uniform", r#"model.pathways=["bias","synaptic"]"#];
        let config = Config::from_preset("quick", &sets.map(String::from)).unwrap();
        let mut params = params(&config);
        for name in [W_REC, W_OUT] {
            params.get_mut(name).unwrap().data.iter_mut().step_by(3).for_each(|w| *w = -*w - 0.01);
        }
        (config, params)
    }

    #[test]
    fn a_dale_or_per_unit_tau_export_holds_what_the_network_runs() {
        use crate::analysis::dynamics::StepMap;
        // a network with neither Dale's law nor per-unit τ has no derived arrays
        assert!(derived_arrays(&small(), &params(&small())).is_empty());
        let (config, params) = dale_and_tau();
        let (n, n_e) = (8, config.model.n_excitatory());
        let derived = derived_arrays(&config, &params);
        let names: Vec<&str> = derived.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, [W_REC_EFFECTIVE, W_OUT_EFFECTIVE, CELL_SIGN, READOUT_MASK, TAU_MS]);
        let get = |name: &str| &derived.iter().find(|a| a.name == name).unwrap().data;
        let sign = |j: usize| if j < n_e { 1.0 } else { -1.0 };
        assert_eq!(get(CELL_SIGN), &(0..n).map(sign).collect::<Vec<f32>>());
        assert_eq!(get(READOUT_MASK), &(0..n).map(|j| if j < n_e { 1.0 } else { 0.0 }).collect::<Vec<f32>>());
        // w_rec has mixed signs in a column; the matrix the network runs keeps each unit's sign in
        // its column, and is the host map's where the synaptic change is 0
        let (w_rec, effective) = (&params.get(W_REC).unwrap().data, get(W_REC_EFFECTIVE));
        assert!((0..n).any(|j| (0..n).any(|i| w_rec[i * n + j] < 0.0) && (0..n).any(|i| w_rec[i * n + j] > 0.0)));
        assert!((0..n).all(|j| (0..n).all(|i| effective[i * n + j] * sign(j) >= 0.0)));
        assert!(effective.contains(&0.0), "the negative entries of W̃ are silent synapses");
        let map = StepMap::new(&config, &params, &[0.0; 4], &[Pathway::Synaptic]);
        assert_eq!(effective, &(0..n * n).map(|at| map.w[(at / n, at % n)] as f32).collect::<Vec<f32>>());
        let w_out = get(W_OUT_EFFECTIVE);
        assert!(w_out.chunks(n).all(|row| row[..n_e].iter().all(|w| *w >= 0.0) && row[n_e..].iter().all(|w| *w == 0.0)));
        // τ_i: what the network leaks with, α_i = dt/τ_i, within the draw's bounds
        let alphas = params.unit_alphas(&config.model, config.tasks.dt_ms);
        for (tau, alpha) in get(TAU_MS).iter().zip(alphas) {
            assert!((config.tasks.dt_ms / tau - alpha).abs() <= 1e-6 * alpha && (40.0..=400.0).contains(tau), "τ {tau}, α {alpha}");
        }
    }

    /// A float64 array to write: name, shape, values.
    type OwnedArray = (String, Vec<usize>, Vec<f64>);

    #[test]
    fn derived_arrays_may_be_left_out_and_are_checked_when_present() {
        let dir = tempfile::tempdir().unwrap();
        let (config, params) = dale_and_tau();
        for file in ["net.npz", "net.safetensors"] {
            let path = dir.path().join(file);
            export(&path, &ExportContents { config: &config, params: &params, step: 3, trajectories: None }).unwrap();
            assert_eq!(import(&path, &config, None).unwrap().params, params, "{file}");
        }
        let derived = derived_arrays(&config, &params);
        let as_f64 = |a: &Array| (a.name.clone(), a.shape.clone(), a.data.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>());
        let write = |name: &str, edit: &dyn Fn(&mut Vec<OwnedArray>)| {
            let mut extra: Vec<_> = derived.iter().map(as_f64).collect();
            edit(&mut extra);
            let mut arrays = foreign(&params);
            arrays.extend(extra.iter().map(|(n, s, d)| (n.as_str(), s.clone(), d.clone())));
            let path = dir.path().join(name);
            std::fs::write(&path, npz_of(&arrays, true, &[])).unwrap();
            import(&path, &config, None).map(|imported| imported.params)
        };
        // none of them, all of them (float64, column-major, as numpy code elsewhere writes them)
        assert_eq!(write("without.npz", &|a| a.clear()).unwrap(), params);
        assert_eq!(write("with.npz", &|_| {}).unwrap(), params);
        // tau_ms recomputed in float64: within float32's rounding
        let exp64 = |a: &mut Vec<OwnedArray>| {
            let log_tau = &params.get(LOG_TAU).unwrap().data;
            a[4].2 = log_tau.iter().map(|l| f64::from(*l).exp()).collect();
        };
        assert_eq!(write("exp.npz", &exp64).unwrap(), params);
        // an edit of what the network runs instead of W̃ is named, not ignored
        let e = write("edited.npz", &|a| a[0].2[8 + 3] = 0.5).unwrap_err().to_string();
        assert!(
            e.contains("array 'w_rec_effective' is derived from the parameters and does not match them (at [1, 3]: 0.5 in the file"),
            "{e}"
        );
        assert!(e.contains("leave the derived arrays (w_rec_effective, w_out_effective, cell_sign, readout_mask, tau_ms) out"), "{e}");
        let e = write("signs.npz", &|a| a[2].2[0] = -1.0).unwrap_err().to_string();
        assert!(e.contains("array 'cell_sign' is derived"), "{e}");
        let e = write("shape.npz", &|a| a[4] = ("tau_ms".into(), vec![4], vec![100.0; 4])).unwrap_err().to_string();
        assert!(e.contains("array 'tau_ms': shape [4], the configuration needs [8]"), "{e}");
        let e = write("nan.npz", &|a| a[3].2[1] = f64::NAN).unwrap_err().to_string();
        assert!(e.contains("array 'readout_mask' has 1 values that are not finite"), "{e}");
        // for a network without Dale's law and per-unit τ they are arrays it does not use
        let plain = Config::from_preset("quick", &["model.n_units=8".into(), r#"model.pathways=["bias","synaptic"]"#.into()]).unwrap();
        let path = dir.path().join("with.npz");
        let e = import(&path, &plain, None).unwrap_err().to_string();
        assert!(e.contains("does not use: cell_sign, log_tau, readout_mask, tau_ms, w_out_effective, w_rec_effective"), "{e}");
    }

    #[test]
    fn a_file_that_does_not_fit_says_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let config = small();
        let want = params(&config);
        let write = |name: &str, edit: &dyn Fn(&mut Vec<ForeignArray>)| {
            let mut arrays = foreign(&want);
            edit(&mut arrays);
            let path = dir.path().join(name);
            std::fs::write(&path, npz_of(&arrays, false, &[])).unwrap();
            import(&path, &config, None).unwrap_err().to_string()
        };
        let e = write("missing.npz", &|a| a.retain(|(n, _, _)| *n != "w_rec"));
        assert!(e.contains("array 'w_rec' [8, 8] is missing"), "{e}");
        let e = write("typo.npz", &|a| a[2].0 = "W_rec");
        assert!(e.contains("does not use: W_rec"), "{e}");
        let e = write("shape.npz", &|a| a[2] = ("w_rec", vec![4, 16], vec![0.0; 64]));
        assert!(e.contains("array 'w_rec': shape [4, 16], the configuration needs [8, 8]"), "{e}");
        let e = write("nan.npz", &|a| a[2].2[5] = f64::NAN);
        assert!(e.contains("array 'w_rec' has 1 values that are not finite"), "{e}");
        let e = write("huge.npz", &|a| a[2].2[5] = 1e39);
        assert!(e.contains("array 'w_rec': 1 values are beyond float32's range"), "{e}");
        let path = dir.path().join("garbage.npz");
        std::fs::write(&path, b"not a zip").unwrap();
        assert!(import(&path, &config, None).unwrap_err().to_string().contains("not a NumPy .npz (zip) archive"));
        let path = dir.path().join("net.h5");
        assert!(import(&path, &config, None).unwrap_err().to_string().contains("must end in .npz (NumPy) or .safetensors"));
    }
}
