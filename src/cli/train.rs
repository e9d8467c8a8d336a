//! `nocscope train`: reads one series (history store, CSV or recording), trains an LSTM
//! autoencoder with a progress line and saves the model. Wiring only: the maths is detect/'s.

use super::{Cli, EXIT_USAGE};

#[derive(Debug, clap::Args)]
pub struct TrainArgs {}

pub fn run(_args: &TrainArgs, _cli: &Cli) -> i32 {
    eprintln!("nocscope train: not built yet");
    EXIT_USAGE
}
