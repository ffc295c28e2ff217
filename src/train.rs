//! The training loop, greedy evaluation and their statistics.

use ndarray::ArrayView1;
use rand::RngCore;

use crate::env::copy_observation;
use crate::{Agent, Env, Error, Result, Transition};

/// Settings of [`train`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// The most episodes to train for (default 300).
    pub episodes: usize,
    /// The trailing mean return at which the task counts as solved, for example
    /// [`CartPole::reward_threshold`](crate::CartPole::reward_threshold). `None` (the default)
    /// never declares the task solved.
    pub reward_threshold: Option<f32>,
    /// How many trailing episodes the solve rule averages (default 100, the classic rule).
    pub solve_window: usize,
    /// Stop as soon as the task is solved (default `true`).
    pub stop_when_solved: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self { episodes: 300, reward_threshold: None, solve_window: 100, stop_when_solved: true }
    }
}

impl TrainConfig {
    /// Sets `episodes` (default 300).
    pub fn with_episodes(mut self, episodes: usize) -> Self {
        self.episodes = episodes;
        self
    }

    /// Sets `reward_threshold` (default `None`).
    pub fn with_reward_threshold(mut self, threshold: f32) -> Self {
        self.reward_threshold = Some(threshold);
        self
    }

    /// Sets `solve_window` (default 100).
    pub fn with_solve_window(mut self, window: usize) -> Self {
        self.solve_window = window;
        self
    }

    /// Sets `stop_when_solved` (default `true`).
    pub fn with_stop_when_solved(mut self, stop: bool) -> Self {
        self.stop_when_solved = stop;
        self
    }

    /// Checks every rule of the config.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for `episodes == 0`, `solve_window == 0` or a non-finite
    /// threshold.
    pub fn validate(&self) -> Result<()> {
        if self.episodes == 0 {
            return Err(Error::invalid_config("episodes", "0", "must be at least 1"));
        }
        if self.solve_window == 0 {
            return Err(Error::invalid_config("solve_window", "0", "must be at least 1"));
        }
        if let Some(t) = self.reward_threshold.filter(|t| !t.is_finite()) {
            return Err(Error::invalid_config("reward_threshold", t, "must be finite"));
        }
        Ok(())
    }
}

/// What happened in one training episode, handed to the observer of [`train`].
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeStats {
    /// The episode's number, from 1.
    pub episode: usize,
    /// The sum of the episode's rewards.
    pub episode_return: f32,
    /// The episode's number of steps.
    pub length: usize,
    /// The agent's exploration rate at the end of the episode.
    pub epsilon: f32,
    /// Mean training loss of the updates made during the episode, if any.
    pub loss: Option<f32>,
    /// Mean return of the last `solve_window` episodes (or of all, while there are fewer).
    pub trailing_mean: f32,
    /// Environment steps since training began.
    pub env_steps: usize,
    /// Gradient steps since training began.
    pub gradient_steps: usize,
    /// Whether the episode ended by termination (rather than truncation).
    pub terminated: bool,
}

/// What [`train`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    /// Return of every episode, in order.
    pub returns: Vec<f32>,
    /// Length of every episode, in order.
    pub lengths: Vec<usize>,
    /// The first episode (numbered from 1) at which the mean return of the last `solve_window`
    /// episodes reached the threshold; `None` if it never did. The classic rule: never before
    /// `solve_window` episodes have been played.
    pub solved_at: Option<usize>,
    /// Environment steps taken.
    pub env_steps: usize,
    /// Gradient steps taken.
    pub gradient_steps: usize,
}

impl TrainReport {
    /// Episodes played.
    pub fn episodes(&self) -> usize {
        self.returns.len()
    }

    /// Whether the task was solved.
    pub fn solved(&self) -> bool {
        self.solved_at.is_some()
    }
}

/// Trains `agent` on `env` for up to `config.episodes` episodes.
///
/// Each step: `agent.act` (exploring), `env.step_into`, `agent.observe` with the transition (its
/// `terminated` and `truncated` flags kept apart), `agent.learn`. After each episode `observer`
/// receives its [`EpisodeStats`]. With a `reward_threshold`, the task is solved at the first
/// episode where the mean of the last `solve_window` returns reaches it; with
/// `stop_when_solved` training stops there.
///
/// All randomness (resets, exploration, replay sampling) comes from `rng`.
///
/// # Errors
/// [`Error::InvalidConfig`] for a bad config; errors of the environment or the agent are passed
/// on (an observation that does not fit the agent, a non-finite value from a custom env, ...).
///
/// # Examples
/// ```no_run
/// use deepq::{CartPole, DqnAgent, DqnConfig, Env, TrainConfig, train};
/// use rand::SeedableRng;
/// use rand_chacha::ChaCha8Rng;
///
/// # fn main() -> deepq::Result<()> {
/// let config = DqnConfig::default();
/// let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
/// let mut env = CartPole::v0();
/// let mut agent = DqnAgent::new(config, env.observation_dim(), env.num_actions(), &mut rng)?;
/// let train_config = TrainConfig::default().with_reward_threshold(env.reward_threshold());
/// let report = train(&mut agent, &mut env, &train_config, &mut rng, &mut |_| {})?;
/// println!("solved at episode {:?}", report.solved_at);
/// # Ok(())
/// # }
/// ```
pub fn train(
    agent: &mut dyn Agent,
    env: &mut dyn Env,
    config: &TrainConfig,
    rng: &mut dyn RngCore,
    observer: &mut dyn FnMut(&EpisodeStats),
) -> Result<TrainReport> {
    config.validate()?;
    let mut report = TrainReport {
        returns: Vec::with_capacity(config.episodes),
        lengths: Vec::with_capacity(config.episodes),
        solved_at: None,
        env_steps: 0,
        gradient_steps: 0,
    };
    let mut window_sum = 0.0f64;
    // Two observation buffers, swapped after every step: no allocation per step.
    let dim = env.observation_dim();
    let (mut observation, mut next) = (vec![0.0f32; dim], vec![0.0f32; dim]);
    for episode in 1..=config.episodes {
        copy_observation("observation returned by reset", &env.reset(rng), &mut observation)?;
        let (mut episode_return, mut length) = (0.0f32, 0usize);
        let (mut loss_sum, mut updates) = (0.0f64, 0usize);
        let terminated = loop {
            let action = agent.act(ArrayView1::from(&observation[..]), rng)?;
            let step = env.step_into(action, &mut next)?;
            agent.observe(Transition {
                observation: ArrayView1::from(&observation[..]),
                action,
                reward: step.reward,
                next_observation: ArrayView1::from(&next[..]),
                terminated: step.terminated,
                truncated: step.truncated,
            })?;
            if let Some(stats) = agent.learn(rng)? {
                loss_sum += f64::from(stats.loss) * stats.gradient_steps as f64;
                updates += stats.gradient_steps;
            }
            episode_return += step.reward;
            length += 1;
            report.env_steps += 1;
            if step.terminated || step.truncated {
                break step.terminated;
            }
            std::mem::swap(&mut observation, &mut next);
        };
        report.gradient_steps += updates;
        report.returns.push(episode_return);
        report.lengths.push(length);
        window_sum += f64::from(episode_return);
        if report.returns.len() > config.solve_window {
            window_sum -= f64::from(report.returns[report.returns.len() - 1 - config.solve_window]);
        }
        let in_window = report.returns.len().min(config.solve_window);
        let trailing_mean = (window_sum / in_window as f64) as f32;
        observer(&EpisodeStats {
            episode,
            episode_return,
            length,
            epsilon: agent.epsilon(),
            loss: (updates > 0).then(|| (loss_sum / updates as f64) as f32),
            trailing_mean,
            env_steps: report.env_steps,
            gradient_steps: report.gradient_steps,
            terminated,
        });
        if report.solved_at.is_none()
            && in_window == config.solve_window
            && config.reward_threshold.is_some_and(|t| trailing_mean >= t)
        {
            report.solved_at = Some(episode);
            if config.stop_when_solved {
                break;
            }
        }
    }
    Ok(report)
}

/// Summary statistics of a set of episode returns.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalStats {
    /// Every return, in the order played.
    pub returns: Vec<f32>,
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
}

impl EvalStats {
    /// The statistics of `returns`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if `returns` is empty, [`Error::NonFinite`] if a return is not
    /// finite.
    pub fn from_returns(returns: Vec<f32>) -> Result<Self> {
        if returns.is_empty() {
            return Err(Error::invalid_config("episodes", "0", "must be at least 1"));
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
        Ok(Self {
            mean: mean as f32,
            median,
            sd: var.sqrt() as f32,
            min: sorted[0],
            max: sorted[sorted.len() - 1],
            returns,
        })
    }
}

/// Plays `episodes` episodes with `policy` (observation -> action) and returns the statistics
/// of their returns. Resets draw from `rng`.
///
/// # Errors
/// [`Error::InvalidConfig`] for `episodes == 0`; errors of the policy and the environment are
/// passed on.
pub fn evaluate_policy(
    env: &mut dyn Env,
    episodes: usize,
    rng: &mut dyn RngCore,
    policy: &mut dyn FnMut(ArrayView1<'_, f32>) -> Result<usize>,
) -> Result<EvalStats> {
    if episodes == 0 {
        return Err(Error::invalid_config("episodes", "0", "must be at least 1"));
    }
    let dim = env.observation_dim();
    let mut observation = vec![0.0f32; dim];
    let mut returns = Vec::with_capacity(episodes);
    for _ in 0..episodes {
        copy_observation("observation returned by reset", &env.reset(rng), &mut observation)?;
        let mut total = 0.0f32;
        loop {
            let action = policy(ArrayView1::from(&observation[..]))?;
            let step = env.step_into(action, &mut observation)?;
            total += step.reward;
            if step.terminated || step.truncated {
                break;
            }
        }
        returns.push(total);
    }
    EvalStats::from_returns(returns)
}

/// Plays `episodes` episodes with the agent's greedy policy (no exploration, no learning) and
/// returns the statistics of their returns. Resets draw from `rng`.
///
/// # Errors
/// As [`evaluate_policy`].
pub fn evaluate(
    agent: &mut dyn Agent,
    env: &mut dyn Env,
    episodes: usize,
    rng: &mut dyn RngCore,
) -> Result<EvalStats> {
    evaluate_policy(env, episodes, rng, &mut |obs| agent.greedy_action(obs))
}
