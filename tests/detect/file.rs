//! Model files: save → load round trip gives bit-identical scores, and every kind of corrupt,
//! truncated or mismatched file is rejected with a message naming the problem.

use std::collections::HashMap;
use std::path::Path;

use nocscope::detect::{
    DetectError, FitOptions, LstmAutoencoder, LstmConfig, META_FILE, WEIGHTS_FILE, windows_of,
};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

fn cfg() -> LstmConfig {
    LstmConfig {
        window: 6,
        encoder_units: vec![7, 4],
        decoder_units: vec![4, 7],
        max_epochs: 2,
        ..Default::default()
    }
}

fn series() -> Vec<f32> {
    (0..200)
        .map(|i| (i as f32 * 0.3).sin() * 5.0 + 20.0)
        .collect()
}

fn trained() -> Result<LstmAutoencoder, DetectError> {
    let mut m = LstmAutoencoder::new(&cfg(), 5)?;
    m.fit(&series(), &FitOptions::default(), |_| {})?;
    Ok(m)
}

#[test]
fn round_trip_gives_identical_scores_and_metadata() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let m = trained()?;
    m.save(dir.path())?;
    let back = LstmAutoencoder::load(dir.path())?;
    let w = windows_of(&series(), 6);
    let a = m.score_windows(w.view())?;
    let b = back.score_windows(w.view())?;
    assert_eq!(
        a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        b.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    assert_eq!(back.params(), m.params());
    assert_eq!(back.config(), m.config());
    assert_eq!(back.scaler(), m.scaler());
    assert_eq!(back.threshold(), m.threshold());
    assert_eq!(back.train_report(), m.train_report());
    assert_eq!(back.seed(), 5);
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join(META_FILE))?)?;
    assert_eq!(meta["format_version"], 1);
    assert_eq!(meta["nocscope_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(meta["config"]["threshold"]["policy"], "max_scaled");
    assert!(
        meta["training"]["loss_curve"]
            .as_array()
            .is_some_and(|c| c.len() == 2)
    );
    Ok(())
}

/// Rewrites the weights file with `edit` applied to the (name → (dtype, shape, bytes)) map.
fn rewrite_weights(
    dir: &Path,
    edit: impl FnOnce(&mut HashMap<String, (Dtype, Vec<usize>, Vec<u8>)>),
) -> Result<(), Box<dyn std::error::Error>> {
    let path = dir.join(WEIGHTS_FILE);
    let raw = std::fs::read(&path)?;
    let st = SafeTensors::deserialize(&raw)?;
    let mut map: HashMap<String, (Dtype, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, (v.dtype(), v.shape().to_vec(), v.data().to_vec())))
        .collect();
    edit(&mut map);
    let views: Vec<(String, TensorView<'_>)> = map
        .iter()
        .map(|(n, (d, s, b))| TensorView::new(*d, s.clone(), b).map(|v| (n.clone(), v)))
        .collect::<Result<_, _>>()?;
    std::fs::write(&path, safetensors::serialize(views, None)?)?;
    Ok(())
}

fn edit_meta(
    dir: &Path,
    edit: impl FnOnce(&mut serde_json::Value),
) -> Result<(), Box<dyn std::error::Error>> {
    let path = dir.join(META_FILE);
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    edit(&mut v);
    std::fs::write(&path, serde_json::to_vec(&v)?)?;
    Ok(())
}

type Corrupt = Box<dyn Fn(&Path) -> Result<(), Box<dyn std::error::Error>>>;

#[test]
fn corrupt_files_are_rejected_with_clear_messages() -> Result<(), Box<dyn std::error::Error>> {
    let m = trained()?;
    let cases: Vec<(&str, Corrupt, &str)> = vec![
        (
            "missing metadata",
            Box::new(|d: &Path| Ok(std::fs::remove_file(d.join(META_FILE))?)),
            META_FILE,
        ),
        (
            "missing weights",
            Box::new(|d: &Path| Ok(std::fs::remove_file(d.join(WEIGHTS_FILE))?)),
            WEIGHTS_FILE,
        ),
        (
            "metadata not JSON",
            Box::new(|d: &Path| Ok(std::fs::write(d.join(META_FILE), b"{\"format\": ")?)),
            "not valid JSON",
        ),
        (
            "foreign format",
            Box::new(|d: &Path| edit_meta(d, |v| v["format"] = "keras-h5".into())),
            "expected \"nocscope-lstm-autoencoder\"",
        ),
        (
            "future version",
            Box::new(|d: &Path| edit_meta(d, |v| v["format_version"] = 2.into())),
            "reads version 1 only",
        ),
        (
            "unknown field",
            Box::new(|d: &Path| edit_meta(d, |v| v["extra"] = 1.into())),
            "unknown field `extra`",
        ),
        (
            "bad config",
            Box::new(|d: &Path| edit_meta(d, |v| v["config"]["window"] = 1.into())),
            "`window` = 1",
        ),
        (
            "zero std",
            Box::new(|d: &Path| edit_meta(d, |v| v["scaler"]["std"] = 0.0.into())),
            "scaler",
        ),
        (
            "config says bigger layer",
            Box::new(|d: &Path| {
                edit_meta(d, |v| {
                    v["config"]["encoder_units"] = serde_json::json!([8, 4])
                })
            }),
            "has shape [1, 28]; the config in model.json needs [1, 32]",
        ),
        (
            "truncated weights",
            Box::new(|d: &Path| {
                let p = d.join(WEIGHTS_FILE);
                let raw = std::fs::read(&p)?;
                Ok(std::fs::write(
                    &p,
                    raw.get(..raw.len() / 2).unwrap_or_default(),
                )?)
            }),
            "not a valid safetensors file",
        ),
        (
            "garbage weights",
            Box::new(|d: &Path| Ok(std::fs::write(d.join(WEIGHTS_FILE), [0xffu8; 64])?)),
            "not a valid safetensors file",
        ),
        (
            "empty weights",
            Box::new(|d: &Path| Ok(std::fs::write(d.join(WEIGHTS_FILE), [])?)),
            "not a valid safetensors file",
        ),
        (
            "missing tensor",
            Box::new(|d: &Path| {
                rewrite_weights(d, |m| {
                    m.remove("decoder.1.bias");
                })
            }),
            "tensor decoder.1.bias is missing",
        ),
        (
            "extra tensor",
            Box::new(|d: &Path| {
                rewrite_weights(d, |m| {
                    m.insert("evil".into(), (Dtype::F32, vec![1], vec![0; 4]));
                })
            }),
            "unexpected tensors [\"evil\"]",
        ),
        (
            "wrong dtype",
            Box::new(|d: &Path| {
                rewrite_weights(d, |m| {
                    if let Some(t) = m.get_mut("dense.bias") {
                        *t = (Dtype::F64, vec![1, 1], vec![0; 8]);
                    }
                })
            }),
            "dense.bias has dtype F64; only F32",
        ),
        (
            "wrong shape",
            Box::new(|d: &Path| {
                rewrite_weights(d, |m| {
                    if let Some(t) = m.get_mut("dense.kernel") {
                        t.1 = vec![1, 7];
                    }
                })
            }),
            "dense.kernel has shape [1, 7]",
        ),
        (
            "NaN weight",
            Box::new(|d: &Path| {
                rewrite_weights(d, |m| {
                    if let Some(t) = m.get_mut("encoder.0.kernel") {
                        t.2.splice(0..4, f32::NAN.to_le_bytes());
                    }
                })
            }),
            "encoder.0.kernel element 0 is NaN",
        ),
    ];
    for (what, corrupt, want) in cases {
        let dir = tempfile::tempdir()?;
        m.save(dir.path())?;
        corrupt(dir.path())?;
        match LstmAutoencoder::load(dir.path()) {
            Ok(_) => panic!("{what}: corrupt model was accepted"),
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains(want), "{what}: message {msg:?} lacks {want:?}");
            }
        }
    }
    Ok(())
}

#[test]
fn untrained_model_round_trips_with_null_threshold() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let m = LstmAutoencoder::new(&cfg(), 1)?;
    m.save(dir.path())?;
    let back = LstmAutoencoder::load(dir.path())?;
    assert_eq!(back.threshold(), None);
    assert_eq!(back.params(), m.params());
    Ok(())
}
