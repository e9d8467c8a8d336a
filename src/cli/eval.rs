//! `nocscope eval`: runs a detector over labelled NAB-layout CSVs and prints per-file and total
//! event-level scores. Wiring only: detectors and scoring live in detect/.

use super::EXIT_USAGE;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {}

pub fn run(_args: &EvalArgs) -> i32 {
    eprintln!("nocscope eval: not built yet");
    EXIT_USAGE
}
