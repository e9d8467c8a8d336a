//! The detect tests, one binary: each file is a module (ripgrep's tests/tests.rs layout), so
//! the suite links one executable per area instead of one per file.

mod baselines;
mod file;
mod grad;
mod nab;
mod train;
