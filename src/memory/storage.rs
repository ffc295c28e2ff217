//! The ring buffer shared by the memories: contiguous, preallocated, no allocation per push.

use ndarray::ArrayView1;

use super::{Batch, Transition};
use crate::state_dict::{StateDict, check_finite_state, invalid_state as invalid};
use crate::{Error, Result};

/// Bytes beyond a memory's own that its allocation probe asks for (see [`Storage::with_extra`]).
const HEADROOM: usize = 16 << 20;

/// Fixed-capacity ring storage of transitions.
///
/// Observations of slot `i` live at `observations[i * dim..(i + 1) * dim]` (likewise next
/// observations). Every vector reserves its full capacity at construction, so pushes never
/// allocate; the vectors grow in place until full, then the oldest slot is overwritten.
#[derive(Debug)]
pub(crate) struct Storage {
    dim: usize,
    capacity: usize,
    /// The slot the next push writes to.
    next: usize,
    observations: Vec<f32>,
    next_observations: Vec<f32>,
    actions: Vec<usize>,
    rewards: Vec<f32>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
    /// Environment steps each transition spans (1, or `n` for an n-step transition).
    steps: Vec<u32>,
}

fn reserve<T>(len: usize, field: &'static str) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| Error::InvalidConfig {
        field,
        value: len.to_string(),
        rule: "the storage could not be allocated",
    })?;
    Ok(v)
}

impl Storage {
    /// Allocates the storage of `capacity` transitions of observations of length `dim`.
    pub(crate) fn new(capacity: usize, dim: usize) -> Result<Self> {
        Self::with_extra(capacity, dim, 0)
    }

    /// [`new`](Storage::new), checking that `extra_bytes` more (kept by the caller, as a sum
    /// tree) can be had as well.
    pub(crate) fn with_extra(capacity: usize, dim: usize, extra_bytes: u128) -> Result<Self> {
        if capacity == 0 {
            return Err(Error::InvalidConfig {
                field: "capacity",
                value: "0".into(),
                rule: "must be at least 1",
            });
        }
        if dim == 0 {
            return Err(Error::InvalidConfig {
                field: "observation_dim",
                value: "0".into(),
                rule: "must be at least 1",
            });
        }
        // The field named is the factor that makes the product overflow (the larger one).
        let values = capacity.checked_mul(dim).ok_or_else(|| Error::InvalidConfig {
            field: if dim > capacity { "observation_dim" } else { "capacity" },
            value: format!("{} (capacity {capacity}, observation_dim {dim})", capacity.max(dim)),
            rule: "capacity * observation_dim must fit in usize",
        })?;
        // What the memory will hold: two observations, an action, a reward, two flags and a
        // step count per transition, plus `extra_bytes` (a sum tree's). A size that cannot be had is refused
        // here, before anything is allocated or written.
        let per_slot = 2 * 4 * dim as u128 + 8 + 4 + 2 + 4;
        let bytes = per_slot * capacity as u128 + extra_bytes;
        let field = if dim > capacity { "observation_dim" } else { "capacity" };
        let refuse = || Error::InvalidConfig {
            field,
            value: format!(
                "{} (capacity {capacity}, observation_dim {dim}: {bytes} bytes)",
                capacity.max(dim)
            ),
            rule: "the replay memory could not be allocated",
        };
        // The probe asks for 16 MiB more than the memory itself, so that the agent's own small
        // buffers (network, batch) still fit after it: a process at its memory limit is
        // refused here rather than aborted by a later small allocation.
        let mut probe: Vec<u8> = Vec::new();
        let probe_len = usize::try_from(bytes + HEADROOM as u128).map_err(|_| refuse())?;
        probe.try_reserve_exact(probe_len).map_err(|_| refuse())?;
        drop(probe);
        Ok(Self {
            dim,
            capacity,
            next: 0,
            observations: reserve(
                values,
                if dim > capacity { "observation_dim" } else { "capacity" },
            )?,
            next_observations: reserve(
                values,
                if dim > capacity { "observation_dim" } else { "capacity" },
            )?,
            actions: reserve(capacity, "capacity")?,
            rewards: reserve(capacity, "capacity")?,
            terminated: reserve(capacity, "capacity")?,
            truncated: reserve(capacity, "capacity")?,
            steps: reserve(capacity, "capacity")?,
        })
    }

    pub(crate) fn dim(&self) -> usize {
        self.dim
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn len(&self) -> usize {
        self.actions.len()
    }

    fn check_observation(&self, view: &ArrayView1<'_, f32>, what: &'static str) -> Result<()> {
        if view.len() != self.dim {
            return Err(Error::ObservationLength { what, expected: self.dim, actual: view.len() });
        }
        if let Some((i, &value)) = view.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: format!("transition {what}[{i}]"),
                value: value.into(),
            });
        }
        Ok(())
    }

    /// Checks a transition without storing it.
    pub(crate) fn validate(&self, t: &Transition<'_>) -> Result<()> {
        self.check_observation(&t.observation, "observation")?;
        self.check_observation(&t.next_observation, "next_observation")?;
        if !t.reward.is_finite() {
            return Err(Error::NonFinite {
                what: "transition reward".into(),
                value: t.reward.into(),
            });
        }
        Ok(())
    }

    /// Validates and stores a transition that spans `steps` environment steps; returns the
    /// slot it was written to.
    pub(crate) fn push(&mut self, t: Transition<'_>, steps: usize) -> Result<usize> {
        self.validate(&t)?;
        let steps = check_steps(steps)?;
        let slot = self.next;
        if self.len() < self.capacity {
            // Still filling: `slot == len`, and every vector has reserved room.
            extend(&mut self.observations, &t.observation);
            extend(&mut self.next_observations, &t.next_observation);
            self.actions.push(t.action);
            self.rewards.push(t.reward);
            self.terminated.push(t.terminated);
            self.truncated.push(t.truncated);
            self.steps.push(steps);
        } else {
            let row = slot * self.dim..(slot + 1) * self.dim;
            assign(&mut self.observations[row.clone()], &t.observation);
            assign(&mut self.next_observations[row], &t.next_observation);
            self.actions[slot] = t.action;
            self.rewards[slot] = t.reward;
            self.terminated[slot] = t.terminated;
            self.truncated[slot] = t.truncated;
            self.steps[slot] = steps;
        }
        self.next = if slot + 1 == self.capacity { 0 } else { slot + 1 };
        Ok(slot)
    }

    /// Fills every field of `batch` but `weights` from the slots in `batch.indices`.
    ///
    /// # Panics
    /// If a slot in `batch.indices` is `>= len()` (a broken internal invariant).
    pub(crate) fn gather(&self, batch: &mut Batch) {
        let (b, d) = (batch.indices.len(), self.dim);
        batch.reshape(b, d);
        let states = batch.states.as_slice_mut().expect("reshape gives standard layout");
        let next_states = batch.next_states.as_slice_mut().expect("reshape gives standard layout");
        for (k, &slot) in batch.indices.iter().enumerate() {
            assert!(slot < self.len(), "sampled slot {slot} >= len {}", self.len());
            let (src, dst) = (slot * d..(slot + 1) * d, k * d..(k + 1) * d);
            states[dst.clone()].copy_from_slice(&self.observations[src.clone()]);
            next_states[dst].copy_from_slice(&self.next_observations[src]);
            batch.actions[k] = self.actions[slot];
            batch.rewards[k] = self.rewards[slot];
            batch.terminated[k] = if self.terminated[slot] { 1.0 } else { 0.0 };
            batch.truncated[k] = if self.truncated[slot] { 1.0 } else { 0.0 };
            batch.steps[k] = self.steps[slot] as usize;
        }
    }
}

impl Storage {
    /// Writes the stored transitions and the write position under `prefix`.
    pub(crate) fn save_state(&self, prefix: &str, dict: &mut StateDict) -> Result<()> {
        let (len, dim) = (self.len(), self.dim);
        dict.set(format!("{prefix}capacity"), self.capacity);
        dict.set(format!("{prefix}observation_dim"), dim);
        dict.set(format!("{prefix}len"), len);
        dict.set(format!("{prefix}next"), self.next);
        dict.insert_f32(format!("{prefix}observations"), &[len, dim], self.observations.clone())?;
        let next = self.next_observations.clone();
        dict.insert_f32(format!("{prefix}next_observations"), &[len, dim], next)?;
        let actions = self.actions.iter().map(|&a| a as u64).collect();
        dict.insert_u64(format!("{prefix}actions"), &[len], actions)?;
        dict.insert_f32(format!("{prefix}rewards"), &[len], self.rewards.clone())?;
        let flags = |v: &[bool]| v.iter().map(|&b| u8::from(b)).collect::<Vec<u8>>();
        dict.insert_u8(format!("{prefix}terminated"), &[len], flags(&self.terminated))?;
        dict.insert_u8(format!("{prefix}truncated"), &[len], flags(&self.truncated))?;
        let steps = self.steps.iter().map(|&k| u64::from(k)).collect();
        dict.insert_u64(format!("{prefix}steps"), &[len], steps)?;
        Ok(())
    }

    /// Reads a state written by [`save_state`](Storage::save_state) into a copy of this
    /// storage (same capacity, full capacity reserved), after checking every invariant. `self`
    /// is not changed.
    pub(crate) fn load_state(&self, prefix: &str, dict: &StateDict) -> Result<Storage> {
        let capacity: usize = dict.parse(&format!("{prefix}capacity"))?;
        let dim: usize = dict.parse(&format!("{prefix}observation_dim"))?;
        if (capacity, dim) != (self.capacity, self.dim) {
            return Err(invalid(format!(
                "the memory saved has capacity {capacity} and observation_dim {dim}; this one \
                 has {} and {}",
                self.capacity, self.dim
            )));
        }
        let len: usize = dict.parse(&format!("{prefix}len"))?;
        let next: usize = dict.parse(&format!("{prefix}next"))?;
        if len > capacity || next >= capacity || (len < capacity && next != len) {
            return Err(invalid(format!(
                "memory len {len} and next {next} do not fit a ring of capacity {capacity}"
            )));
        }
        let observations = dict.f32(&format!("{prefix}observations"), &[len, dim])?;
        let next_observations = dict.f32(&format!("{prefix}next_observations"), &[len, dim])?;
        let actions = dict.u64(&format!("{prefix}actions"), &[len])?;
        let rewards = dict.f32(&format!("{prefix}rewards"), &[len])?;
        let terminated = dict.u8(&format!("{prefix}terminated"), &[len])?;
        let truncated = dict.u8(&format!("{prefix}truncated"), &[len])?;
        // A state saved before n-step transitions existed has no step counts: every
        // transition then spans one step.
        let steps_key = format!("{prefix}steps");
        let steps = if dict.tensors().contains_key(&steps_key) {
            Some(dict.u64(&steps_key, &[len])?)
        } else {
            None
        };
        let finite = |name: &str, v: &[f32]| check_finite_state("memory", name, v);
        finite("observations", observations)?;
        finite("next_observations", next_observations)?;
        finite("rewards", rewards)?;
        let flags = |name: &str, v: &[u8]| -> Result<Vec<bool>> {
            v.iter()
                .enumerate()
                .map(|(i, &b)| match b {
                    0 => Ok(false),
                    1 => Ok(true),
                    _ => Err(invalid(format!("memory {name}[{i}] = {b} is not 0 or 1"))),
                })
                .collect()
        };
        let mut out = Storage::new(capacity, dim)?;
        out.next = next;
        out.observations.extend_from_slice(observations);
        out.next_observations.extend_from_slice(next_observations);
        for (i, &a) in actions.iter().enumerate() {
            let a = usize::try_from(a)
                .map_err(|_| invalid(format!("memory actions[{i}] = {a} does not fit usize")))?;
            out.actions.push(a);
        }
        out.rewards.extend_from_slice(rewards);
        out.terminated = flags("terminated", terminated)?;
        out.terminated.reserve_exact(capacity - len);
        out.truncated = flags("truncated", truncated)?;
        out.truncated.reserve_exact(capacity - len);
        match steps {
            Some(steps) => {
                for (i, &k) in steps.iter().enumerate() {
                    let k = usize::try_from(k).ok().and_then(|k| check_steps(k).ok()).ok_or_else(
                        || invalid(format!("memory steps[{i}] = {k} is not in 1..={MAX_STEPS}")),
                    )?;
                    out.steps.push(k);
                }
            }
            None => out.steps.resize(len, 1),
        }
        Ok(out)
    }
}

impl Clone for Storage {
    /// Clones with the full capacity reserved, so the clone does not allocate on push either.
    fn clone(&self) -> Self {
        fn copy<T: Clone>(v: &[T], capacity: usize) -> Vec<T> {
            let mut out = Vec::with_capacity(capacity);
            out.extend_from_slice(v);
            out
        }
        let values = self.capacity * self.dim;
        Self {
            dim: self.dim,
            capacity: self.capacity,
            next: self.next,
            observations: copy(&self.observations, values),
            next_observations: copy(&self.next_observations, values),
            actions: copy(&self.actions, self.capacity),
            rewards: copy(&self.rewards, self.capacity),
            terminated: copy(&self.terminated, self.capacity),
            truncated: copy(&self.truncated, self.capacity),
            steps: copy(&self.steps, self.capacity),
        }
    }
}

/// The most environment steps one stored transition may span.
pub(crate) const MAX_STEPS: usize = u16::MAX as usize;

fn check_steps(steps: usize) -> Result<u32> {
    if (1..=MAX_STEPS).contains(&steps) {
        Ok(steps as u32)
    } else {
        Err(Error::InvalidConfig {
            field: "steps",
            value: steps.to_string(),
            rule: "a transition spans 1 to 65,535 environment steps",
        })
    }
}

fn extend(dst: &mut Vec<f32>, src: &ArrayView1<'_, f32>) {
    match src.as_slice() {
        Some(s) => dst.extend_from_slice(s),
        None => dst.extend(src.iter().copied()),
    }
}

fn assign(dst: &mut [f32], src: &ArrayView1<'_, f32>) {
    match src.as_slice() {
        Some(s) => dst.copy_from_slice(s),
        None => dst.iter_mut().zip(src.iter()).for_each(|(d, &s)| *d = s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, array, s};

    fn transition<'a>(
        obs: &'a Array1<f32>,
        next: &'a Array1<f32>,
        action: usize,
    ) -> Transition<'a> {
        Transition {
            observation: obs.view(),
            action,
            reward: action as f32,
            next_observation: next.view(),
            terminated: action.is_multiple_of(2),
            truncated: false,
        }
    }

    #[test]
    fn push_never_reallocates() {
        let mut storage = Storage::new(5, 2).unwrap();
        let ptr = storage.observations.as_ptr();
        let (o, n) = (array![1.0f32, 2.0], array![3.0f32, 4.0]);
        for a in 0..23 {
            storage.push(transition(&o, &n, a), 1).unwrap();
        }
        assert_eq!(storage.observations.as_ptr(), ptr);
        assert_eq!(storage.observations.capacity(), 10);
        assert_eq!(storage.len(), 5);
        // 23 pushes into 5 slots: slots hold actions 20, 21, 22, 18, 19.
        assert_eq!(storage.actions, vec![20, 21, 22, 18, 19]);
        assert_eq!(storage.next, 3);
    }

    #[test]
    fn strided_views_are_copied_in_order() {
        let mut storage = Storage::new(2, 2).unwrap();
        let wide = array![1.0f32, 9.0, 2.0, 9.0];
        let strided = wide.slice(s![..;2]);
        let n = array![3.0f32, 4.0];
        for _ in 0..3 {
            storage
                .push(
                    Transition {
                        observation: strided,
                        action: 0,
                        reward: 0.0,
                        next_observation: n.view(),
                        terminated: false,
                        truncated: false,
                    },
                    1,
                )
                .unwrap();
        }
        assert_eq!(storage.observations, vec![1.0, 2.0, 1.0, 2.0]);
    }

    #[test]
    fn clone_keeps_capacity() {
        let storage = Storage::new(4, 3).unwrap();
        let copy = storage.clone();
        assert_eq!(copy.observations.capacity(), 12);
        assert_eq!(copy.actions.capacity(), 4);
    }

    #[test]
    fn bad_configs() {
        assert!(Storage::new(0, 1).is_err());
        assert!(Storage::new(1, 0).is_err());
        assert!(Storage::new(usize::MAX, 2).is_err());
        assert!(Storage::new(usize::MAX / 4, 1).is_err());
    }
}
