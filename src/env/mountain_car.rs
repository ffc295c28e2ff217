//! MountainCar, bit for bit as Gymnasium 1.x's `MountainCar-v0` (`MountainCarEnv` inside its
//! `TimeLimit` wrapper).
//!
//! The constants, the order of every floating-point operation, the clips, the left-wall rule and
//! the termination test are Gymnasium's (`gymnasium/envs/classic_control/mountain_car.py`). Its
//! state is float64 throughout (a numpy array after `reset`, then a tuple of `np.float64`, with
//! the Python int `0` for a velocity zeroed at the wall, which behaves as `+0.0`); the cosine is
//! Python's `math.cos`, that is the C library's `cos`, which is what Rust's [`f64::cos`] calls
//! on Linux; `np.clip` on a float64 with float bounds is exact (no rounding, no `float32`
//! anywhere in the step). The observation is the `f32` cast of the state.
//!
//! The grouping matters: Gymnasium adds the whole increment at once,
//! `velocity + ((action - 1) * force + cos(3 position) * (-gravity))`; summing left to right
//! instead changes the last bits of about 15% of the golden steps, and a fused multiply-add
//! about 7%. The golden-trajectory test (`tests/mountain_car_parity.rs`) replays Gymnasium's
//! own steps and resets and requires bit equality.

use ndarray::Array1;
use rand::RngCore;

use super::episode::{EpisodeClock, step_with, validate_episode_settings};
use crate::{Env, Error, Result, Step, StepInfo};

/// The left wall: the position is clipped to at least this.
pub const MIN_POSITION: f64 = -1.2;
/// The right edge: the position is clipped to at most this.
pub const MAX_POSITION: f64 = 0.6;
/// The velocity is clipped to `[-MAX_SPEED, MAX_SPEED]`.
pub const MAX_SPEED: f64 = 0.07;
/// The flag: the episode terminates once the position reaches it (with the goal velocity).
pub const GOAL_POSITION: f64 = 0.5;
/// The change of velocity that a push (action 0 or 2) adds to every step.
pub const FORCE: f64 = 0.001;
/// The slope's pull: a step adds `-cos(3 * position) * GRAVITY` to the velocity.
pub const GRAVITY: f64 = 0.0025;
/// The start position is drawn uniformly between `RESET_LOW` and `RESET_HIGH` (see
/// [`MountainCar`]'s `reset` for the exact rule and its one rounding to `RESET_HIGH`).
pub const RESET_LOW: f64 = -0.6;
/// The (excluded) upper end of the start positions.
pub const RESET_HIGH: f64 = -0.4;

/// `2^-53`: the spacing of numpy's `next_double` values in `[0, 1)`.
const DOUBLE_UNIT: f64 = 1.0 / 9007199254740992.0;

/// Settings of a [`MountainCar`]: the time limit, the solve threshold and the goal velocity.
///
/// # Examples
/// ```
/// use deepq::{MountainCar, MountainCarConfig};
///
/// # fn main() -> deepq::Result<()> {
/// let env = MountainCar::new(MountainCarConfig { max_episode_steps: 500, ..Default::default() })?;
/// assert_eq!(env.max_episode_steps(), 500);
/// assert_eq!(env.reward_threshold(), -110.0);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct MountainCarConfig {
    /// Episodes are truncated after this many steps (Gymnasium's `TimeLimit`). v0: 200.
    pub max_episode_steps: usize,
    /// The trailing 100-episode mean return at which the task counts as solved. v0: -110.
    pub reward_threshold: f32,
    /// Gymnasium's `goal_velocity` argument: the episode terminates when
    /// `position >= 0.5 && velocity >= goal_velocity`. v0: 0.
    pub goal_velocity: f64,
}

impl MountainCarConfig {
    /// `MountainCar-v0`: 200 steps, solved at a mean return of -110, goal velocity 0.
    pub fn v0() -> Self {
        Self { max_episode_steps: 200, reward_threshold: -110.0, goal_velocity: 0.0 }
    }

    /// Sets `max_episode_steps` (default 200, as v0).
    pub fn with_max_episode_steps(mut self, steps: usize) -> Self {
        self.max_episode_steps = steps;
        self
    }

    /// Sets `reward_threshold` (default -110, as v0).
    pub fn with_reward_threshold(mut self, threshold: f32) -> Self {
        self.reward_threshold = threshold;
        self
    }

    /// Sets `goal_velocity` (default 0, as v0).
    pub fn with_goal_velocity(mut self, goal_velocity: f64) -> Self {
        self.goal_velocity = goal_velocity;
        self
    }

    /// Checks every rule of the config.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for `max_episode_steps == 0`, a non-finite `reward_threshold`
    /// or a non-finite `goal_velocity`.
    pub fn validate(&self) -> Result<()> {
        validate_episode_settings(self.max_episode_steps, self.reward_threshold)?;
        if !self.goal_velocity.is_finite() {
            return Err(Error::invalid_config(
                "goal_velocity",
                self.goal_velocity,
                "must be finite",
            ));
        }
        Ok(())
    }
}

impl Default for MountainCarConfig {
    /// `MountainCar-v0`, Gymnasium's only version.
    fn default() -> Self {
        Self::v0()
    }
}

/// The mountain-car task, identical to Gymnasium's `MountainCar-v0` (discrete actions).
///
/// A car sits in a valley between two hills, the track's height being `sin(3 x)`; its engine is
/// too weak to climb the right hill directly, so it must rock back and forth to reach the flag
/// at `x = 0.5`. Observation: `[position, velocity]` as `f32` (position in `[-1.2, 0.6]`,
/// velocity in `[-0.07, 0.07]`). Actions: 0 pushes left, 1 does not push, 2 pushes right.
/// Reward -1 for every step. A step computes, in Gymnasium's order:
///
/// ```text
/// velocity += (action - 1) * 0.001 + cos(3 * position) * (-0.0025)
/// velocity  = clip(velocity, -0.07, 0.07)
/// position += velocity
/// position  = clip(position, -1.2, 0.6)
/// if position == -1.2 and velocity < 0: velocity = 0      (an inelastic left wall)
/// ```
///
/// The episode terminates when `position >= 0.5 && velocity >= goal_velocity` and is truncated
/// at [`max_episode_steps`](MountainCar::max_episode_steps) (200).
///
/// Bit-exactness rests on `cos`: Gymnasium calls Python's `math.cos`, the C library's `cos`,
/// and so does [`f64::cos`] on Linux; on glibc the two are one function. On a platform whose
/// `cos` is not correctly rounded in the same way, a trajectory may differ in the last bits.
///
/// # Examples
/// ```
/// use deepq::{Env, MountainCar};
/// use rand::SeedableRng;
/// use rand_chacha::ChaCha8Rng;
///
/// # fn main() -> deepq::Result<()> {
/// let mut env = MountainCar::v0();
/// let mut rng = ChaCha8Rng::seed_from_u64(42);
/// let mut obs = env.reset(&mut rng);
/// let mut steps = 0;
/// loop {
///     // Push in the direction of the velocity: this pumps energy and reaches the flag.
///     let step = env.step(if obs[1] >= 0.0 { 2 } else { 0 })?;
///     steps += 1;
///     if step.done() {
///         assert!(step.terminated && step.observation[0] >= 0.5);
///         break;
///     }
///     obs = step.observation;
/// }
/// assert!(steps < 200);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct MountainCar {
    config: MountainCarConfig,
    state: [f64; 2],
    clock: EpisodeClock,
}

impl MountainCar {
    /// Number of actions: push left, no push, push right.
    pub const NUM_ACTIONS: usize = 3;
    /// Length of the observation.
    pub const OBSERVATION_DIM: usize = 2;

    /// A MountainCar with the given settings.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when the config breaks a rule (see
    /// [`MountainCarConfig::validate`]).
    pub fn new(config: MountainCarConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self::from_valid(config))
    }

    /// `MountainCar-v0`: truncated at 200 steps, solved at a mean return of -110.
    pub fn v0() -> Self {
        Self::from_valid(MountainCarConfig::v0())
    }

    fn from_valid(config: MountainCarConfig) -> Self {
        Self { config, state: [0.0; 2], clock: EpisodeClock::new() }
    }

    /// The settings.
    pub fn config(&self) -> &MountainCarConfig {
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

    /// The full-precision state `[position, velocity]` (Gymnasium's `env.unwrapped.state`).
    pub fn state(&self) -> [f64; 2] {
        self.state
    }

    /// Overwrites the physical state, as `env.unwrapped.state = ...` does in Gymnasium.
    ///
    /// Any finite state is accepted, also outside the observation box: the next step clips it
    /// as Gymnasium does. The step count of a running episode is kept (the time limit still
    /// applies). If no episode is running (before the first reset, or after one ended), a new
    /// episode starts from `state` at step 0, so that one can step from any chosen state.
    ///
    /// # Errors
    /// [`Error::NonFinite`] if a component is NaN or infinite; the previous state is kept.
    ///
    /// # Examples
    /// ```
    /// use deepq::{Env, MountainCar};
    ///
    /// # fn main() -> deepq::Result<()> {
    /// let mut env = MountainCar::v0();
    /// env.set_state([-1.2, -0.01])?; // against the left wall, moving left
    /// env.step(0)?;
    /// assert_eq!(env.state(), [-1.2, 0.0]); // the wall stops the car
    /// assert!(env.set_state([f64::NAN, 0.0]).is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_state(&mut self, state: [f64; 2]) -> Result<()> {
        check_finite(&state, "MountainCar::set_state")?;
        self.state = state;
        self.clock.start_unless_running();
        Ok(())
    }

    /// The observation: the `f32` cast of the state.
    pub fn observation(&self) -> Array1<f32> {
        Array1::from(observation_of(&self.state).to_vec())
    }
}

/// numpy's `np.clip` for a float64: `min(max(x, lo), hi)` with `max(a, b) = a > b ? a : b` and
/// `min(a, b) = a < b ? a : b` (numpy's `_NPY_CLIP`; NaN passes through). Exact: it returns
/// one of its arguments.
#[inline]
fn np_clip(x: f64, lo: f64, hi: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let x = if x > lo { x } else { lo };
    if x < hi { x } else { hi }
}

/// The velocity increment of a step, as Gymnasium computes it:
/// `(action - 1) * force + math.cos(3 * position) * (-gravity)`.
#[inline]
fn increment(position: f64, action: usize) -> f64 {
    let push = (action as f64 - 1.0) * FORCE;
    push + (3.0 * position).cos() * -GRAVITY
}

/// One step of Gymnasium's dynamics, in Gymnasium's operation order.
#[inline]
fn dynamics(state: [f64; 2], action: usize) -> [f64; 2] {
    let [position, velocity] = state;
    let velocity = np_clip(velocity + increment(position, action), -MAX_SPEED, MAX_SPEED);
    let position = np_clip(position + velocity, MIN_POSITION, MAX_POSITION);
    // Gymnasium sets the Python int 0, which every later operation treats as +0.0.
    let velocity = if position == MIN_POSITION && velocity < 0.0 { 0.0 } else { velocity };
    [position, velocity]
}

#[inline]
fn observation_of(state: &[f64; 2]) -> [f32; 2] {
    state.map(|v| v as f32)
}

fn check_finite(state: &[f64; 2], what: &str) -> Result<()> {
    const NAMES: [&str; 2] = ["position", "velocity"];
    for (name, &value) in NAMES.iter().zip(state) {
        if !value.is_finite() {
            return Err(Error::NonFinite { what: format!("{what}: {name}"), value });
        }
    }
    Ok(())
}

impl Env for MountainCar {
    fn observation_dim(&self) -> usize {
        Self::OBSERVATION_DIM
    }

    fn num_actions(&self) -> usize {
        Self::NUM_ACTIONS
    }

    /// Starts a new episode at velocity 0 and a position drawn uniformly from `[-0.6, -0.4)`.
    ///
    /// The draw is numpy's `Generator.uniform(-0.6, -0.4)`, which Gymnasium's reset calls:
    /// exactly one `rng.next_u64()`, whose top 53 bits make `u = (word >> 11) * 2^-53` in
    /// `[0, 1)`, and `position = -0.6 + (-0.4 - -0.6) * u`, rounded as numpy rounds it. Given the
    /// word that Gymnasium's PCG64 generator produced, the start state is Gymnasium's, bit for
    /// bit. As in numpy, the rounding of that sum makes the largest `u` (one word in `2^53`:
    /// `word >> 11 == 2^53 - 1`) give exactly `-0.4`; every other word gives a position in
    /// `[-0.6, -0.4)`.
    fn reset(&mut self, rng: &mut dyn RngCore) -> Array1<f32> {
        let u = (rng.next_u64() >> 11) as f64 * DOUBLE_UNIT;
        self.state = [RESET_LOW + (RESET_HIGH - RESET_LOW) * u, 0.0];
        self.clock.start();
        self.observation()
    }

    /// Gymnasium's step and time limit. Besides the errors of the [`Env`] contract, a step
    /// whose result is not finite (possible only after [`set_state`](MountainCar::set_state)
    /// to a position beyond `±6e307`, where `3 * position` overflows) is [`Error::NonFinite`]
    /// and leaves the state as it was.
    fn step(&mut self, action: usize) -> Result<Step> {
        step_with::<2>(|observation| self.step_into(action, observation))
    }

    /// [`step`](Env::step) without allocating the observation.
    fn step_into(&mut self, action: usize, observation: &mut [f32]) -> Result<StepInfo> {
        self.clock.check_step(observation, Self::OBSERVATION_DIM, action, Self::NUM_ACTIONS)?;
        let next = dynamics(self.state, action);
        check_finite(&next, "MountainCar state after step")?;
        self.state = next;

        let [position, velocity] = next;
        let terminated = position >= GOAL_POSITION && velocity >= self.config.goal_velocity;
        let truncated = self.clock.advance(terminated, self.config.max_episode_steps);
        observation.copy_from_slice(&observation_of(&next));
        Ok(StepInfo { reward: -1.0, terminated, truncated })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_range_is_computed_as_numpy_does() {
        // numpy: high - low = -0.4 - -0.6 = 0.19999999999999996, not 0.2.
        assert_eq!(RESET_HIGH - RESET_LOW, 0.19999999999999996);
        // The smallest draw is -0.6 itself. The largest rounds up to -0.4 exactly, as numpy's
        // does (Python: -0.6 + 0.19999999999999996 * (1 - 2**-53) == -0.4); the next one is
        // below it.
        let draw = |top: u64| RESET_LOW + (RESET_HIGH - RESET_LOW) * (top as f64 * DOUBLE_UNIT);
        assert_eq!(draw(0), RESET_LOW);
        assert_eq!(draw((1 << 53) - 1), RESET_HIGH);
        assert!(draw((1 << 53) - 2) < RESET_HIGH);
    }

    #[test]
    fn np_clip_returns_its_arguments() {
        assert_eq!(np_clip(0.08, -MAX_SPEED, MAX_SPEED), MAX_SPEED);
        assert_eq!(np_clip(-0.08, -MAX_SPEED, MAX_SPEED), -MAX_SPEED);
        assert_eq!(np_clip(-0.0, -MAX_SPEED, MAX_SPEED).to_bits(), (-0.0f64).to_bits());
        assert!(np_clip(f64::NAN, -1.0, 1.0).is_nan());
    }

    #[test]
    fn the_left_wall_zeroes_a_negative_velocity_only() {
        assert_eq!(dynamics([MIN_POSITION, -0.05], 0), [MIN_POSITION, 0.0]);
        // Clipped up to the wall while moving right: the velocity is kept.
        let [p, v] = dynamics([-1.3, 0.05], 1);
        assert_eq!(p, MIN_POSITION);
        assert!(v > 0.0);
    }
}
