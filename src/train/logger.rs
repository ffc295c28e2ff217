//! [`TensorBoardLogger`]: the training loop's statistics as TensorBoard scalars, under
//! Stable-Baselines3's tags.

use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

use super::EpisodeStats;
use crate::error::{Error, Result};
use crate::tensorboard::SummaryWriter;

/// The step axis of the logged scalars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub enum LogStep {
    /// Environment steps since training began (Stable-Baselines3's `num_timesteps`; the
    /// default).
    #[default]
    EnvSteps,
    /// The episode number.
    Episode,
}

/// Writes what [`train`](crate::train) and [`Trainer::train`](crate::Trainer::train) report
/// into a TensorBoard event file, under the tags Stable-Baselines3 uses, so that runs of both
/// can be compared in one TensorBoard.
///
/// After every `every`-th episode (default 1) it writes:
///
/// | tag | value |
/// |---|---|
/// | `rollout/ep_rew_mean` | mean return of the last `solve_window` episodes (100 by default, SB3's window) |
/// | `rollout/ep_len_mean` | mean length of the same episodes |
/// | `rollout/exploration_rate` | epsilon |
/// | `train/loss` | the episode's mean loss (if it trained) |
/// | `train/mean_q` | the mean Q-value of the taken actions in its batches (if it trained); not an SB3 tag |
/// | `train/learning_rate` | the learning rate (if the agent has one) |
/// | `train/n_updates` | gradient steps so far |
/// | `time/fps` | environment steps per second since the logger's first episode (wall time: differs between runs) |
///
/// and after every evaluation during training `eval/mean_reward` and `eval/mean_ep_length`,
/// plus, when the agent gives its value estimates, `eval/mean_start_value` (the mean
/// `max_a Q(s0, a)`), `eval/mean_discounted_return` (what the greedy policy earned from `s0`,
/// discounted with the agent's gamma) and `eval/max_value` (the largest `max_a Q` seen): see
/// [`ValueStats`](crate::ValueStats).
/// The step of every scalar is the environment-step count by default ([`LogStep`]).
///
/// Use [`observer`](TensorBoardLogger::observer) as the observer, or call
/// [`log`](TensorBoardLogger::log) from your own.
///
/// # Examples
/// ```no_run
/// use deepq::{CartPole, DqnAgent, DqnConfig, Env, TensorBoardLogger, TrainConfig, train};
/// use rand::SeedableRng;
/// use rand_chacha::ChaCha8Rng;
///
/// # fn main() -> deepq::Result<()> {
/// let mut rng = ChaCha8Rng::seed_from_u64(0);
/// let mut env = CartPole::v0();
/// let mut agent = DqnAgent::new(DqnConfig::default(), 4, 2, &mut rng)?;
/// let mut logger = TensorBoardLogger::create("runs/dqn")?;
/// train(&mut agent, &mut env, &TrainConfig::default(), &mut rng, &mut logger.observer())?;
/// logger.finish()?; // flushes, and returns the first write error if one stopped training
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct TensorBoardLogger {
    writer: SummaryWriter,
    step: LogStep,
    every: usize,
    start: Option<(Instant, usize)>,
    error: Option<Error>,
}

impl TensorBoardLogger {
    /// A logger writing into `writer`.
    pub fn new(writer: SummaryWriter) -> Self {
        Self { writer, step: LogStep::default(), every: 1, start: None, error: None }
    }

    /// A logger writing a new event file in `dir` ([`SummaryWriter::create`]).
    ///
    /// # Errors
    /// As [`SummaryWriter::create`].
    pub fn create(dir: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::new(SummaryWriter::create(dir)?))
    }

    /// Sets the step axis (default [`LogStep::EnvSteps`]).
    pub fn with_step(mut self, step: LogStep) -> Self {
        self.step = step;
        self
    }

    /// Logs every `n`-th episode only (default 1; Stable-Baselines3's DQN `log_interval` is 4).
    /// Evaluations are always logged. An `n` of 0 is taken as 1.
    pub fn with_every(mut self, n: usize) -> Self {
        self.every = n.max(1);
        self
    }

    /// The writer, for scalars of your own.
    pub fn writer(&mut self) -> &mut SummaryWriter {
        &mut self.writer
    }

    /// Writes the scalars of one episode (and of its evaluation, if one ran).
    ///
    /// # Errors
    /// [`Error::Io`] if the event file cannot be written.
    pub fn log(&mut self, stats: &EpisodeStats) -> Result<()> {
        let (start, start_steps) = *self
            .start
            .get_or_insert((Instant::now(), stats.env_steps.saturating_sub(stats.length)));
        let step = match self.step {
            LogStep::EnvSteps => stats.env_steps,
            LogStep::Episode => stats.episode,
        } as i64;
        let w = &mut self.writer;
        if stats.episode.is_multiple_of(self.every) {
            w.add_scalar("rollout/ep_rew_mean", stats.trailing_mean, step)?;
            w.add_scalar("rollout/ep_len_mean", stats.trailing_mean_length, step)?;
            w.add_scalar("rollout/exploration_rate", stats.epsilon, step)?;
            if let Some(loss) = stats.loss {
                w.add_scalar("train/loss", loss, step)?;
            }
            if let Some(q) = stats.mean_q {
                w.add_scalar("train/mean_q", q, step)?;
            }
            if let Some(lr) = stats.learning_rate {
                w.add_scalar("train/learning_rate", lr, step)?;
            }
            w.add_scalar("train/n_updates", stats.gradient_steps as f32, step)?;
            let seconds = start.elapsed().as_secs_f64();
            if seconds > 0.0 {
                let fps = stats.env_steps.saturating_sub(start_steps) as f64 / seconds;
                w.add_scalar("time/fps", fps.floor() as f32, step)?;
            }
        }
        if let Some(eval) = &stats.evaluation {
            w.add_scalar("eval/mean_reward", eval.stats.mean, step)?;
            w.add_scalar("eval/mean_ep_length", eval.stats.mean_length, step)?;
            if let Some(v) = &eval.stats.values {
                w.add_scalar("eval/mean_start_value", v.mean_start_value, step)?;
                w.add_scalar("eval/mean_discounted_return", v.mean_discounted_return, step)?;
                w.add_scalar("eval/max_value", v.max_value, step)?;
            }
            w.flush()?;
        }
        Ok(())
    }

    /// An observer for [`train`](crate::train) and [`Trainer::train`](crate::Trainer::train)
    /// that logs every episode. A write error stops training (`ControlFlow::Break`, so the
    /// report says [`StopReason::Observer`](crate::StopReason::Observer)) and is kept for
    /// [`finish`](TensorBoardLogger::finish).
    pub fn observer(&mut self) -> impl FnMut(&EpisodeStats) -> ControlFlow<()> + '_ {
        move |stats| match self.log(stats) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                self.error.get_or_insert(e);
                ControlFlow::Break(())
            }
        }
    }

    /// Flushes the event file.
    ///
    /// # Errors
    /// The first write error that stopped training through
    /// [`observer`](TensorBoardLogger::observer), else an error of the flush.
    pub fn finish(&mut self) -> Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.writer.flush()
    }
}
