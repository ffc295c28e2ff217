//! [`check_env`]: Gymnasium's environment checker for deepq's [`Env`] contract.

use ndarray::Array1;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{Env, EnvRule, Error, Result};

/// Settings of [`check_env`].
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct CheckConfig {
    /// Seed of every random draw of the check (resets and actions). Default 0.
    pub seed: u64,
    /// Episodes played, each twice (default 3).
    pub episodes: usize,
    /// An episode that has not ended after this many steps breaks [`EnvRule::EpisodeEnds`]
    /// (default 100,000).
    pub max_steps: usize,
}

impl Default for CheckConfig {
    fn default() -> Self {
        Self { seed: 0, episodes: 3, max_steps: 100_000 }
    }
}

impl CheckConfig {
    /// Sets `seed` (default 0).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets `episodes` (default 3).
    pub fn with_episodes(mut self, episodes: usize) -> Self {
        self.episodes = episodes;
        self
    }

    /// Sets `max_steps` (default 100,000).
    pub fn with_max_steps(mut self, max_steps: usize) -> Self {
        self.max_steps = max_steps;
        self
    }
}

/// Checks that an environment keeps the [`Env`] contract, as Gymnasium's `check_env` does.
///
/// It plays `config.episodes` episodes with uniformly random actions, each twice from equally
/// seeded RNGs, and verifies every [`EnvRule`]:
/// - `observation_dim()` and `num_actions()` are at least 1;
/// - every observation has `observation_dim()` values, all finite; every reward is finite;
/// - two resets with equal seeds give the same observation, and the same seed and actions give
///   the same episode, bit for bit;
/// - the actions `num_actions()` and `usize::MAX` are rejected with an error and leave the
///   episode unchanged; valid actions are accepted while the episode runs;
/// - every episode ends (terminated or truncated) within `config.max_steps` steps;
/// - a step after the end is rejected with an error.
///
/// # Errors
/// [`Error::EnvCheck`] naming the first broken rule and the values that broke it;
/// [`Error::InvalidConfig`] if `config.episodes` or `config.max_steps` is 0.
///
/// # Examples
/// ```
/// use deepq::{CartPole, CheckConfig, check_env};
///
/// # fn main() -> deepq::Result<()> {
/// check_env(&mut CartPole::v1(), &CheckConfig::default())?;
/// # Ok(())
/// # }
/// ```
pub fn check_env(env: &mut dyn Env, config: &CheckConfig) -> Result<()> {
    if config.episodes == 0 {
        return Err(Error::InvalidConfig {
            field: "episodes",
            value: "0".into(),
            rule: "must be at least 1",
        });
    }
    if config.max_steps == 0 {
        return Err(Error::InvalidConfig {
            field: "max_steps",
            value: "0".into(),
            rule: "must be at least 1",
        });
    }
    let (obs_dim, num_actions) = (env.observation_dim(), env.num_actions());
    if obs_dim == 0 || num_actions == 0 {
        return Err(broken(
            EnvRule::NonEmptySpaces,
            format!("observation_dim() = {obs_dim}, num_actions() = {num_actions}"),
        ));
    }

    let mut seeds = ChaCha8Rng::seed_from_u64(config.seed);
    for episode in 0..config.episodes {
        let env_seed = seeds.next_u64();
        let mut actions = ChaCha8Rng::seed_from_u64(seeds.next_u64());
        let mut choose = |_: usize| actions.random_range(0..num_actions);
        let first = play(env, env_seed, config.max_steps, episode, &mut choose, None)?;
        let mut replay = |i: usize| first.actions.get(i).copied().unwrap_or(0);
        play(env, env_seed, first.actions.len(), episode, &mut replay, Some(&first))?;
    }
    Ok(())
}

fn broken(rule: EnvRule, detail: String) -> Error {
    Error::EnvCheck { rule, detail }
}

/// What one episode produced.
struct Trajectory {
    observations: Vec<Array1<f32>>,
    rewards: Vec<f32>,
    ends: Vec<(bool, bool)>,
    actions: Vec<usize>,
}

fn check_observation(obs: &Array1<f32>, dim: usize, where_: &str) -> Result<()> {
    if obs.len() != dim {
        return Err(broken(
            EnvRule::ObservationLength,
            format!("{where_} returned {} values, observation_dim() is {dim}", obs.len()),
        ));
    }
    if let Some((i, v)) = obs.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(broken(
            EnvRule::FiniteObservation,
            format!("{where_}: observation[{i}] = {v}"),
        ));
    }
    Ok(())
}

/// Plays one episode. With a `reference`, it first tries invalid actions right after the reset
/// and then requires every observation, reward and end flag to equal the reference's.
fn play(
    env: &mut dyn Env,
    seed: u64,
    max_steps: usize,
    episode: usize,
    choose: &mut dyn FnMut(usize) -> usize,
    reference: Option<&Trajectory>,
) -> Result<Trajectory> {
    let (dim, num_actions) = (env.observation_dim(), env.num_actions());
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let first = env.reset(&mut rng);
    check_observation(&first, dim, &format!("reset (episode {episode})"))?;
    if let Some(r) = reference {
        if let Some(i) = differs(&first, &r.observations[0]) {
            return Err(broken(
                EnvRule::DeterministicReset,
                format!(
                    "two resets with seed {seed} gave observation[{i}] = {} and then {}",
                    r.observations[0][i], first[i]
                ),
            ));
        }
        for bad in [num_actions, usize::MAX] {
            if let Ok(step) = env.step(bad) {
                return Err(broken(
                    EnvRule::InvalidActionRejected,
                    format!(
                        "action {bad} with num_actions() = {num_actions} returned Ok (reward {})",
                        step.reward
                    ),
                ));
            }
        }
    }
    let mut t = Trajectory {
        observations: vec![first],
        rewards: Vec::new(),
        ends: Vec::new(),
        actions: Vec::new(),
    };
    for step_index in 0..max_steps {
        let action = choose(step_index);
        let where_ = format!("step {step_index} of episode {episode}");
        let step = env.step(action).map_err(|e| {
            broken(
                EnvRule::ValidActionAccepted,
                format!("{where_} with action {action} failed: {e}"),
            )
        })?;
        check_observation(&step.observation, dim, &where_)?;
        if !step.reward.is_finite() {
            return Err(broken(
                EnvRule::FiniteReward,
                format!("{where_}: reward = {}", step.reward),
            ));
        }
        let end = (step.terminated, step.truncated);
        if let Some(r) = reference {
            let same_obs = differs(&step.observation, &r.observations[step_index + 1]).is_none();
            let same = same_obs
                && step.reward.to_bits() == r.rewards[step_index].to_bits()
                && end == r.ends[step_index];
            if !same {
                return Err(broken(
                    EnvRule::DeterministicEpisode,
                    format!(
                        "{where_} replayed with seed {seed} and the same actions gave \
                         (obs {}, reward {}, terminated {}, truncated {}) where the first run gave \
                         (obs {}, reward {}, terminated {}, truncated {}){}",
                        step.observation,
                        step.reward,
                        end.0,
                        end.1,
                        r.observations[step_index + 1],
                        r.rewards[step_index],
                        r.ends[step_index].0,
                        r.ends[step_index].1,
                        if step_index == 0 {
                            " (the replay had tried invalid actions first, which must not change \
                             the episode)"
                        } else {
                            ""
                        }
                    ),
                ));
            }
        }
        t.observations.push(step.observation);
        t.rewards.push(step.reward);
        t.ends.push(end);
        t.actions.push(action);
        if step.terminated || step.truncated {
            if let Ok(after) = env.step(0) {
                return Err(broken(
                    EnvRule::StepAfterEndRejected,
                    format!(
                        "episode {episode} ended at step {step_index} (terminated = {}, \
                         truncated = {}), but the next step returned Ok (reward {})",
                        end.0, end.1, after.reward
                    ),
                ));
            }
            return Ok(t);
        }
    }
    Err(broken(
        EnvRule::EpisodeEnds,
        format!("episode {episode} had not ended after {max_steps} steps of random actions"),
    ))
}

/// The first index where two observations differ bit for bit (or in length).
fn differs(a: &Array1<f32>, b: &Array1<f32>) -> Option<usize> {
    if a.len() != b.len() {
        return Some(a.len().min(b.len()));
    }
    a.iter().zip(b).position(|(x, y)| x.to_bits() != y.to_bits())
}
