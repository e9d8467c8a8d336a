//! One file per console view (tokio-console's per-view state, trippy's render split): each
//! holds its part of the state (`XxxState`, a field of `UiState`), the `UiState` methods that
//! change it (its part of `update`: Enter, Esc, `/`), and its render. The frame around them is
//! render.rs's, global actions are state.rs's. No I/O, no engine types.

pub mod alerts;
pub mod anomalies;
pub mod detail;
pub mod host;
pub mod metrics;
pub mod overview;
pub mod rules;
pub mod targets;
