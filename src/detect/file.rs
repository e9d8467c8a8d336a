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
    let io = |source| DetectError::Io {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > cap {
        return Err(bad(
            path,
            format!("{len} bytes; at most {cap} are accepted"),
        ));
    }
    std::fs::read(path).map_err(io)
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
        let header = HashMap::from([
            ("format".to_string(), FORMAT_NAME.to_string()),
            ("format_version".to_string(), FORMAT_VERSION.to_string()),
        ]);
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
        // Format and version first, so a future file says "newer version" rather than failing
        // on whatever field changed.
        #[derive(Deserialize)]
        struct Head {
            format: Option<String>,
            format_version: Option<u32>,
        }
        let head: Head = serde_json::from_slice(&raw)
            .map_err(|e| bad(&meta_path, format!("not valid JSON metadata: {e}")))?;
        match head.format.as_deref() {
            Some(FORMAT_NAME) => {}
            other => {
                return Err(bad(
                    &meta_path,
                    format!("format is {other:?}; expected \"{FORMAT_NAME}\""),
                ));
            }
        }
        match head.format_version {
            Some(FORMAT_VERSION) => {}
            other => {
                return Err(bad(
                    &meta_path,
                    format!(
                        "format_version is {other:?}; this nocscope ({}) reads version {FORMAT_VERSION} only",
                        env!("CARGO_PKG_VERSION")
                    ),
                ));
            }
        }
        let meta: Meta = serde_json::from_slice(&raw)
            .map_err(|e| bad(&meta_path, format!("invalid metadata: {e}")))?;
        meta.config
            .validate()
            .map_err(|e| bad(&meta_path, e.to_string()))?;
        if !meta.scaler.is_valid() {
            return Err(bad(
                &meta_path,
                format!(
                    "scaler {:?} is unusable; mean must be finite and std finite and > 0",
                    meta.scaler
                ),
            ));
        }
        if meta.threshold.is_some_and(|t| !t.is_finite()) {
            return Err(bad(&meta_path, "threshold must be a finite number or null"));
        }

        // Shapes come from the validated config, never from the weights file.
        let mut rng = super::rng::SplitMix64::new(0);
        let mut params = AeParams::new(&meta.config, &mut rng);
        let weights_path = dir.join(WEIGHTS_FILE);
        let expected_bytes: u64 = params
            .tensors()
            .iter()
            .map(|t| t.len() as u64 * 4)
            .sum::<u64>();
        // Header allowance: names, shapes and offsets are a few hundred bytes per tensor.
        let raw = read_capped(&weights_path, expected_bytes + (1 << 20))?;
        let st = SafeTensors::deserialize(&raw)
            .map_err(|e| bad(&weights_path, format!("not a valid safetensors file: {e}")))?;
        let names = AeParams::names(params.encoder.len(), params.decoder.len());
        let mut unexpected: Vec<&str> = st
            .names()
            .into_iter()
            .filter(|n| !names.iter().any(|m| m == n))
            .collect();
        if !unexpected.is_empty() {
            unexpected.sort_unstable();
            return Err(bad(
                &weights_path,
                format!("unexpected tensors {unexpected:?}; this config has exactly {names:?}"),
            ));
        }
        for (name, dst) in names.iter().zip(params.tensors_mut()) {
            let view = st.tensor(name).map_err(|_| {
                bad(
                    &weights_path,
                    format!("tensor {name} is missing (config in {META_FILE} needs it)"),
                )
            })?;
            fill_tensor(&weights_path, name, &view, dst)?;
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
