//! The config tests, one binary: each file is a module (ripgrep's tests/tests.rs layout), so
//! the suite links one executable per area instead of one per file.

mod corpus;
mod keymap_corpus;
mod load;
mod probes;
mod theme_color;
mod theme_corpus;
mod theme_resolve;
mod theme_shipped;
