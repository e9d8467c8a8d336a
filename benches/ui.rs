//! Console render benchmarks (filled in below).
fn main() {}
