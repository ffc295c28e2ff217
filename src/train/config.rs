//! [`TrainConfig`]: budgets, the solve rule, the episode-length guard and evaluation.

use crate::error::{Error, Result};

/// The most steps an episode may run before training or evaluation gives up on it with
/// [`Error::EpisodeTooLong`]: 100,000, several times the longest time limit of Gymnasium's
/// classic-control and Atari tasks (27,000 agent steps). An environment that never ends would
/// otherwise hang the loop; wrap it in [`TimeLimit`](crate::TimeLimit).
pub const DEFAULT_MAX_EPISODE_STEPS: usize = 100_000;

/// When something happens during training: every `n` episodes or every `n` environment steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub enum Interval {
    /// After every `n`-th episode.
    Episodes(usize),
    /// After the episode during which the environment-step count reached a multiple of `n`
    /// (once, even if the episode crossed several), as Stable-Baselines3's `eval_freq` counts,
    /// but at the episode's end so that no training episode is interrupted.
    EnvSteps(usize),
}

impl Interval {
    /// Whether an episode that took the step count from `steps_before` to `steps_after` and
    /// was number `episode` is due.
    pub(crate) fn due(self, episode: usize, steps_before: usize, steps_after: usize) -> bool {
        match self {
            Interval::Episodes(n) => episode.is_multiple_of(n),
            Interval::EnvSteps(n) => steps_after / n > steps_before / n,
        }
    }

    fn validate(self, field: &'static str) -> Result<()> {
        match self {
            Interval::Episodes(0) | Interval::EnvSteps(0) => {
                Err(Error::invalid_config(field, 0, "must be at least 1"))
            }
            _ => Ok(()),
        }
    }
}

/// Greedy evaluation during training, on an environment of its own (Stable-Baselines3's
/// `EvalCallback`): used by [`Trainer::train`](crate::Trainer::train).
///
/// # Examples
/// ```
/// use deepq::{EvalConfig, Interval};
///
/// let eval = EvalConfig::default().with_every(Interval::EnvSteps(5_000)).with_keep_best(true);
/// assert_eq!(eval.episodes, 10);
/// assert!(eval.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct EvalConfig {
    /// Greedy episodes per evaluation (default 10).
    pub episodes: usize,
    /// How often to evaluate (default every 10 episodes).
    pub every: Interval,
    /// Keep a copy of the network of the best evaluation (the highest mean return); a later
    /// evaluation replaces it only when strictly better, so ties keep the earlier copy, as
    /// Stable-Baselines3's `EvalCallback` saves `best_model`. Default `false`.
    pub keep_best: bool,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self { episodes: 10, every: Interval::Episodes(10), keep_best: false }
    }
}

impl EvalConfig {
    /// Sets `episodes` (default 10).
    pub fn with_episodes(mut self, episodes: usize) -> Self {
        self.episodes = episodes;
        self
    }

    /// Sets `every` (default every 10 episodes).
    pub fn with_every(mut self, every: Interval) -> Self {
        self.every = every;
        self
    }

    /// Sets `keep_best` (default `false`).
    pub fn with_keep_best(mut self, keep_best: bool) -> Self {
        self.keep_best = keep_best;
        self
    }

    /// Checks every rule of the config.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for `episodes == 0` or an interval of 0.
    pub fn validate(&self) -> Result<()> {
        if self.episodes == 0 {
            return Err(Error::invalid_config("eval.episodes", 0, "must be at least 1"));
        }
        self.every.validate("eval.every")
    }
}

/// Settings of [`train`](crate::train) and [`Trainer`](crate::Trainer): the budgets, the solve
/// rule, the episode-length guard and evaluation.
///
/// Training stops at the first of: the episode budget spent, the step budget spent, the task
/// solved (with `stop_when_solved`), or the observer returning `ControlFlow::Break`. The report
/// says which ([`StopReason`](crate::StopReason)).
///
/// # Examples
/// ```
/// use deepq::TrainConfig;
///
/// // 100,000 environment steps, whatever the number of episodes.
/// let config = TrainConfig::default().with_max_env_steps(100_000);
/// assert_eq!((config.episodes, config.max_env_steps), (None, Some(100_000)));
/// // Both budgets: whichever is spent first.
/// let both = TrainConfig::default().with_max_env_steps(100_000).with_episodes(500);
/// assert_eq!(both.episodes, Some(500));
/// assert!(TrainConfig::default().with_episodes(0).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct TrainConfig {
    /// The most episodes to train for, counted over the whole run (default `Some(300)`).
    pub episodes: Option<usize>,
    /// The most environment steps to train for, counted over the whole run (default `None`).
    /// The step that spends the budget ends training at once: an episode still running is
    /// cut there, is not counted as an episode (not in the returns, not in the solve rule, not
    /// handed to the observer) and is reported as [`TrainReport::cut_episode`](crate::TrainReport::cut_episode);
    /// its transitions are in the replay memory. This is how Stable-Baselines3's
    /// `learn(total_timesteps)` counts.
    pub max_env_steps: Option<usize>,
    /// The trailing mean return at which the task counts as solved, for example
    /// [`CartPole::reward_threshold`](crate::CartPole::reward_threshold). `None` (the default)
    /// never declares the task solved.
    pub reward_threshold: Option<f32>,
    /// How many trailing episodes the solve rule averages (default 100, the classic rule);
    /// also the window of [`EpisodeStats::trailing_mean`](crate::EpisodeStats::trailing_mean).
    pub solve_window: usize,
    /// Stop as soon as the task is solved (default `true`).
    pub stop_when_solved: bool,
    /// An episode that has not ended after this many steps is an error,
    /// [`Error::EpisodeTooLong`] (default [`DEFAULT_MAX_EPISODE_STEPS`], 100,000). Applies to
    /// evaluation episodes too.
    pub max_episode_steps: usize,
    /// Greedy evaluation during training (default `None`). Needs an evaluation environment:
    /// only [`Trainer::train`](crate::Trainer::train) takes one; [`train`](crate::train)
    /// refuses a config that asks for evaluation.
    pub eval: Option<EvalConfig>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            episodes: Some(300),
            max_env_steps: None,
            reward_threshold: None,
            solve_window: 100,
            stop_when_solved: true,
            max_episode_steps: DEFAULT_MAX_EPISODE_STEPS,
            eval: None,
        }
    }
}

impl TrainConfig {
    /// Sets the episode budget (default 300).
    pub fn with_episodes(mut self, episodes: usize) -> Self {
        self.episodes = Some(episodes);
        self
    }

    /// Sets the step budget and removes the episode budget: train for `steps` environment
    /// steps, however many episodes that takes. To keep an episode budget as well, call
    /// [`with_episodes`](TrainConfig::with_episodes) after this.
    pub fn with_max_env_steps(mut self, steps: usize) -> Self {
        self.max_env_steps = Some(steps);
        self.episodes = None;
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

    /// Sets `max_episode_steps` (default 100,000).
    pub fn with_max_episode_steps(mut self, steps: usize) -> Self {
        self.max_episode_steps = steps;
        self
    }

    /// Sets `eval` (default `None`).
    pub fn with_eval(mut self, eval: EvalConfig) -> Self {
        self.eval = Some(eval);
        self
    }

    /// Checks every rule of the config.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for no budget at all, a budget of 0, `solve_window == 0`,
    /// `max_episode_steps == 0`, a non-finite threshold or a bad [`EvalConfig`].
    pub fn validate(&self) -> Result<()> {
        if self.episodes.is_none() && self.max_env_steps.is_none() {
            return Err(Error::invalid_config(
                "episodes",
                "None",
                "training needs a budget: episodes or max_env_steps",
            ));
        }
        if self.episodes == Some(0) {
            return Err(Error::invalid_config("episodes", "0", "must be at least 1"));
        }
        if self.max_env_steps == Some(0) {
            return Err(Error::invalid_config("max_env_steps", "0", "must be at least 1"));
        }
        if self.solve_window == 0 {
            return Err(Error::invalid_config("solve_window", "0", "must be at least 1"));
        }
        if self.max_episode_steps == 0 {
            return Err(Error::invalid_config("max_episode_steps", "0", "must be at least 1"));
        }
        if let Some(t) = self.reward_threshold.filter(|t| !t.is_finite()) {
            return Err(Error::invalid_config("reward_threshold", t, "must be finite"));
        }
        if let Some(eval) = &self.eval {
            eval.validate()?;
        }
        Ok(())
    }
}
