//! The training loop: [`train`] for any [`Agent`], the [`Trainer`] run object for a DQN (with
//! evaluation, best weights and checkpoints), greedy evaluation, and TensorBoard logging.

#[cfg(feature = "safetensors")]
mod checkpoint;
mod config;
mod evaluate;
mod logger;
mod run;
mod trainer;

pub use config::{DEFAULT_MAX_EPISODE_STEPS, EvalConfig, Interval, TrainConfig};
pub use evaluate::{EvalStats, ValueStats, evaluate, evaluate_policy, evaluate_policy_capped};
pub use logger::{LogStep, TensorBoardLogger};
pub use trainer::Trainer;

use std::ops::ControlFlow;

use rand::RngCore;

use crate::agent::Agent;
use crate::env::{Env, VecEnv};
use crate::error::{Error, Result};
use crate::policy::Policy;

/// What happened in one training episode, handed to the observer of [`train`] and
/// [`Trainer::train`].
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeStats {
    /// The episode's number, from 1 (counted over the whole run).
    pub episode: usize,
    /// The sum of the episode's rewards.
    pub episode_return: f32,
    /// The episode's number of steps.
    pub length: usize,
    /// The agent's exploration rate at the end of the episode.
    pub epsilon: f32,
    /// Mean training loss of the updates made during the episode, if any.
    pub loss: Option<f32>,
    /// Mean Q-value of the taken actions in the batches the agent trained on during the
    /// episode (before each update), if any: a value estimate that keeps growing past what the
    /// task can pay is the first sign of divergence.
    pub mean_q: Option<f32>,
    /// The learning rate of the agent's next update, if it has one.
    pub learning_rate: Option<f32>,
    /// Mean return of the last `solve_window` episodes (or of all, while there are fewer).
    pub trailing_mean: f32,
    /// Mean length of the last `solve_window` episodes (or of all, while there are fewer).
    pub trailing_mean_length: f32,
    /// Environment steps since training began.
    pub env_steps: usize,
    /// Gradient steps since training began.
    pub gradient_steps: usize,
    /// Whether the episode ended by termination (rather than truncation).
    pub terminated: bool,
    /// The greedy evaluation run after this episode, if one was due.
    pub evaluation: Option<Evaluation>,
}

/// One greedy evaluation during training.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The training episode after which it ran.
    pub episode: usize,
    /// Environment steps of training when it ran.
    pub env_steps: usize,
    /// Its episodes' statistics.
    pub stats: EvalStats,
    /// Whether it is the best so far (strictly the highest mean; the first evaluation is).
    pub best_so_far: bool,
}

/// Why training stopped.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StopReason {
    /// The episode budget ([`TrainConfig::episodes`]) was spent.
    EpisodeBudget,
    /// The step budget ([`TrainConfig::max_env_steps`]) was spent.
    StepBudget,
    /// The task was solved and `stop_when_solved` is set.
    Solved,
    /// The observer returned `ControlFlow::Break`.
    Observer,
    /// An error ended training (the message; the error itself was returned). Only a
    /// [`Trainer`] keeps a report after an error.
    Error(String),
}

/// An episode that the step budget cut before it ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CutEpisode {
    /// The rewards collected until the cut.
    pub partial_return: f32,
    /// The steps taken until the cut.
    pub length: usize,
}

/// What [`train`] and [`Trainer::train`] return.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    /// Return of every episode, in order (over the whole run, for a [`Trainer`]).
    pub returns: Vec<f32>,
    /// Length of every episode, in order.
    pub lengths: Vec<usize>,
    /// The first episode (numbered from 1) at which the mean return of the last `solve_window`
    /// episodes reached the threshold; `None` if it never did. The classic rule: never before
    /// `solve_window` episodes have been played.
    pub solved_at: Option<usize>,
    /// Environment steps taken (a cut episode's included).
    pub env_steps: usize,
    /// Gradient steps taken.
    pub gradient_steps: usize,
    /// Why training stopped.
    pub stop_reason: StopReason,
    /// The episode the step budget cut, if it cut one: the first of
    /// [`cut_episodes`](TrainReport::cut_episodes).
    pub cut_episode: Option<CutEpisode>,
    /// Every episode the last call stopped while it was running (not counted: not in
    /// `returns`, not in the solve rule, not handed to the observer; its transitions are in the
    /// memory). With one environment only the step budget cuts, at most one episode. In a
    /// vector run every stop leaves the other sub-environments' episodes running: they are all
    /// here, in sub-environment order, whatever stopped training (a budget, the solve rule or
    /// the observer), including those that ended in the stopping vector step after the episode
    /// that stopped it.
    pub cut_episodes: Vec<CutEpisode>,
    /// Every evaluation during training, in order.
    pub evaluations: Vec<Evaluation>,
    /// The index in `evaluations` of the best one (the highest mean return, the earliest on
    /// ties), if any ran.
    pub best_evaluation: Option<usize>,
}

impl TrainReport {
    /// Episodes played (cut ones excluded).
    pub fn episodes(&self) -> usize {
        self.returns.len()
    }

    /// Whether the task was solved.
    pub fn solved(&self) -> bool {
        self.solved_at.is_some()
    }
}

/// The training loop's own state: what a run has done so far. A [`Trainer`] keeps it between
/// calls and in its checkpoints.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Progress {
    pub(crate) returns: Vec<f32>,
    pub(crate) lengths: Vec<usize>,
    /// The sum of the returns in the solve window, kept incrementally in f64.
    pub(crate) window_sum: f64,
    pub(crate) solved_at: Option<usize>,
    pub(crate) env_steps: usize,
    pub(crate) gradient_steps: usize,
    pub(crate) stop_reason: Option<StopReason>,
    /// The episodes the last call cut (see [`TrainReport::cut_episodes`]).
    pub(crate) cut_episodes: Vec<CutEpisode>,
    pub(crate) evaluations: Vec<Evaluation>,
    pub(crate) best_evaluation: Option<usize>,
}

impl Progress {
    pub(crate) fn new() -> Self {
        Progress {
            returns: Vec::new(),
            lengths: Vec::new(),
            window_sum: 0.0,
            solved_at: None,
            env_steps: 0,
            gradient_steps: 0,
            stop_reason: None,
            cut_episodes: Vec::new(),
            evaluations: Vec::new(),
            best_evaluation: None,
        }
    }

    pub(crate) fn report(&self) -> TrainReport {
        TrainReport {
            returns: self.returns.clone(),
            lengths: self.lengths.clone(),
            solved_at: self.solved_at,
            env_steps: self.env_steps,
            gradient_steps: self.gradient_steps,
            stop_reason: self.stop_reason.clone().unwrap_or(StopReason::EpisodeBudget),
            cut_episode: self.cut_episodes.first().copied(),
            cut_episodes: self.cut_episodes.clone(),
            evaluations: self.evaluations.clone(),
            best_evaluation: self.best_evaluation,
        }
    }
}

/// Refuses an agent and an environment that disagree on the sizes.
pub(crate) fn check_dimensions(agent: &dyn Agent, env: &dyn Env) -> Result<()> {
    check_sizes(agent, env.observation_dim(), env.num_actions())
}

/// Refuses an agent whose sizes are not an environment's `observation_dim` and `num_actions`.
pub(crate) fn check_sizes(
    agent: &dyn Agent,
    observation_dim: usize,
    num_actions: usize,
) -> Result<()> {
    let pairs = [
        ("observation_dim", agent.observation_dim(), observation_dim),
        ("num_actions", agent.num_actions(), num_actions),
    ];
    for (what, agent, env) in pairs {
        if agent != env {
            return Err(Error::DimensionMismatch { what, agent, env });
        }
    }
    Ok(())
}

/// What the loop needs for evaluation during training.
pub(crate) struct EvalSetup<'a, A: ?Sized> {
    pub(crate) env: &'a mut dyn Env,
    pub(crate) rng: &'a mut dyn RngCore,
    /// Copies the agent's greedy policy, for `keep_best`.
    pub(crate) snapshot: &'a dyn Fn(&A) -> Policy,
    /// Where the best policy goes.
    pub(crate) best: &'a mut Option<Policy>,
}

/// Lets the loop, generic over `A: Agent + ?Sized`, hand the agent on as `&dyn Agent`.
pub(crate) trait AsDynAgent {
    fn as_dyn(&self) -> &dyn Agent;
    fn as_dyn_mut(&mut self) -> &mut dyn Agent;
}

impl<A: Agent> AsDynAgent for A {
    fn as_dyn(&self) -> &dyn Agent {
        self
    }
    fn as_dyn_mut(&mut self) -> &mut dyn Agent {
        self
    }
}

impl AsDynAgent for dyn Agent + '_ {
    fn as_dyn(&self) -> &dyn Agent {
        self
    }
    fn as_dyn_mut(&mut self) -> &mut dyn Agent {
        self
    }
}

/// Trains `agent` on `env` until a budget of `config` is spent, the task is solved or
/// `observer` returns [`ControlFlow::Break`].
///
/// First checks that the agent's observation size and number of actions are the
/// environment's. Then each step: `agent.act` (exploring), `env.step_into`, `agent.observe`
/// with the transition (its `terminated` and `truncated` flags kept apart), `agent.learn`.
/// After each episode `observer` receives its [`EpisodeStats`]; `Break` stops training after
/// that episode. With a `reward_threshold`, the task is solved at the first episode where the
/// mean of the last `solve_window` returns reaches it; with `stop_when_solved` training stops
/// there. The report says why training stopped.
///
/// All randomness (resets, exploration, replay sampling) comes from `rng`. For evaluation
/// during training, the best weights, logging and checkpoints, use a [`Trainer`].
///
/// # Errors
/// [`Error::InvalidConfig`] for a bad config (or one that asks for evaluation);
/// [`Error::DimensionMismatch`] if the agent does not fit the environment;
/// [`Error::EpisodeTooLong`] for an episode that does not end within `max_episode_steps`;
/// errors of the environment or the agent are passed on (a non-finite value from a custom
/// env, ...).
///
/// # Examples
/// ```no_run
/// use std::ops::ControlFlow;
///
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
/// let report = train(&mut agent, &mut env, &train_config, &mut rng, &mut |_| {
///     ControlFlow::Continue(())
/// })?;
/// println!("solved at episode {:?} ({:?})", report.solved_at, report.stop_reason);
/// # Ok(())
/// # }
/// ```
pub fn train(
    agent: &mut dyn Agent,
    env: &mut dyn Env,
    config: &TrainConfig,
    rng: &mut dyn RngCore,
    observer: &mut dyn FnMut(&EpisodeStats) -> ControlFlow<()>,
) -> Result<TrainReport> {
    let mut progress = Progress::new();
    run::run(agent, &mut run::OneEnv(env), config, rng, None, &mut progress, observer)?;
    Ok(progress.report())
}

/// [`train`] over a [`VecEnv`] of N sub-environments: each vector step, one
/// [`Agent::act_batch`] chooses the N actions, the vector environment steps, every transition
/// goes to [`Agent::observe_env`] in sub-environment order, then [`Agent::learn_vec`] once;
/// every sub-environment whose episode ended is reset (in index order, from `rng`) before the
/// next actions. Each finished sub-episode is an episode of the report, counted in the order
/// the sub-episodes end (within a vector step, in sub-environment order), with its own
/// [`EpisodeStats`] for the observer, the trailing mean and the solve rule.
///
/// Counting is Stable-Baselines3's with `n_envs = N`: a vector step is N environment steps
/// ([`TrainReport::env_steps`], [`EpisodeStats::env_steps`] and the agent's schedules count
/// them all), and a step budget stops training at the first vector step that reaches it, so a
/// run may take up to N - 1 steps more (as SB3's `learn(total_timesteps)`). The agent decides
/// what a vector step means for its training frequency ([`DqnAgent`](crate::DqnAgent):
/// `train_frequency` counts vector steps, as SB3's `train_freq`). Each call starts every
/// sub-environment with a reset; the sub-episodes still running when it returns are cut
/// ([`TrainReport::cut_episodes`]).
///
/// With N = 1 this is [`train`] on the sub-environment, bit for bit: the same random draws in
/// the same order, so the same weights, returns and losses.
///
/// # Errors
/// As [`train`]; and the agent's [`check_num_envs`](Agent::check_num_envs) (for a
/// [`DqnAgent`](crate::DqnAgent), a training frequency in episodes with more than one
/// sub-environment), before anything runs; [`EpisodeTooLong`](Error::EpisodeTooLong) names the
/// number the running episode would have had.
///
/// # Examples
/// ```no_run
/// use std::ops::ControlFlow;
///
/// use deepq::{CartPole, DqnAgent, DqnConfig, SequentialVecEnv, TrainConfig, VecEnv, train_vec};
/// use rand::SeedableRng;
/// use rand_chacha::ChaCha8Rng;
///
/// # fn main() -> deepq::Result<()> {
/// let config = DqnConfig::default().with_gradient_steps(4); // one per environment step
/// let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
/// let mut envs = SequentialVecEnv::new((0..4).map(|_| CartPole::v0()).collect())?;
/// let mut agent = DqnAgent::new(config, envs.observation_dim(), envs.num_actions(), &mut rng)?;
/// let train_config = TrainConfig::default().with_reward_threshold(195.0);
/// let report = train_vec(&mut agent, &mut envs, &train_config, &mut rng, &mut |_| {
///     ControlFlow::Continue(())
/// })?;
/// println!("solved at episode {:?} after {} steps", report.solved_at, report.env_steps);
/// # Ok(())
/// # }
/// ```
pub fn train_vec(
    agent: &mut dyn Agent,
    env: &mut dyn VecEnv,
    config: &TrainConfig,
    rng: &mut dyn RngCore,
    observer: &mut dyn FnMut(&EpisodeStats) -> ControlFlow<()>,
) -> Result<TrainReport> {
    let mut progress = Progress::new();
    run::run(agent, env, config, rng, None, &mut progress, observer)?;
    Ok(progress.report())
}
