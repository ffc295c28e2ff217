//! [`TimeLimit`]: Gymnasium's wrapper that truncates episodes after a number of steps.

use ndarray::Array1;
use rand::RngCore;

use crate::env::{Env, Step, StepInfo};
use crate::error::{Error, Result};

/// Truncates the episodes of an environment after `max_steps` steps, as Gymnasium 1.x's
/// `gymnasium.wrappers.TimeLimit` does.
///
/// The wrapper counts the steps since the last [`reset`](Env::reset). The step that brings the
/// count to `max_steps` returns `truncated = true`; it keeps the inner environment's
/// `terminated`, so both flags may be true on the same step, and the inner environment's own
/// `truncated` is kept as well (the two are or-ed). A time limit is the standard way to end an
/// environment that may never end by itself: the cut is then reported as truncation, not
/// termination, so that a learner bootstraps through it.
///
/// Wrapping an environment that already has a time limit (such as [`CartPole`], truncated at 200
/// or 500 steps) truncates at the smaller of the two limits.
///
/// The wrapper keeps the [`Env`] contract:
/// - an invalid action is rejected by the inner environment and not counted (only a step that
///   returns `Ok` counts);
/// - a step before the first reset goes to the inner environment, which rejects it with
///   [`Error::StepBeforeReset`];
/// - after a step that ended the episode (the limit, or the inner environment's own end), a
///   further step is rejected with [`Error::EpisodeEnded`] without calling the inner
///   environment, which may not know that its episode ended. Its `truncated` is true when the
///   episode was truncated and not terminated, as for [`CartPole`].
///
/// Resetting the inner environment through [`inner_mut`](TimeLimit::inner_mut) does not reset
/// the count: reset the wrapper instead.
///
/// [`CartPole`]: crate::CartPole
///
/// # Examples
/// ```
/// use deepq::{CartPole, Env, Error, TimeLimit};
/// use rand::SeedableRng;
/// use rand_chacha::ChaCha8Rng;
///
/// # fn main() -> deepq::Result<()> {
/// // CartPole-v0 truncates at 200 steps by itself; the wrapper cuts it at 10.
/// let mut env = TimeLimit::new(CartPole::v0(), 10)?;
/// let mut rng = ChaCha8Rng::seed_from_u64(0);
/// env.reset(&mut rng);
/// for i in 0..9 {
///     let step = env.step(i % 2)?; // push left and right in turn: the pole stays up
///     assert!(!step.done());
/// }
/// let step = env.step(1)?; // the 10th step
/// assert!(step.truncated && !step.terminated);
/// assert_eq!(env.elapsed_steps(), 10);
/// assert!(matches!(env.step(0), Err(Error::EpisodeEnded { truncated: true })));
///
/// env.reset(&mut rng); // a reset starts the count again
/// assert_eq!(env.elapsed_steps(), 0);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TimeLimit<E: Env> {
    env: E,
    max_steps: usize,
    elapsed_steps: usize,
    /// `Some(truncated)` once a step ended the episode: the flag of the [`Error::EpisodeEnded`]
    /// that rejects further steps until the next reset.
    ended: Option<bool>,
}

impl<E: Env> TimeLimit<E> {
    /// Wraps `env` so that its episodes are truncated after `max_steps` steps.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for `max_steps` (with the value `"0"`) if `max_steps` is 0.
    pub fn new(env: E, max_steps: usize) -> Result<Self> {
        if max_steps == 0 {
            return Err(Error::invalid_config("max_steps", 0, "must be at least 1"));
        }
        Ok(Self { env, max_steps, elapsed_steps: 0, ended: None })
    }

    /// The number of steps after which an episode is truncated.
    pub fn max_steps(&self) -> usize {
        self.max_steps
    }

    /// The number of steps since the last reset (0 before the first reset).
    pub fn elapsed_steps(&self) -> usize {
        self.elapsed_steps
    }

    /// The wrapped environment.
    pub fn inner(&self) -> &E {
        &self.env
    }

    /// The wrapped environment, mutably. Resetting or stepping it directly bypasses the count.
    pub fn inner_mut(&mut self) -> &mut E {
        &mut self.env
    }

    /// Unwraps the environment.
    pub fn into_inner(self) -> E {
        self.env
    }

    /// The error for a step after the end of the episode, found without calling the inner
    /// environment: an invalid action is still an invalid action (as [`Env`] requires for
    /// every invalid action, and as [`CartPole`](crate::CartPole) reports it), any other
    /// action is [`Error::EpisodeEnded`].
    fn after_end(&self, action: usize, truncated: bool) -> Error {
        let num_actions = self.env.num_actions();
        if action >= num_actions {
            Error::InvalidAction { action, num_actions }
        } else {
            Error::EpisodeEnded { truncated }
        }
    }

    /// Counts a step the inner environment accepted and returns the episode's `truncated`.
    fn count(&mut self, terminated: bool, truncated: bool) -> bool {
        self.elapsed_steps += 1;
        let truncated = truncated || self.elapsed_steps >= self.max_steps;
        if terminated || truncated {
            self.ended = Some(truncated && !terminated);
        }
        truncated
    }
}

impl<E: Env> Env for TimeLimit<E> {
    fn observation_dim(&self) -> usize {
        self.env.observation_dim()
    }

    fn num_actions(&self) -> usize {
        self.env.num_actions()
    }

    /// Resets the inner environment and the step count.
    fn reset(&mut self, rng: &mut dyn RngCore) -> Array1<f32> {
        self.elapsed_steps = 0;
        self.ended = None;
        self.env.reset(rng)
    }

    /// The inner environment's step, truncated at the limit.
    fn step(&mut self, action: usize) -> Result<Step> {
        if let Some(truncated) = self.ended {
            return Err(self.after_end(action, truncated));
        }
        let mut step = self.env.step(action)?;
        step.truncated = self.count(step.terminated, step.truncated);
        Ok(step)
    }

    /// The inner environment's [`step_into`](Env::step_into), truncated at the limit.
    fn step_into(&mut self, action: usize, observation: &mut [f32]) -> Result<StepInfo> {
        if let Some(truncated) = self.ended {
            let dim = self.env.observation_dim();
            if observation.len() != dim {
                return Err(Error::ObservationLength {
                    what: "observation buffer",
                    expected: dim,
                    actual: observation.len(),
                });
            }
            return Err(self.after_end(action, truncated));
        }
        let mut info = self.env.step_into(action, observation)?;
        info.truncated = self.count(info.terminated, info.truncated);
        Ok(info)
    }
}
