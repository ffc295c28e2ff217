//! Replay memory: the [`Memory`] trait, the [`Transition`] it stores and the [`Batch`] it
//! samples; [`ReplayBuffer`] (uniform sampling) and [`PrioritizedReplay`] (proportional
//! prioritized replay on a [`SumTree`]).

mod prioritized;
mod storage;
mod sum_tree;
mod uniform;

pub use prioritized::{PrioritizedConfig, PrioritizedReplay};
pub use sum_tree::SumTree;
pub use uniform::{ReplayBuffer, ReplayConfig};

use ndarray::{Array1, Array2, ArrayView1};
use rand::RngCore;

use crate::state_dict::StateDict;
use crate::{Error, Result};

/// One step of experience, borrowed: what a [`Memory`] copies into its storage.
///
/// `terminated` and `truncated` are kept apart as in [`Step`](crate::Step): only `terminated`
/// zeroes the bootstrap term of the target,
/// `y = r + gamma * (1 - terminated) * max_a Q_target(s', a)`.
///
/// # Examples
/// ```
/// use deepq::Transition;
/// use ndarray::array;
///
/// let (s, s_next) = (array![0.0f32, 1.0], array![0.5f32, 1.5]);
/// let t = Transition {
///     observation: s.view(),
///     action: 1,
///     reward: 1.0,
///     next_observation: s_next.view(),
///     terminated: false,
///     truncated: false,
/// };
/// assert_eq!(t.observation.len(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition<'a> {
    /// The observation the action was taken in, of length `observation_dim`.
    pub observation: ArrayView1<'a, f32>,
    /// The action taken.
    pub action: usize,
    /// The reward received.
    pub reward: f32,
    /// The observation after the step, of length `observation_dim`.
    pub next_observation: ArrayView1<'a, f32>,
    /// The step reached a terminal state.
    pub terminated: bool,
    /// The episode was cut short after this step (for example by a time limit).
    pub truncated: bool,
}

/// A sampled minibatch of transitions, one row (or entry) per sample.
///
/// [`Memory::sample_into`] refills a `Batch` in place, reusing its buffers: keep one `Batch`
/// across training steps and sampling does not allocate once the buffers have grown to the
/// batch size.
///
/// # Shapes
/// With `b` samples and observations of length `d`: `states` and `next_states` are `[b, d]`;
/// `actions`, `rewards`, `terminated`, `truncated`, `indices` and `weights` have length `b`.
///
/// # Examples
/// ```
/// use deepq::Batch;
///
/// let batch = Batch::with_capacity(32, 4);
/// assert!(batch.is_empty());
/// assert_eq!(batch.states.dim(), (0, 4));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Batch {
    /// Observations, `[batch, obs_dim]`.
    pub states: Array2<f32>,
    /// Actions taken.
    pub actions: Vec<usize>,
    /// Rewards received.
    pub rewards: Array1<f32>,
    /// Next observations, `[batch, obs_dim]`.
    pub next_states: Array2<f32>,
    /// 1.0 where the transition reached a terminal state, else 0.0.
    pub terminated: Array1<f32>,
    /// 1.0 where the episode was truncated after the transition, else 0.0. The Bellman target
    /// does not use it (it bootstraps through truncation); it is here for completeness.
    pub truncated: Array1<f32>,
    /// The environment steps each sample spans: 1 for a one-step transition, `k` for an n-step
    /// transition whose reward sums `k` discounted rewards (see [`Memory::push_n_step`]). The
    /// Bellman target discounts the bootstrap by `gamma^k`. A memory that leaves it empty
    /// gives one-step transitions.
    pub steps: Vec<usize>,
    /// The storage slot of each sample: pass them back to [`Memory::update_priorities`].
    pub indices: Vec<usize>,
    /// Importance-sampling weights: all 1 for uniform memory, max-normalised to 1 for
    /// [`PrioritizedReplay`].
    pub weights: Array1<f32>,
}

impl Batch {
    /// An empty batch whose buffers have room for `batch_size` samples of observations of
    /// length `observation_dim`, so that a first [`Memory::sample_into`] of that size does not
    /// allocate.
    ///
    /// # Panics
    /// If the buffers cannot be allocated, as [`Vec::with_capacity`].
    pub fn with_capacity(batch_size: usize, observation_dim: usize) -> Self {
        let rows = batch_size.saturating_mul(observation_dim);
        let matrix = |cols| {
            Array2::from_shape_vec((0, cols), Vec::with_capacity(rows))
                .expect("an empty vector has the shape (0, cols)")
        };
        let vector = || Array1::from_vec(Vec::with_capacity(batch_size));
        Self {
            states: matrix(observation_dim),
            actions: Vec::with_capacity(batch_size),
            rewards: vector(),
            next_states: matrix(observation_dim),
            terminated: vector(),
            truncated: vector(),
            steps: Vec::with_capacity(batch_size),
            indices: Vec::with_capacity(batch_size),
            weights: vector(),
        }
    }

    /// The number of samples (the length of `actions`).
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// Whether the batch holds no samples.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Gives every field the shape of `batch_size` samples (standard layout), reusing the
    /// buffers. Contents are unspecified afterwards (zeros where a buffer had to grow).
    pub(crate) fn reshape(&mut self, batch_size: usize, observation_dim: usize) {
        reshape2(&mut self.states, batch_size, observation_dim);
        reshape2(&mut self.next_states, batch_size, observation_dim);
        reshape1(&mut self.rewards, batch_size);
        reshape1(&mut self.terminated, batch_size);
        reshape1(&mut self.truncated, batch_size);
        reshape1(&mut self.weights, batch_size);
        self.actions.resize(batch_size, 0);
        self.steps.resize(batch_size, 1);
        self.indices.resize(batch_size, 0);
    }
}

fn reshape2(array: &mut Array2<f32>, rows: usize, cols: usize) {
    if array.dim() == (rows, cols) && array.is_standard_layout() {
        return;
    }
    let (mut data, _) = std::mem::take(array).into_raw_vec_and_offset();
    data.clear();
    data.resize(rows * cols, 0.0);
    *array = Array2::from_shape_vec((rows, cols), data).expect("length is rows * cols");
}

fn reshape1(array: &mut Array1<f32>, len: usize) {
    if array.len() == len && array.is_standard_layout() {
        return;
    }
    let (mut data, _) = std::mem::take(array).into_raw_vec_and_offset();
    data.clear();
    data.resize(len, 0.0);
    *array = Array1::from_vec(data);
}

/// A replay memory: stores transitions and samples minibatches of them.
///
/// The trait is object-safe: a learner may hold a `Box<dyn Memory>` or take `&mut dyn Memory`.
/// Implementations: [`ReplayBuffer`] (uniform, with or without replacement) and
/// [`PrioritizedReplay`] (proportional prioritized replay).
///
/// # Contract
/// Implementations must:
/// - reject a transition whose observation or next observation is not of length
///   [`observation_dim`](Memory::observation_dim), or that holds a non-finite value, with an
///   `Err` that leaves every stored transition as it was;
/// - reject a batch size of 0 or larger than [`len`](Memory::len) with
///   [`Error::InvalidBatchSize`], also when sampling with
///   replacement;
/// - draw every random number from the RNG they are given;
/// - validate all of the input of [`update_priorities`](Memory::update_priorities) before
///   changing anything.
///
/// # Examples
/// ```
/// use deepq::{Memory, ReplayBuffer, ReplayConfig, Transition};
/// use ndarray::array;
/// use rand::SeedableRng;
/// use rand_chacha::ChaCha8Rng;
///
/// # fn main() -> deepq::Result<()> {
/// let mut memory: Box<dyn Memory> =
///     Box::new(ReplayBuffer::new(ReplayConfig::default().with_observation_dim(2))?);
/// let (s, s_next) = (array![0.0f32, 1.0], array![0.5f32, 1.5]);
/// for action in 0..10 {
///     memory.push(Transition {
///         observation: s.view(),
///         action: action % 2,
///         reward: 1.0,
///         next_observation: s_next.view(),
///         terminated: false,
///         truncated: false,
///     })?;
/// }
/// let mut rng = ChaCha8Rng::seed_from_u64(0);
/// let batch = memory.sample(4, &mut rng)?;
/// assert_eq!(batch.states.dim(), (4, 2));
/// assert!(memory.sample(11, &mut rng).is_err());
/// memory.update_priorities(&batch.indices, &[0.5; 4])?; // a no-op for uniform memory
/// # Ok(())
/// # }
/// ```
pub trait Memory {
    /// The length of every stored observation.
    fn observation_dim(&self) -> usize;

    /// Stores a transition, evicting the oldest one when the memory is full.
    ///
    /// # Errors
    /// [`Error::ObservationLength`] for an observation or
    /// next observation of the wrong length, [`Error::NonFinite`] for a
    /// NaN or infinite value; the memory is unchanged.
    fn push(&mut self, transition: Transition<'_>) -> Result<()>;

    /// Stores an n-step transition: its `reward` is the discounted sum
    /// `r_1 + gamma r_2 + ... + gamma^(steps-1) r_steps` of `steps` environment steps, its
    /// `next_observation` the observation `steps` steps after its `observation`, and
    /// `terminated` whether the last of those steps terminated. Sampled, it reports `steps` in
    /// [`Batch::steps`]. [`ReplayBuffer`] and [`PrioritizedReplay`] implement it; the provided
    /// method stores one-step transitions (`steps == 1`) with [`push`](Memory::push) and
    /// returns [`Error::Unsupported`] for longer ones.
    ///
    /// # Errors
    /// As [`push`](Memory::push); [`Error::InvalidConfig`] for `steps` of 0 or above 65,535.
    fn push_n_step(&mut self, transition: Transition<'_>, steps: usize) -> Result<()> {
        match steps {
            1 => self.push(transition),
            0 => Err(Error::InvalidConfig {
                field: "steps",
                value: "0".into(),
                rule: "a transition spans 1 to 65,535 environment steps",
            }),
            _ => Err(Error::Unsupported {
                what: "n-step transitions in this Memory (implement Memory::push_n_step)".into(),
            }),
        }
    }

    /// The number of stored transitions.
    fn len(&self) -> usize;

    /// Whether no transition is stored.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most transitions the memory holds.
    fn capacity(&self) -> usize;

    /// Fills `batch` (reusing its buffers; resized as needed) with `batch_size` transitions.
    ///
    /// # Errors
    /// [`Error::InvalidBatchSize`] for `batch_size == 0` or
    /// `batch_size > len()`; `batch` is then unchanged.
    fn sample_into(
        &mut self,
        batch_size: usize,
        rng: &mut dyn RngCore,
        batch: &mut Batch,
    ) -> Result<()>;

    /// Samples `batch_size` transitions into a new [`Batch`]: an allocating convenience
    /// wrapper around [`sample_into`](Memory::sample_into).
    ///
    /// # Errors
    /// As [`sample_into`](Memory::sample_into).
    fn sample(&mut self, batch_size: usize, rng: &mut dyn RngCore) -> Result<Batch> {
        let mut batch = Batch::default();
        self.sample_into(batch_size, rng, &mut batch)?;
        Ok(batch)
    }

    /// Sets the priorities of the transitions at `indices` (storage slots, as in
    /// [`Batch::indices`]) from their TD errors. A no-op for uniform memory, which still
    /// validates its input.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if the slices differ in length,
    /// [`Error::InvalidIndex`] for an index `>= len()`,
    /// [`Error::NonFinite`] for a non-finite TD error. Nothing is
    /// changed on error.
    fn update_priorities(&mut self, indices: &[usize], td_errors: &[f32]) -> Result<()>;

    /// Writes everything the memory holds (transitions, write position, priorities, sampling
    /// schedule) into `dict`, every name starting with `prefix`: what a
    /// [`Trainer`](crate::Trainer) checkpoint needs to resume bit for bit. [`ReplayBuffer`] and
    /// [`PrioritizedReplay`] implement it; the provided method returns [`Error::Unsupported`].
    ///
    /// # Errors
    /// [`Error::Unsupported`] for a memory that cannot be saved.
    fn save_state(&self, prefix: &str, dict: &mut StateDict) -> Result<()> {
        let _ = (prefix, dict);
        Err(Error::Unsupported { what: "saving the state of this Memory".into() })
    }

    /// Replaces the memory's contents with a state written by
    /// [`save_state`](Memory::save_state) under `prefix`. The memory must have been built with
    /// the same configuration (capacity, observation size).
    ///
    /// # Errors
    /// [`Error::InvalidCheckpoint`] for a state that does not fit this memory or breaks one of
    /// its invariants (the memory is then unchanged); [`Error::Unsupported`] from the provided
    /// method.
    fn load_state(&mut self, prefix: &str, dict: &StateDict) -> Result<()> {
        let _ = (prefix, dict);
        Err(Error::Unsupported { what: "loading the state of this Memory".into() })
    }
}

/// A boxed memory is a memory: `DqnAgent`'s default `Box<dyn Memory>` picks uniform or
/// prioritized replay at run time.
impl<M: Memory + ?Sized> Memory for Box<M> {
    fn observation_dim(&self) -> usize {
        (**self).observation_dim()
    }

    fn push(&mut self, transition: Transition<'_>) -> Result<()> {
        (**self).push(transition)
    }

    fn push_n_step(&mut self, transition: Transition<'_>, steps: usize) -> Result<()> {
        (**self).push_n_step(transition, steps)
    }

    fn len(&self) -> usize {
        (**self).len()
    }

    fn is_empty(&self) -> bool {
        (**self).is_empty()
    }

    fn capacity(&self) -> usize {
        (**self).capacity()
    }

    fn sample_into(
        &mut self,
        batch_size: usize,
        rng: &mut dyn RngCore,
        batch: &mut Batch,
    ) -> Result<()> {
        (**self).sample_into(batch_size, rng, batch)
    }

    fn sample(&mut self, batch_size: usize, rng: &mut dyn RngCore) -> Result<Batch> {
        (**self).sample(batch_size, rng)
    }

    fn update_priorities(&mut self, indices: &[usize], td_errors: &[f32]) -> Result<()> {
        (**self).update_priorities(indices, td_errors)
    }

    fn save_state(&self, prefix: &str, dict: &mut StateDict) -> Result<()> {
        (**self).save_state(prefix, dict)
    }

    fn load_state(&mut self, prefix: &str, dict: &StateDict) -> Result<()> {
        (**self).load_state(prefix, dict)
    }
}

/// Checks a batch size against the number of stored transitions.
pub(crate) fn check_batch_size(batch_size: usize, len: usize) -> Result<()> {
    if batch_size == 0 || batch_size > len {
        return Err(Error::InvalidBatchSize { batch_size, len });
    }
    Ok(())
}

/// Checks the input of [`Memory::update_priorities`] against a memory of `len` transitions.
pub(crate) fn check_priority_update(
    indices: &[usize],
    td_errors: &[f32],
    len: usize,
) -> Result<()> {
    if indices.len() != td_errors.len() {
        return Err(Error::LengthMismatch {
            what: "indices vs td_errors",
            left: indices.len(),
            right: td_errors.len(),
        });
    }
    if let Some(&index) = indices.iter().find(|&&index| index >= len) {
        return Err(Error::InvalidIndex { index, len });
    }
    if let Some((k, &value)) = td_errors.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite { what: format!("td_errors[{k}]"), value: value.into() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshape_reuses_buffers_and_sets_shapes() {
        let mut batch = Batch::with_capacity(8, 3);
        let before = batch.states.as_ptr();
        batch.reshape(8, 3);
        assert_eq!(batch.states.dim(), (8, 3));
        assert_eq!(batch.next_states.dim(), (8, 3));
        assert_eq!(batch.len(), 8);
        assert_eq!(batch.weights.len(), 8);
        assert_eq!(batch.states.as_ptr(), before, "no reallocation within capacity");
        batch.reshape(2, 5);
        assert_eq!(batch.states.dim(), (2, 5));
        assert_eq!(batch.indices.len(), 2);
    }

    #[test]
    fn reshape_fixes_non_standard_layout() {
        let mut batch =
            Batch { states: Array2::zeros((3, 2)).reversed_axes(), ..Default::default() };
        batch.reshape(2, 3);
        assert!(batch.states.is_standard_layout());
        assert_eq!(batch.states.dim(), (2, 3));
    }

    #[test]
    fn error_messages_name_the_values() {
        let message = check_batch_size(5, 3).unwrap_err().to_string();
        assert_eq!(
            message,
            "invalid batch size 5: the memory holds 3 transitions and a batch must have at least 1 \
             and at most that many"
        );
        let message = check_priority_update(&[7], &[0.0], 3).unwrap_err().to_string();
        assert_eq!(message, "index 7 out of range: valid indices are 0..3");
        assert!(check_batch_size(0, 3).is_err() && check_batch_size(3, 3).is_ok());
    }

    #[test]
    fn priority_update_checks() {
        assert!(check_priority_update(&[0, 1], &[0.1, 0.2], 2).is_ok());
        assert!(matches!(
            check_priority_update(&[0], &[0.1, 0.2], 2),
            Err(Error::LengthMismatch { left: 1, right: 2, .. })
        ));
        assert!(matches!(
            check_priority_update(&[0, 2], &[0.1, 0.2], 2),
            Err(Error::InvalidIndex { index: 2, len: 2 })
        ));
        assert!(matches!(
            check_priority_update(&[0, 1], &[0.1, f32::NAN], 2),
            Err(Error::NonFinite { .. })
        ));
    }
}
