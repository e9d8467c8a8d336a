//! Model files: `weights.safetensors` (f32 tensors) + `model.json` (config, scaler, threshold,
//! training summary, versions) in one directory. Model files are untrusted input: loading
//! validates everything and reports what is wrong; it must never panic or trust a shape.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use super::ae::{AeParams, DataRange, LstmAutoencoder, TrainReport};
use super::config::{LstmConfig, Scaler};
use super::error::DetectError;

/// Value of the `format` field; anything else is not our file.
pub const FORMAT_NAME: &str = "nocscope-lstm-autoencoder";
/// Bumped on any incompatible change to names, shapes or metadata.
pub const FORMAT_VERSION: u32 = 1;
/// Metadata file name inside the model directory.
pub const META_FILE: &str = "model.json";
/// Weights file name inside the model directory.
pub const WEIGHTS_FILE: &str = "weights.safetensors";
/// A metadata file larger than this is rejected before parsing (a loss curve of 100k epochs
/// fits in a few MiB).
const MAX_META_BYTES: u64 = 16 << 20;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    format: String,
    format_version: u32,
    nocscope_version: String,
    config: LstmConfig,
    seed: u64,
    scaler: Scaler,
    threshold: Option<f32>,
    data_range: Option<DataRange>,
    training: Option<TrainReport>,
}

fn bad(path: &Path, reason: impl Into<String>) -> DetectError {
    DetectError::ModelFile {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, DetectError> {
    use crate::capped::{CappedError, read_file};
    read_file(path, cap).map_err(|e| match e {
        CappedError::Open(source) | CappedError::Read(source) => DetectError::Io {
            path: path.to_path_buf(),
            source,
        },
        CappedError::TooLarge { cap } => {
            bad(path, format!("larger than {cap} bytes, the most accepted"))
        }
    })
}

/// Writes through a temporary name and renames, so a crash mid-save never leaves a half file
/// under the real name.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DetectError> {
    let tmp: PathBuf = path.with_extension("tmp");
    let io = |source| DetectError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

impl LstmAutoencoder {
    /// Saves the model into directory `dir` (created if missing) as [`WEIGHTS_FILE`] and
    /// [`META_FILE`].
    pub fn save(&self, dir: &Path) -> Result<(), DetectError> {
        std::fs::create_dir_all(dir).map_err(|source| DetectError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let names = AeParams::names(self.params.encoder.len(), self.params.decoder.len());
        let bytes: Vec<Vec<u8>> = self
            .params
            .tensors()
            .iter()
            .map(|t| t.iter().flat_map(|x| x.to_le_bytes()).collect())
            .collect();
        let weights_path = dir.join(WEIGHTS_FILE);
        let mut views = Vec::with_capacity(names.len());
        for ((name, t), b) in names.iter().zip(self.params.tensors()).zip(&bytes) {
            let v = TensorView::new(Dtype::F32, t.shape().to_vec(), b)
                .map_err(|e| bad(&weights_path, format!("cannot encode tensor {name}: {e}")))?;
            views.push((name.clone(), v));
        }
        // One key: safetensors writes its metadata map in HashMap order, so two keys would
        // make the same model's bytes differ between runs (shipped models must rebuild exactly).
        let header = HashMap::from([(
            "format".to_string(),
            format!("{FORMAT_NAME}/{FORMAT_VERSION}"),
        )]);
        let st = safetensors::serialize(views, Some(header))
            .map_err(|e| bad(&weights_path, format!("cannot encode: {e}")))?;
        let meta = Meta {
            format: FORMAT_NAME.into(),
            format_version: FORMAT_VERSION,
            nocscope_version: env!("CARGO_PKG_VERSION").into(),
            config: self.config.clone(),
            seed: self.seed,
            scaler: self.scaler,
            threshold: self.threshold,
            data_range: self.data_range,
            training: self.report.clone(),
        };
        let meta_path = dir.join(META_FILE);
        let json = serde_json::to_vec_pretty(&meta)
            .map_err(|e| bad(&meta_path, format!("cannot encode metadata: {e}")))?;
        write_atomic(&weights_path, &st)?;
        write_atomic(&meta_path, &json)
    }

    /// Loads a model saved by [`LstmAutoencoder::save`], validating format name and version,
    /// config, scaler, threshold, and every tensor's presence, dtype, shape and finiteness.
    pub fn load(dir: &Path) -> Result<Self, DetectError> {
        let meta_path = dir.join(META_FILE);
        let raw = read_capped(&meta_path, MAX_META_BYTES)?;
        let meta = parse_meta(&meta_path, &raw)?;
        let weights_path = dir.join(WEIGHTS_FILE);
        let weights = read_capped(&weights_path, weights_cap(&meta.config))?;
        Self::from_meta(meta, &weights, &weights_path)
    }

    /// Loads a model from the two files' contents already in memory (models embedded in the
    /// binary). `origin` names the model in errors (e.g. `models/cpu_pct`); the same checks as
    /// [`LstmAutoencoder::load`] apply, including the size caps.
    pub fn load_bytes(origin: &Path, meta: &[u8], weights: &[u8]) -> Result<Self, DetectError> {
        let meta_path = origin.join(META_FILE);
        if meta.len() as u64 > MAX_META_BYTES {
            return Err(bad(
                &meta_path,
                format!(
                    "{} bytes; at most {MAX_META_BYTES} are accepted",
                    meta.len()
                ),
            ));
        }
        let meta = parse_meta(&meta_path, meta)?;
        let weights_path = origin.join(WEIGHTS_FILE);
        let cap = weights_cap(&meta.config);
        if weights.len() as u64 > cap {
            return Err(bad(
                &weights_path,
                format!("{} bytes; at most {cap} are accepted", weights.len()),
            ));
        }
        Self::from_meta(meta, weights, &weights_path)
    }

    fn from_meta(meta: Meta, raw: &[u8], weights_path: &Path) -> Result<Self, DetectError> {
        // Shapes come from the validated config, never from the weights file.
        let mut rng = super::rng::SplitMix64::new(0);
        let mut params = AeParams::new(&meta.config, &mut rng);
        let st = SafeTensors::deserialize(raw)
            .map_err(|e| bad(weights_path, format!("not a valid safetensors file: {e}")))?;
        let names = AeParams::names(params.encoder.len(), params.decoder.len());
        let mut unexpected: Vec<&str> = st
            .names()
            .into_iter()
            .filter(|n| !names.iter().any(|m| m == n))
            .collect();
        if !unexpected.is_empty() {
            unexpected.sort_unstable();
            return Err(bad(
                weights_path,
                format!("unexpected tensors {unexpected:?}; this config has exactly {names:?}"),
            ));
        }
        for (name, dst) in names.iter().zip(params.tensors_mut()) {
            let view = st.tensor(name).map_err(|_| {
                bad(
                    weights_path,
                    format!("tensor {name} is missing (config in {META_FILE} needs it)"),
                )
            })?;
            fill_tensor(weights_path, name, &view, dst)?;
        }
        Ok(Self {
            config: meta.config,
            seed: meta.seed,
            params,
            scaler: meta.scaler,
            threshold: meta.threshold,
            report: meta.training,
            data_range: meta.data_range,
        })
    }
}

/// Most bytes a weights file for `config` may have: the tensors plus a header allowance (names,
/// shapes and offsets are a few hundred bytes per tensor).
fn weights_cap(config: &LstmConfig) -> u64 {
    let mut input = 1u64;
    let mut bytes = 0u64;
    for &h in config.encoder_units.iter().chain(&config.decoder_units) {
        let h = h as u64;
        bytes += (input * 4 * h + h * 4 * h + 4 * h) * 4;
        input = h;
    }
    bytes + (input + 1) * 4 + (1 << 20)
}

/// Parses and validates `model.json` (format, version, config, scaler, threshold).
fn parse_meta(meta_path: &Path, raw: &[u8]) -> Result<Meta, DetectError> {
    // Format and version first, so a future file says "newer version" rather than failing
    // on whatever field changed.
    #[derive(Deserialize)]
    struct Head {
        format: Option<String>,
        format_version: Option<u32>,
    }
    let head: Head = serde_json::from_slice(raw)
        .map_err(|e| bad(meta_path, format!("not valid JSON metadata: {e}")))?;
    match head.format.as_deref() {
        Some(FORMAT_NAME) => {}
        other => {
            return Err(bad(
                meta_path,
                format!("format is {other:?}; expected \"{FORMAT_NAME}\""),
            ));
        }
    }
    match head.format_version {
        Some(FORMAT_VERSION) => {}
        other => {
            return Err(bad(
                meta_path,
                format!(
                    "format_version is {other:?}; this nocscope ({}) reads version {FORMAT_VERSION} only",
                    env!("CARGO_PKG_VERSION")
                ),
            ));
        }
    }
    let meta: Meta = serde_json::from_slice(raw)
        .map_err(|e| bad(meta_path, format!("invalid metadata: {e}")))?;
    meta.config
        .validate()
        .map_err(|e| bad(meta_path, e.to_string()))?;
    if !meta.scaler.is_valid() {
        return Err(bad(
            meta_path,
            format!(
                "scaler {:?} is unusable; mean must be finite and std finite and > 0",
                meta.scaler
            ),
        ));
    }
    if meta.threshold.is_some_and(|t| !t.is_finite()) {
        return Err(bad(meta_path, "threshold must be a finite number or null"));
    }
    Ok(meta)
}

fn fill_tensor(
    path: &Path,
    name: &str,
    view: &TensorView<'_>,
    dst: &mut Array2<f32>,
) -> Result<(), DetectError> {
    if view.dtype() != Dtype::F32 {
        return Err(bad(
            path,
            format!(
                "tensor {name} has dtype {:?}; only F32 is accepted",
                view.dtype()
            ),
        ));
    }
    if view.shape() != dst.shape() {
        return Err(bad(
            path,
            format!(
                "tensor {name} has shape {:?}; the config in {META_FILE} needs {:?}",
                view.shape(),
                dst.shape()
            ),
        ));
    }
    let data = view.data();
    if data.len() != dst.len() * 4 {
        return Err(bad(
            path,
            format!(
                "tensor {name} holds {} bytes; expected {}",
                data.len(),
                dst.len() * 4
            ),
        ));
    }
    for (i, (d, b)) in dst.iter_mut().zip(data.chunks_exact(4)).enumerate() {
        let v = <[u8; 4]>::try_from(b).map_or(f32::NAN, f32::from_le_bytes);
        if !v.is_finite() {
            return Err(bad(
                path,
                format!("tensor {name} element {i} is {v}; weights must be finite"),
            ));
        }
        *d = v;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved() -> (tempfile::TempDir, LstmAutoencoder) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let cfg = LstmConfig {
            window: 4,
            encoder_units: vec![3],
            decoder_units: vec![3],
            ..LstmConfig::default()
        };
        let mut m = LstmAutoencoder::new(&cfg, 7).unwrap_or_else(|e| panic!("{e}"));
        m.set_threshold(0.5);
        m.save(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        (dir, m)
    }

    #[test]
    fn bytes_load_like_files() {
        let (dir, m) = saved();
        let meta = std::fs::read(dir.path().join(META_FILE)).unwrap_or_default();
        let weights = std::fs::read(dir.path().join(WEIGHTS_FILE)).unwrap_or_default();
        let from_bytes = LstmAutoencoder::load_bytes(Path::new("models/x"), &meta, &weights)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(from_bytes.params(), m.params());
        assert_eq!(from_bytes.threshold(), Some(0.5));
        assert_eq!(from_bytes.config(), m.config());
    }

    #[test]
    fn bad_bytes_name_the_origin_and_the_problem() {
        let (dir, _) = saved();
        let meta = std::fs::read(dir.path().join(META_FILE)).unwrap_or_default();
        let weights = std::fs::read(dir.path().join(WEIGHTS_FILE)).unwrap_or_default();
        let origin = Path::new("models/cpu_pct");
        let huge = vec![0u8; weights.len() + (2 << 20)];
        let cut = &weights[..weights.len() / 2];
        let cases: [(&[u8], &[u8], &str); 4] = [
            (b"{", &weights, "models/cpu_pct/model.json: not valid JSON"),
            (
                &meta,
                cut,
                "models/cpu_pct/weights.safetensors: not a valid safetensors",
            ),
            (&meta, &huge, "bytes; at most"),
            (
                br#"{"format":"other","format_version":1}"#,
                &weights,
                "expected \"nocscope-lstm-autoencoder\"",
            ),
        ];
        for (m, w, want) in cases {
            let e = LstmAutoencoder::load_bytes(origin, m, w)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(want), "{want}: {e}");
        }
    }
}
