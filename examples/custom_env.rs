//! # Writing your own environment
//!
//! A walk-through of implementing deepq's [`Env`] trait for an environment of your own, giving it
//! a time limit with the [`TimeLimit`] wrapper, checking it with [`check_env`] and playing it with
//! random actions.
//!
//! The environment, `SlipperyCorridor`: the agent stands in a corridor of `LENGTH` cells and must
//! reach the exit at the right end. Action 0 steps left, action 1 steps right; with probability
//! `SLIP` the floor is slippery and the agent does not move. Every step costs 0.01, reaching the
//! exit pays 1 and terminates the episode. The environment itself has no time limit: wrapped in
//! `TimeLimit`, its episodes are truncated after `TIME_LIMIT` steps.
//!
//! Run it with `cargo run --release --example custom_env`. It prints the checker's verdict, then
//! a few random episodes (return, length, how they ended) and their mean return.

use std::error::Error as StdError;

use clap::Parser;
use deepq::{CheckConfig, Env, Error, Result, Step, TimeLimit, check_env};
use ndarray::{Array1, array};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Cells in the corridor; the exit is the last one.
const LENGTH: usize = 10;
/// Probability that a move slips (the agent stays where it is).
const SLIP: f64 = 0.2;
/// Steps after which the episode is truncated (by the `TimeLimit` wrapper).
const TIME_LIMIT: usize = 100;
/// Seed of the whole example.
const SEED: u64 = 0;

/// Implements deepq's Env for a slippery corridor of its own, wraps it in a TimeLimit, checks it
/// with check_env and plays it with random actions. No flags but --help.
#[derive(Debug, Parser)]
#[command(name = "custom_env")]
struct Args {}

/// Step 1: the state. Keep everything the episode needs, including an RNG for randomness inside
/// `step` (seeded from the RNG handed to `reset`, so that a seed fixes the whole episode) and
/// where the episode stands (not started, running, ended). No step counter: the time limit is
/// not part of the environment (see `main`).
struct SlipperyCorridor {
    position: usize,
    status: Status,
    noise: ChaCha8Rng,
}

#[derive(Clone, Copy, PartialEq)]
enum Status {
    NotStarted,
    Running,
    Ended,
}

impl SlipperyCorridor {
    fn new() -> Self {
        Self { position: 0, status: Status::NotStarted, noise: ChaCha8Rng::seed_from_u64(0) }
    }

    /// Step 2: the observation, a fixed-length `f32` vector. Scaling features to about [0, 1]
    /// helps a neural network learn. The position is the whole state: with no clock in the
    /// environment, there is no time in the observation either.
    fn observation(&self) -> Array1<f32> {
        array![self.position as f32 / (LENGTH - 1) as f32]
    }
}

/// Step 3: implement the trait.
impl Env for SlipperyCorridor {
    fn observation_dim(&self) -> usize {
        1
    }

    fn num_actions(&self) -> usize {
        2
    }

    /// Start positions are random in the left half. Every draw comes from `rng`.
    fn reset(&mut self, rng: &mut dyn RngCore) -> Array1<f32> {
        self.position = rng.random_range(0..LENGTH / 2);
        self.noise = ChaCha8Rng::seed_from_u64(rng.next_u64());
        self.status = Status::Running;
        self.observation()
    }

    fn step(&mut self, action: usize) -> Result<Step> {
        // Step 4: reject what the contract says to reject, before changing anything.
        if action >= self.num_actions() {
            return Err(Error::InvalidAction { action, num_actions: self.num_actions() });
        }
        match self.status {
            Status::NotStarted => return Err(Error::StepBeforeReset),
            Status::Ended => return Err(Error::EpisodeEnded { truncated: false }),
            Status::Running => {}
        }

        // Step 5: the dynamics.
        if !self.noise.random_bool(SLIP) {
            self.position = match action {
                0 => self.position.saturating_sub(1),
                _ => (self.position + 1).min(LENGTH - 1),
            };
        }

        // Step 6: terminated means a terminal state (the exit): a learner never bootstraps
        // through it. This environment never truncates; the `TimeLimit` wrapper does.
        let terminated = self.position == LENGTH - 1;
        let reward = if terminated { 1.0 } else { -0.01 };
        if terminated {
            self.status = Status::Ended;
        }
        Ok(Step { observation: self.observation(), reward, terminated, truncated: false })
    }
}

/// Step 7: the time limit, Gymnasium's way: a wrapper around the environment (`gym.make` wraps
/// every registered environment in `TimeLimit`), not a part of it. The environment stays a pure
/// model of the corridor, and a cut at `TIME_LIMIT` steps is reported as `truncated`, never as
/// `terminated`: the corridor goes on after the cut, so a learner bootstraps through it, while
/// the exit really is terminal. A random walk finds the exit eventually, but a learner's early,
/// poor policy may not; the limit bounds every episode (and [`check_env`] needs episodes to end).
fn main() -> std::result::Result<(), Box<dyn StdError>> {
    Args::parse();
    let mut env = TimeLimit::new(SlipperyCorridor::new(), TIME_LIMIT)?;

    // Step 8: let the checker verify the contract (lengths, finite values, determinism under a
    // seed, invalid actions rejected, episodes end, no step after the end) on the wrapped
    // environment, the one that is played.
    check_env(&mut env, &CheckConfig::default().with_seed(SEED))?;
    println!(
        "check_env: SlipperyCorridor in a TimeLimit of {TIME_LIMIT} steps keeps the Env contract"
    );

    // Step 9: play. One RNG, seeded once, drives resets and the random policy.
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let episodes = 10;
    let mut total = 0.0;
    for episode in 0..episodes {
        env.reset(&mut rng);
        let (mut ret, mut len) = (0.0f32, 0);
        loop {
            let step = env.step(rng.random_range(0..env.num_actions()))?;
            ret += step.reward;
            len += 1;
            if step.terminated || step.truncated {
                let how = if step.terminated { "reached the exit" } else { "truncated" };
                println!("episode {episode}: return {ret:6.2}, {len:3} steps, {how}");
                break;
            }
        }
        total += ret;
    }
    println!(
        "mean return of the random policy over {episodes} episodes: {:.3}",
        total / episodes as f32
    );

    // Mistakes are errors, not panics:
    println!("after the end: {}", env.step(1).unwrap_err());
    env.reset(&mut rng);
    println!("a bad action: {}", env.step(5).unwrap_err());
    Ok(())
}
