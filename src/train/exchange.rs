//! Networks in and out for other tools: NumPy `.npz` and safetensors files (docs/EXCHANGE.md).
//!
//! An export holds every parameter under its own name (`w_in`, `w_rec`, …; the names and shapes
//! of [`ParamSet::layout`]) as float32 in C order, the resolved configuration as JSON text, the
//! schema version and the step; optionally each task's probe trials (inputs, targets, outputs,
//! rates). An import reads the parameters back for a configuration, checking every name, shape,
//! dtype and value before anything is written, and makes a run directory of them.
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
use crate::model::{ParamSet, ParamTensor};

/// The version of the exchange schema (the key names, their shapes and meaning).
pub const SCHEMA_VERSION: u32 = 1;
/// Key of the resolved configuration as JSON text (npz: a 0-d unicode array; safetensors: metadata).
pub const CONFIG_KEY: &str = "config_json";
/// Key of the schema version (npz: a 0-d int64 array; safetensors: metadata).
pub const SCHEMA_KEY: &str = "schema_version";
/// Key of the training step the network was taken at.
pub const STEP_KEY: &str = "step";
/// Prefix of the probe trials' arrays: `probe/TASK/inputs` and so on.
pub const PROBE_PREFIX: &str = "probe/";
/// A configuration longer than this is not one of ours (bounds what a hostile file allocates).
const MAX_CONFIG_CHARS: u64 = 1 << 20;

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

/// The arrays of an export: the parameters, then each task's probe trials.
fn arrays(contents: &ExportContents) -> Vec<Array> {
    let mut arrays: Vec<Array> =
        contents.params.tensors.iter().map(|t| Array { name: t.name.clone(), shape: t.shape.clone(), data: t.data.clone() }).collect();
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
    /// The step the file says the network was taken at (0 if it does not say).
    pub step: u64,
}

/// The configuration a file carries, if it carries one (a modulab export does).
pub fn read_config_json(path: &Path) -> Result<Option<String>, ExchangeError> {
    let read_err = |reason: String| ExchangeError::Read { path: path.display().to_string(), reason };
    match Format::of(path)? {
        Format::Npz => {
            let mut zip = open_npz(path)?;
            npz_text(&mut zip, CONFIG_KEY).map_err(read_err)
        }
        Format::Safetensors => {
            let bytes = std::fs::read(path).map_err(|e| read_err(e.to_string()))?;
            let (_, metadata) = SafeTensors::read_metadata(&bytes).map_err(|e| read_err(format!("not a safetensors file ({e})")))?;
            Ok(metadata.metadata().as_ref().and_then(|m| m.get(CONFIG_KEY).cloned()))
        }
    }
}

/// Read the parameters `config` calls for from `path`. Every array the configuration needs must
/// be there with its shape, as float32 or float64, all values finite; arrays the network does
/// not use are refused by name (a misspelt key would otherwise be silently left out), except
/// the export's own extras (configuration, schema, step, probe trials).
pub fn import(path: &Path, config: &Config) -> Result<Imported, ExchangeError> {
    let shown = path.display().to_string();
    let read_err = |reason: String| ExchangeError::Read { path: shown.clone(), reason };
    let mismatch = |reason: String| ExchangeError::Mismatch { path: shown.clone(), reason };
    let layout = ParamSet::layout(&config.model, config.dims());
    let expected = || layout.iter().map(|(n, s)| format!("{n}{s:?}")).collect::<Vec<_>>().join(" ");
    let is_extra = |name: &str| [CONFIG_KEY, SCHEMA_KEY, STEP_KEY, "format"].contains(&name) || name.starts_with(PROBE_PREFIX);

    let (mut source, names): (Box<dyn ArraySource>, Vec<String>) = match Format::of(path)? {
        Format::Npz => {
            let zip = open_npz(path)?;
            let files = zip.file_names().collect::<Result<Vec<_>, _>>().map_err(|e| read_err(format!("a damaged archive ({e})")))?;
            let names = files.iter().filter_map(|f| npyz::npz::array_name_from_file_name(f)).map(str::to_string).collect();
            (Box::new(NpzSource(zip)), names)
        }
        Format::Safetensors => {
            let bytes = std::fs::read(path).map_err(|e| read_err(e.to_string()))?;
            SafeTensors::deserialize(&bytes).map_err(|e| read_err(format!("not a safetensors file ({e})")))?;
            let names = SafeTensors::deserialize(&bytes).expect("checked above").names().into_iter().map(str::to_string).collect();
            (Box::new(SafetensorsSource(bytes)), names)
        }
    };
    let mut unknown: Vec<&str> =
        names.iter().map(String::as_str).filter(|n| !is_extra(n) && !layout.iter().any(|(name, _)| name == n)).collect();
    unknown.sort_unstable();
    if !unknown.is_empty() {
        return Err(mismatch(format!(
            "it has arrays this network does not use: {} (the network's arrays: {}; docs/EXCHANGE.md lists them)",
            unknown.join(", "),
            expected()
        )));
    }
    let mut tensors = Vec::with_capacity(layout.len());
    for (name, shape) in &layout {
        if !names.iter().any(|n| n == name) {
            return Err(mismatch(format!("array '{name}' {shape:?} is missing (the network's arrays: {})", expected())));
        }
        let data = source.read(name, shape).map_err(|e| match e {
            SourceError::Mismatch(reason) => mismatch(format!("array '{name}': {reason}")),
            SourceError::Read(reason) => read_err(format!("array '{name}': {reason}")),
        })?;
        let bad = data.iter().filter(|x| !x.is_finite()).count();
        if bad > 0 {
            return Err(mismatch(format!("array '{name}' has {bad} values that are not finite numbers (NaN or infinite)")));
        }
        tensors.push(ParamTensor { name: name.to_string(), shape: shape.clone(), data });
    }
    let (config_json, step) = source.extras().map_err(read_err)?;
    Ok(Imported { params: ParamSet { tensors }, config_json, step })
}

enum SourceError {
    /// The array is not what the configuration needs (shape, dtype).
    Mismatch(String),
    /// The file is damaged.
    Read(String),
}

/// A file's arrays, one at a time, each checked against the shape wanted before its data is read.
trait ArraySource {
    fn read(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, SourceError>;
    /// The configuration text and the step the file records.
    fn extras(&mut self) -> Result<(Option<String>, u64), String>;
}

type NpzArchive = zip::ZipArchive<std::io::BufReader<std::fs::File>>;

fn open_npz(path: &Path) -> Result<NpzArchive, ExchangeError> {
    let read_err = |reason: String| ExchangeError::Read { path: path.display().to_string(), reason };
    let file = std::fs::File::open(path).map_err(|e| read_err(e.to_string()))?;
    zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| read_err(format!("not a NumPy .npz (zip) archive ({e})")))
}

/// A 0-d or 1-element unicode array of an npz (the configuration text), if present.
fn npz_text<R: Read + Seek>(zip: &mut zip::ZipArchive<R>, name: &str) -> Result<Option<String>, String> {
    let file = match zip.by_name(&npyz::npz::file_name_from_array_name(name)) {
        Ok(file) => file,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let npy = npyz::NpyFile::new(file).map_err(|e| format!("{name}: {e}"))?;
    let size = match npy.dtype() {
        DType::Plain(t) if t.type_char() == TypeChar::UnicodeStr => t.size_field(),
        other => return Err(format!("{name} should be a unicode string, not {}", other.descr())),
    };
    if npy.len() != 1 || size > MAX_CONFIG_CHARS {
        return Err(format!("{name} should be one string of at most {MAX_CONFIG_CHARS} characters"));
    }
    let mut text = npy.into_vec::<String>().map_err(|e| format!("{name}: {e}"))?;
    Ok(text.pop())
}

fn npz_integer<R: Read + Seek>(zip: &mut zip::ZipArchive<R>, name: &str) -> Result<Option<i64>, String> {
    let file = match zip.by_name(&npyz::npz::file_name_from_array_name(name)) {
        Ok(file) => file,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let npy = npyz::NpyFile::new(file).map_err(|e| format!("{name}: {e}"))?;
    if npy.len() != 1 {
        return Err(format!("{name} should be a single integer"));
    }
    let value = npy.into_vec::<i64>().map_err(|e| format!("{name} should be an int64: {e}"))?;
    Ok(value.first().copied())
}

struct NpzSource(NpzArchive);

impl ArraySource for NpzSource {
    fn read(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, SourceError> {
        let read = |e: &dyn std::fmt::Display| SourceError::Read(e.to_string());
        let file = self.0.by_name(&npyz::npz::file_name_from_array_name(name)).map_err(|e| read(&e))?;
        let npy = npyz::NpyFile::new(file).map_err(|e| read(&e))?;
        let found: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
        if found != shape {
            return Err(SourceError::Mismatch(format!("shape {found:?}, the configuration needs {shape:?}")));
        }
        let fortran = npy.order() == npyz::Order::Fortran;
        let data: Vec<f32> = match npy.dtype() {
            DType::Plain(t) if t.type_char() == TypeChar::Float && t.size_field() == 4 => npy.into_vec::<f32>().map_err(|e| read(&e))?,
            DType::Plain(t) if t.type_char() == TypeChar::Float && t.size_field() == 8 => {
                npy.into_vec::<f64>().map_err(|e| read(&e))?.into_iter().map(|x| x as f32).collect()
            }
            other => return Err(SourceError::Mismatch(format!("dtype {}, modulab reads float32 or float64", other.descr()))),
        };
        Ok(if fortran { fortran_to_c(&data, shape) } else { data })
    }

    fn extras(&mut self) -> Result<(Option<String>, u64), String> {
        let text = npz_text(&mut self.0, CONFIG_KEY)?;
        let step = npz_integer(&mut self.0, STEP_KEY)?.unwrap_or(0);
        Ok((text, u64::try_from(step).map_err(|_| format!("{STEP_KEY} is negative ({step})"))?))
    }
}

/// A Fortran-order (column-major) array, as NumPy writes a transposed view, in C order.
fn fortran_to_c(data: &[f32], shape: &[usize]) -> Vec<f32> {
    let mut out = vec![0.0; data.len()];
    let mut index = vec![0usize; shape.len()];
    for (c_at, value) in out.iter_mut().enumerate() {
        // the C-order position's multi-index, then its Fortran-order offset
        let mut rest = c_at;
        for (d, &n) in shape.iter().enumerate().rev() {
            index[d] = rest % n;
            rest /= n;
        }
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
    fn read(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, SourceError> {
        let tensors = SafeTensors::deserialize(&self.0).map_err(|e| SourceError::Read(e.to_string()))?;
        let view = tensors.tensor(name).map_err(|e| SourceError::Read(e.to_string()))?;
        if view.shape() != shape {
            return Err(SourceError::Mismatch(format!("shape {:?}, the configuration needs {shape:?}", view.shape())));
        }
        let bytes = view.data();
        Ok(match view.dtype() {
            Dtype::F32 => bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect(),
            Dtype::F64 => bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32).collect(),
            other => return Err(SourceError::Mismatch(format!("dtype {other}, modulab reads F32 or F64"))),
        })
    }

    fn extras(&mut self) -> Result<(Option<String>, u64), String> {
        let (_, metadata) = SafeTensors::read_metadata(&self.0).map_err(|e| e.to_string())?;
        let metadata = metadata.metadata().clone().unwrap_or_default();
        let step = match metadata.get(STEP_KEY) {
            Some(s) => s.parse::<u64>().map_err(|_| format!("metadata {STEP_KEY} = '{s}' is not a step"))?,
            None => 0,
        };
        Ok((metadata.get(CONFIG_KEY).cloned(), step))
    }
}

/// A float64 array of a file written elsewhere: name, shape, values.
#[cfg(test)]
type ForeignArray<'a> = (&'a str, Vec<usize>, Vec<f64>);

/// An npz of float64 arrays as NumPy code elsewhere would write it (tests of foreign files).
#[cfg(test)]
fn npz_of(arrays: &[ForeignArray]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, shape, data) in arrays {
        zip.start_file(npyz::npz::file_name_from_array_name(name), zip::write::SimpleFileOptions::default()).unwrap();
        let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
        let mut w = npyz::WriteOptions::<f64>::new().default_dtype().shape(&shape).writer(&mut zip).begin_nd().unwrap();
        w.extend(data.iter().copied()).unwrap();
        w.finish().unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

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
            let back = import(&path, &config).unwrap();
            assert_eq!(back.params, params, "{file}");
            assert_eq!(back.step, 42);
            let json = back.config_json.expect("the export carries its configuration");
            assert_eq!(serde_json::from_str::<Config>(&json).unwrap(), config);
            assert_eq!(read_config_json(&path).unwrap(), Some(json));
        }
    }

    #[test]
    fn foreign_float64_and_fortran_order_arrays_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let config = small();
        let want = params(&config);
        let mut arrays = Vec::new();
        for t in &want.tensors {
            let data: Vec<f64> = t.data.iter().map(|&x| f64::from(x)).collect();
            arrays.push((t.name.as_str(), t.shape.clone(), data));
        }
        let path = dir.path().join("torch.npz");
        std::fs::write(&path, npz_of(&arrays)).unwrap();
        let back = import(&path, &config).unwrap();
        assert_eq!(back.params, want);
        assert_eq!((back.config_json, back.step), (None, 0));

        // a [2, 3] array stored column-major reads back in row-major order
        assert_eq!(fortran_to_c(&[1.0, 4.0, 2.0, 5.0, 3.0, 6.0], &[2, 3]), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn a_file_that_does_not_fit_says_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let config = small();
        let want = params(&config);
        let write = |name: &str, edit: &dyn Fn(&mut Vec<ForeignArray>)| {
            let mut arrays: Vec<ForeignArray> =
                want.tensors.iter().map(|t| (t.name.as_str(), t.shape.clone(), t.data.iter().map(|&x| f64::from(x)).collect())).collect();
            edit(&mut arrays);
            let path = dir.path().join(name);
            std::fs::write(&path, npz_of(&arrays)).unwrap();
            import(&path, &config).unwrap_err().to_string()
        };
        let e = write("missing.npz", &|a| a.retain(|(n, _, _)| *n != "w_rec"));
        assert!(e.contains("array 'w_rec' [8, 8] is missing"), "{e}");
        let e = write("typo.npz", &|a| a[2].0 = "W_rec");
        assert!(e.contains("does not use: W_rec"), "{e}");
        let e = write("shape.npz", &|a| a[2] = ("w_rec", vec![4, 16], vec![0.0; 64]));
        assert!(e.contains("array 'w_rec': shape [4, 16], the configuration needs [8, 8]"), "{e}");
        let e = write("nan.npz", &|a| a[2].2[5] = f64::NAN);
        assert!(e.contains("array 'w_rec' has 1 values that are not finite"), "{e}");
        let path = dir.path().join("garbage.npz");
        std::fs::write(&path, b"not a zip").unwrap();
        assert!(import(&path, &config).unwrap_err().to_string().contains("not a NumPy .npz (zip) archive"));
        let path = dir.path().join("net.h5");
        assert!(import(&path, &config).unwrap_err().to_string().contains("must end in .npz (NumPy) or .safetensors"));
    }
}
