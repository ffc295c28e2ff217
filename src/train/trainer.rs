//! [`Trainer`]: a DQN training run that owns its agent, its RNGs and its loop state, so that it
//! can be evaluated, stopped, checkpointed and resumed.

use std::ops::ControlFlow;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{EpisodeStats, EvalSetup, EvalStats, Progress, StopReason, TrainConfig, TrainReport};
use crate::agent::{DqnAgent, DqnConfig};
use crate::env::{Env, VecEnv};
use crate::error::Result;
use crate::policy::Policy;

/// The ChaCha8 stream of the evaluation RNG (training draws from stream 0, so evaluating more
/// or less often never changes training).
pub(crate) const EVAL_STREAM: u64 = 1;

/// A DQN training run: the agent, the run's RNGs and the training loop's state (episodes,
/// trailing window, solved state, evaluations, the best network), in one value that can train
/// in several calls, be saved to a checkpoint and be loaded to go on exactly as if it had never
/// stopped.
///
/// # Randomness
/// The run owns two [`ChaCha8Rng`]s, both seeded from [`DqnConfig::seed`]: stream 0 draws the
/// network's initial weights and then every random number of training (resets, exploration,
/// replay sampling) in the same order as [`DqnAgent::new`] followed by [`train`](crate::train)
/// on one RNG seeded the same way, so a `Trainer` run is that run, bit for bit. Stream 1 draws
/// the resets of evaluation episodes (during training and in [`evaluate`](Trainer::evaluate)),
/// so evaluating never changes training. Both are saved in checkpoints.
///
/// # Evaluation and the best network
/// With [`TrainConfig::eval`] set, [`train`](Trainer::train) runs greedy episodes on the
/// evaluation environment it is given at the chosen interval; the results are in the report
/// and in [`EpisodeStats::evaluation`], and with `keep_best` a copy of the best network is kept
/// ([`best_policy`](Trainer::best_policy)).
///
/// # Checkpoints
/// [`save`](Trainer::save) and [`load`](Trainer::load) (default `safetensors` feature) keep
/// everything: the configs, the online and target networks, the optimizer's moments and step
/// count, the learning-rate schedule's position, the exploration and step counters, the replay
/// memory (with priorities), the loop's state and both RNGs. A run saved between two calls of
/// [`train`](Trainer::train) and loaded again continues exactly as the uninterrupted run. The
/// environment is not saved: every episode starts with a reset drawn from the saved RNG, so an
/// [`Env`] that keeps its contract (all randomness from the RNG given to `reset`) needs nothing
/// more. An episode cut by the step budget is not continued after a load: the next call starts
/// a new episode, as it would without the checkpoint.
///
/// A vector run ([`train_vec`](Trainer::train_vec)) is checkpointed the same way, between two
/// calls: each call starts its sub-environments with a reset, and the agent's n-step window of
/// every sub-environment is in the checkpoint.
///
/// Only the default agent (an [`Mlp`](crate::Mlp) with the memory its config asks for) can be
/// checkpointed; use [`train`](crate::train) with an agent of your own.
///
/// # Examples
/// ```no_run
/// use std::ops::ControlFlow;
///
/// use deepq::{CartPole, DqnConfig, Env, EvalConfig, Interval, TrainConfig, Trainer};
///
/// # fn main() -> deepq::Result<()> {
/// let (mut env, mut eval_env) = (CartPole::v1(), CartPole::v1());
/// let train_config = TrainConfig::default()
///     .with_max_env_steps(50_000)
///     .with_eval(EvalConfig::default().with_every(Interval::EnvSteps(5_000)).with_keep_best(true));
/// let mut trainer = Trainer::new(DqnConfig::default(), train_config, 4, 2)?;
/// let report = trainer.train(&mut env, Some(&mut eval_env), &mut |s| {
///     if s.episode_return >= 500.0 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
/// })?;
/// println!("stopped: {:?} after {} steps", report.stop_reason, report.env_steps);
/// #[cfg(feature = "safetensors")] // checkpoints are safetensors files
/// {
///     trainer.save("run.ckpt")?;
///     let resumed = Trainer::load("run.ckpt")?; // goes on exactly where `trainer` stopped
///     assert_eq!(resumed.report(), trainer.report());
/// }
/// # Ok(())
/// # }
/// ```
pub struct Trainer {
    pub(crate) agent: DqnAgent,
    pub(crate) config: TrainConfig,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) eval_rng: ChaCha8Rng,
    pub(crate) progress: Progress,
    pub(crate) best: Option<Policy>,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("config", &self.config)
            .field("agent_config", self.agent.config())
            .field("episodes", &self.progress.returns.len())
            .field("env_steps", &self.progress.env_steps)
            .finish_non_exhaustive()
    }
}

impl Trainer {
    /// A new run: seeds its RNGs from `dqn.seed`, draws the agent's weights and validates both
    /// configs.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) for a bad config, as
    /// [`DqnAgent::new`] and [`TrainConfig::validate`].
    pub fn new(
        dqn: DqnConfig,
        config: TrainConfig,
        observation_dim: usize,
        num_actions: usize,
    ) -> Result<Self> {
        config.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(dqn.seed);
        let mut eval_rng = ChaCha8Rng::seed_from_u64(dqn.seed);
        eval_rng.set_stream(EVAL_STREAM);
        let agent = DqnAgent::new(dqn, observation_dim, num_actions, &mut rng)?;
        Ok(Self { agent, config, rng, eval_rng, progress: Progress::new(), best: None })
    }

    /// Trains until a budget of the config is spent (counted over the whole run, so after a
    /// stop or a load another call goes on towards the same budgets), the task is solved or
    /// `observer` returns [`ControlFlow::Break`]; returns the report of the whole run.
    ///
    /// `eval_env` is the environment of the evaluations [`TrainConfig::eval`] asks for; it is
    /// needed when the config has one and unused otherwise. A run already solved with
    /// `stop_when_solved` returns at once: set a config without it
    /// ([`set_config`](Trainer::set_config)) to train on.
    ///
    /// On an error the run keeps what it had done until the episode that failed, and its
    /// [`report`](Trainer::report) says [`StopReason::Error`].
    ///
    /// # Errors
    /// As [`train`](crate::train), and [`Error::InvalidConfig`](crate::Error::InvalidConfig)
    /// if the config asks for evaluation and `eval_env` is `None`.
    pub fn train(
        &mut self,
        env: &mut dyn Env,
        eval_env: Option<&mut dyn Env>,
        observer: &mut dyn FnMut(&EpisodeStats) -> ControlFlow<()>,
    ) -> Result<TrainReport> {
        self.run(&mut super::run::OneEnv(env), eval_env, observer)
    }

    /// [`train`](Trainer::train) over a [`VecEnv`] of N sub-environments: one batched action
    /// selection for the N copies, every transition to the memory in sub-environment order,
    /// each finished sub-episode an episode of the run (returns, trailing mean, solve rule,
    /// evaluation, observer), counted as Stable-Baselines3 counts with `n_envs = N` (see
    /// [`train_vec`](crate::train_vec) and [`DqnAgent`]'s section on vector environments).
    /// With N = 1 it is [`train`](Trainer::train) on the sub-environment, bit for bit.
    ///
    /// Each call starts every sub-environment with a reset, and the sub-episodes still running
    /// when it returns are cut ([`TrainReport::cut_episodes`]), so nothing of the vector
    /// environment lives between calls: a run saved between two calls ([`save`](Trainer::save);
    /// the agent's n-step windows of every sub-environment included) and loaded again goes on
    /// with `train_vec` exactly as the uninterrupted run, given a vector environment of the same
    /// sub-environments. Calls may mix `train` and `train_vec` and change N; each is then its
    /// own run of what it is given.
    ///
    /// # Errors
    /// As [`train`](Trainer::train) and [`train_vec`](crate::train_vec).
    pub fn train_vec(
        &mut self,
        env: &mut dyn VecEnv,
        eval_env: Option<&mut dyn Env>,
        observer: &mut dyn FnMut(&EpisodeStats) -> ControlFlow<()>,
    ) -> Result<TrainReport> {
        self.run(env, eval_env, observer)
    }

    fn run(
        &mut self,
        env: &mut dyn VecEnv,
        eval_env: Option<&mut dyn Env>,
        observer: &mut dyn FnMut(&EpisodeStats) -> ControlFlow<()>,
    ) -> Result<TrainReport> {
        let snapshot = |agent: &DqnAgent| Policy::from_agent(agent);
        let eval = eval_env.map(|env| EvalSetup {
            env,
            rng: &mut self.eval_rng,
            snapshot: &snapshot,
            best: &mut self.best,
        });
        let result = super::run::run(
            &mut self.agent,
            env,
            &self.config,
            &mut self.rng,
            eval,
            &mut self.progress,
            observer,
        );
        if let Err(e) = &result {
            self.progress.stop_reason = Some(StopReason::Error(e.to_string()));
        }
        result.map(|()| self.progress.report())
    }

    /// Greedy episodes on `env`, their resets drawn from the evaluation RNG (so training is not
    /// changed), each capped at [`TrainConfig::max_episode_steps`].
    ///
    /// # Errors
    /// As [`evaluate`](crate::evaluate).
    pub fn evaluate(&mut self, env: &mut dyn Env, episodes: usize) -> Result<EvalStats> {
        super::evaluate::evaluate_capped(
            &mut self.agent,
            env,
            episodes,
            self.config.max_episode_steps,
            &mut self.eval_rng,
        )
    }

    /// The report of the whole run so far.
    pub fn report(&self) -> TrainReport {
        self.progress.report()
    }

    /// The agent.
    pub fn agent(&self) -> &DqnAgent {
        &self.agent
    }

    /// The agent, mutable (for example to inspect or pre-fill its memory).
    pub fn agent_mut(&mut self) -> &mut DqnAgent {
        &mut self.agent
    }

    /// The agent, ending the run.
    pub fn into_agent(self) -> DqnAgent {
        self.agent
    }

    /// The training config.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Replaces the training config (for example a larger budget, or `stop_when_solved` off to
    /// train on after a solve).
    ///
    /// # Errors
    /// As [`TrainConfig::validate`]; the config is then unchanged.
    pub fn set_config(&mut self, config: TrainConfig) -> Result<()> {
        config.validate()?;
        self.config = config;
        Ok(())
    }

    /// The greedy policy of the current network.
    pub fn policy(&self) -> Policy {
        Policy::from_agent(&self.agent)
    }

    /// The greedy policy of the best evaluation so far, when `keep_best` is on.
    pub fn best_policy(&self) -> Option<&Policy> {
        self.best.as_ref()
    }

    /// The training RNG (stream 0).
    pub fn rng(&self) -> &ChaCha8Rng {
        &self.rng
    }

    /// The evaluation RNG (stream 1).
    pub fn eval_rng(&self) -> &ChaCha8Rng {
        &self.eval_rng
    }
}
