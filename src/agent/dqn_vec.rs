//! A [`DqnAgent`] over a vector environment: the batched action selection of its N
//! sub-environments and the counting of vector steps (Stable-Baselines3's).
//!
//! [`DqnAgent`]: super::DqnAgent

use ndarray::ArrayView2;
use rand::{Rng, RngCore};

use super::dqn::{DqnAgent, TrainFrequency};
use super::{Agent, LearnStats, check_batch};
use crate::error::{Error, Result};
use crate::memory::Memory;
use crate::nn::{QNetwork, argmax};

impl<N: QNetwork + Clone, M: Memory> DqnAgent<N, M> {
    /// [`Agent::act_batch`]: epsilon-greedy per row, the draws of N calls of
    /// [`act`](Agent::act) in row order (a uniform draw against epsilon, then the random action
    /// if it explores), and one batched forward pass ([`QNetwork::q_values`]) for the rows that
    /// exploit. One row is `act` itself, with its single-observation forward pass.
    pub(super) fn act_batch_exploring(
        &mut self,
        observations: ArrayView2<'_, f32>,
        rng: &mut dyn RngCore,
        actions: &mut [usize],
    ) -> Result<()> {
        let rows = observations.nrows();
        check_batch(rows, actions.len())?;
        if rows == 1 {
            actions[0] = self.act(observations.row(0), rng)?;
            return Ok(());
        }
        for observation in observations.rows() {
            self.check_observation("observation", observation)?;
        }
        let mut exploits = false;
        for action in actions.iter_mut() {
            if self.epsilon > 0.0 && rng.random::<f32>() < self.epsilon {
                *action = rng.random_range(0..self.num_actions);
            } else {
                *action = usize::MAX; // greedy, below
                exploits = true;
            }
        }
        if !exploits {
            return Ok(());
        }
        let q = self.online.q_values(observations)?;
        if q.dim() != (rows, self.num_actions) {
            return Err(Error::ShapeMismatch {
                what: "Q-values of the observations".into(),
                expected: format!("{:?}", (rows, self.num_actions)),
                got: format!("{:?}", q.dim()),
            });
        }
        for (action, values) in actions.iter_mut().zip(q.rows()) {
            if *action == usize::MAX {
                *action = match values.as_slice() {
                    Some(values) => argmax(values),
                    None => argmax(&values.to_vec()),
                };
            }
        }
        Ok(())
    }

    /// [`Agent::learn_vec`]: refuses what [`check_vec_envs`](DqnAgent::check_vec_envs)
    /// refuses, then learns with the vector-step counts.
    pub(super) fn learn_vec_step(
        &mut self,
        num_envs: usize,
        rng: &mut dyn RngCore,
    ) -> Result<Option<LearnStats>> {
        self.check_vec_envs(num_envs)?;
        self.learn_with(num_envs, rng)
    }

    /// [`Agent::check_num_envs`]: at least 1, and 1 with [`TrainFrequency::Episodes`].
    pub(super) fn check_vec_envs(&self, num_envs: usize) -> Result<()> {
        if num_envs == 0 {
            return Err(Error::InvalidArgument {
                what: "num_envs",
                value: "0".into(),
                rule: "training needs at least 1 environment",
            });
        }
        if num_envs > 1
            && let TrainFrequency::Episodes(n) = self.config.train_frequency
        {
            return Err(Error::InvalidConfig {
                field: "train_frequency",
                value: format!("Episodes({n}) with {num_envs} environments"),
                rule: "training every n episodes needs a single environment, as in \
                       Stable-Baselines3: use TrainFrequency::Steps with a vector environment",
            });
        }
        Ok(())
    }
}

/// Whether something due every `every` vector steps of `num_envs` environment steps each is due
/// at the vector step that brought the environment-step count to `count`: with one environment,
/// when `count` is a multiple of `every`; with more, when the step's counts
/// `count - num_envs + 1 ..= count` hold a multiple of `every * num_envs` (that is `count`
/// itself when every vector step so far had `num_envs` steps).
pub(super) fn steps_due(count: usize, num_envs: usize, every: usize) -> bool {
    if num_envs <= 1 {
        return count.is_multiple_of(every);
    }
    let period = every.saturating_mul(num_envs);
    count / period > count.saturating_sub(num_envs) / period
}

#[cfg(test)]
mod tests {
    use super::steps_due;

    #[test]
    fn one_environment_counts_steps() {
        let due: Vec<usize> = (0..13).filter(|&c| steps_due(c, 1, 4)).collect();
        assert_eq!(due, [0, 4, 8, 12]);
    }

    #[test]
    fn n_environments_count_vector_steps() {
        // 3 environments, due every 2 vector steps: at 6, 12, 18 environment steps.
        let due: Vec<usize> = (1..=7).map(|v| 3 * v).filter(|&c| steps_due(c, 3, 2)).collect();
        assert_eq!(due, [6, 12, 18]);
        // Counts offset by a run of another size: still once every 2 vector steps.
        let due = (1..=8).map(|v| 5 + 3 * v).filter(|&c| steps_due(c, 3, 2)).count();
        assert_eq!(due, 4);
    }
}
