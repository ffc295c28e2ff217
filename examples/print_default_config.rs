//! # Print the default DQN config as JSON
//!
//! Prints `DqnConfig::default()` as one JSON object on one line, every field included, as the
//! library's `serde` feature writes it (the form `--config` files of the trainer take): enums by
//! their variant names (`{"Polyak": {"tau": 0.01}}`, `"ObservedRewards"`), `f32` values as their
//! shortest decimals.
//!
//! The peer benchmark (`benchmarks/peers/torch_dqn.py`, driven by `benchmarks/compare.sh`) reads
//! this object, so that the PyTorch DQN always runs deepq's current defaults.
//!
//! ```text
//! cargo run --release --example print_default_config [-- --task Acrobot-v1]
//! ```
//!
//! `--task ID` prints `DqnConfig::for_task(ID)` instead. The fields are printed as they are, so
//! `prioritized.capacity` and `prioritized.observation_dim` show `PrioritizedConfig`'s own
//! values: `DqnAgent::new` replaces them with `memory_size` and the environment's observation
//! size, and so does the PyTorch script.

use clap::Parser;
use deepq::DqnConfig;

/// Prints a DQN config as one line of JSON.
#[derive(Debug, Parser)]
struct Args {
    /// A Gymnasium id: print `DqnConfig::for_task(ID)` instead of the default.
    #[arg(long, value_name = "ID")]
    task: Option<String>,
}

fn main() -> Result<(), serde_json::Error> {
    let args = Args::parse();
    let config = args.task.as_deref().map_or_else(DqnConfig::default, DqnConfig::for_task);
    println!("{}", serde_json::to_string(&config)?);
    Ok(())
}
