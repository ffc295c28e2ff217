//! [`PrioritizedReplay`]: proportional prioritized experience replay (Schaul et al., 2016).

use rand::{Rng, RngCore};

use super::storage::Storage;
use super::sum_tree::SumTree;
use super::{Batch, Memory, Transition, check_batch_size, check_priority_update};
use crate::state_dict::{StateDict, invalid_state as invalid};
use crate::{Error, Result};

/// Settings of a [`PrioritizedReplay`]; the defaults are the paper's proportional variant.
///
/// # Examples
/// ```
/// use deepq::{PrioritizedConfig, PrioritizedReplay};
///
/// # fn main() -> deepq::Result<()> {
/// let config = PrioritizedConfig { capacity: 50_000, beta_steps: 20_000, ..Default::default() };
/// let memory = PrioritizedReplay::new(config)?;
/// assert_eq!(memory.beta(), 0.4);
/// assert!(PrioritizedReplay::new(PrioritizedConfig::default().with_alpha(1.5)).is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct PrioritizedConfig {
    /// The most transitions held; the oldest is overwritten when full. Default 10 000.
    pub capacity: usize,
    /// The length of every observation. Default 4 (CartPole).
    pub observation_dim: usize,
    /// How much prioritization is used, in `[0, 1]`: a transition's priority is
    /// `(|td_error| + epsilon)^alpha`; 0 is uniform sampling. Default 0.6.
    pub alpha: f32,
    /// The importance-sampling exponent at the start, in `[0, 1]`. Default 0.4.
    pub beta_start: f32,
    /// The number of [`sample`](Memory::sample) / [`sample_into`](Memory::sample_into) calls
    /// over which beta grows linearly from `beta_start` to 1 (it then stays at 1). With one
    /// sample call per training step this is the number of training steps to anneal over. 0
    /// turns annealing off: beta stays at `beta_start` unless set with
    /// [`set_beta`](PrioritizedReplay::set_beta). Default 100 000.
    pub beta_steps: usize,
    /// Added to `|td_error|` so that no transition has zero priority; finite and `> 0`.
    /// Default 1e-6.
    pub epsilon: f32,
}

impl Default for PrioritizedConfig {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            observation_dim: 4,
            alpha: 0.6,
            beta_start: 0.4,
            beta_steps: 100_000,
            epsilon: 1e-6,
        }
    }
}

impl PrioritizedConfig {
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

    /// Sets `alpha` (default 0.6).
    pub fn with_alpha(mut self, alpha: f32) -> Self {
        self.alpha = alpha;
        self
    }

    /// Sets `beta_start` (default 0.4).
    pub fn with_beta_start(mut self, beta_start: f32) -> Self {
        self.beta_start = beta_start;
        self
    }

    /// Sets `beta_steps` (default 100 000).
    pub fn with_beta_steps(mut self, beta_steps: usize) -> Self {
        self.beta_steps = beta_steps;
        self
    }

    /// Sets `epsilon` (default 1e-6).
    pub fn with_epsilon(mut self, epsilon: f32) -> Self {
        self.epsilon = epsilon;
        self
    }

    /// Checks every rule of the config but the storage size (checked on allocation).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for `alpha` or `beta_start` outside `[0, 1]` (or NaN), or an
    /// `epsilon` that is not finite and positive.
    pub fn validate(&self) -> Result<()> {
        unit_interval("alpha", self.alpha)?;
        unit_interval("beta_start", self.beta_start)?;
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return Err(Error::InvalidConfig {
                field: "epsilon",
                value: self.epsilon.to_string(),
                rule: "must be finite and positive",
            });
        }
        Ok(())
    }
}

fn unit_interval(field: &'static str, value: f32) -> Result<()> {
    if !(0.0..=1.0).contains(&value) {
        return Err(Error::InvalidConfig {
            field,
            value: value.to_string(),
            rule: "must be in [0, 1]",
        });
    }
    Ok(())
}

/// Proportional prioritized experience replay (Schaul, Quan, Antonoglou and Silver, 2016,
/// "Prioritized Experience Replay"), on a [`SumTree`].
///
/// Transition `i` has priority `p_i = (|delta_i| + epsilon)^alpha`, where `delta_i` is its
/// last TD error given to [`update_priorities`](Memory::update_priorities), and is sampled
/// with probability `P(i) = p_i / sum_k p_k`. A new transition gets the largest priority
/// currently stored (1 in an empty memory), so that it is replayed at least once soon.
///
/// Sampling is stratified, as in the paper: `[0, total)` is cut into `batch_size` equal
/// segments and one value is drawn uniformly in each. Every sample still has the marginal
/// probability `P(i)`; a batch may repeat a transition whose priority spans two segments.
///
/// Each sample carries the importance-sampling weight `w_i = (N * P(i))^-beta` (`N` =
/// [`len`](Memory::len)), divided by the largest weight in the batch, so that the largest is
/// exactly one (OpenAI Baselines divides by the largest weight over the whole memory instead).
/// Each call to [`sample_into`](Memory::sample_into) uses the current [`beta`](Self::beta), then
/// anneals it towards 1 as set by [`PrioritizedConfig::beta_steps`].
///
/// [`Batch::indices`] are storage slots: pass them back with the batch's TD errors to
/// [`update_priorities`](Memory::update_priorities). A slot overwritten by a push since it was
/// sampled cannot be told apart and gets the new priority, as in the reference implementations.
///
/// # Examples
/// ```
/// use deepq::{Memory, PrioritizedConfig, PrioritizedReplay, Transition};
/// use ndarray::array;
/// use rand::SeedableRng;
/// use rand_chacha::ChaCha8Rng;
///
/// # fn main() -> deepq::Result<()> {
/// let config = PrioritizedConfig { capacity: 100, observation_dim: 1, ..Default::default() };
/// let mut memory = PrioritizedReplay::new(config)?;
/// for i in 0..10 {
///     let (s, s_next) = (array![i as f32], array![i as f32 + 1.0]);
///     memory.push(Transition {
///         observation: s.view(),
///         action: 0,
///         reward: 0.0,
///         next_observation: s_next.view(),
///         terminated: false,
///         truncated: false,
///     })?;
/// }
/// let mut rng = ChaCha8Rng::seed_from_u64(0);
/// let batch = memory.sample(4, &mut rng)?;
/// // All priorities are equal (1) so far: every weight is 1.
/// assert!(batch.weights.iter().all(|&w| w == 1.0));
/// // Learn from the batch, then feed its TD errors back.
/// let td_errors = [0.1, -2.0, 0.0, 0.5];
/// memory.update_priorities(&batch.indices, &td_errors)?;
/// assert!(memory.update_priorities(&[10], &[1.0]).is_err()); // slot 10 is empty
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PrioritizedReplay {
    config: PrioritizedConfig,
    storage: Storage,
    tree: SumTree,
    beta: f32,
    /// Sample calls made while annealing; `None` once [`set_beta`](Self::set_beta) took over
    /// or when `beta_steps == 0`.
    anneal_calls: Option<usize>,
}

impl PrioritizedReplay {
    /// An empty memory, with its storage allocated.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a config that fails [`PrioritizedConfig::validate`],
    /// `capacity == 0`, `observation_dim == 0` or a storage too large to allocate.
    pub fn new(config: PrioritizedConfig) -> Result<Self> {
        config.validate()?;
        // The sum tree: sums and maxima, 2 * base f64 each, base the capacity rounded up to a
        // power of two (a capacity too large for that is refused by SumTree::new below).
        let base = config.capacity.checked_next_power_of_two().unwrap_or(usize::MAX) as u128;
        let storage =
            Storage::with_extra(config.capacity, config.observation_dim, 2 * 2 * base * 8)?;
        let tree = SumTree::new(config.capacity)?;
        let anneal_calls = (config.beta_steps > 0).then_some(0);
        Ok(Self { beta: config.beta_start, config, storage, tree, anneal_calls })
    }

    /// The configuration.
    pub fn config(&self) -> &PrioritizedConfig {
        &self.config
    }

    /// The importance-sampling exponent the next sample will use.
    pub fn beta(&self) -> f32 {
        self.beta
    }

    /// Sets beta and turns the automatic annealing off: beta then stays at the value set until
    /// the next `set_beta`. Use it to drive beta from outside (for example by environment steps
    /// rather than sample calls).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] (field `beta`) for a value outside `[0, 1]` or NaN; beta is then
    /// unchanged.
    pub fn set_beta(&mut self, beta: f32) -> Result<()> {
        unit_interval("beta", beta)?;
        self.beta = beta;
        self.anneal_calls = None;
        Ok(())
    }

    /// The sum tree of stored priorities `p_i = (|delta_i| + epsilon)^alpha`, leaf `i` being
    /// storage slot `i`.
    pub fn sum_tree(&self) -> &SumTree {
        &self.tree
    }

    /// `(|td_error| + epsilon)^alpha`, positive and finite for a finite `td_error` since
    /// `alpha` is in `[0, 1]` and `epsilon > 0`.
    fn priority(&self, td_error: f32) -> f64 {
        (f64::from(td_error.abs()) + f64::from(self.config.epsilon))
            .powf(f64::from(self.config.alpha))
    }

    fn advance_beta(&mut self) {
        if let Some(calls) = self.anneal_calls.as_mut() {
            *calls += 1;
            let steps = self.config.beta_steps;
            self.beta = if *calls >= steps {
                1.0
            } else {
                let start = f64::from(self.config.beta_start);
                (start + (1.0 - start) * *calls as f64 / steps as f64) as f32
            };
        }
    }
}

impl Memory for PrioritizedReplay {
    fn observation_dim(&self) -> usize {
        self.storage.dim()
    }

    fn push(&mut self, transition: Transition<'_>) -> Result<()> {
        self.push_n_step(transition, 1)
    }

    fn push_n_step(&mut self, transition: Transition<'_>, steps: usize) -> Result<()> {
        let priority = if self.storage.len() == 0 { 1.0 } else { self.tree.max() };
        let slot = self.storage.push(transition, steps)?;
        self.tree.update(slot, priority);
        Ok(())
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
        let total = self.tree.total();
        let segment = total / batch_size as f64;
        batch.indices.clear();
        // Eight descents of the tree at a time (the same leaves as one at a time), the values
        // drawn in order.
        const TOGETHER: usize = 8;
        let mut k = 0;
        while k + TOGETHER <= batch_size {
            let mut values = [0.0f64; TOGETHER];
            for (j, value) in values.iter_mut().enumerate() {
                *value = segment * ((k + j) as f64 + rng.random::<f64>());
            }
            let slots = self.tree.find_prefix_sums(values).expect("stored priorities are positive");
            batch.indices.extend_from_slice(&slots);
            k += TOGETHER;
        }
        for k in k..batch_size {
            let value = segment * (k as f64 + rng.random::<f64>());
            let slot = self.tree.find_prefix_sum(value).expect("stored priorities are positive");
            batch.indices.push(slot);
        }
        self.storage.gather(batch);

        // w_i = (N * P(i))^-beta / max_j w_j. The largest weight is that of the smallest
        // priority p_min in the batch, so w_i = (p_min / p_i)^beta: one power per sample, and
        // exactly 1 for the least likely sample.
        let priority = |slot: usize| self.tree.get(slot).expect("sampled slots are leaves");
        let p_min = batch.indices.iter().map(|&slot| priority(slot)).fold(f64::INFINITY, f64::min);
        let beta = f64::from(self.beta);
        for (w, &slot) in batch.weights.iter_mut().zip(&batch.indices) {
            *w = (p_min / priority(slot)).powf(beta) as f32;
        }
        self.advance_beta();
        Ok(())
    }

    fn update_priorities(&mut self, indices: &[usize], td_errors: &[f32]) -> Result<()> {
        check_priority_update(indices, td_errors, self.len())?;
        for (&slot, &td_error) in indices.iter().zip(td_errors) {
            self.tree.update(slot, self.priority(td_error));
        }
        Ok(())
    }

    /// Writes the ring as [`ReplayBuffer`](crate::ReplayBuffer) does, plus the priority of
    /// every stored transition (`{prefix}priorities`, `F64`: the sum tree is rebuilt from its
    /// leaves, bit for bit) and beta with its annealing position.
    fn save_state(&self, prefix: &str, dict: &mut StateDict) -> Result<()> {
        dict.set(format!("{prefix}kind"), "prioritized");
        self.storage.save_state(prefix, dict)?;
        let len = self.len();
        let leaves = (0..len).map(|i| self.tree.get(i).unwrap_or(0.0)).collect();
        dict.insert_f64(format!("{prefix}priorities"), &[len], leaves)?;
        dict.set(format!("{prefix}beta"), self.beta);
        dict.set_option(format!("{prefix}anneal_calls"), self.anneal_calls);
        Ok(())
    }

    fn load_state(&mut self, prefix: &str, dict: &StateDict) -> Result<()> {
        let kind = dict.get(&format!("{prefix}kind"))?;
        if kind != "prioritized" {
            return Err(invalid(format!("the memory saved is {kind:?}, this one is prioritized")));
        }
        let storage = self.storage.load_state(prefix, dict)?;
        let len = storage.len();
        let leaves = dict.f64(&format!("{prefix}priorities"), &[len])?;
        if let Some(i) = leaves.iter().position(|p| !(p.is_finite() && *p > 0.0)) {
            return Err(invalid(format!(
                "memory priorities[{i}] = {} is not finite and > 0",
                leaves[i]
            )));
        }
        let beta: f32 = dict.parse(&format!("{prefix}beta"))?;
        unit_interval("beta", beta).map_err(|e| invalid(e.to_string()))?;
        let anneal_calls: Option<usize> = dict.parse_option(&format!("{prefix}anneal_calls"))?;
        let mut tree = SumTree::new(self.config.capacity)?;
        tree.rebuild(leaves);
        self.storage = storage;
        self.tree = tree;
        self.beta = beta;
        self.anneal_calls = anneal_calls;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn filled(config: PrioritizedConfig, pushes: usize) -> PrioritizedReplay {
        let mut memory = PrioritizedReplay::new(config.with_observation_dim(1)).unwrap();
        for i in 0..pushes {
            let (s, n) = (array![i as f32], array![i as f32 + 1.0]);
            memory
                .push(Transition {
                    observation: s.view(),
                    action: i,
                    reward: 0.0,
                    next_observation: n.view(),
                    terminated: false,
                    truncated: false,
                })
                .unwrap();
        }
        memory
    }

    #[test]
    fn new_transitions_get_the_current_max_priority() {
        let mut memory = filled(PrioritizedConfig::default().with_capacity(4), 3);
        assert_eq!(memory.tree.max(), 1.0);
        memory.update_priorities(&[0, 1, 2], &[0.5, 3.0, 0.0]).unwrap();
        let max = memory.priority(3.0);
        assert_eq!(memory.tree.max(), max);
        let s = array![0.0f32];
        let t = Transition {
            observation: s.view(),
            action: 9,
            reward: 0.0,
            next_observation: s.view(),
            terminated: true,
            truncated: false,
        };
        memory.push(t).unwrap();
        assert_eq!(memory.tree.get(3), Some(max));
        // Lower every priority: the next push gets the new, lower max.
        memory.update_priorities(&[0, 1, 2, 3], &[0.1, 0.2, 0.1, 0.1]).unwrap();
        memory.push(t).unwrap(); // overwrites slot 0
        assert_eq!(memory.tree.get(0), Some(memory.priority(0.2)));
    }

    #[test]
    fn priority_formula() {
        let memory = filled(PrioritizedConfig::default().with_alpha(0.5).with_epsilon(0.01), 1);
        assert!((memory.priority(-0.99) - 1.0).abs() < 1e-6);
        assert!((memory.priority(3.99) - 2.0).abs() < 1e-6);
        let uniform = filled(PrioritizedConfig::default().with_alpha(0.0), 1);
        assert_eq!(uniform.priority(123.0), 1.0);
    }

    #[test]
    fn beta_schedule_is_linear_and_ends_at_one() {
        let config = PrioritizedConfig::default().with_beta_start(0.5).with_beta_steps(4);
        let mut memory = filled(config, 8);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut seen = vec![memory.beta()];
        for _ in 0..6 {
            memory.sample(2, &mut rng).unwrap();
            seen.push(memory.beta());
        }
        assert_eq!(seen, vec![0.5, 0.625, 0.75, 0.875, 1.0, 1.0, 1.0]);
    }

    #[test]
    fn failed_sample_does_not_advance_beta() {
        let mut memory = filled(PrioritizedConfig::default().with_beta_steps(10), 3);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert!(memory.sample(4, &mut rng).is_err());
        assert!(memory.sample(0, &mut rng).is_err());
        assert_eq!(memory.beta(), 0.4);
    }

    #[test]
    fn config_rules() {
        let ok = PrioritizedConfig::default();
        assert!(ok.validate().is_ok());
        for bad in [
            ok.clone().with_alpha(-0.1),
            ok.clone().with_alpha(f32::NAN),
            ok.clone().with_beta_start(1.1),
            ok.clone().with_epsilon(0.0),
            ok.clone().with_epsilon(f32::INFINITY),
        ] {
            assert!(matches!(bad.validate(), Err(Error::InvalidConfig { .. })), "{bad:?}");
            assert!(PrioritizedReplay::new(bad).is_err());
        }
        assert!(PrioritizedReplay::new(ok.clone().with_capacity(0)).is_err());
        assert!(PrioritizedReplay::new(ok.with_observation_dim(0)).is_err());
    }
}
