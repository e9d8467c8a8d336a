//! The deterministic engine: folds observations into series, vitals, rule and alert state,
//! host severities and snapshots. Pure given its inputs: no clock, socket, terminal or SQLite.
