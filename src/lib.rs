//! # deepq
//!
//! Deep Q-learning in pure Rust, with gym-style traits.
//!
//! deepq is built around four object-safe traits: [`Env`] (an episodic environment with a
//! continuous observation vector and discrete actions, Gymnasium's model), `Memory` (replay
//! memory), [`QNetwork`] (a trainable action-value function) and `Agent` (a learner that acts and
//! observes). It ships [`CartPole`], bit for bit as Gymnasium's `CartPole-v0` and `CartPole-v1`,
//! and [`check_env`], which verifies the [`Env`] contract on your own environments.
//! [`Mlp`] implements [`QNetwork`]: a multilayer perceptron written by hand on ndarray, with
//! backprop, the masked Bellman losses ([`Loss`]), PyTorch's optimizers ([`Optimizer`]) and, with
//! the default `safetensors` feature, weights files that PyTorch reads.
//!
//! Every random draw comes from an RNG that you seed: the same seed gives the same run, bit for
//! bit, on every machine.
//!
//! ## Quickstart
//! ```
//! use deepq::{CartPole, CheckConfig, Env, check_env};
//! use rand::{Rng, SeedableRng};
//! use rand_chacha::ChaCha8Rng;
//!
//! # fn main() -> deepq::Result<()> {
//! let mut env = CartPole::v0();
//! check_env(&mut env, &CheckConfig::default())?;
//!
//! let mut rng = ChaCha8Rng::seed_from_u64(0);
//! let mut observation = env.reset(&mut rng);
//! let mut score = 0.0;
//! loop {
//!     let step = env.step(rng.random_range(0..env.num_actions()))?;
//!     score += step.reward;
//!     observation = step.observation;
//!     if step.terminated || step.truncated {
//!         break;
//!     }
//! }
//! assert!(score >= 1.0 && observation.len() == 4);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod env;
mod error;
pub mod nn;

pub use env::{CartPole, CartPoleConfig, CheckConfig, Env, Step, check_env};
pub use error::{EnvRule, Error, Result};
pub use nn::{
    Activation, Init, Loss, Mlp, MlpConfig, Optimizer, OptimizerConfig, Output, QNetwork,
    TrainStats,
};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}
