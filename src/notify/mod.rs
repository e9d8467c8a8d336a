//! From alerts to people (issue #14): Alertmanager's configuration as it is (`config`), its
//! label matchers (`matchers`), its dispatcher (`dispatch`: routing, grouping, timers,
//! inhibition, deduplication), the engine's alerts as its input (`feed`), its push API's alerts (`stream`), silences (`silence`) and its webhook message
//! (`webhook`). Owns what a notification
//! setup means and what it sends; must not touch the terminal, the engine's state or the
//! store. Pure: no sockets or clocks here — delivery lives in its own task.

pub mod config;
pub mod dispatch;
pub mod feed;
pub mod labels;
pub mod matchers;
pub mod silence;
pub mod stream;
pub mod webhook;

pub use config::{AmConfig, ConfigError, GroupBy, Receiver, Route, load_config};
pub use dispatch::{Alert, Dispatcher, LabelSet, Notification};
pub use matchers::{LabelMatcher, MatchType, parse_matchers};
