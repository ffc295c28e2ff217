//! The episode bookkeeping the built-in environments share: whether an episode runs, its step
//! count against the time limit, the checks of a step's arguments, and the settings every
//! task config has.

use ndarray::Array1;

use super::{Step, StepInfo};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Status {
    NotStarted,
    Running,
    Ended { truncated: bool },
}

/// An episode's state and step count, with Gymnasium's time limit.
#[derive(Debug, Clone)]
pub(crate) struct EpisodeClock {
    elapsed_steps: usize,
    status: Status,
}

impl EpisodeClock {
    /// No episode yet: a step before a reset is [`Error::StepBeforeReset`].
    pub(crate) fn new() -> Self {
        Self { elapsed_steps: 0, status: Status::NotStarted }
    }

    /// Steps taken in the current episode.
    pub(crate) fn elapsed_steps(&self) -> usize {
        self.elapsed_steps
    }

    /// A new episode at step 0 (a reset).
    pub(crate) fn start(&mut self) {
        self.elapsed_steps = 0;
        self.status = Status::Running;
    }

    /// A new episode at step 0 unless one is running, whose step count is kept (a state set by
    /// hand).
    pub(crate) fn start_unless_running(&mut self) {
        if self.status != Status::Running {
            self.start();
        }
    }

    /// The checks of a step before anything moves, in this order: the observation buffer's
    /// length, the action, and a running episode.
    pub(crate) fn check_step(
        &self,
        observation: &[f32],
        observation_dim: usize,
        action: usize,
        num_actions: usize,
    ) -> Result<()> {
        if observation.len() != observation_dim {
            return Err(Error::ObservationLength {
                what: "observation buffer",
                expected: observation_dim,
                actual: observation.len(),
            });
        }
        if action >= num_actions {
            return Err(Error::InvalidAction { action, num_actions });
        }
        match self.status {
            Status::NotStarted => Err(Error::StepBeforeReset),
            Status::Ended { truncated } => Err(Error::EpisodeEnded { truncated }),
            Status::Running => Ok(()),
        }
    }

    /// Counts a step taken and returns whether the time limit truncates the episode there. A
    /// terminated or truncated episode has ended; a later step's error says `truncated` only
    /// when the episode did not also terminate.
    pub(crate) fn advance(&mut self, terminated: bool, max_episode_steps: usize) -> bool {
        self.elapsed_steps += 1;
        let truncated = self.elapsed_steps >= max_episode_steps;
        if terminated || truncated {
            self.status = Status::Ended { truncated: truncated && !terminated };
        }
        truncated
    }
}

/// [`Env::step`](super::Env::step) from an environment's `step_into` with an observation of
/// `N` values.
pub(crate) fn step_with<const N: usize>(
    step_into: impl FnOnce(&mut [f32]) -> Result<StepInfo>,
) -> Result<Step> {
    let mut observation = [0.0f32; N];
    let info = step_into(&mut observation)?;
    Ok(Step {
        observation: Array1::from(observation.to_vec()),
        reward: info.reward,
        terminated: info.terminated,
        truncated: info.truncated,
    })
}

/// The rules every task config has: a time limit of at least 1 step and a finite solve
/// threshold.
pub(crate) fn validate_episode_settings(
    max_episode_steps: usize,
    reward_threshold: f32,
) -> Result<()> {
    if max_episode_steps == 0 {
        return Err(Error::invalid_config("max_episode_steps", 0, "must be at least 1"));
    }
    if !reward_threshold.is_finite() {
        return Err(Error::invalid_config("reward_threshold", reward_threshold, "must be finite"));
    }
    Ok(())
}
