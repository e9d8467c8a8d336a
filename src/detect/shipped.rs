//! The pretrained default models shipped in `models/<vital_key>/`, embedded in the binary and
//! validated like any model file. Owns only the list of embedded files; must not know engine
//! or UI types (vital keys are plain strings here).
//!
//! These models were trained on standardised series pooled from several hosts (recipe in
//! models/README.md): their scaler is close to the identity, and the caller must standardise
//! a host's series with that series' own statistics before scoring it.

use std::path::Path;

use super::ae::LstmAutoencoder;
use super::error::DetectError;

/// Vital key and the embedded `model.json` and `weights.safetensors` of each shipped model.
const SHIPPED: &[(&str, &[u8], &[u8])] = &[
    (
        "cpu_pct",
        include_bytes!("../../models/cpu_pct/model.json"),
        include_bytes!("../../models/cpu_pct/weights.safetensors"),
    ),
    (
        "mem_pct",
        include_bytes!("../../models/mem_pct/model.json"),
        include_bytes!("../../models/mem_pct/weights.safetensors"),
    ),
    (
        "load1",
        include_bytes!("../../models/load1/model.json"),
        include_bytes!("../../models/load1/weights.safetensors"),
    ),
    (
        "disk_read_bps",
        include_bytes!("../../models/disk_read_bps/model.json"),
        include_bytes!("../../models/disk_read_bps/weights.safetensors"),
    ),
    (
        "disk_write_bps",
        include_bytes!("../../models/disk_write_bps/model.json"),
        include_bytes!("../../models/disk_write_bps/weights.safetensors"),
    ),
];

/// Every shipped model, loaded and validated, keyed by vital key (`cpu_pct`, …). A model that
/// fails validation is returned as its error (naming `models/<key>/<file>`) so the caller can
/// log it and run without that one model instead of refusing to start.
pub fn shipped_models() -> Vec<(&'static str, Result<LstmAutoencoder, DetectError>)> {
    SHIPPED
        .iter()
        .map(|&(key, meta, weights)| (key, load(key, meta, weights)))
        .collect()
}

/// The shipped model of one vital, if there is one.
pub fn shipped_model(key: &str) -> Option<Result<LstmAutoencoder, DetectError>> {
    SHIPPED
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|&(key, meta, weights)| load(key, meta, weights))
}

fn load(key: &str, meta: &[u8], weights: &[u8]) -> Result<LstmAutoencoder, DetectError> {
    let origin = Path::new("models").join(key);
    let model = LstmAutoencoder::load_bytes(&origin, meta, weights)?;
    // A shipped model without a threshold would score but never flag anything.
    if model.threshold().is_none() {
        return Err(DetectError::ModelFile {
            path: origin.join(super::file::META_FILE),
            reason: "shipped model has no threshold; retrain it with scripts/train-models".into(),
        });
    }
    Ok(model)
}
