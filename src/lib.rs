//! # deepq
//!
//! Deep Q-learning in pure Rust, with gym-style traits.
//!
//! deepq is built around four object-safe traits: [`Env`] (an episodic environment with a
//! continuous observation vector and discrete actions, Gymnasium's model), [`Memory`] (replay
//! memory), [`QNetwork`] (a trainable action-value function) and [`Agent`] (a learner that acts
//! and observes). Their implementations: [`CartPole`], bit for bit as Gymnasium's `CartPole-v0`
//! and `CartPole-v1`, [`Acrobot`] (`Acrobot-v1`) and [`MountainCar`] (`MountainCar-v0`), all
//! bit for bit as Gymnasium's (and [`check_env`], which verifies the [`Env`] contract on your
//! own environments); [`ReplayBuffer`] (uniform) and [`PrioritizedReplay`] (proportional prioritized
//! replay on a [`SumTree`]); [`Mlp`], a multilayer perceptron written by hand on ndarray, with
//! backprop, the masked Bellman losses ([`Loss`]), PyTorch's optimizers ([`Optimizer`]) and, with
//! the default `safetensors` feature, weights files that PyTorch reads and PyTorch state dicts
//! both ways ([`Mlp::from_torch_safetensors`], [`Mlp::to_torch_safetensors`]); and
//! [`DqnAgent`], a DQN
//! with the usual refinements as options, trained by [`train`] and measured by [`evaluate`].
//!
//! Around them, the training library: [`TrainConfig`] (episode and step budgets, the solve
//! rule, an episode-length guard, evaluation during training), observers that return
//! [`ControlFlow`](std::ops::ControlFlow) to stop a run, [`Trainer`] (a DQN run that evaluates
//! on an environment of its own, keeps the best network and saves checkpoints that resume bit
//! for bit), [`TensorBoardLogger`] (Stable-Baselines3's tags), [`Policy`] (a trained network
//! that acts through `&self`, for deployment) and [`TimeLimit`] (Gymnasium's wrapper). Vector
//! environments: [`VecEnv`] steps N environments together with Gymnasium's same-step autoreset,
//! one after another ([`SequentialVecEnv`]) or on worker threads ([`ThreadedVecEnv`]), with the
//! same results bit for bit; [`train_vec`] and [`Trainer::train_vec`] train on them with
//! Stable-Baselines3's counting (one environment: [`train`]'s run, bit for bit). And: the
//! supervised random-rollout baseline ([`collect_random_games`], [`train_classifier`]),
//! [`CartPole::render`], which draws a state as Gymnasium does into an RGB [`Frame`], and
//! [`SummaryWriter`], which logs scalars to event files that TensorBoard reads.
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

mod agent;
mod atomic_file;
mod baseline;
mod env;
mod error;
mod memory;
mod nn;
mod policy;
mod state_dict;
mod tensorboard;
mod train;

pub use agent::{
    Agent, DqnAgent, DqnConfig, Exploration, LearnStats, LearningRateDecay, MAX_GRADIENT_STEPS,
    MAX_N_STEP, TargetUpdate, TrainFrequency, ValueBounds,
};
pub use baseline::{
    ClassifierConfig, Dataset, RolloutConfig, RolloutStats, collect_random_games, play_classifier,
    train_classifier,
};
pub use env::{
    Acrobot, AcrobotConfig, CartPole, CartPoleConfig, CheckConfig, Env, Frame, MountainCar,
    MountainCarConfig, SequentialVecEnv, Step, StepInfo, ThreadedVecEnv, TimeLimit, VecEnv,
    VecStep, check_env,
};
pub use error::{EnvRule, Error, Result};
pub use memory::{
    Batch, Memory, PrioritizedConfig, PrioritizedReplay, ReplayBuffer, ReplayConfig, SumTree,
    Transition,
};
pub use nn::{
    Activation, Init, Loss, Mlp, MlpConfig, Optimizer, OptimizerConfig, Output, OutputPenalty,
    QNetwork, TrainStats,
};
pub use policy::Policy;
pub use state_dict::{StateDict, Tensor, TensorData};
pub use tensorboard::{ScalarEvent, SummaryWriter, read_scalars};
pub use train::{
    CutEpisode, DEFAULT_MAX_EPISODE_STEPS, EpisodeStats, EvalConfig, EvalStats, Evaluation,
    Interval, LogStep, StopReason, TensorBoardLogger, TrainConfig, TrainReport, Trainer,
    ValueStats, evaluate, evaluate_policy, evaluate_policy_capped, train, train_vec,
};

// The README's examples save checkpoints and weights: tested with the default features.
#[cfg(all(doctest, feature = "safetensors"))]
#[doc = include_str!("../README.md")]
mod readme {}
