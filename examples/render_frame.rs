//! # Render one CartPole frame
//!
//! Resets CartPole-v1 with a seeded RNG, takes a few steps pushing right, and saves what
//! Gymnasium's `render_mode="rgb_array"` would show: a 600x400 RGB frame, written as a binary
//! PPM (no image encoder needed) to the path given as the first argument (default
//! `cartpole.ppm`).
//!
//! Expected output: `wrote cartpole.ppm (600x400), state [...]`; the image shows the black cart
//! on the track, right of centre, with the brown pole leaning left.

use std::error::Error;

use deepq::{CartPole, Env};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const SEED: u64 = 0;
const STEPS: usize = 25;

fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "cartpole.ppm".into());
    let mut env = CartPole::v1();
    env.reset(&mut ChaCha8Rng::seed_from_u64(SEED));
    for _ in 0..STEPS {
        if env.step(1)?.done() {
            break;
        }
    }
    let frame = env.render();
    std::fs::write(&path, frame.to_ppm())?;
    println!("wrote {path} ({}x{}), state {:?}", frame.width, frame.height, env.state());
    Ok(())
}
