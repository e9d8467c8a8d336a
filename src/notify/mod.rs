//! From alerts to people (issue #14): Alertmanager's configuration as it is (`config`), its
//! label matchers (`matchers`) and its routing tree. Owns what a notification setup means;
//! must not touch the terminal, the engine's state or the store. Pure: no sockets or clocks
//! here yet — delivery will live in its own task.

pub mod config;
pub mod matchers;

pub use config::{AmConfig, ConfigError, GroupBy, Receiver, Route, load_config};
pub use matchers::{LabelMatcher, MatchType, parse_matchers};
