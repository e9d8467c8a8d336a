//! nocscope: a terminal console for watching servers and network devices. The library holds
//! every module so that tests, benches and the binary share one code path; `main.rs` only wires.

pub mod action;
pub mod app;
pub mod capped;
pub mod civil;
pub mod cli;
pub mod collect;
pub mod config;
pub mod detect;
pub mod engine;
pub mod expo;
pub mod human;
pub mod logging;
pub mod model;
pub mod notify;
pub mod pathglob;
pub mod promql;
pub mod replay;
pub mod rules;
pub mod sanitize;
pub mod store;
pub mod term;
pub mod trainer;
pub mod ui;
pub mod yaml;
