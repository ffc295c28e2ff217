//! N-step returns (`DqnConfig::n_step`): what the agent stores for each step, at termination,
//! at truncation and when a caller starts a new episode without ending the old one; the
//! Bellman target's `gamma^k`; bad rewards; memories without n-step support; checkpoints that
//! hold a partial window.

use approx::assert_relative_eq;
use deepq::{
    Agent, Batch, CartPole, DqnAgent, DqnConfig, Error, Memory, Mlp, MlpConfig, QNetwork,
    ReplayBuffer, ReplayConfig, TrainConfig, Trainer, Transition,
};
use ndarray::{Array1, Array2, array};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::ops::ControlFlow;

const GAMMA: f32 = 0.5;

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn config(n: usize) -> DqnConfig {
    DqnConfig::default()
        .with_n_step(n)
        .with_gamma(GAMMA)
        .with_prioritized(None)
        .with_sample_with_replacement(false)
        .with_memory_size(100)
        .with_batch_size(1)
        .with_learning_starts(usize::MAX)
}

fn agent(n: usize) -> DqnAgent<Mlp, ReplayBuffer> {
    let c = config(n);
    let online = Mlp::new(MlpConfig::new(1, vec![8], 2), &mut rng(0)).unwrap();
    let memory =
        ReplayBuffer::new(ReplayConfig { capacity: 100, observation_dim: 1, replacement: false })
            .unwrap();
    DqnAgent::with_parts(c, online, memory).unwrap()
}

/// Step `t` of an episode: observation `[t]`, action `t % 2`, reward `rewards[t]`, next
/// observation `[t + 1]`.
fn step(agent: &mut impl Agent, t: usize, reward: f32, terminated: bool, truncated: bool) {
    let (s, s2) = (array![t as f32], array![t as f32 + 1.0]);
    agent
        .observe(Transition {
            observation: s.view(),
            action: t % 2,
            reward,
            next_observation: s2.view(),
            terminated,
            truncated,
        })
        .unwrap();
}

/// Every stored transition, oldest first: (observation, action, reward, next observation,
/// terminated, truncated, steps).
type Row = (f32, usize, f32, f32, bool, bool, usize);

fn stored(agent: &mut DqnAgent<Mlp, ReplayBuffer>) -> Vec<Row> {
    let len = agent.memory().len();
    if len == 0 {
        return Vec::new();
    }
    let batch = agent.memory_mut().sample(len, &mut rng(1)).unwrap();
    let mut rows: Vec<(usize, Row)> = (0..len)
        .map(|i| {
            (
                batch.indices[i],
                (
                    batch.states[[i, 0]],
                    batch.actions[i],
                    batch.rewards[i],
                    batch.next_states[[i, 0]],
                    batch.terminated[i] == 1.0,
                    batch.truncated[i] == 1.0,
                    batch.steps[i],
                ),
            )
        })
        .collect();
    rows.sort_by_key(|(slot, _)| *slot);
    rows.into_iter().map(|(_, row)| row).collect()
}

#[test]
fn a_terminated_episode_stores_n_step_returns_and_shorter_ones_at_its_end() {
    let mut a = agent(3);
    let rewards = [1.0, 2.0, 4.0, 8.0, 16.0];
    for (t, &r) in rewards.iter().enumerate() {
        step(&mut a, t, r, t == 4, false);
        // A transition is stored once its 3 steps are known: none after steps 0 and 1.
        let expected = if t == 4 { 5 } else { t.saturating_sub(1) };
        assert_eq!(a.memory().len(), expected, "after step {t}");
    }
    let g = GAMMA;
    assert_eq!(
        stored(&mut a),
        vec![
            (0.0, 0, 1.0 + g * 2.0 + g * g * 4.0, 3.0, false, false, 3),
            (1.0, 1, 2.0 + g * 4.0 + g * g * 8.0, 4.0, false, false, 3),
            (2.0, 0, 4.0 + g * 8.0 + g * g * 16.0, 5.0, true, false, 3),
            (3.0, 1, 8.0 + g * 16.0, 5.0, true, false, 2),
            (4.0, 0, 16.0, 5.0, true, false, 1),
        ]
    );
}

#[test]
fn a_truncated_episode_bootstraps_its_last_steps_from_the_final_observation() {
    let mut a = agent(3);
    for t in 0..4 {
        step(&mut a, t, 1.0, false, t == 3);
    }
    let rows = stored(&mut a);
    let steps: Vec<usize> = rows.iter().map(|r| r.6).collect();
    assert_eq!(steps, vec![3, 3, 2, 1]);
    // Nothing terminated: every one bootstraps (with gamma^steps), the last ones from s_4.
    assert!(rows.iter().all(|r| !r.4));
    assert_eq!(rows.iter().map(|r| r.3).collect::<Vec<_>>(), vec![3.0, 4.0, 4.0, 4.0]);
    // The flag marks the transitions whose window reaches the truncation.
    assert_eq!(rows.iter().map(|r| r.5).collect::<Vec<_>>(), vec![false, true, true, true]);
}

#[test]
fn an_episode_started_without_ending_the_last_is_treated_as_truncated_there() {
    let mut a = agent(4);
    step(&mut a, 0, 1.0, false, false);
    step(&mut a, 1, 1.0, false, false);
    // A new episode from observation [10] (not the previous next observation [2]).
    let (s, s2) = (array![10.0f32], array![11.0f32]);
    a.observe(Transition {
        observation: s.view(),
        action: 1,
        reward: 3.0,
        next_observation: s2.view(),
        terminated: true,
        truncated: false,
    })
    .unwrap();
    let g = GAMMA;
    assert_eq!(
        stored(&mut a),
        vec![
            (0.0, 0, 1.0 + g, 2.0, false, true, 2),
            (1.0, 1, 1.0, 2.0, false, true, 1),
            (10.0, 1, 3.0, 11.0, true, false, 1),
        ]
    );
}

#[test]
fn n_step_one_stores_each_step_as_it_comes() {
    let mut a = agent(1);
    for t in 0..3 {
        step(&mut a, t, t as f32, false, t == 2);
        assert_eq!(a.memory().len(), t + 1);
    }
    let rows = stored(&mut a);
    assert_eq!(rows[1], (1.0, 1, 1.0, 2.0, false, false, 1));
}

#[test]
fn the_bellman_target_discounts_by_gamma_to_the_steps_spanned() {
    let a = agent(3);
    let batch = Batch {
        states: Array2::zeros((3, 1)),
        actions: vec![0, 1, 0],
        rewards: array![1.0, 2.0, 3.0],
        next_states: array![[0.5], [0.25], [-1.0]],
        terminated: array![0.0, 0.0, 1.0],
        truncated: Array1::zeros(3),
        steps: vec![1, 3, 2],
        indices: vec![0, 1, 2],
        weights: Array1::ones(3),
    };
    let mut y = Array1::zeros(3);
    a.bellman_targets(&batch, &mut y).unwrap();
    let q = a.target_network().unwrap().q_values(batch.next_states.view()).unwrap();
    let online = a.network().q_values(batch.next_states.view()).unwrap();
    let value = |i: usize| {
        let best = if online[[i, 1]] > online[[i, 0]] { 1 } else { 0 };
        q[[i, best]]
    };
    assert_relative_eq!(y[0], 1.0 + GAMMA * value(0), max_relative = 1e-6);
    assert_relative_eq!(y[1], 2.0 + GAMMA.powi(3) * value(1), max_relative = 1e-6);
    assert_eq!(y[2], 3.0);
    // A batch without step counts (a memory of one's own that leaves them out) is one-step.
    let mut one_step = batch.clone();
    one_step.steps.clear();
    a.bellman_targets(&one_step, &mut y).unwrap();
    assert_relative_eq!(y[1], 2.0 + GAMMA * value(1), max_relative = 1e-6);
    one_step.steps = vec![1];
    assert!(matches!(a.bellman_targets(&one_step, &mut y), Err(Error::ShapeMismatch { .. })));
}

#[test]
fn a_return_that_overflows_is_an_error_and_stores_nothing() {
    let mut a = agent(3);
    step(&mut a, 0, f32::MAX, false, false);
    step(&mut a, 1, f32::MAX, false, false);
    let (s, s2) = (array![2.0f32], array![3.0f32]);
    let err = a
        .observe(Transition {
            observation: s.view(),
            action: 0,
            reward: f32::MAX,
            next_observation: s2.view(),
            terminated: false,
            truncated: false,
        })
        .unwrap_err();
    assert!(matches!(err, Error::NonFinite { .. }), "{err}");
    assert!(err.to_string().contains("3-step return"), "{err}");
    assert_eq!(a.memory().len(), 0);
    // The window is as it was: a finite step that ends the episode still fails on the sums,
    // and a fresh episode stores its own steps.
    let (s, s2) = (array![20.0f32], array![21.0f32]);
    a.observe(Transition {
        observation: s.view(),
        action: 1,
        reward: 1.0,
        next_observation: s2.view(),
        terminated: true,
        truncated: false,
    })
    .unwrap_err();
    assert_eq!(a.memory().len(), 0);
}

/// A memory that implements only the required methods.
struct Plain(ReplayBuffer);

impl Memory for Plain {
    fn observation_dim(&self) -> usize {
        self.0.observation_dim()
    }
    fn push(&mut self, transition: Transition<'_>) -> deepq::Result<()> {
        self.0.push(transition)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn capacity(&self) -> usize {
        self.0.capacity()
    }
    fn sample_into(
        &mut self,
        batch_size: usize,
        rng: &mut dyn RngCore,
        batch: &mut Batch,
    ) -> deepq::Result<()> {
        self.0.sample_into(batch_size, rng, batch)
    }
    fn update_priorities(&mut self, indices: &[usize], td_errors: &[f32]) -> deepq::Result<()> {
        self.0.update_priorities(indices, td_errors)
    }
}

#[test]
fn a_memory_without_n_step_support_refuses_n_step_transitions_clearly() {
    let c = config(2);
    let online = Mlp::new(MlpConfig::new(1, vec![8], 2), &mut rng(0)).unwrap();
    let memory = Plain(ReplayBuffer::new(ReplayConfig::default().with_observation_dim(1)).unwrap());
    let mut a = DqnAgent::with_parts(c, online, memory).unwrap();
    step(&mut a, 0, 1.0, false, false);
    let (s, s2) = (array![1.0f32], array![2.0f32]);
    let err = a
        .observe(Transition {
            observation: s.view(),
            action: 1,
            reward: 1.0,
            next_observation: s2.view(),
            terminated: false,
            truncated: false,
        })
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("push_n_step"), "{err}");
    // One-step transitions go through the provided method.
    let mut plain =
        Plain(ReplayBuffer::new(ReplayConfig::default().with_observation_dim(1)).unwrap());
    let t = Transition {
        observation: s.view(),
        action: 0,
        reward: 0.0,
        next_observation: s2.view(),
        terminated: false,
        truncated: false,
    };
    plain.push_n_step(t, 1).unwrap();
    assert_eq!(plain.len(), 1);
    assert!(matches!(plain.push_n_step(t, 0), Err(Error::InvalidConfig { field: "steps", .. })));
    assert_eq!(plain.len(), 1);
}

#[test]
fn a_step_count_out_of_range_is_refused_by_the_memories() {
    let mut memory = ReplayBuffer::new(ReplayConfig::default().with_observation_dim(1)).unwrap();
    let (s, s2) = (array![1.0f32], array![2.0f32]);
    let t = Transition {
        observation: s.view(),
        action: 0,
        reward: 0.0,
        next_observation: s2.view(),
        terminated: false,
        truncated: false,
    };
    for bad in [0, 65_536, usize::MAX] {
        let err = memory.push_n_step(t, bad).unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { field: "steps", .. }), "{err}");
    }
    assert_eq!(memory.len(), 0);
    memory.push_n_step(t, 65_535).unwrap();
    assert_eq!(memory.sample(1, &mut rng(0)).unwrap().steps, vec![65_535]);
}

#[test]
fn a_checkpoint_taken_mid_episode_resumes_the_window_bit_for_bit() {
    // A step budget cuts the run inside an episode, so the agent still holds steps of it.
    let dqn = DqnConfig::default().with_n_step(3).with_learning_starts(100).with_seed(4);
    let first = TrainConfig::default().with_max_env_steps(333).with_stop_when_solved(false);
    let then = first.clone().with_max_env_steps(700);
    let run = |checkpoint: bool| {
        let mut trainer = Trainer::new(dqn.clone(), first.clone(), 4, 2).unwrap();
        let mut env = CartPole::v0();
        let report = trainer.train(&mut env, None, &mut |_| ControlFlow::Continue(())).unwrap();
        assert!(report.cut_episode.is_some(), "the budget must cut an episode");
        if checkpoint {
            let bytes = trainer.to_bytes().unwrap();
            trainer = Trainer::from_bytes(&bytes).unwrap();
            assert_eq!(trainer.to_bytes().unwrap(), bytes);
        }
        trainer.set_config(then.clone()).unwrap();
        trainer.train(&mut env, None, &mut |_| ControlFlow::Continue(())).unwrap();
        trainer
    };
    let (kept, resumed) = (run(false), run(true));
    assert_eq!(resumed.report().returns, kept.report().returns);
    assert_eq!(resumed.to_bytes().unwrap(), kept.to_bytes().unwrap());
}
