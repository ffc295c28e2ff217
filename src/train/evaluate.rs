//! Greedy evaluation and its statistics.

use ndarray::ArrayView1;
use rand::RngCore;

use super::{DEFAULT_MAX_EPISODE_STEPS, check_dimensions};
use crate::agent::Agent;
use crate::env::{Env, copy_observation};
use crate::error::{Error, Result};

/// Summary statistics of a set of episodes.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalStats {
    /// Every return, in the order played.
    pub returns: Vec<f32>,
    /// Every episode's length in steps, in the order played.
    pub lengths: Vec<usize>,
    /// Mean return.
    pub mean: f32,
    /// Median return (the mean of the two middle values for an even count).
    pub median: f32,
    /// Standard deviation of the returns, population form (divides by n, as numpy's `std`).
    pub sd: f32,
    /// Lowest return.
    pub min: f32,
    /// Highest return.
    pub max: f32,
    /// Mean episode length.
    pub mean_length: f32,
}

impl EvalStats {
    /// The statistics of episodes with these returns and lengths.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if there are no episodes, [`Error::LengthMismatch`] if the two
    /// vectors differ in length, [`Error::NonFinite`] if a return is not finite.
    pub fn from_episodes(returns: Vec<f32>, lengths: Vec<usize>) -> Result<Self> {
        if returns.is_empty() {
            return Err(Error::invalid_config("episodes", "0", "must be at least 1"));
        }
        if returns.len() != lengths.len() {
            return Err(Error::LengthMismatch {
                what: "returns vs lengths",
                left: returns.len(),
                right: lengths.len(),
            });
        }
        if let Some(&v) = returns.iter().find(|v| !v.is_finite()) {
            return Err(Error::NonFinite { what: "episode return".into(), value: f64::from(v) });
        }
        let n = returns.len() as f64;
        let mean = returns.iter().map(|&r| f64::from(r)).sum::<f64>() / n;
        let var = returns.iter().map(|&r| (f64::from(r) - mean).powi(2)).sum::<f64>() / n;
        let mut sorted = returns.clone();
        sorted.sort_by(f32::total_cmp);
        let mid = sorted.len() / 2;
        let median = if sorted.len() % 2 == 1 {
            sorted[mid]
        } else {
            ((f64::from(sorted[mid - 1]) + f64::from(sorted[mid])) / 2.0) as f32
        };
        let mean_length = (lengths.iter().map(|&l| l as f64).sum::<f64>() / n) as f32;
        Ok(Self {
            mean: mean as f32,
            median,
            sd: var.sqrt() as f32,
            min: sorted[0],
            max: sorted[sorted.len() - 1],
            mean_length,
            returns,
            lengths,
        })
    }
}

/// Plays `episodes` episodes with `policy` (observation -> action) and returns their
/// statistics. Resets draw from `rng`. An episode that has not ended after
/// [`DEFAULT_MAX_EPISODE_STEPS`] steps is an error (see [`evaluate_policy_capped`]).
///
/// # Errors
/// [`Error::InvalidConfig`] for `episodes == 0`, [`Error::EpisodeTooLong`] for an episode
/// that does not end; errors of the policy and the environment are passed on.
pub fn evaluate_policy(
    env: &mut dyn Env,
    episodes: usize,
    rng: &mut dyn RngCore,
    policy: &mut dyn FnMut(ArrayView1<'_, f32>) -> Result<usize>,
) -> Result<EvalStats> {
    evaluate_policy_capped(env, episodes, DEFAULT_MAX_EPISODE_STEPS, rng, policy)
}

/// [`evaluate_policy`] with an explicit cap on the length of an episode.
///
/// # Errors
/// As [`evaluate_policy`]; also [`Error::InvalidConfig`] for `max_episode_steps == 0`.
pub fn evaluate_policy_capped(
    env: &mut dyn Env,
    episodes: usize,
    max_episode_steps: usize,
    rng: &mut dyn RngCore,
    policy: &mut dyn FnMut(ArrayView1<'_, f32>) -> Result<usize>,
) -> Result<EvalStats> {
    if episodes == 0 {
        return Err(Error::invalid_config("episodes", "0", "must be at least 1"));
    }
    if max_episode_steps == 0 {
        return Err(Error::invalid_config("max_episode_steps", "0", "must be at least 1"));
    }
    let dim = env.observation_dim();
    let mut observation = vec![0.0f32; dim];
    // Grown one episode at a time: a huge `episodes` fails by running, never by allocating.
    let (mut returns, mut lengths) = (Vec::new(), Vec::new());
    for episode in 1..=episodes {
        copy_observation("observation returned by reset", &env.reset(rng), &mut observation)?;
        let (mut total, mut length) = (0.0f32, 0usize);
        loop {
            if length == max_episode_steps {
                return Err(Error::EpisodeTooLong { episode, max_steps: max_episode_steps });
            }
            let action = policy(ArrayView1::from(&observation[..]))?;
            let step = env.step_into(action, &mut observation)?;
            total += step.reward;
            length += 1;
            if step.terminated || step.truncated {
                break;
            }
        }
        returns.push(total);
        lengths.push(length);
    }
    EvalStats::from_episodes(returns, lengths)
}

/// Plays `episodes` episodes with the agent's greedy policy (no exploration, no learning) and
/// returns their statistics. Resets draw from `rng`.
///
/// # Errors
/// [`Error::DimensionMismatch`] if the agent's observation size or number of actions is not
/// the environment's (checked before anything runs); otherwise as [`evaluate_policy`].
pub fn evaluate(
    agent: &mut dyn Agent,
    env: &mut dyn Env,
    episodes: usize,
    rng: &mut dyn RngCore,
) -> Result<EvalStats> {
    evaluate_capped(agent, env, episodes, DEFAULT_MAX_EPISODE_STEPS, rng)
}

/// [`evaluate`] with an explicit cap on the length of an episode.
pub(crate) fn evaluate_capped(
    agent: &mut dyn Agent,
    env: &mut dyn Env,
    episodes: usize,
    max_episode_steps: usize,
    rng: &mut dyn RngCore,
) -> Result<EvalStats> {
    check_dimensions(&*agent, &*env)?;
    evaluate_policy_capped(env, episodes, max_episode_steps, rng, &mut |obs| {
        agent.greedy_action(obs)
    })
}
