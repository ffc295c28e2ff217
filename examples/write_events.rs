//! # Write a TensorBoard event file
//!
//! Runs a seeded random policy on CartPole-v1 for a few episodes and logs, per episode, the
//! return (`episode/return`) and the episode length (`episode/length`), plus a deterministic
//! series `check/linear` (value `0.25 * step`), to a new event file in the directory given as
//! the argument (default `runs/write_events`). It also writes `expected.csv` beside the
//! event file (`tag,step,value,f32 bits in hex`), which `scripts/check_tensorboard.py` compares
//! against what TensorBoard reads.
//!
//! Expected output: the path of the event file and `wrote 60 scalars`; then
//! `tensorboard --logdir runs` shows three charts.
//!
//! ```text
//! cargo run --release --example write_events -- [DIR]
//! ```

use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Parser;
use deepq::{CartPole, Env, SummaryWriter, read_scalars};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SEED: u64 = 0;
const EPISODES: i64 = 20;

/// Logs a seeded random policy's CartPole-v1 episodes to a new TensorBoard event file, with the
/// expected values beside it.
#[derive(Debug, Parser)]
#[command(name = "write_events")]
struct Args {
    /// The directory of the event file (created if missing).
    #[arg(value_name = "DIR", default_value = "runs/write_events")]
    dir: PathBuf,
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = Args::parse().dir;
    let mut writer = SummaryWriter::create(&dir)?;
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut env = CartPole::v1();
    let mut expected = String::from("tag,step,value,bits\n");
    let mut log = |writer: &mut SummaryWriter, tag: &str, value: f32, step: i64| {
        writeln!(expected, "{tag},{step},{value},{:08x}", value.to_bits()).expect("string write");
        writer.add_scalar(tag, value, step)
    };
    for episode in 0..EPISODES {
        env.reset(&mut rng);
        let (mut score, mut length) = (0.0f32, 0u32);
        loop {
            let step = env.step(rng.random_range(0..env.num_actions()))?;
            score += step.reward;
            length += 1;
            if step.done() {
                break;
            }
        }
        log(&mut writer, "episode/return", score, episode)?;
        log(&mut writer, "episode/length", length as f32, episode)?;
        log(&mut writer, "check/linear", 0.25 * episode as f32, episode)?;
    }
    writer.flush()?;
    let csv = dir.join("expected.csv");
    std::fs::write(&csv, expected)?;

    // Read the file back with deepq's own reader (checks both CRCs of every record).
    let count = read_scalars(writer.path())?.len();
    println!("{}", writer.path().display());
    println!("wrote {count} scalars; expected values in {}", csv.display());
    Ok(())
}
