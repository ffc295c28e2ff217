//! # Render one CartPole frame
//!
//! Resets CartPole-v1 with a seeded RNG, takes a few steps pushing right, and saves what
//! Gymnasium's `render_mode="rgb_array"` would show: a 600x400 RGB frame, written as a binary
//! PPM (no image encoder needed) to the path given as the argument (default `cartpole.ppm`).
//!
//! ```text
//! cargo run --release --example render_frame -- [PATH]
//! ```
//!
//! Expected output: `wrote cartpole.ppm (600x400), state [...]`; the image shows the black cart
//! on the track, right of centre, with the brown pole leaning left.

use std::error::Error;
use std::path::PathBuf;

use clap::Parser;
use deepq::{CartPole, Env};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const SEED: u64 = 0;
const STEPS: usize = 25;

/// Renders one seeded CartPole-v1 frame, as Gymnasium's rgb_array shows it, into a binary PPM.
#[derive(Debug, Parser)]
#[command(name = "render_frame")]
struct Args {
    /// Where to write the frame.
    #[arg(value_name = "PATH", default_value = "cartpole.ppm")]
    path: PathBuf,
}

fn main() -> Result<(), Box<dyn Error>> {
    let path = Args::parse().path;
    let mut env = CartPole::v1();
    env.reset(&mut ChaCha8Rng::seed_from_u64(SEED));
    for _ in 0..STEPS {
        if env.step(1)?.done() {
            break;
        }
    }
    let frame = env.render();
    std::fs::write(&path, frame.to_ppm())?;
    println!(
        "wrote {} ({}x{}), state {:?}",
        path.display(),
        frame.width,
        frame.height,
        env.state()
    );
    Ok(())
}
