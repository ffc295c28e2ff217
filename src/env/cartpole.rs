//! CartPole, bit for bit as Gymnasium 1.x's `CartPoleEnv` inside its `TimeLimit` wrapper.
//!
//! The physics, the constants, the order of every floating-point operation and the termination
//! test are Gymnasium's (`gymnasium/envs/classic_control/cartpole.py`, explicit Euler). The state
//! is kept in `f64`, as Gymnasium's numpy array is, and the observation is its `f32` cast. The
//! golden-trajectory test (`tests/cartpole_parity.rs`) replays Gymnasium's own steps and
//! requires bit equality.

use ndarray::Array1;
use rand::{Rng, RngCore};

use super::episode::{EpisodeClock, step_with, validate_episode_settings};
use crate::{Env, Error, Result, Step, StepInfo};

/// Gravity, m/s^2.
pub const GRAVITY: f64 = 9.8;
/// Mass of the cart, kg.
pub const MASS_CART: f64 = 1.0;
/// Mass of the pole, kg.
pub const MASS_POLE: f64 = 0.1;
/// Cart plus pole, kg (computed as Gymnasium does: `masspole + masscart`).
pub const TOTAL_MASS: f64 = MASS_POLE + MASS_CART;
/// Half the pole's length, m (Gymnasium's `length`).
pub const HALF_POLE_LENGTH: f64 = 0.5;
/// `masspole * length`.
pub const POLE_MASS_LENGTH: f64 = MASS_POLE * HALF_POLE_LENGTH;
/// Magnitude of the force applied by either action, N.
pub const FORCE_MAG: f64 = 10.0;
/// Seconds between state updates.
pub const TAU: f64 = 0.02;
/// The episode terminates when the pole leans more than this, in radians: 12 degrees,
/// computed as Gymnasium does (`12 * 2 * math.pi / 360`; `12f64.to_radians()` is one ulp off).
pub const THETA_THRESHOLD_RADIANS: f64 = 12.0 * 2.0 * std::f64::consts::PI / 360.0;
/// The episode terminates when the cart is further than this from the centre, m.
pub const X_THRESHOLD: f64 = 2.4;
/// Each component of the initial state is drawn uniformly from `[-RESET_BOUND, RESET_BOUND)`.
pub const RESET_BOUND: f64 = 0.05;

/// Settings of a [`CartPole`]: the time limit, the solve threshold and the reward scheme.
///
/// # Examples
/// ```
/// use deepq::{CartPole, CartPoleConfig};
///
/// # fn main() -> deepq::Result<()> {
/// let env = CartPole::new(CartPoleConfig { max_episode_steps: 1000, ..CartPoleConfig::v1() })?;
/// assert_eq!(env.max_episode_steps(), 1000);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct CartPoleConfig {
    /// Episodes are truncated after this many steps (Gymnasium's `TimeLimit`). v0: 200, v1: 500.
    pub max_episode_steps: usize,
    /// The trailing 100-episode mean return at which the task counts as solved. v0: 195, v1: 475.
    pub reward_threshold: f32,
    /// Gymnasium 1.0's `sutton_barto_reward`: 0 on every step and -1 on the terminating one,
    /// instead of 1 on every step. Default `false`.
    pub sutton_barto_reward: bool,
}

impl CartPoleConfig {
    /// `CartPole-v0`: 200 steps, solved at a mean of 195.
    pub fn v0() -> Self {
        Self { max_episode_steps: 200, reward_threshold: 195.0, sutton_barto_reward: false }
    }

    /// `CartPole-v1`: 500 steps, solved at a mean of 475.
    pub fn v1() -> Self {
        Self { max_episode_steps: 500, reward_threshold: 475.0, sutton_barto_reward: false }
    }

    /// Sets `max_episode_steps` (default 500, as v1).
    pub fn with_max_episode_steps(mut self, steps: usize) -> Self {
        self.max_episode_steps = steps;
        self
    }

    /// Sets `reward_threshold` (default 475, as v1).
    pub fn with_reward_threshold(mut self, threshold: f32) -> Self {
        self.reward_threshold = threshold;
        self
    }

    /// Sets `sutton_barto_reward` (default `false`).
    pub fn with_sutton_barto_reward(mut self, on: bool) -> Self {
        self.sutton_barto_reward = on;
        self
    }

    /// Checks every rule of the config.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for `max_episode_steps == 0` or a non-finite `reward_threshold`.
    pub fn validate(&self) -> Result<()> {
        validate_episode_settings(self.max_episode_steps, self.reward_threshold)
    }
}

impl Default for CartPoleConfig {
    /// `CartPole-v1`, Gymnasium's current version.
    fn default() -> Self {
        Self::v1()
    }
}

/// The classic cart-pole balancing task, identical to Gymnasium's `CartPole-v0` / `CartPole-v1`.
///
/// Observation: `[x, x_dot, theta, theta_dot]` (cart position and velocity, pole angle and
/// angular velocity) as `f32`. Actions: 0 pushes the cart left, 1 pushes it right. Reward 1 for
/// every step, including the one that terminates. The episode terminates when `|x| > 2.4` or
/// `|theta| > 12°` and is truncated at [`max_episode_steps`](CartPole::max_episode_steps).
///
/// # Examples
/// ```
/// use deepq::{CartPole, Env};
/// use rand::SeedableRng;
/// use rand_chacha::ChaCha8Rng;
///
/// # fn main() -> deepq::Result<()> {
/// let mut env = CartPole::v0();
/// let mut rng = ChaCha8Rng::seed_from_u64(42);
/// env.reset(&mut rng);
/// let mut score = 0.0;
/// loop {
///     let step = env.step(1)?; // always push right
///     score += step.reward;
///     if step.done() {
///         break;
///     }
/// }
/// assert!(score < 200.0);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CartPole {
    config: CartPoleConfig,
    state: [f64; 4],
    clock: EpisodeClock,
}

impl CartPole {
    /// Number of actions: left and right.
    pub const NUM_ACTIONS: usize = 2;
    /// Length of the observation.
    pub const OBSERVATION_DIM: usize = 4;

    /// A CartPole with the given settings.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when the config breaks a rule (see
    /// [`CartPoleConfig::validate`]).
    pub fn new(config: CartPoleConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self { config, state: [0.0; 4], clock: EpisodeClock::new() })
    }

    /// `CartPole-v0`: truncated at 200 steps, solved at a mean return of 195.
    pub fn v0() -> Self {
        Self::from_valid(CartPoleConfig::v0())
    }

    /// `CartPole-v1`: truncated at 500 steps, solved at a mean return of 475.
    pub fn v1() -> Self {
        Self::from_valid(CartPoleConfig::v1())
    }

    fn from_valid(config: CartPoleConfig) -> Self {
        Self { config, state: [0.0; 4], clock: EpisodeClock::new() }
    }

    /// The settings.
    pub fn config(&self) -> &CartPoleConfig {
        &self.config
    }

    /// The time limit of an episode (Gymnasium's `max_episode_steps`).
    pub fn max_episode_steps(&self) -> usize {
        self.config.max_episode_steps
    }

    /// The mean return over 100 episodes at which the task counts as solved.
    pub fn reward_threshold(&self) -> f32 {
        self.config.reward_threshold
    }

    /// Steps taken in the current episode.
    pub fn elapsed_steps(&self) -> usize {
        self.clock.elapsed_steps()
    }

    /// The full-precision state `[x, x_dot, theta, theta_dot]` (Gymnasium's
    /// `env.unwrapped.state`).
    pub fn state(&self) -> [f64; 4] {
        self.state
    }

    /// Overwrites the physical state, as `env.unwrapped.state = ...` does in Gymnasium.
    ///
    /// The step count of a running episode is kept (the time limit still applies). If no
    /// episode is running (before the first reset, or after one ended), a new episode starts
    /// from `state` at step 0, so that one can step from any chosen state.
    ///
    /// # Errors
    /// [`Error::NonFinite`] if a component is NaN or infinite; the previous state is kept.
    pub fn set_state(&mut self, state: [f64; 4]) -> Result<()> {
        check_finite(&state, "CartPole::set_state")?;
        self.state = state;
        self.clock.start_unless_running();
        Ok(())
    }

    /// The observation: the `f32` cast of the state.
    pub fn observation(&self) -> Array1<f32> {
        Array1::from(observation_of(&self.state).to_vec())
    }
}

/// One explicit-Euler step of Gymnasium's dynamics, in Gymnasium's operation order.
#[inline]
fn dynamics(state: [f64; 4], action: usize) -> [f64; 4] {
    let [x, x_dot, theta, theta_dot] = state;
    let force = if action == 1 { FORCE_MAG } else { -FORCE_MAG };
    let costheta = theta.cos();
    let sintheta = theta.sin();
    let temp = (force + POLE_MASS_LENGTH * (theta_dot * theta_dot) * sintheta) / TOTAL_MASS;
    let thetaacc = (GRAVITY * sintheta - costheta * temp)
        / (HALF_POLE_LENGTH * (4.0 / 3.0 - MASS_POLE * (costheta * costheta) / TOTAL_MASS));
    let xacc = temp - POLE_MASS_LENGTH * thetaacc * costheta / TOTAL_MASS;
    [x + TAU * x_dot, x_dot + TAU * xacc, theta + TAU * theta_dot, theta_dot + TAU * thetaacc]
}

#[inline]
fn observation_of(state: &[f64; 4]) -> [f32; 4] {
    state.map(|v| v as f32)
}

fn check_finite(state: &[f64; 4], what: &str) -> Result<()> {
    const NAMES: [&str; 4] = ["x", "x_dot", "theta", "theta_dot"];
    for (name, &value) in NAMES.iter().zip(state) {
        if !value.is_finite() {
            return Err(Error::NonFinite { what: format!("{what}: {name}"), value });
        }
    }
    Ok(())
}

impl Env for CartPole {
    fn observation_dim(&self) -> usize {
        Self::OBSERVATION_DIM
    }

    fn num_actions(&self) -> usize {
        Self::NUM_ACTIONS
    }

    /// Draws each state component uniformly from `[-0.05, 0.05)` and starts a new episode.
    fn reset(&mut self, rng: &mut dyn RngCore) -> Array1<f32> {
        self.state = std::array::from_fn(|_| rng.random_range(-RESET_BOUND..RESET_BOUND));
        self.clock.start();
        self.observation()
    }

    /// Gymnasium's step and time limit. Besides the errors of the [`Env`] contract, a step
    /// whose result is not finite (possible only after [`set_state`](CartPole::set_state) to an
    /// extreme state) is [`Error::NonFinite`] and leaves the state as it was.
    fn step(&mut self, action: usize) -> Result<Step> {
        step_with::<4>(|observation| self.step_into(action, observation))
    }

    /// [`step`](Env::step) without allocating the observation.
    fn step_into(&mut self, action: usize, observation: &mut [f32]) -> Result<StepInfo> {
        self.clock.check_step(observation, Self::OBSERVATION_DIM, action, Self::NUM_ACTIONS)?;
        let next = dynamics(self.state, action);
        check_finite(&next, "CartPole state after step")?;
        self.state = next;

        let [x, _, theta, _] = next;
        // Gymnasium's test, written as Gymnasium writes it: strict inequalities on the f64 state.
        #[allow(clippy::manual_range_contains)]
        let terminated = x < -X_THRESHOLD
            || x > X_THRESHOLD
            || theta < -THETA_THRESHOLD_RADIANS
            || theta > THETA_THRESHOLD_RADIANS;
        let reward = match (self.config.sutton_barto_reward, terminated) {
            (false, _) => 1.0,
            (true, false) => 0.0,
            (true, true) => -1.0,
        };
        let truncated = self.clock.advance(terminated, self.config.max_episode_steps);
        observation.copy_from_slice(&observation_of(&next));
        Ok(StepInfo { reward, terminated, truncated })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_is_gymnasium_expression_not_to_radians() {
        // Gymnasium: 12 * 2 * math.pi / 360 == 0.20943951023931953
        assert_eq!(THETA_THRESHOLD_RADIANS, 0.20943951023931953);
        assert_ne!(THETA_THRESHOLD_RADIANS.to_bits(), 12f64.to_radians().to_bits());
    }

    #[test]
    fn derived_constants_match_gymnasium() {
        assert_eq!(TOTAL_MASS, 1.1);
        assert_eq!(POLE_MASS_LENGTH, 0.05);
    }
}
