//! The training loop: [`train`] for any [`Agent`], the [`Trainer`] run object for a DQN (with
//! evaluation, best weights and checkpoints), greedy evaluation, and TensorBoard logging.

#[cfg(feature = "safetensors")]
mod checkpoint;
mod config;
mod evaluate;
mod logger;
mod trainer;

pub use config::{DEFAULT_MAX_EPISODE_STEPS, EvalConfig, Interval, TrainConfig};
pub use evaluate::{EvalStats, ValueStats, evaluate, evaluate_policy, evaluate_policy_capped};
pub use logger::{LogStep, TensorBoardLogger};
pub use trainer::Trainer;

use std::ops::ControlFlow;

use ndarray::ArrayView1;
use rand::RngCore;

use crate::agent::Agent;
use crate::env::{Env, copy_observation};
use crate::error::{Error, Result};
use crate::memory::Transition;
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
    /// The episode the step budget cut, if it cut one.
    pub cut_episode: Option<CutEpisode>,
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
    pub(crate) cut_episode: Option<CutEpisode>,
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
            cut_episode: None,
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
            cut_episode: self.cut_episode,
            evaluations: self.evaluations.clone(),
            best_evaluation: self.best_evaluation,
        }
    }
}

/// Refuses an agent and an environment that disagree on the sizes.
pub(crate) fn check_dimensions(agent: &dyn Agent, env: &dyn Env) -> Result<()> {
    let pairs = [
        ("observation_dim", agent.observation_dim(), env.observation_dim()),
        ("num_actions", agent.num_actions(), env.num_actions()),
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

/// The loop shared by [`train`] and [`Trainer::train`]: runs episodes until a budget is spent,
/// the task is solved or the observer breaks, updating `progress`.
pub(crate) fn run<A: Agent + AsDynAgent + ?Sized>(
    agent: &mut A,
    env: &mut dyn Env,
    config: &TrainConfig,
    rng: &mut dyn RngCore,
    mut eval: Option<EvalSetup<'_, A>>,
    progress: &mut Progress,
    observer: &mut dyn FnMut(&EpisodeStats) -> ControlFlow<()>,
) -> Result<()> {
    config.validate()?;
    check_dimensions(agent.as_dyn(), &*env)?;
    if let Some(setup) = &eval {
        check_dimensions(agent.as_dyn(), &*setup.env)?;
    }
    if config.eval.is_some() && eval.is_none() {
        return Err(Error::invalid_config(
            "eval",
            "Some",
            "evaluation needs an evaluation environment: use Trainer::train with one",
        ));
    }
    progress.cut_episode = None;
    if config.stop_when_solved && progress.solved_at.is_some() {
        progress.stop_reason = Some(StopReason::Solved);
        return Ok(());
    }
    // Two observation buffers, swapped after every step: no allocation per step.
    let dim = env.observation_dim();
    let (mut observation, mut next) = (vec![0.0f32; dim], vec![0.0f32; dim]);
    loop {
        if config.episodes.is_some_and(|n| progress.returns.len() >= n) {
            progress.stop_reason = Some(StopReason::EpisodeBudget);
            return Ok(());
        }
        if config.max_env_steps.is_some_and(|n| progress.env_steps >= n) {
            progress.stop_reason = Some(StopReason::StepBudget);
            return Ok(());
        }
        let episode = progress.returns.len() + 1;
        let steps_before = progress.env_steps;
        copy_observation("observation returned by reset", &env.reset(rng), &mut observation)?;
        let (mut episode_return, mut length) = (0.0f32, 0usize);
        let (mut loss_sum, mut q_sum, mut updates) = (0.0f64, 0.0f64, 0usize);
        let terminated = loop {
            if length == config.max_episode_steps {
                return Err(Error::EpisodeTooLong { episode, max_steps: config.max_episode_steps });
            }
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
                let n = stats.gradient_steps as f64;
                loss_sum += f64::from(stats.loss) * n;
                q_sum += f64::from(stats.mean_q) * n;
                updates += stats.gradient_steps;
                progress.gradient_steps += stats.gradient_steps;
            }
            episode_return += step.reward;
            length += 1;
            progress.env_steps += 1;
            if step.terminated || step.truncated {
                break step.terminated;
            }
            if config.max_env_steps.is_some_and(|n| progress.env_steps >= n) {
                progress.cut_episode = Some(CutEpisode { partial_return: episode_return, length });
                progress.stop_reason = Some(StopReason::StepBudget);
                return Ok(());
            }
            std::mem::swap(&mut observation, &mut next);
        };
        progress.returns.push(episode_return);
        progress.lengths.push(length);
        progress.window_sum += f64::from(episode_return);
        let window = config.solve_window;
        let played = progress.returns.len();
        if played > window {
            progress.window_sum -= f64::from(progress.returns[played - 1 - window]);
        }
        let in_window = played.min(window);
        let trailing_mean = (progress.window_sum / in_window as f64) as f32;
        let recent = &progress.lengths[played - in_window..];
        let trailing_mean_length =
            (recent.iter().map(|&l| l as f64).sum::<f64>() / in_window as f64) as f32;

        let mut evaluation = None;
        if let (Some(eval_config), Some(setup)) = (&config.eval, eval.as_mut())
            && eval_config.every.due(episode, steps_before, progress.env_steps)
        {
            let stats = evaluate::evaluate_capped(
                agent.as_dyn_mut(),
                &mut *setup.env,
                eval_config.episodes,
                config.max_episode_steps,
                &mut *setup.rng,
            )?;
            let best = progress.best_evaluation.map(|i| progress.evaluations[i].stats.mean);
            let best_so_far = best.is_none_or(|b| stats.mean > b);
            let record = Evaluation { episode, env_steps: progress.env_steps, stats, best_so_far };
            if best_so_far {
                progress.best_evaluation = Some(progress.evaluations.len());
                if eval_config.keep_best {
                    *setup.best = Some((setup.snapshot)(agent));
                }
            }
            progress.evaluations.push(record.clone());
            evaluation = Some(record);
        }

        let solved_now = progress.solved_at.is_none()
            && in_window == window
            && config.reward_threshold.is_some_and(|t| trailing_mean >= t);
        if solved_now {
            progress.solved_at = Some(episode);
        }
        let flow = observer(&EpisodeStats {
            episode,
            episode_return,
            length,
            epsilon: agent.epsilon(),
            loss: (updates > 0).then(|| (loss_sum / updates as f64) as f32),
            mean_q: (updates > 0).then(|| (q_sum / updates as f64) as f32),
            learning_rate: agent.learning_rate(),
            trailing_mean,
            trailing_mean_length,
            env_steps: progress.env_steps,
            gradient_steps: progress.gradient_steps,
            terminated,
            evaluation,
        });
        if solved_now && config.stop_when_solved {
            progress.stop_reason = Some(StopReason::Solved);
            return Ok(());
        }
        if flow.is_break() {
            progress.stop_reason = Some(StopReason::Observer);
            return Ok(());
        }
    }
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
    run(agent, env, config, rng, None, &mut progress, observer)?;
    Ok(progress.report())
}
