//! The ui tests, one binary: each file is a module (ripgrep's tests/tests.rs layout), so
//! the suite links one executable per area instead of one per file.

mod app;
mod e2e;
mod keys;
mod record_e2e;
mod render;
mod render_checks;
#[path = "../support/mod.rs"]
mod support;
#[path = "../ui_fixture/mod.rs"]
mod ui_fixture;
