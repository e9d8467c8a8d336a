//! One file per console view. Each owns what it draws (and, as the UI grows, its part of the
//! state and of `update`); the frame around them is render.rs's. No I/O, no engine types.

pub mod alerts;
pub mod anomalies;
pub mod host;
pub mod metrics;
pub mod overview;
pub mod targets;
