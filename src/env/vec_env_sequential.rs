//! [`SequentialVecEnv`]: a [`VecEnv`] that steps its sub-environments one after another on the
//! calling thread.

use ndarray::ArrayViewMut2;
use rand::RngCore;

use super::vec_env::{Episodes, VecEnv, common_sizes, step_row};
use super::{Env, StepInfo};
use crate::error::Result;

/// A [`VecEnv`] that steps its sub-environments one after another, in index order, on the
/// calling thread: Gymnasium's `SyncVectorEnv`. The choice for cheap steps (CartPole's takes
/// about 40 ns, less than handing work to another thread); for expensive ones see
/// [`ThreadedVecEnv`](crate::ThreadedVecEnv), which gives the same results.
///
/// A sub-environment that panics panics the caller, as it would stepped by hand.
///
/// # Examples
/// ```
/// use deepq::{CartPole, Env, SequentialVecEnv, TimeLimit, VecEnv, VecStep};
/// use rand::SeedableRng;
/// use rand_chacha::ChaCha8Rng;
///
/// # fn main() -> deepq::Result<()> {
/// let envs: Vec<_> = (0..3).map(|_| TimeLimit::new(CartPole::v1(), 5)).collect::<Result<_, _>>()?;
/// let mut envs = SequentialVecEnv::new(envs)?;
/// let mut rng = ChaCha8Rng::seed_from_u64(0);
/// let mut step = VecStep::new(3, 4);
/// envs.reset(&mut rng, step.observations.view_mut())?;
/// for t in 1..=5 {
///     envs.step_autoreset(&[t % 2, 1 - t % 2, t % 2], &mut rng, &mut step)?;
/// }
/// // The 5th step truncated every episode; each sub-env was reset within the step.
/// assert!(step.infos.iter().all(|info| info.truncated && !info.terminated));
/// assert!(SequentialVecEnv::<CartPole>::new(vec![]).is_err()); // N = 0
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SequentialVecEnv<E: Env> {
    envs: Vec<E>,
    episodes: Episodes,
    /// A row buffer for observation views whose rows are not contiguous.
    scratch: Vec<f32>,
}

impl<E: Env> SequentialVecEnv<E> {
    /// A vector environment of `envs`, sub-environment `i` being `envs[i]`. None is reset: call
    /// [`VecEnv::reset`] first.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for an empty `envs` or
    /// sub-environments that differ in [`Env::observation_dim`] or [`Env::num_actions`].
    pub fn new(envs: Vec<E>) -> Result<Self> {
        let (observation_dim, num_actions) = common_sizes(&envs)?;
        let episodes = Episodes::new(envs.len(), observation_dim, num_actions);
        Ok(Self { envs, episodes, scratch: Vec::new() })
    }

    /// The sub-environments, in index order.
    pub fn envs(&self) -> &[E] {
        &self.envs
    }

    /// The sub-environments, mutably. Resetting or stepping one directly bypasses the vector
    /// environment's record of its episode: reset the vector environment afterwards.
    pub fn envs_mut(&mut self) -> &mut [E] {
        &mut self.envs
    }

    /// Unwraps the sub-environments.
    pub fn into_envs(self) -> Vec<E> {
        self.envs
    }
}

impl<E: Env> VecEnv for SequentialVecEnv<E> {
    fn num_envs(&self) -> usize {
        self.envs.len()
    }

    fn observation_dim(&self) -> usize {
        self.episodes.observation_dim()
    }

    fn num_actions(&self) -> usize {
        self.episodes.num_actions()
    }

    fn reset_masked(
        &mut self,
        mask: &[bool],
        rng: &mut dyn RngCore,
        mut observations: ArrayViewMut2<'_, f32>,
    ) -> Result<()> {
        self.episodes.check_reset(mask, &observations)?;
        for (i, env) in self.envs.iter_mut().enumerate() {
            if mask[i] {
                self.episodes.reset(i, env, rng, observations.row_mut(i))?;
            }
        }
        Ok(())
    }

    fn step(
        &mut self,
        actions: &[usize],
        mut observations: ArrayViewMut2<'_, f32>,
        infos: &mut [StepInfo],
    ) -> Result<()> {
        self.episodes.check_step(actions, &observations, infos)?;
        let mut first_error = None;
        for (i, env) in self.envs.iter_mut().enumerate() {
            match step_row(env, actions[i], observations.row_mut(i), &mut self.scratch) {
                Ok(info) => infos[i] = info,
                Err(e) => {
                    first_error.get_or_insert((i, e));
                }
            }
        }
        self.episodes.finish_step(infos, first_error)
    }
}
