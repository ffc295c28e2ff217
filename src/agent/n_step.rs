//! N-step returns: the window of the last steps of an episode from which a [`DqnAgent`]
//! builds n-step transitions before storing them.
//!
//! With `n_step = n`, the transition stored for the step taken in `s_t` is
//! `(s_t, a_t, r_{t+1} + gamma r_{t+2} + ... + gamma^(n-1) r_{t+n}, s_{t+n}, terminated)`, and
//! its Bellman target bootstraps with `gamma^n`. Near the end of an episode the window is
//! shorter: the last `k < n` steps bootstrap from the final observation with `gamma^k` after a
//! truncation (bootstrap through truncation) and not at all after a termination.
//!
//! [`DqnAgent`]: super::DqnAgent

use ndarray::ArrayView1;

use crate::error::{Error, Result};
use crate::memory::{Memory, Transition};
use crate::state_dict::{StateDict, check_finite_state, invalid_state as invalid};

/// The most steps an n-step return may span ([`DqnConfig::n_step`](super::DqnConfig::n_step)).
pub const MAX_N_STEP: usize = 100;

/// The steps of the current episode not yet stored (at most `n - 1` between calls), a ring of
/// `n` rows, with the powers of gamma.
#[derive(Debug, Clone)]
pub(crate) struct NStepWindow {
    n: usize,
    dim: usize,
    /// `gamma^k` for `k` in `0..=n`, by repeated multiplication.
    powers: Vec<f32>,
    observations: Vec<f32>,
    actions: Vec<usize>,
    rewards: Vec<f32>,
    /// The ring slot of the oldest step.
    start: usize,
    len: usize,
    /// The next observation of the newest step.
    last_next: Vec<f32>,
}

/// `gamma^0, gamma^1, ..., gamma^n`, each the previous times `gamma` in `f32`.
pub(crate) fn discount_powers(gamma: f32, n: usize) -> Vec<f32> {
    let mut powers = Vec::with_capacity(n + 1);
    let mut p = 1.0f32;
    for _ in 0..=n {
        powers.push(p);
        p *= gamma;
    }
    powers
}

impl NStepWindow {
    pub(crate) fn new(n: usize, dim: usize, gamma: f32) -> Self {
        Self {
            n,
            dim,
            powers: discount_powers(gamma, n),
            observations: vec![0.0; n * dim],
            actions: vec![0; n],
            rewards: vec![0.0; n],
            start: 0,
            len: 0,
            last_next: vec![0.0; dim],
        }
    }

    /// Whether no step is held (a window in this state is a new one).
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn slot(&self, i: usize) -> usize {
        (self.start + i) % self.n
    }

    /// Adds one validated environment step (its `terminated` already the agent's effective
    /// one) and stores the n-step transitions that are now complete. A step that does not
    /// continue the previous one (its observation is not the previous next observation: the
    /// caller started a new episode without ending the old one) first stores the held steps as
    /// if the episode had been truncated there. Every reward sum is checked before anything is
    /// stored: a sum that is not finite is an error and changes nothing.
    pub(crate) fn push<M: Memory + ?Sized>(
        &mut self,
        t: &Transition<'_>,
        memory: &mut M,
    ) -> Result<()> {
        if self.len > 0 && !same(&self.last_next, &t.observation) {
            for first in 0..self.len {
                self.check(self.sum_from(first, None), self.len - first)?;
            }
            let last_next = std::mem::take(&mut self.last_next);
            let result = self.emit_all(&ArrayView1::from(&last_next), false, true, memory);
            self.last_next = last_next;
            result?;
        }
        let done = t.terminated || t.truncated;
        if done {
            for first in 0..=self.len {
                self.check(self.sum_from(first, Some(t.reward)), self.len + 1 - first)?;
            }
            let held = self.len;
            self.write(t);
            let result = self.emit_all(&t.next_observation, t.terminated, t.truncated, memory);
            if result.is_err() {
                self.len = held;
            }
            return result;
        }
        if self.len + 1 == self.n {
            // The oldest held step's n steps are complete: store it, then make room.
            let sum = self.sum_from(0, Some(t.reward));
            self.check(sum, self.n)?;
            self.emit(0, sum, self.n, &t.next_observation, false, false, memory)?;
            self.start = self.slot(1);
            self.len -= 1;
        }
        self.write(t);
        Ok(())
    }

    /// Appends a step to the ring (there is always room: at most `n - 1` steps are held).
    fn write(&mut self, t: &Transition<'_>) {
        let slot = self.slot(self.len);
        copy_into(&mut self.observations[slot * self.dim..(slot + 1) * self.dim], &t.observation);
        self.actions[slot] = t.action;
        self.rewards[slot] = t.reward;
        self.len += 1;
        copy_into(&mut self.last_next, &t.next_observation);
    }

    fn check(&self, sum: f32, steps: usize) -> Result<()> {
        if sum.is_finite() {
            Ok(())
        } else {
            Err(Error::NonFinite {
                what: format!("the {steps}-step return (a discounted sum of rewards)"),
                value: f64::from(sum),
            })
        }
    }

    /// `sum_k gamma^k r_k` over the held rewards from the `first`-th oldest on, then `extra`.
    fn sum_from(&self, first: usize, extra: Option<f32>) -> f32 {
        let held = (first..self.len).map(|i| self.rewards[self.slot(i)]);
        let mut sum = 0.0f32;
        for (k, r) in held.chain(extra).enumerate() {
            sum += self.powers[k] * r;
        }
        sum
    }

    /// Stores every held step, oldest first, bootstrapping from `next`, and empties the window.
    fn emit_all<M: Memory + ?Sized>(
        &mut self,
        next: &ArrayView1<'_, f32>,
        terminated: bool,
        truncated: bool,
        memory: &mut M,
    ) -> Result<()> {
        for first in 0..self.len {
            let sum = self.sum_from(first, None);
            self.emit(first, sum, self.len - first, next, terminated, truncated, memory)?;
        }
        self.start = 0;
        self.len = 0;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn emit<M: Memory + ?Sized>(
        &self,
        first: usize,
        reward: f32,
        steps: usize,
        next: &ArrayView1<'_, f32>,
        terminated: bool,
        truncated: bool,
        memory: &mut M,
    ) -> Result<()> {
        let slot = self.slot(first);
        let observation = &self.observations[slot * self.dim..(slot + 1) * self.dim];
        memory.push_n_step(
            Transition {
                observation: ArrayView1::from(observation),
                action: self.actions[slot],
                reward,
                next_observation: next.view(),
                terminated,
                truncated,
            },
            steps,
        )
    }

    /// Writes the held steps under `prefix`.
    pub(crate) fn save_state(&self, prefix: &str, dict: &mut StateDict) -> Result<()> {
        let (len, dim) = (self.len, self.dim);
        dict.set(format!("{prefix}len"), len);
        let mut observations = Vec::with_capacity(len * dim);
        let (mut actions, mut rewards) = (Vec::with_capacity(len), Vec::with_capacity(len));
        for i in 0..len {
            let slot = self.slot(i);
            observations.extend_from_slice(&self.observations[slot * dim..(slot + 1) * dim]);
            actions.push(self.actions[slot] as u64);
            rewards.push(self.rewards[slot]);
        }
        dict.insert_f32(format!("{prefix}observations"), &[len, dim], observations)?;
        dict.insert_u64(format!("{prefix}actions"), &[len], actions)?;
        dict.insert_f32(format!("{prefix}rewards"), &[len], rewards)?;
        dict.insert_f32(format!("{prefix}last_next"), &[dim], self.last_next.clone())?;
        Ok(())
    }

    /// A copy of this window holding the steps saved under `prefix` (a state without them,
    /// saved before n-step returns existed, holds none). `num_actions` bounds the actions.
    pub(crate) fn load_state(
        &self,
        prefix: &str,
        dict: &StateDict,
        num_actions: usize,
    ) -> Result<Self> {
        let mut out = Self::new(self.n, self.dim, 1.0);
        out.powers.clone_from(&self.powers);
        let len_key = format!("{prefix}len");
        if !dict.metadata().contains_key(&len_key) {
            return Ok(out);
        }
        let len: usize = dict.parse(&len_key)?;
        if len >= self.n {
            return Err(invalid(format!(
                "the n-step window holds {len} steps; with n_step {} it holds at most {}",
                self.n,
                self.n - 1
            )));
        }
        let dim = self.dim;
        let observations = dict.f32(&format!("{prefix}observations"), &[len, dim])?;
        let actions = dict.u64(&format!("{prefix}actions"), &[len])?;
        let rewards = dict.f32(&format!("{prefix}rewards"), &[len])?;
        let last_next = dict.f32(&format!("{prefix}last_next"), &[dim])?;
        let finite = |name: &str, v: &[f32]| check_finite_state("n-step window", name, v);
        finite("observations", observations)?;
        finite("rewards", rewards)?;
        finite("last_next", last_next)?;
        for (i, &a) in actions.iter().enumerate() {
            if a >= num_actions as u64 {
                return Err(invalid(format!(
                    "n-step window actions[{i}] = {a} is not below num_actions {num_actions}"
                )));
            }
            out.actions[i] = a as usize;
        }
        out.observations[..len * dim].copy_from_slice(observations);
        out.rewards[..len].copy_from_slice(rewards);
        out.last_next.copy_from_slice(last_next);
        out.len = len;
        Ok(out)
    }
}

fn same(stored: &[f32], observation: &ArrayView1<'_, f32>) -> bool {
    stored.len() == observation.len()
        && stored.iter().zip(observation.iter()).all(|(a, b)| a.to_bits() == b.to_bits())
}

fn copy_into(dst: &mut [f32], src: &ArrayView1<'_, f32>) {
    match src.as_slice() {
        Some(s) => dst.copy_from_slice(s),
        None => dst.iter_mut().zip(src.iter()).for_each(|(d, &s)| *d = s),
    }
}
