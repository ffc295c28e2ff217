//! Agents: the [`Agent`] trait and the DQN agent.

mod dqn;
#[cfg(feature = "safetensors")]
mod dqn_state;
mod n_step;

pub use dqn::{
    DqnAgent, DqnConfig, Exploration, LearningRateDecay, MAX_GRADIENT_STEPS, TargetUpdate,
    TrainFrequency, ValueBounds,
};
pub use n_step::MAX_N_STEP;

use ndarray::ArrayView1;
use rand::RngCore;

use crate::{Result, Transition};

/// What one call of [`Agent::learn`] did when it updated the agent.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnStats {
    /// Mean training loss over the gradient steps of this call.
    pub loss: f32,
    /// Mean Q-value of the taken actions in the sampled batches, before the update.
    pub mean_q: f32,
    /// Gradient steps taken by this call.
    pub gradient_steps: usize,
}

/// A learner that acts in an [`Env`](crate::Env), observes the transitions and learns from them.
///
/// The training loop ([`train`](crate::train)) first checks that the agent's
/// [`observation_dim`](Agent::observation_dim) and [`num_actions`](Agent::num_actions) are the
/// environment's, then calls, for every environment step:
/// [`act`](Agent::act) on the current observation, `Env::step`, [`observe`](Agent::observe) on
/// the resulting transition, then [`learn`](Agent::learn), which updates the agent when its
/// schedule says so. [`greedy_action`](Agent::greedy_action) is the exploitation-only policy
/// used for evaluation.
///
/// The trait is object-safe: the training loop takes `&mut dyn Agent`.
pub trait Agent {
    /// The length of the observations the agent takes; [`train`](crate::train) and
    /// [`evaluate`](crate::evaluate) refuse an environment whose
    /// [`observation_dim`](crate::Env::observation_dim) differs.
    fn observation_dim(&self) -> usize;

    /// The number of actions the agent chooses from; [`train`](crate::train) and
    /// [`evaluate`](crate::evaluate) refuse an environment whose
    /// [`num_actions`](crate::Env::num_actions) differs.
    fn num_actions(&self) -> usize;

    /// An action for `observation` under the exploring policy (for DQN: epsilon-greedy).
    ///
    /// # Errors
    /// An error if the observation has the wrong length or a non-finite value.
    fn act(&mut self, observation: ArrayView1<'_, f32>, rng: &mut dyn RngCore) -> Result<usize>;

    /// The action the agent thinks best for `observation`, with no exploration.
    ///
    /// # Errors
    /// An error if the observation has the wrong length or a non-finite value.
    fn greedy_action(&mut self, observation: ArrayView1<'_, f32>) -> Result<usize>;

    /// [`greedy_action`](Agent::greedy_action) and the agent's own estimate of its value,
    /// `max_a Q(observation, a)` for a Q-learner: what [`evaluate`](crate::evaluate) compares
    /// with the returns the greedy policy actually earns. The provided method returns the
    /// greedy action and `None`.
    ///
    /// # Errors
    /// As [`greedy_action`](Agent::greedy_action).
    fn greedy_action_and_value(
        &mut self,
        observation: ArrayView1<'_, f32>,
    ) -> Result<(usize, Option<f32>)> {
        Ok((self.greedy_action(observation)?, None))
    }

    /// The discount factor the agent's values are estimated with, if any (the provided method
    /// returns `None`).
    fn discount(&self) -> Option<f32> {
        None
    }

    /// Records one transition (and advances the exploration schedule).
    ///
    /// # Errors
    /// An error if the transition is malformed (wrong lengths, non-finite values, an action out
    /// of range); nothing the agent had is lost.
    fn observe(&mut self, transition: Transition<'_>) -> Result<()>;

    /// Updates the agent if its schedule calls for it, and returns what the update did.
    ///
    /// # Errors
    /// An error if the update cannot be made (for example a non-finite loss).
    fn learn(&mut self, rng: &mut dyn RngCore) -> Result<Option<LearnStats>>;

    /// The current exploration rate (0 for an agent that does not explore at random).
    fn epsilon(&self) -> f32 {
        0.0
    }

    /// The learning rate the next update will use, if the agent has one (logged as
    /// `train/learning_rate`). The provided method returns `None`.
    fn learning_rate(&self) -> Option<f32> {
        None
    }
}
