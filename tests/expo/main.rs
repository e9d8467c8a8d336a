//! The expo tests, one binary: each file is a module (ripgrep's tests/tests.rs layout), so
//! the suite links one executable per area instead of one per file.

mod alloc;
mod lint;
mod oracles;
mod parse;
mod prop;
mod real;
