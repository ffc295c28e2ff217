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
    /// How the agent's value estimates compare with what its greedy policy earned, when the
    /// agent gives values ([`evaluate`] with a [`DqnAgent`](crate::DqnAgent); `None` from
    /// [`evaluate_policy`] and [`from_episodes`](EvalStats::from_episodes)).
    pub values: Option<ValueStats>,
}

/// The agent's value estimates along its greedy evaluation episodes, against the returns it
/// actually earned: the way to see a value function diverge before it costs a run.
///
/// For an agent that estimates well, `mean_start_value` is close to `mean_discounted_return`
/// on tasks whose greedy episodes terminate; on episodes cut by a time limit the discounted
/// return leaves out what would have come after the cut (at most `gamma^T * r_max / (1 -
/// gamma)` after `T` steps), so it is a lower bound. No discounted return of rewards at most
/// `r_max` exceeds `r_max / (1 - gamma)`: a `max_value` far above that is overestimation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValueStats {
    /// The discount factor (the agent's).
    pub gamma: f32,
    /// Mean over the episodes of the value of the first state, `max_a Q(s0, a) = Q(s0, a0)`.
    pub mean_start_value: f32,
    /// Mean over the episodes of the discounted return from the first state,
    /// `sum_t gamma^t r_{t+1}`.
    pub mean_discounted_return: f32,
    /// The largest value `max_a Q(s, a)` over every state visited.
    pub max_value: f32,
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
            values: None,
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
    play(env, episodes, max_episode_steps, rng, None, &mut |obs| Ok((policy(obs)?, None)))
}

/// A policy that gives the action and, maybe, its value estimate.
type ValuedPolicy<'a> = dyn FnMut(ArrayView1<'_, f32>) -> Result<(usize, Option<f32>)> + 'a;

/// Plays the episodes; with `gamma` and a policy that gives values, also the value statistics.
fn play(
    env: &mut dyn Env,
    episodes: usize,
    max_episode_steps: usize,
    rng: &mut dyn RngCore,
    gamma: Option<f32>,
    policy: &mut ValuedPolicy<'_>,
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
    // Sums in f64 of the start values and discounted returns; `None` once a value is missing.
    let mut values = gamma.map(|g| (g, 0.0f64, 0.0f64, f32::NEG_INFINITY));
    for episode in 1..=episodes {
        copy_observation("observation returned by reset", &env.reset(rng), &mut observation)?;
        let (mut total, mut length) = (0.0f32, 0usize);
        let (mut discounted, mut discount) = (0.0f64, 1.0f64);
        loop {
            if length == max_episode_steps {
                return Err(Error::EpisodeTooLong { episode, max_steps: max_episode_steps });
            }
            let (action, value) = policy(ArrayView1::from(&observation[..]))?;
            match value {
                Some(v) => {
                    if let Some((_, start_sum, _, max)) = values.as_mut() {
                        if length == 0 {
                            *start_sum += f64::from(v);
                        }
                        *max = max.max(v);
                    }
                }
                None => values = None,
            }
            let step = env.step_into(action, &mut observation)?;
            total += step.reward;
            length += 1;
            if let Some((g, ..)) = values {
                discounted += discount * f64::from(step.reward);
                discount *= f64::from(g);
            }
            if step.terminated || step.truncated {
                break;
            }
        }
        if let Some((_, _, return_sum, _)) = values.as_mut() {
            *return_sum += discounted;
        }
        returns.push(total);
        lengths.push(length);
    }
    let n = returns.len() as f64;
    let mut stats = EvalStats::from_episodes(returns, lengths)?;
    stats.values = values.map(|(gamma, start_sum, return_sum, max_value)| ValueStats {
        gamma,
        mean_start_value: (start_sum / n) as f32,
        mean_discounted_return: (return_sum / n) as f32,
        max_value,
    });
    Ok(stats)
}

/// Plays `episodes` episodes with the agent's greedy policy (no exploration, no learning) and
/// returns their statistics, with [`ValueStats`] when the agent gives its value estimates
/// ([`Agent::greedy_action_and_value`] and [`Agent::discount`], as [`DqnAgent`](crate::DqnAgent)
/// does). Resets draw from `rng`.
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
    let gamma = agent.discount();
    play(env, episodes, max_episode_steps, rng, gamma, &mut |obs| {
        agent.greedy_action_and_value(obs)
    })
}
