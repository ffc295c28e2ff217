//! Environments: the [`Env`] trait, its [`Step`] result, [`CartPole`] and [`check_env`]; the
//! [`VecEnv`] trait of N environments stepped together and its two implementations.

mod acrobot;
mod acrobot_render;
mod cartpole;
mod check;
mod episode;
mod mountain_car;
mod mountain_car_render;
mod numpy_trig;
mod render;
mod time_limit;
mod vec_env;
mod vec_env_sequential;
mod vec_env_threaded;

pub use acrobot::{Acrobot, AcrobotConfig};
pub use cartpole::{CartPole, CartPoleConfig};
pub use check::{CheckConfig, check_env};
pub use mountain_car::{MountainCar, MountainCarConfig};
pub use render::Frame;
pub use time_limit::TimeLimit;
pub use vec_env::{VecEnv, VecStep};
pub(crate) use vec_env::{reset_row, step_row};
pub use vec_env_sequential::SequentialVecEnv;
pub use vec_env_threaded::ThreadedVecEnv;

use ndarray::Array1;
use rand::RngCore;

use crate::Result;

/// What one [`Env::step`] returns: Gymnasium's `(observation, reward, terminated, truncated)`.
///
/// `terminated` and `truncated` are different things and deepq keeps them apart:
/// `terminated` means the environment reached a terminal state (the pole fell), so the value of
/// the next state is zero; `truncated` means the episode was cut short from outside (a time
/// limit), so the next state still has a value and a learner must bootstrap from it. Both may be
/// true on the same step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The observation after the step, of length [`Env::observation_dim`].
    pub observation: Array1<f32>,
    /// The reward for the step.
    pub reward: f32,
    /// The environment reached a terminal state.
    pub terminated: bool,
    /// The episode was cut short (for example by a time limit).
    pub truncated: bool,
}

impl Step {
    /// Whether the episode is over (terminated or truncated): the next call must be a reset.
    pub fn done(&self) -> bool {
        self.terminated || self.truncated
    }
}

/// Copies an observation an environment returned into a buffer of the expected length.
///
/// # Errors
/// [`Error::ObservationLength`](crate::Error::ObservationLength) naming `what` if the lengths
/// differ; the buffer is then unchanged.
pub(crate) fn copy_observation(
    what: &'static str,
    observation: &Array1<f32>,
    buffer: &mut [f32],
) -> Result<()> {
    if observation.len() != buffer.len() {
        return Err(crate::Error::ObservationLength {
            what,
            expected: buffer.len(),
            actual: observation.len(),
        });
    }
    for (out, &value) in buffer.iter_mut().zip(observation) {
        *out = value;
    }
    Ok(())
}

/// What [`Env::step_into`] returns: a [`Step`] whose observation went into the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepInfo {
    /// The reward for the step.
    pub reward: f32,
    /// The environment reached a terminal state.
    pub terminated: bool,
    /// The episode was cut short (for example by a time limit).
    pub truncated: bool,
}

impl StepInfo {
    /// Whether the episode is over (terminated or truncated): the next call must be a reset.
    pub fn done(&self) -> bool {
        self.terminated || self.truncated
    }
}

/// An episodic environment with a continuous observation vector and a discrete action set:
/// Gymnasium's model in Rust.
///
/// Observations are `f32` vectors of length [`observation_dim`](Env::observation_dim); actions
/// are indices in `0..num_actions()`. An episode starts with [`reset`](Env::reset), which takes
/// the RNG for every random draw of the episode, and runs with [`step`](Env::step) until a step
/// returns `terminated` or `truncated`.
///
/// The trait is object-safe: learners and [`check_env`] take `&mut dyn Env`.
///
/// # Contract
/// Implementations must:
/// - return `Err(Error::InvalidAction { .. })` for an action `>= num_actions()`, leaving the
///   episode as it was;
/// - return `Err(Error::StepBeforeReset)` for a step before the first reset and
///   `Err(Error::EpisodeEnded { .. })` for a step after the episode ended;
/// - draw every random number from the RNG given to `reset` (or from RNGs seeded by it), so that
///   equal seeds and equal actions give equal episodes;
/// - return finite observations and rewards.
///
/// [`check_env`] verifies these rules on a user's environment.
///
/// [`Error::InvalidAction`]: crate::Error::InvalidAction
///
/// # Examples
/// ```
/// use deepq::{CartPole, Env};
/// use rand::SeedableRng;
/// use rand_chacha::ChaCha8Rng;
///
/// # fn main() -> deepq::Result<()> {
/// let mut env = CartPole::v1();
/// let mut rng = ChaCha8Rng::seed_from_u64(0);
/// let obs = env.reset(&mut rng);
/// assert_eq!(obs.len(), env.observation_dim());
/// let step = env.step(1)?;
/// assert_eq!(step.reward, 1.0);
/// assert!(env.step(7).is_err()); // CartPole has 2 actions
/// # Ok(())
/// # }
/// ```
pub trait Env {
    /// The length of every observation.
    fn observation_dim(&self) -> usize;

    /// The number of discrete actions; valid actions are `0..num_actions()`.
    fn num_actions(&self) -> usize;

    /// Starts a new episode and returns its first observation.
    ///
    /// Every random draw of the reset comes from `rng`. A stochastic environment that also needs
    /// randomness in `step` should seed its own RNG from `rng` here.
    fn reset(&mut self, rng: &mut dyn RngCore) -> Array1<f32>;

    /// Applies `action` and returns the next observation, the reward and whether the episode
    /// ended.
    ///
    /// # Errors
    /// [`Error::InvalidAction`](crate::Error::InvalidAction) for `action >= num_actions()`,
    /// [`Error::StepBeforeReset`](crate::Error::StepBeforeReset) before the first reset,
    /// [`Error::EpisodeEnded`](crate::Error::EpisodeEnded) after a step that returned
    /// `terminated` or `truncated`. Environments may also return other errors (for example
    /// [`Error::NonFinite`](crate::Error::NonFinite)).
    fn step(&mut self, action: usize) -> Result<Step>;

    /// [`step`](Env::step), writing the next observation into `observation` instead of
    /// allocating it: the path of training and evaluation loops. The provided implementation
    /// calls `step` and copies; an environment overrides it to skip the allocation, as
    /// [`CartPole`] does. Both must give the same results.
    ///
    /// # Errors
    /// [`Error::ObservationLength`](crate::Error::ObservationLength) if `observation` does not
    /// have `observation_dim()` values (checked before stepping, so the episode is unchanged),
    /// and every error of [`step`](Env::step).
    fn step_into(&mut self, action: usize, observation: &mut [f32]) -> Result<StepInfo> {
        let dim = self.observation_dim();
        if observation.len() != dim {
            return Err(crate::Error::ObservationLength {
                what: "observation buffer",
                expected: dim,
                actual: observation.len(),
            });
        }
        let step = self.step(action)?;
        copy_observation("observation returned by step", &step.observation, observation)?;
        Ok(StepInfo { reward: step.reward, terminated: step.terminated, truncated: step.truncated })
    }
}
