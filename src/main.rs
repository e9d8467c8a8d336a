//! The `nocscope` binary: parses the command line and wires modules together.

fn main() {}
