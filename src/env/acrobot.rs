//! Acrobot, bit for bit as Gymnasium 1.x's `AcrobotEnv` (`Acrobot-v1`) inside its `TimeLimit`.
//!
//! The dynamics (Sutton and Barto's book equations, Gymnasium's `book_or_nips = "book"`), the
//! constants, the fourth-order Runge-Kutta step over `[0, dt]`, `wrap`, `bound`, the
//! termination test and the order of every floating-point operation are those of
//! `gymnasium/envs/classic_control/acrobot.py`. Three details of how numpy evaluates that code
//! are repeated as well, because each changes the bits:
//! - the start state is `float32` (Gymnasium casts its draw), and the first observation of an
//!   episode takes numpy's own `float32` `cos` and `sin` of it, a SIMD kernel that is not the C
//!   library's `cosf`/`sinf` (see `numpy_trig.rs`); from the first step on the state is `f64`
//!   (`np.append` promotes it) and `cos`/`sin` are the C library's, as `f64::cos`/`f64::sin`;
//! - `x**2` on a numpy `float64` is the C library's `pow(x, 2.0)`, which differs from `x * x`
//!   in the last bit for about one value in a thousand, so the dynamics call `pow`;
//! - `wrap` subtracts (or adds) `2 pi` one turn at a time, which is not `rem_euclid`.
//!
//! `tests/acrobot_parity.rs` replays Gymnasium's own resets and steps and requires bit
//! equality. The functions of the C library (`cos`, `sin`, `pow`) are the platform's, as
//! numpy's are: the golden data were made with glibc on x86-64 (see its header).

use std::f64::consts::PI;

use ndarray::Array1;
use rand::RngCore;

use super::episode::{EpisodeClock, step_with, validate_episode_settings};
use super::numpy_trig;
use crate::env::{Env, Step, StepInfo};
use crate::error::{Error, Result};

/// Seconds integrated by one step (Gymnasium's `dt`).
pub const DT: f64 = 0.2;
/// Length of the first link, m.
pub const LINK_LENGTH_1: f64 = 1.0;
/// Length of the second link, m.
pub const LINK_LENGTH_2: f64 = 1.0;
/// Mass of the first link, kg.
pub const LINK_MASS_1: f64 = 1.0;
/// Mass of the second link, kg.
pub const LINK_MASS_2: f64 = 1.0;
/// Position of the first link's centre of mass along it, m.
pub const LINK_COM_POS_1: f64 = 0.5;
/// Position of the second link's centre of mass along it, m.
pub const LINK_COM_POS_2: f64 = 0.5;
/// Moment of inertia of either link, kg m^2.
pub const LINK_MOI: f64 = 1.0;
/// Gravity, m/s^2.
pub const GRAVITY: f64 = 9.8;
/// The angular velocity of the first joint is bounded to `[-4 pi, 4 pi]`, rad/s.
pub const MAX_VEL_1: f64 = 4.0 * PI;
/// The angular velocity of the second joint is bounded to `[-9 pi, 9 pi]`, rad/s.
pub const MAX_VEL_2: f64 = 9.0 * PI;
/// The torque of each action on the joint between the links: actions 0, 1, 2.
pub const AVAIL_TORQUE: [f64; 3] = [-1.0, 0.0, 1.0];
/// Each component of the start state is drawn uniformly from `[-RESET_BOUND, RESET_BOUND)`.
pub const RESET_BOUND: f64 = 0.1;
/// An angle beyond this magnitude after a step is an error instead of being wrapped: Gymnasium's
/// `wrap` takes one loop per turn of `2 pi` (16 million loops here, some 20 ms; Gymnasium never
/// ends beyond about `2^55`). No step from a state that Gymnasium reaches by itself comes near:
/// only [`Acrobot::set_state`] to velocities far beyond the bounds leads here.
pub const MAX_WRAPPED_ANGLE: f64 = 1.0e8;

// Subexpressions of Gymnasium's `_dsdt` on Python floats, exact in binary64 (`lc1**2` is
// `pow(0.5, 2.0) == 0.25`, and so on).
const LC1_SQUARED: f64 = LINK_COM_POS_1 * LINK_COM_POS_1;
const LC2_SQUARED: f64 = LINK_COM_POS_2 * LINK_COM_POS_2;
const L1_SQUARED: f64 = LINK_LENGTH_1 * LINK_LENGTH_1;

/// Settings of an [`Acrobot`]: the time limit and the solve threshold.
///
/// # Examples
/// ```
/// use deepq::{Acrobot, AcrobotConfig};
///
/// # fn main() -> deepq::Result<()> {
/// let env = Acrobot::new(AcrobotConfig::v1().with_max_episode_steps(1000))?;
/// assert_eq!(env.max_episode_steps(), 1000);
/// assert_eq!(env.reward_threshold(), -100.0);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct AcrobotConfig {
    /// Episodes are truncated after this many steps (Gymnasium's `TimeLimit`). v1: 500.
    pub max_episode_steps: usize,
    /// The trailing 100-episode mean return at which the task counts as solved. v1: -100.
    pub reward_threshold: f32,
}

impl AcrobotConfig {
    /// `Acrobot-v1`: 500 steps, solved at a mean return of -100.
    pub fn v1() -> Self {
        Self { max_episode_steps: 500, reward_threshold: -100.0 }
    }

    /// Sets `max_episode_steps` (default 500, as v1).
    pub fn with_max_episode_steps(mut self, steps: usize) -> Self {
        self.max_episode_steps = steps;
        self
    }

    /// Sets `reward_threshold` (default -100, as v1).
    pub fn with_reward_threshold(mut self, threshold: f32) -> Self {
        self.reward_threshold = threshold;
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

impl Default for AcrobotConfig {
    /// `Acrobot-v1`.
    fn default() -> Self {
        Self::v1()
    }
}

/// The acrobot swing-up task, identical to Gymnasium's `Acrobot-v1`.
///
/// Two links hang from a fixed pivot; the joint between them is actuated. State:
/// `[theta1, theta2, dtheta1, dtheta2]`, where `theta1` is the angle of the first link from
/// straight down and `theta2` the angle of the second link relative to the first. Observation:
/// `[cos theta1, sin theta1, cos theta2, sin theta2, dtheta1, dtheta2]` as `f32`. Actions 0, 1,
/// 2 apply a torque of -1, 0 and +1 to the middle joint. Reward -1 for every step, 0 for the
/// terminating one. The episode terminates when the free end rises above the target height,
/// `-cos(theta1) - cos(theta2 + theta1) > 1`, and is truncated at
/// [`max_episode_steps`](Acrobot::max_episode_steps) (500).
///
/// Each step integrates Gymnasium's equations over 0.2 s with one fourth-order Runge-Kutta
/// step, wraps the angles into `[-pi, pi]` and bounds the velocities to `±4 pi` and `±9 pi`;
/// states and observations equal Gymnasium's bit for bit (see the module source for what that
/// takes).
///
/// # Examples
/// ```
/// use deepq::{Acrobot, Env};
/// use rand::SeedableRng;
/// use rand_chacha::ChaCha8Rng;
///
/// # fn main() -> deepq::Result<()> {
/// let mut env = Acrobot::v1();
/// let mut rng = ChaCha8Rng::seed_from_u64(0);
/// let mut observation = env.reset(&mut rng);
/// let mut score = 0.0;
/// loop {
///     // Pump energy: torque in the direction the second joint turns (dtheta2).
///     let step = env.step(if observation[5] > 0.0 { 2 } else { 0 })?;
///     score += step.reward;
///     if step.done() {
///         assert!(step.terminated, "the swing-up reaches the goal");
///         break;
///     }
///     observation = step.observation;
/// }
/// assert!(score > -500.0);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Acrobot {
    config: AcrobotConfig,
    state: [f64; 4],
    /// The state holds the `float32` start state of Gymnasium's reset (no step taken since):
    /// the observation then takes numpy's `float32` `cos` and `sin`.
    float32: bool,
    clock: EpisodeClock,
}

impl Acrobot {
    /// Number of actions: torque -1, 0 and +1.
    pub const NUM_ACTIONS: usize = 3;
    /// Length of the observation.
    pub const OBSERVATION_DIM: usize = 6;

    /// An Acrobot with the given settings.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when the config breaks a rule (see
    /// [`AcrobotConfig::validate`]).
    pub fn new(config: AcrobotConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self::from_valid(config))
    }

    /// `Acrobot-v1`: truncated at 500 steps, solved at a mean return of -100.
    pub fn v1() -> Self {
        Self::from_valid(AcrobotConfig::v1())
    }

    fn from_valid(config: AcrobotConfig) -> Self {
        Self { config, state: [0.0; 4], float32: false, clock: EpisodeClock::new() }
    }

    /// The settings.
    pub fn config(&self) -> &AcrobotConfig {
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

    /// The full-precision state `[theta1, theta2, dtheta1, dtheta2]` (Gymnasium's
    /// `env.unwrapped.state`; right after a reset its `float32` values, widened exactly).
    pub fn state(&self) -> [f64; 4] {
        self.state
    }

    /// Overwrites the physical state with `f64` values, as `env.unwrapped.state =
    /// np.array(state)` does in Gymnasium.
    ///
    /// The observation of this state takes `f64` `cos` and `sin` (Gymnasium's `_get_ob` on a
    /// `float64` array). The step count of a running episode is kept (the time limit still
    /// applies). If no episode is running (before the first reset, or after one ended), a new
    /// episode starts from `state` at step 0, so that one can step from any chosen state.
    ///
    /// # Errors
    /// [`Error::NonFinite`] if a component is NaN or infinite; the previous state is kept.
    pub fn set_state(&mut self, state: [f64; 4]) -> Result<()> {
        check_finite(&state, "Acrobot::set_state")?;
        self.state = state;
        self.float32 = false;
        self.clock.start_unless_running();
        Ok(())
    }

    /// Starts a new episode from the `float32` start state `start`, as [`reset`](Env::reset)
    /// does once it has drawn one, and returns the first observation.
    ///
    /// This is Gymnasium's reset with a chosen draw: its state is a `float32` array, and the
    /// first observation takes numpy's `float32` `cos` and `sin` of it (which differ from the
    /// `f64` functions rounded to `f32` in the last bit for some inputs).
    ///
    /// # Errors
    /// [`Error::NonFinite`] if a component is NaN or infinite; nothing changes then.
    ///
    /// # Examples
    /// ```
    /// use deepq::Acrobot;
    ///
    /// # fn main() -> deepq::Result<()> {
    /// let mut env = Acrobot::v1();
    /// let observation = env.reset_to([0.0, 0.0, 0.05, -0.05])?;
    /// assert_eq!(observation.to_vec(), [1.0, 0.0, 1.0, 0.0, 0.05, -0.05]);
    /// assert_eq!(env.state()[2], f64::from(0.05f32));
    /// # Ok(())
    /// # }
    /// ```
    pub fn reset_to(&mut self, start: [f32; 4]) -> Result<Array1<f32>> {
        let state = start.map(f64::from);
        check_finite(&state, "Acrobot::reset_to")?;
        self.state = state;
        self.float32 = true;
        self.clock.start();
        Ok(self.observation())
    }

    /// The observation of the current state:
    /// `[cos theta1, sin theta1, cos theta2, sin theta2, dtheta1, dtheta2]` as `f32`.
    pub fn observation(&self) -> Array1<f32> {
        Array1::from(observation_of(&self.state, self.float32).to_vec())
    }

    /// Whether the state is still the `float32` start state of the episode (no step since the
    /// reset), as Gymnasium keeps it.
    pub(crate) fn is_float32(&self) -> bool {
        self.float32
    }
}

/// numpy's `float64` `x**2`: the C library's `pow(x, 2.0)`, not `x * x` (they differ in the
/// last bit for about 0.1% of inputs).
#[inline]
fn pow2(x: f64) -> f64 {
    // Hidden from the optimizer, which would otherwise rewrite `pow(x, 2.0)` as `x * x`.
    x.powf(std::hint::black_box(2.0))
}

/// Gymnasium's `_dsdt` (book dynamics): the time derivative of `[theta1, theta2, dtheta1,
/// dtheta2]` under `torque`, in Gymnasium's operation order.
#[inline]
fn derivatives(s: [f64; 4], torque: f64) -> [f64; 4] {
    const M1: f64 = LINK_MASS_1;
    const M2: f64 = LINK_MASS_2;
    const L1: f64 = LINK_LENGTH_1;
    const LC1: f64 = LINK_COM_POS_1;
    const LC2: f64 = LINK_COM_POS_2;
    const I1: f64 = LINK_MOI;
    const I2: f64 = LINK_MOI;
    const G: f64 = GRAVITY;
    let [theta1, theta2, dtheta1, dtheta2] = s;
    let (sin2, cos2) = (theta2.sin(), theta2.cos());
    let d1 = M1 * LC1_SQUARED + M2 * (L1_SQUARED + LC2_SQUARED + 2.0 * L1 * LC2 * cos2) + I1 + I2;
    let d2 = M2 * (LC2_SQUARED + L1 * LC2 * cos2) + I2;
    let phi2 = M2 * LC2 * G * (theta1 + theta2 - PI / 2.0).cos();
    let phi1 = -M2 * L1 * LC2 * pow2(dtheta2) * sin2
        - 2.0 * M2 * L1 * LC2 * dtheta2 * dtheta1 * sin2
        + (M1 * LC1 + M2 * L1) * G * (theta1 - PI / 2.0).cos()
        + phi2;
    let ddtheta2 = (torque + d2 / d1 * phi1 - M2 * L1 * LC2 * pow2(dtheta1) * sin2 - phi2)
        / (M2 * LC2_SQUARED + I2 - pow2(d2) / d1);
    let ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    [dtheta1, dtheta2, ddtheta1, ddtheta2]
}

/// Gymnasium's `rk4` over `t = [0, dt]`: one classical Runge-Kutta step. (Gymnasium carries the
/// torque as a fifth component with derivative 0, which leaves it unchanged.)
#[inline]
fn rk4(y0: [f64; 4], torque: f64) -> [f64; 4] {
    let dt = DT - 0.0;
    let dt2 = dt / 2.0;
    let k1 = derivatives(y0, torque);
    let k2 = derivatives(std::array::from_fn(|i| y0[i] + dt2 * k1[i]), torque);
    let k3 = derivatives(std::array::from_fn(|i| y0[i] + dt2 * k2[i]), torque);
    let k4 = derivatives(std::array::from_fn(|i| y0[i] + dt * k3[i]), torque);
    std::array::from_fn(|i| y0[i] + dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]))
}

/// Gymnasium's `wrap(x, -pi, pi)`: whole turns subtracted or added one at a time.
///
/// # Errors
/// [`Error::NonFinite`] for NaN or an infinity, [`Error::InvalidArgument`] beyond
/// [`MAX_WRAPPED_ANGLE`] (where Gymnasium would loop for a long time, or forever).
fn wrap(x: f64, name: &str) -> Result<f64> {
    if !x.is_finite() {
        return Err(Error::NonFinite {
            what: format!("Acrobot state after step: {name}"),
            value: x,
        });
    }
    if x.abs() > MAX_WRAPPED_ANGLE {
        return Err(Error::InvalidArgument {
            what: "Acrobot state after step",
            value: format!("{name} = {x:e}"),
            rule: "an angle after a step must be within ±1e8 rad: Gymnasium's wrap reduces it \
                   one turn at a time",
        });
    }
    let (m, big_m) = (-PI, PI);
    let diff = big_m - m;
    let mut x = x;
    while x > big_m {
        x -= diff;
    }
    while x < m {
        x += diff;
    }
    Ok(x)
}

/// Gymnasium's `bound(x, m, M)`: Python's `min(max(x, m), M)`.
#[inline]
fn bound(x: f64, m: f64, big_m: f64) -> f64 {
    let low = if m > x { m } else { x };
    if big_m < low { big_m } else { low }
}

/// One step of Gymnasium's `step` from `state` with `action`, before the termination test.
fn dynamics(state: [f64; 4], action: usize) -> Result<[f64; 4]> {
    let next = rk4(state, AVAIL_TORQUE[action]);
    let next = [
        wrap(next[0], "theta1")?,
        wrap(next[1], "theta2")?,
        bound(next[2], -MAX_VEL_1, MAX_VEL_1),
        bound(next[3], -MAX_VEL_2, MAX_VEL_2),
    ];
    check_finite(&next, "Acrobot state after step")?;
    Ok(next)
}

/// Gymnasium's `_terminal`: the free end is above the target height.
#[inline]
fn terminal(s: &[f64; 4]) -> bool {
    -s[0].cos() - (s[1] + s[0]).cos() > 1.0
}

/// Gymnasium's `_get_ob`, with numpy's `float32` `cos`/`sin` for a `float32` state.
#[inline]
fn observation_of(s: &[f64; 4], float32: bool) -> [f32; 6] {
    if float32 {
        let (t1, t2) = (s[0] as f32, s[1] as f32);
        [
            numpy_trig::cos(t1),
            numpy_trig::sin(t1),
            numpy_trig::cos(t2),
            numpy_trig::sin(t2),
            s[2] as f32,
            s[3] as f32,
        ]
    } else {
        [
            s[0].cos() as f32,
            s[0].sin() as f32,
            s[1].cos() as f32,
            s[1].sin() as f32,
            s[2] as f32,
            s[3] as f32,
        ]
    }
}

fn check_finite(state: &[f64; 4], what: &str) -> Result<()> {
    const NAMES: [&str; 4] = ["theta1", "theta2", "dtheta1", "dtheta2"];
    for (name, &value) in NAMES.iter().zip(state) {
        if !value.is_finite() {
            return Err(Error::NonFinite { what: format!("{what}: {name}"), value });
        }
    }
    Ok(())
}

/// One draw of numpy's `Generator.uniform(low, high)`: `low + (high - low) * u` with
/// `u = (next_u64 >> 11) * 2^-53`.
fn numpy_uniform(rng: &mut dyn RngCore, low: f64, high: f64) -> f64 {
    let u = (rng.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0);
    low + (high - low) * u
}

impl Env for Acrobot {
    fn observation_dim(&self) -> usize {
        Self::OBSERVATION_DIM
    }

    fn num_actions(&self) -> usize {
        Self::NUM_ACTIONS
    }

    /// Draws the start state and starts a new episode, as Gymnasium's reset does.
    ///
    /// `theta1`, `theta2`, `dtheta1` and `dtheta2` are drawn in that order, each from one
    /// `rng.next_u64()` by numpy's formula for `Generator.uniform(-0.1, 0.1)`:
    /// `-0.1 + 0.2 * u` with `u = (next_u64 >> 11) * 2^-53` in `[0, 1)`; then each is rounded
    /// to `f32`, as Gymnasium's `.astype(np.float32)` does (so `0.1` rounded to `f32`, a hair
    /// above 0.1, can occur). Given the raw 64-bit outputs of numpy's bit generator, the start
    /// state is Gymnasium's. The rest is [`reset_to`](Acrobot::reset_to).
    fn reset(&mut self, rng: &mut dyn RngCore) -> Array1<f32> {
        let start: [f32; 4] =
            std::array::from_fn(|_| numpy_uniform(rng, -RESET_BOUND, RESET_BOUND) as f32);
        self.state = start.map(f64::from);
        self.float32 = true;
        self.clock.start();
        self.observation()
    }

    /// Gymnasium's step and time limit. Besides the errors of the [`Env`] contract, a step
    /// whose result is not finite, or whose angle is beyond [`MAX_WRAPPED_ANGLE`] (both possible
    /// only after [`set_state`](Acrobot::set_state) to an extreme state), is
    /// [`Error::NonFinite`] or [`Error::InvalidArgument`] and leaves the state as it was.
    fn step(&mut self, action: usize) -> Result<Step> {
        step_with::<6>(|observation| self.step_into(action, observation))
    }

    /// [`step`](Env::step) without allocating the observation.
    fn step_into(&mut self, action: usize, observation: &mut [f32]) -> Result<StepInfo> {
        self.clock.check_step(observation, Self::OBSERVATION_DIM, action, Self::NUM_ACTIONS)?;
        let next = dynamics(self.state, action)?;
        self.state = next;
        self.float32 = false;

        let terminated = terminal(&next);
        let reward = if terminated { 0.0 } else { -1.0 };
        let truncated = self.clock.advance(terminated, self.config.max_episode_steps);
        observation.copy_from_slice(&observation_of(&next, false));
        Ok(StepInfo { reward, terminated, truncated })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_gymnasiums() {
        assert_eq!(MAX_VEL_1, 12.566370614359172);
        assert_eq!(MAX_VEL_2, 28.274333882308138);
        assert_eq!((LC1_SQUARED, LC2_SQUARED, L1_SQUARED), (0.25, 0.25, 1.0));
        assert_eq!(
            (LINK_MASS_1 * LINK_COM_POS_1 + LINK_MASS_2 * LINK_LENGTH_1) * GRAVITY,
            1.5 * 9.8
        );
    }

    #[test]
    fn wrap_takes_whole_turns_and_bound_clamps() {
        assert_eq!(wrap(PI, "t").unwrap(), PI);
        assert_eq!(wrap(-PI, "t").unwrap(), -PI);
        assert_eq!(wrap(PI + 0.5, "t").unwrap(), PI + 0.5 - 2.0 * PI);
        let mut x = 100.0;
        while x > PI {
            x -= 2.0 * PI;
        }
        assert_eq!(wrap(100.0, "t").unwrap(), x);
        assert!(wrap(2e8, "t").is_err() && wrap(f64::NAN, "t").is_err());
        assert_eq!(bound(20.0, -MAX_VEL_1, MAX_VEL_1), MAX_VEL_1);
        assert_eq!(bound(-20.0, -MAX_VEL_1, MAX_VEL_1), -MAX_VEL_1);
        assert_eq!(bound(f64::INFINITY, -MAX_VEL_1, MAX_VEL_1), MAX_VEL_1);
        assert_eq!(bound(1.5, -MAX_VEL_1, MAX_VEL_1), 1.5);
    }

    #[test]
    fn pow2_is_the_c_librarys_pow() {
        // 0.1% of doubles have pow(x, 2) != x * x with glibc; at least the function is called.
        for i in 0..1000 {
            let x = 0.37 + i as f64 * 0.0123;
            assert!((pow2(x) - x * x).abs() <= f64::EPSILON * x * x);
        }
    }
}
