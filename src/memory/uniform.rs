//! [`ReplayBuffer`]: uniform experience replay in a ring buffer.

use rand::{Rng, RngCore};

use super::storage::Storage;
use super::{Batch, Memory, Transition, check_batch_size, check_priority_update};
use crate::Result;
use crate::state_dict::{StateDict, invalid_state};

/// Settings of a [`ReplayBuffer`].
///
/// # Examples
/// ```
/// use deepq::{ReplayBuffer, ReplayConfig};
///
/// # fn main() -> deepq::Result<()> {
/// let config = ReplayConfig { capacity: 2000, replacement: false, ..ReplayConfig::default() };
/// let memory = ReplayBuffer::new(config)?;
/// assert_eq!(memory.config().capacity, 2000);
/// assert!(ReplayBuffer::new(ReplayConfig::default().with_capacity(0)).is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct ReplayConfig {
    /// The most transitions held; the oldest is overwritten when full. Default 10 000.
    pub capacity: usize,
    /// The length of every observation. Default 4 (CartPole).
    pub observation_dim: usize,
    /// Sample with replacement (Stable-Baselines3's `ReplayBuffer`: indices drawn
    /// independently, a batch may repeat a transition) or without (Python's
    /// `random.sample(memory, batch_size)`: distinct transitions). Default `true`.
    pub replacement: bool,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        Self { capacity: 10_000, observation_dim: 4, replacement: true }
    }
}

impl ReplayConfig {
    /// Sets `capacity` (default 10 000).
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Sets `observation_dim` (default 4).
    pub fn with_observation_dim(mut self, observation_dim: usize) -> Self {
        self.observation_dim = observation_dim;
        self
    }

    /// Sets `replacement` (default `true`).
    pub fn with_replacement(mut self, replacement: bool) -> Self {
        self.replacement = replacement;
        self
    }
}

/// Uniform experience replay: a fixed-capacity ring buffer that samples every stored
/// transition with equal probability.
///
/// Storage is contiguous (one `Vec<f32>` of `capacity * observation_dim` values for
/// observations, one for next observations) and reserved at construction: a push never
/// allocates, and once full it overwrites the oldest transition. Sampling with replacement
/// into a reused [`Batch`] does not allocate either; sampling without replacement allocates
/// one index vector per call (rand's `seq::index::sample`).
///
/// # Examples
/// ```
/// use deepq::{Memory, ReplayBuffer, ReplayConfig, Transition};
/// use ndarray::array;
/// use rand::SeedableRng;
/// use rand_chacha::ChaCha8Rng;
///
/// # fn main() -> deepq::Result<()> {
/// let config = ReplayConfig { capacity: 3, observation_dim: 1, ..Default::default() };
/// let mut memory = ReplayBuffer::new(config)?;
/// for i in 0..5 {
///     let (s, s_next) = (array![i as f32], array![i as f32 + 1.0]);
///     memory.push(Transition {
///         observation: s.view(),
///         action: 0,
///         reward: i as f32,
///         next_observation: s_next.view(),
///         terminated: i == 4,
///         truncated: false,
///     })?;
/// }
/// assert_eq!((memory.len(), memory.capacity()), (3, 3)); // rewards 2, 3, 4 remain
/// let mut rng = ChaCha8Rng::seed_from_u64(0);
/// let batch = memory.sample(2, &mut rng)?;
/// assert!(batch.rewards.iter().all(|&r| r >= 2.0));
/// assert!(batch.weights.iter().all(|&w| w == 1.0));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ReplayBuffer {
    config: ReplayConfig,
    storage: Storage,
}

impl ReplayBuffer {
    /// An empty buffer, with its storage allocated.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) for `capacity == 0`,
    /// `observation_dim == 0` or a storage too large to allocate.
    pub fn new(config: ReplayConfig) -> Result<Self> {
        let storage = Storage::new(config.capacity, config.observation_dim)?;
        Ok(Self { config, storage })
    }

    /// The configuration.
    pub fn config(&self) -> &ReplayConfig {
        &self.config
    }
}

impl Memory for ReplayBuffer {
    fn observation_dim(&self) -> usize {
        self.storage.dim()
    }

    fn push(&mut self, transition: Transition<'_>) -> Result<()> {
        self.storage.push(transition, 1).map(|_| ())
    }

    fn push_n_step(&mut self, transition: Transition<'_>, steps: usize) -> Result<()> {
        self.storage.push(transition, steps).map(|_| ())
    }

    fn len(&self) -> usize {
        self.storage.len()
    }

    fn capacity(&self) -> usize {
        self.storage.capacity()
    }

    fn sample_into(
        &mut self,
        batch_size: usize,
        rng: &mut dyn RngCore,
        batch: &mut Batch,
    ) -> Result<()> {
        let len = self.len();
        check_batch_size(batch_size, len)?;
        batch.indices.clear();
        if self.config.replacement {
            batch.indices.extend((0..batch_size).map(|_| rng.random_range(0..len)));
        } else {
            batch.indices.extend(rand::seq::index::sample(rng, len, batch_size).iter());
        }
        self.storage.gather(batch);
        batch.weights.fill(1.0);
        Ok(())
    }

    /// Validates the input as [`PrioritizedReplay`](crate::PrioritizedReplay) does, so that
    /// the two memories reject the same calls, then does nothing.
    fn update_priorities(&mut self, indices: &[usize], td_errors: &[f32]) -> Result<()> {
        check_priority_update(indices, td_errors, self.len())
    }

    /// Writes the ring (`{prefix}observations`, `next_observations`, `actions`, `rewards`,
    /// `terminated`, `truncated`, and the metadata `capacity`, `observation_dim`, `len`, `next`).
    fn save_state(&self, prefix: &str, dict: &mut StateDict) -> Result<()> {
        dict.set(format!("{prefix}kind"), "uniform");
        self.storage.save_state(prefix, dict)
    }

    fn load_state(&mut self, prefix: &str, dict: &StateDict) -> Result<()> {
        let kind = dict.get(&format!("{prefix}kind"))?;
        if kind != "uniform" {
            return Err(invalid_state(format!(
                "the memory saved is {kind:?}, this one is uniform"
            )));
        }
        self.storage = self.storage.load_state(prefix, dict)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn filled(capacity: usize, pushes: usize, replacement: bool) -> ReplayBuffer {
        let config = ReplayConfig { capacity, observation_dim: 2, replacement };
        let mut memory = ReplayBuffer::new(config).unwrap();
        for i in 0..pushes {
            let (s, n) = (array![i as f32, 0.0], array![i as f32 + 1.0, 0.0]);
            memory
                .push(Transition {
                    observation: s.view(),
                    action: i,
                    reward: i as f32,
                    next_observation: n.view(),
                    terminated: false,
                    truncated: i.is_multiple_of(3),
                })
                .unwrap();
        }
        memory
    }

    #[test]
    fn rows_of_a_batch_belong_together() {
        let mut memory = filled(8, 13, true);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let batch = memory.sample(64, &mut rng).err();
        assert!(batch.is_some(), "64 > len 8");
        let batch = memory.sample(8, &mut rng).unwrap();
        for k in 0..batch.len() {
            let i = batch.actions[k];
            assert!(i >= 5, "transition {i} was overwritten");
            assert_eq!(batch.states[[k, 0]], i as f32);
            assert_eq!(batch.next_states[[k, 0]], i as f32 + 1.0);
            assert_eq!(batch.rewards[k], i as f32);
            assert_eq!(batch.truncated[k], if i.is_multiple_of(3) { 1.0 } else { 0.0 });
            assert_eq!(batch.indices[k], i % 8, "slot of transition {i}");
        }
    }

    #[test]
    fn sample_into_reuses_the_batch_buffers() {
        let mut memory = filled(100, 100, true);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut batch = Batch::with_capacity(32, 2);
        memory.sample_into(32, &mut rng, &mut batch).unwrap();
        let ptrs = (batch.states.as_ptr(), batch.rewards.as_ptr(), batch.weights.as_ptr());
        memory.sample_into(32, &mut rng, &mut batch).unwrap();
        assert_eq!(ptrs, (batch.states.as_ptr(), batch.rewards.as_ptr(), batch.weights.as_ptr()));
        memory.sample_into(16, &mut rng, &mut batch).unwrap();
        assert_eq!(batch.states.as_ptr(), ptrs.0);
        assert_eq!(batch.len(), 16);
    }

    #[test]
    fn uniform_frequencies() {
        // 10 slots, 100 000 draws: each count is about 10 000 +- 95 (1 sd).
        let mut memory = filled(10, 10, true);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut counts = [0usize; 10];
        let mut batch = Batch::default();
        for _ in 0..10_000 {
            memory.sample_into(10, &mut rng, &mut batch).unwrap();
            batch.indices.iter().for_each(|&i| counts[i] += 1);
        }
        for c in counts {
            assert!((c as f64 - 10_000.0).abs() < 500.0, "count {c}");
        }
    }
}
