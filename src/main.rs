//! The `nocscope` binary: parses the command line and hands over to `cli::run`. Wiring only.

use clap::Parser;

fn main() {
    let cli = nocscope::cli::Cli::parse();
    std::process::exit(nocscope::cli::run(cli));
}
