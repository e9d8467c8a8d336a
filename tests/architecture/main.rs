//! The architecture tests, one binary: each file is a module (ripgrep's tests/tests.rs layout), so
//! the suite links one executable per area instead of one per file.

mod boundaries;
mod ui_core;
