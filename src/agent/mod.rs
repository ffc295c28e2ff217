//! Agents: the [`Agent`] trait and the DQN agent.

mod dqn;
#[cfg(feature = "safetensors")]
mod dqn_state;
mod dqn_vec;
mod n_step;

pub use dqn::{
    DqnAgent, DqnConfig, Exploration, LearningRateDecay, MAX_GRADIENT_STEPS, TargetUpdate,
    TrainFrequency, ValueBounds,
};
pub use n_step::MAX_N_STEP;

use ndarray::{ArrayView1, ArrayView2};
use rand::RngCore;

use crate::error::Error;
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
/// Over a [`VecEnv`](crate::VecEnv) of N sub-environments
/// ([`train_vec`](crate::train_vec)), each vector step calls the vector forms instead:
/// [`act_batch`](Agent::act_batch) on the N observations, the vector step,
/// [`observe_env`](Agent::observe_env) for each sub-environment's transition in index order,
/// then [`learn_vec`](Agent::learn_vec) once. Their provided implementations call the one-step
/// methods, and with N = 1 they are those methods, so that [`train`](crate::train) is the one
/// loop with one environment.
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

    /// Actions for a batch of observations (row `i` for sub-environment `i` of a vector
    /// environment) under the exploring policy, into `actions`. The provided method calls
    /// [`act`](Agent::act) on each row in order (so the random draws are those of N calls of
    /// `act`); [`DqnAgent`] takes one batched forward pass.
    ///
    /// # Shapes
    /// `observations`: `[n, observation_dim]`; `actions`: `[n]`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if `actions` does not have a slot per row; the errors of
    /// [`act`](Agent::act).
    fn act_batch(
        &mut self,
        observations: ArrayView2<'_, f32>,
        rng: &mut dyn RngCore,
        actions: &mut [usize],
    ) -> Result<()> {
        check_batch(observations.nrows(), actions.len())?;
        for (observation, action) in observations.rows().into_iter().zip(actions.iter_mut()) {
            *action = self.act(observation, rng)?;
        }
        Ok(())
    }

    /// Records the transition of sub-environment `env` of a vector environment (the index lets
    /// an agent keep per-episode state, such as [`DqnAgent`]'s n-step window, for each
    /// sub-environment). The provided method calls [`observe`](Agent::observe); for `env = 0`
    /// it must be `observe`.
    ///
    /// # Errors
    /// As [`observe`](Agent::observe).
    fn observe_env(&mut self, env: usize, transition: Transition<'_>) -> Result<()> {
        let _ = env;
        self.observe(transition)
    }

    /// [`learn`](Agent::learn) after one step of a vector environment of `num_envs`
    /// sub-environments (whose `num_envs` transitions were observed): an agent whose schedule
    /// counts environment steps counts vector steps here where Stable-Baselines3 does (see
    /// [`DqnAgent`]'s). The provided method calls [`learn`](Agent::learn); with `num_envs = 1`
    /// it must be `learn`.
    ///
    /// # Errors
    /// As [`learn`](Agent::learn).
    fn learn_vec(&mut self, num_envs: usize, rng: &mut dyn RngCore) -> Result<Option<LearnStats>> {
        let _ = num_envs;
        self.learn(rng)
    }

    /// Refuses a number of sub-environments the agent cannot train with, before anything
    /// runs ([`train_vec`](crate::train_vec) calls it first). The provided method accepts every
    /// number from 1.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for 0; an agent's own rules (for [`DqnAgent`]: see its
    /// [`learn_vec`](Agent::learn_vec)).
    fn check_num_envs(&self, num_envs: usize) -> Result<()> {
        if num_envs == 0 {
            return Err(Error::InvalidArgument {
                what: "num_envs",
                value: "0".into(),
                rule: "training needs at least 1 environment",
            });
        }
        Ok(())
    }

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

/// Refuses a batch of observations without an action slot per row.
pub(crate) fn check_batch(rows: usize, actions: usize) -> Result<()> {
    if rows != actions {
        return Err(Error::LengthMismatch {
            what: "observations vs actions",
            left: rows,
            right: actions,
        });
    }
    Ok(())
}
