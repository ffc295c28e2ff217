//! [`VecEnv`]: N environments stepped together, with Gymnasium 1.x's same-step autoreset, and
//! the bookkeeping its implementations share.

use ndarray::{Array2, ArrayViewMut1, ArrayViewMut2};
use rand::RngCore;

use super::{Env, StepInfo};
use crate::error::{Error, Result};

/// N copies of an environment stepped together: one action per sub-environment in, one
/// observation row, reward and pair of flags per sub-environment out. Gymnasium's
/// `gymnasium.vector.VectorEnv` for deepq's [`Env`].
///
/// Observations are `[num_envs, observation_dim]` arrays, row `i` for sub-environment `i`;
/// actions are a slice of `num_envs` indices. Every sub-environment has the same
/// [`observation_dim`](VecEnv::observation_dim) and [`num_actions`](VecEnv::num_actions) (the
/// constructors refuse anything else). Two implementations: [`SequentialVecEnv`], which steps
/// the sub-environments one after another on the calling thread, and [`ThreadedVecEnv`], which
/// steps them in parallel on worker threads, for environments whose step is expensive. Both
/// give the same results bit for bit, whatever the thread count.
///
/// The trait is object-safe: the training loop takes `&mut dyn VecEnv`.
///
/// # Autoreset
/// When a sub-environment's episode ends, it must be reset before it steps again. Gymnasium 1.x
/// has three modes for that (`gymnasium.vector.AutoresetMode`):
///
/// | Gymnasium | what the ending step returns | deepq |
/// |---|---|---|
/// | `NEXT_STEP` (Gymnasium's default) | the final observation; the *next* step ignores the sub-environment's action, resets it and returns its first observation with reward 0 and both flags false | not provided |
/// | `SAME_STEP` | the first observation of the new episode, the final one in `info["final_obs"]` | [`step_autoreset`](VecEnv::step_autoreset): the final observation in [`VecStep::final_observations`] |
/// | `DISABLED` | the final observation; the user resets with `reset(options={"reset_mask": ...})` | [`step`](VecEnv::step), then [`reset_masked`](VecEnv::reset_masked) |
///
/// deepq's mode is `SAME_STEP`. A learner needs, for every step, the observation the step
/// produced (the `s'` of the transition, from which a truncated episode bootstraps) and the
/// observation to act on next. `SAME_STEP` gives both on every step, so every vector step is
/// `num_envs` transitions, which is how Stable-Baselines3's own vector environments behave (its
/// `terminal_observation` info) and how it counts steps. `NEXT_STEP` spends one step per episode
/// and sub-environment on a reset that is not a transition (its reward 0 and its action must not
/// be learned from), so a training loop would have to mask it out of the memory and the step
/// counts, and with one environment it would no longer be the single-environment loop.
///
/// [`step_autoreset`](VecEnv::step_autoreset) is exactly [`step`](VecEnv::step) followed by
/// [`reset_masked`](VecEnv::reset_masked) of the sub-environments that ended: the two calls are
/// the primitives (Gymnasium's `DISABLED` mode), and the training loop
/// ([`Trainer::train_vec`](crate::Trainer::train_vec)) makes them itself, with the learner's
/// update in between, so that with one environment its random draws come in the order of
/// [`train`](crate::train).
///
/// # Randomness
/// Every reset draws from the RNG given to the call that resets, the sub-environments in index
/// order (0 first), on the calling thread: a reset of sub-environment `i` draws right after
/// the resets of the sub-environments before it in the same call. Sub-environments keep the
/// [`Env`] contract (all their randomness from the RNG of their reset), so equal seeds and equal
/// actions give equal observations, rewards and flags, whatever the implementation and the
/// number of threads. (Gymnasium seeds sub-environment `i` with `seed + i` at the first reset
/// and each keeps its own generator; deepq passes one RNG, as [`Env::reset`] takes one, so that a
/// vector environment of one sub-environment is exactly that environment.)
///
/// # Errors
/// Arguments are checked before anything moves: a wrong number of actions or a wrong output
/// shape, an action out of range or a step of a sub-environment whose episode has ended (or
/// never started) changes nothing. A sub-environment whose step fails is reported as
/// [`Error::SubEnv`] with its index (the lowest, if several fail); the other sub-environments
/// have then stepped but their results are lost, so every sub-environment must be reset before
/// the next step (a step before that is [`Error::StepBeforeReset`] inside [`Error::SubEnv`]).
///
/// [`SequentialVecEnv`]: crate::SequentialVecEnv
/// [`ThreadedVecEnv`]: crate::ThreadedVecEnv
///
/// # Examples
/// ```
/// use deepq::{CartPole, Env, SequentialVecEnv, VecEnv, VecStep};
/// use rand::{Rng, SeedableRng};
/// use rand_chacha::ChaCha8Rng;
///
/// # fn main() -> deepq::Result<()> {
/// let mut envs = SequentialVecEnv::new((0..4).map(|_| CartPole::v1()).collect())?;
/// let mut rng = ChaCha8Rng::seed_from_u64(0); // every reset draws from it, sub-env 0 first
/// let mut step = VecStep::new(envs.num_envs(), envs.observation_dim());
/// envs.reset(&mut rng, step.observations.view_mut())?;
/// let mut episodes = 0;
/// for _ in 0..100 {
///     let actions: Vec<usize> = (0..4).map(|_| rng.random_range(0..2)).collect();
///     envs.step_autoreset(&actions, &mut rng, &mut step)?;
///     for (i, info) in step.infos.iter().enumerate() {
///         if info.done() {
///             // Sub-env i was reset within the step: `observations` holds the first
///             // observation of its new episode, `final_observations` the last of the old one.
///             assert_ne!(step.observations.row(i), step.final_observations.row(i));
///             episodes += 1;
///         }
///     }
/// }
/// assert!(episodes > 0); // random play drops the pole within about 20 steps
/// # Ok(())
/// # }
/// ```
pub trait VecEnv {
    /// The number of sub-environments, at least 1.
    fn num_envs(&self) -> usize;

    /// The length of every sub-environment's observation.
    fn observation_dim(&self) -> usize;

    /// The number of discrete actions of every sub-environment.
    fn num_actions(&self) -> usize;

    /// Resets the sub-environments whose `mask` entry is true, in index order, each drawing
    /// from `rng`, and writes their first observations into their rows of `observations`; the
    /// other rows are left as they were. Gymnasium's
    /// `reset(options={"reset_mask": mask})`.
    ///
    /// # Shapes
    /// `mask`: `[num_envs]`; `observations`: `[num_envs, observation_dim]`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] for a mask of the wrong length, [`Error::ShapeMismatch`] for
    /// `observations` of the wrong shape (both before anything is reset);
    /// [`Error::SubEnv`] wrapping [`Error::ObservationLength`] if a sub-environment's reset
    /// returns an observation of the wrong length (the sub-environments after it are then not
    /// reset, and it must be reset again).
    fn reset_masked(
        &mut self,
        mask: &[bool],
        rng: &mut dyn RngCore,
        observations: ArrayViewMut2<'_, f32>,
    ) -> Result<()>;

    /// Steps every sub-environment with its action and writes what each step produced, without
    /// any reset: row `i` of `observations` is sub-environment `i`'s next observation (its final
    /// observation if the step ended its episode) and `infos[i]` its reward and flags.
    /// Gymnasium's `step` in its `DISABLED` autoreset mode; a sub-environment whose episode
    /// ended must be reset ([`reset_masked`](VecEnv::reset_masked)) before it steps again.
    ///
    /// # Shapes
    /// `actions`: `[num_envs]`; `observations`: `[num_envs, observation_dim]`; `infos`:
    /// `[num_envs]`.
    ///
    /// # Errors
    /// Before anything steps: [`Error::LengthMismatch`] for `actions` or `infos` of the wrong
    /// length, [`Error::ShapeMismatch`] for `observations`, and [`Error::SubEnv`] wrapping
    /// [`Error::InvalidAction`], [`Error::StepBeforeReset`] or [`Error::EpisodeEnded`] for the
    /// first sub-environment that cannot take its action. Then [`Error::SubEnv`] wrapping the
    /// error of the first sub-environment whose step failed (every sub-environment must then be
    /// reset; the outputs hold some of the step's results). A [`ThreadedVecEnv`] adds
    /// [`Error::SubEnvPanicked`] and [`Error::WorkerFailed`].
    ///
    /// [`ThreadedVecEnv`]: crate::ThreadedVecEnv
    fn step(
        &mut self,
        actions: &[usize],
        observations: ArrayViewMut2<'_, f32>,
        infos: &mut [StepInfo],
    ) -> Result<()>;

    /// Resets every sub-environment, in index order, each drawing from `rng`, and writes the
    /// first observations into `observations`: [`reset_masked`](VecEnv::reset_masked) with
    /// every entry of the mask true.
    ///
    /// # Errors
    /// As [`reset_masked`](VecEnv::reset_masked).
    fn reset(&mut self, rng: &mut dyn RngCore, observations: ArrayViewMut2<'_, f32>) -> Result<()> {
        let mask = vec![true; self.num_envs()];
        self.reset_masked(&mask, rng, observations)
    }

    /// One step with Gymnasium's `SAME_STEP` autoreset: [`step`](VecEnv::step) into
    /// `out.final_observations` and `out.infos`, then every sub-environment whose step ended its
    /// episode is reset ([`reset_masked`](VecEnv::reset_masked), drawing from `rng`, in index
    /// order). `out.observations` then holds what to act on next: the step's observation for a
    /// sub-environment that goes on, the first observation of the new episode for one that was
    /// reset. `out.final_observations` holds the observation every step produced (for a
    /// sub-environment that was reset, its episode's final observation, Gymnasium's
    /// `info["final_obs"]`), the `s'` of each step's transition.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `out` was not made for this vector environment's sizes
    /// ([`VecStep::new`]), and the errors of [`step`](VecEnv::step) and
    /// [`reset_masked`](VecEnv::reset_masked).
    fn step_autoreset(
        &mut self,
        actions: &[usize],
        rng: &mut dyn RngCore,
        out: &mut VecStep,
    ) -> Result<()> {
        let shape = (self.num_envs(), self.observation_dim());
        out.check_shape(shape)?;
        self.step(actions, out.final_observations.view_mut(), &mut out.infos)?;
        out.observations.assign(&out.final_observations);
        out.mask.clear();
        out.mask.extend(out.infos.iter().map(StepInfo::done));
        if out.mask.contains(&true) {
            self.reset_masked(&out.mask, rng, out.observations.view_mut())?;
        }
        Ok(())
    }
}

/// The buffers of [`VecEnv::step_autoreset`]: what one vector step with Gymnasium's `SAME_STEP`
/// autoreset returns, written in place so that stepping does not allocate.
///
/// # Shapes
/// `observations` and `final_observations`: `[num_envs, observation_dim]`; `infos`:
/// `[num_envs]`.
#[derive(Debug, Clone)]
pub struct VecStep {
    /// What to act on next: row `i` is sub-environment `i`'s observation after the step, or the
    /// first observation of its new episode if the step ended its episode and it was reset.
    /// [`VecEnv::reset`] into it starts the first episodes.
    pub observations: Array2<f32>,
    /// The observation each sub-environment's step produced, before any reset: the next
    /// observation `s'` of every transition, the final observation of an episode that ended
    /// (Gymnasium's `info["final_obs"]`).
    pub final_observations: Array2<f32>,
    /// Each sub-environment's reward and flags.
    pub infos: Vec<StepInfo>,
    /// Which sub-environments to reset (a buffer).
    mask: Vec<bool>,
}

impl VecStep {
    /// Buffers for `num_envs` sub-environments with observations of `observation_dim` values,
    /// zero-filled.
    pub fn new(num_envs: usize, observation_dim: usize) -> Self {
        Self {
            observations: Array2::zeros((num_envs, observation_dim)),
            final_observations: Array2::zeros((num_envs, observation_dim)),
            infos: vec![StepInfo { reward: 0.0, terminated: false, truncated: false }; num_envs],
            mask: Vec::with_capacity(num_envs),
        }
    }

    /// The number of sub-environments the buffers hold.
    pub fn num_envs(&self) -> usize {
        self.infos.len()
    }

    fn check_shape(&self, shape: (usize, usize)) -> Result<()> {
        for (what, array) in
            [("observations", &self.observations), ("final_observations", &self.final_observations)]
        {
            if array.dim() != shape {
                return Err(shape_error(what, shape, array.dim()));
            }
        }
        check_len("infos vs num_envs", self.infos.len(), shape.0)
    }
}

/// Refuses an empty list of sub-environments, empty spaces and sub-environments of different
/// sizes; returns the common `(observation_dim, num_actions)`.
pub(crate) fn common_sizes<E: Env>(envs: &[E]) -> Result<(usize, usize)> {
    let first = envs.first().ok_or_else(|| Error::InvalidArgument {
        what: "envs",
        value: "0 sub-environments".into(),
        rule: "a vector environment needs at least 1 sub-environment",
    })?;
    let sizes = (first.observation_dim(), first.num_actions());
    if sizes.0 == 0 || sizes.1 == 0 {
        return Err(Error::InvalidArgument {
            what: "envs",
            value: format!("observation_dim {} and num_actions {}", sizes.0, sizes.1),
            rule: "sub-environments need observations and actions (at least 1 of each)",
        });
    }
    for (i, env) in envs.iter().enumerate().skip(1) {
        let theirs = (env.observation_dim(), env.num_actions());
        if theirs != sizes {
            return Err(Error::InvalidArgument {
                what: "envs",
                value: format!(
                    "sub-environment {i} has observation_dim {} and num_actions {}, \
                     sub-environment 0 has {} and {}",
                    theirs.0, theirs.1, sizes.0, sizes.1
                ),
                rule: "every sub-environment must have the same observation_dim and num_actions",
            });
        }
    }
    Ok(sizes)
}

fn shape_error(what: &str, expected: (usize, usize), got: (usize, usize)) -> Error {
    Error::ShapeMismatch {
        what: what.to_string(),
        expected: format!("[{}, {}] (num_envs, observation_dim)", expected.0, expected.1),
        got: format!("[{}, {}]", got.0, got.1),
    }
}

fn check_len(what: &'static str, len: usize, num_envs: usize) -> Result<()> {
    if len != num_envs {
        return Err(Error::LengthMismatch { what, left: len, right: num_envs });
    }
    Ok(())
}

fn sub_env(index: usize, source: Error) -> Error {
    Error::SubEnv { index, source: Box::new(source) }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Status {
    NotStarted,
    Running,
    Ended { truncated: bool },
}

/// What a vector environment knows of its sub-environments' episodes, to check a step before
/// anything moves.
#[derive(Debug, Clone)]
pub(crate) struct Episodes {
    status: Vec<Status>,
    observation_dim: usize,
    num_actions: usize,
}

impl Episodes {
    /// `num_envs` sub-environments, none started.
    pub(crate) fn new(num_envs: usize, observation_dim: usize, num_actions: usize) -> Self {
        Self { status: vec![Status::NotStarted; num_envs], observation_dim, num_actions }
    }

    pub(crate) fn num_envs(&self) -> usize {
        self.status.len()
    }

    pub(crate) fn observation_dim(&self) -> usize {
        self.observation_dim
    }

    pub(crate) fn num_actions(&self) -> usize {
        self.num_actions
    }

    /// The checks of [`VecEnv::reset_masked`]'s arguments.
    pub(crate) fn check_reset(
        &self,
        mask: &[bool],
        observations: &ArrayViewMut2<'_, f32>,
    ) -> Result<()> {
        check_len("mask vs num_envs", mask.len(), self.num_envs())?;
        self.check_observations(observations)
    }

    fn check_observations(&self, observations: &ArrayViewMut2<'_, f32>) -> Result<()> {
        let shape = (self.num_envs(), self.observation_dim);
        if observations.dim() != shape {
            return Err(shape_error("observations", shape, observations.dim()));
        }
        Ok(())
    }

    /// The checks of [`VecEnv::step`]'s arguments, in this order: the lengths and shapes, then
    /// for each sub-environment from 0 its action and its episode.
    pub(crate) fn check_step(
        &self,
        actions: &[usize],
        observations: &ArrayViewMut2<'_, f32>,
        infos: &[StepInfo],
    ) -> Result<()> {
        check_len("actions vs num_envs", actions.len(), self.num_envs())?;
        self.check_observations(observations)?;
        check_len("infos vs num_envs", infos.len(), self.num_envs())?;
        for (i, (&action, status)) in actions.iter().zip(&self.status).enumerate() {
            if action >= self.num_actions {
                let num_actions = self.num_actions;
                return Err(sub_env(i, Error::InvalidAction { action, num_actions }));
            }
            match *status {
                Status::NotStarted => return Err(sub_env(i, Error::StepBeforeReset)),
                Status::Ended { truncated } => {
                    return Err(sub_env(i, Error::EpisodeEnded { truncated }));
                }
                Status::Running => {}
            }
        }
        Ok(())
    }

    /// Resets sub-environment `index` (drawing from `rng`) into `row`, and records it.
    pub(crate) fn reset(
        &mut self,
        index: usize,
        env: &mut dyn Env,
        rng: &mut dyn RngCore,
        row: ArrayViewMut1<'_, f32>,
    ) -> Result<()> {
        self.status[index] = Status::NotStarted;
        reset_row(env, rng, row).map_err(|e| sub_env(index, e))?;
        self.status[index] = Status::Running;
        Ok(())
    }

    /// Records the outcome of a step: `first_error` is the first sub-environment's failure,
    /// after which every sub-environment must be reset.
    pub(crate) fn finish_step(
        &mut self,
        infos: &[StepInfo],
        first_error: Option<(usize, Error)>,
    ) -> Result<()> {
        if let Some((index, error)) = first_error {
            self.status.iter_mut().for_each(|s| *s = Status::NotStarted);
            return Err(sub_env(index, error));
        }
        for (status, info) in self.status.iter_mut().zip(infos) {
            if info.done() {
                *status = Status::Ended { truncated: info.truncated && !info.terminated };
            }
        }
        Ok(())
    }
}

/// Resets `env` from `rng` into `row`; an observation of another length is an error.
pub(crate) fn reset_row(
    env: &mut dyn Env,
    rng: &mut dyn RngCore,
    mut row: ArrayViewMut1<'_, f32>,
) -> Result<()> {
    let observation = env.reset(rng);
    if observation.len() != row.len() {
        return Err(Error::ObservationLength {
            what: "observation returned by reset",
            expected: row.len(),
            actual: observation.len(),
        });
    }
    row.assign(&observation);
    Ok(())
}

/// Steps `env` with `action` into `row`, through `scratch` when the row is not contiguous.
pub(crate) fn step_row(
    env: &mut dyn Env,
    action: usize,
    mut row: ArrayViewMut1<'_, f32>,
    scratch: &mut Vec<f32>,
) -> Result<StepInfo> {
    if let Some(slice) = row.as_slice_mut() {
        return env.step_into(action, slice);
    }
    scratch.resize(row.len(), 0.0);
    let info = env.step_into(action, scratch)?;
    row.iter_mut().zip(scratch.iter()).for_each(|(out, &v)| *out = v);
    Ok(info)
}
