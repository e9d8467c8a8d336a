//! The console's UI core: `UiState`, the `Action` vocabulary, key dispatch and pure render
//! functions of (Snapshot, UiState, Theme). Must not touch the network, SQLite, the engine's
//! internals or the real terminal (term.rs and app.rs do).

pub mod command;
pub mod filter;
pub mod state;

pub use crate::action::Action;
pub use command::{Command, HistoryRequest, ReplayControl, ReplayStatus, SeriesData};
pub use state::{UiState, View, dispatch, update};
pub mod render;
pub mod style;
pub mod views;

pub use render::render;
