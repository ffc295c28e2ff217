//! # Writing your own environment
//!
//! A walk-through of implementing deepq's [`Env`] trait for an environment of your own, checking
//! it with [`check_env`] and playing it with random actions.
//!
//! The environment, `SlipperyCorridor`: the agent stands in a corridor of `LENGTH` cells and must
//! reach the exit at the right end. Action 0 steps left, action 1 steps right; with probability
//! `SLIP` the floor is slippery and the agent does not move. Every step costs 0.01, reaching the
//! exit pays 1 and terminates the episode; after `TIME_LIMIT` steps the episode is truncated.
//!
//! Run it with `cargo run --release --example custom_env`. It prints the checker's verdict, then
//! a few random episodes (return, length, how they ended) and their mean return.

use std::error::Error as StdError;

use deepq::{CheckConfig, Env, Error, Result, Step, check_env};
use ndarray::{Array1, array};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Cells in the corridor; the exit is the last one.
const LENGTH: usize = 10;
/// Probability that a move slips (the agent stays where it is).
const SLIP: f64 = 0.2;
/// Steps after which the episode is truncated.
const TIME_LIMIT: usize = 100;
/// Seed of the whole example.
const SEED: u64 = 0;

/// Step 1: the state. Keep everything the episode needs, including an RNG for randomness inside
/// `step` (seeded from the RNG handed to `reset`, so that a seed fixes the whole episode) and
/// where the episode stands (not started, running, ended).
struct SlipperyCorridor {
    position: usize,
    steps: usize,
    status: Status,
    noise: ChaCha8Rng,
}

#[derive(Clone, Copy, PartialEq)]
enum Status {
    NotStarted,
    Running,
    Ended { truncated: bool },
}

impl SlipperyCorridor {
    fn new() -> Self {
        Self {
            position: 0,
            steps: 0,
            status: Status::NotStarted,
            noise: ChaCha8Rng::seed_from_u64(0),
        }
    }

    /// Step 2: the observation, a fixed-length `f32` vector. Scaling features to about [0, 1]
    /// helps a neural network learn.
    fn observation(&self) -> Array1<f32> {
        array![self.position as f32 / (LENGTH - 1) as f32, self.steps as f32 / TIME_LIMIT as f32]
    }
}

/// Step 3: implement the trait.
impl Env for SlipperyCorridor {
    fn observation_dim(&self) -> usize {
        2
    }

    fn num_actions(&self) -> usize {
        2
    }

    /// Start positions are random in the left half. Every draw comes from `rng`.
    fn reset(&mut self, rng: &mut dyn RngCore) -> Array1<f32> {
        self.position = rng.random_range(0..LENGTH / 2);
        self.noise = ChaCha8Rng::seed_from_u64(rng.next_u64());
        self.steps = 0;
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
            Status::Ended { truncated } => return Err(Error::EpisodeEnded { truncated }),
            Status::Running => {}
        }

        // Step 5: the dynamics.
        if !self.noise.random_bool(SLIP) {
            self.position = match action {
                0 => self.position.saturating_sub(1),
                _ => (self.position + 1).min(LENGTH - 1),
            };
        }
        self.steps += 1;

        // Step 6: terminated (a terminal state: the exit) is not truncated (the time limit).
        // A learner bootstraps through truncation and never through termination.
        let terminated = self.position == LENGTH - 1;
        let truncated = self.steps >= TIME_LIMIT;
        let reward = if terminated { 1.0 } else { -0.01 };
        if terminated || truncated {
            self.status = Status::Ended { truncated: truncated && !terminated };
        }
        Ok(Step { observation: self.observation(), reward, terminated, truncated })
    }
}

fn main() -> std::result::Result<(), Box<dyn StdError>> {
    let mut env = SlipperyCorridor::new();

    // Step 7: let the checker verify the contract (lengths, finite values, determinism under a
    // seed, invalid actions rejected, episodes end, no step after the end).
    check_env(&mut env, &CheckConfig::default().with_seed(SEED))?;
    println!("check_env: SlipperyCorridor keeps the Env contract");

    // Step 8: play. One RNG, seeded once, drives resets and the random policy.
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
