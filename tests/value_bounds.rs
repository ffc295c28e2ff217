//! Bounds on the bootstrap value (`DqnConfig::value_bounds`): the range from observed rewards,
//! a fixed range, validation, and the clipped Bellman target.

use deepq::{
    Agent, Batch, DqnAgent, DqnConfig, Error, QNetwork, TargetUpdate, Transition, ValueBounds,
};
use ndarray::{Array1, Array2, array};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn agent(bounds: ValueBounds, gamma: f32) -> DqnAgent {
    let config = DqnConfig::default()
        .with_gamma(gamma)
        .with_value_bounds(bounds)
        .with_double_dqn(false)
        .with_target_update(TargetUpdate::Hard { every: 1_000 });
    DqnAgent::new(config, 2, 2, &mut ChaCha8Rng::seed_from_u64(3)).unwrap()
}

fn observe(agent: &mut DqnAgent, reward: f32) {
    let (s, s2) = (array![0.0f32, 1.0], array![1.0f32, 0.0]);
    agent
        .observe(Transition {
            observation: s.view(),
            action: 0,
            reward,
            next_observation: s2.view(),
            terminated: false,
            truncated: false,
        })
        .unwrap();
}

#[test]
fn observed_rewards_bound_the_values_between_zero_and_the_reward_range_over_one_minus_gamma() {
    let mut a = agent(ValueBounds::ObservedRewards, 0.9);
    // Before any reward: no bound.
    assert_eq!(a.reward_range(), None);
    assert_eq!(a.bootstrap_bounds(), (f32::NEG_INFINITY, f32::INFINITY));
    // Rewards of +1 only (CartPole): values in [0, 1 / (1 - 0.9)].
    observe(&mut a, 1.0);
    assert_eq!(a.reward_range(), Some((1.0, 1.0)));
    let (low, high) = a.bootstrap_bounds();
    assert_eq!(low, 0.0);
    assert!((high - 10.0).abs() < 1e-4, "{high}");
    // A reward of -2 widens the range below 0.
    observe(&mut a, -2.0);
    let (low, high) = a.bootstrap_bounds();
    assert!((low + 20.0).abs() < 1e-3 && (high - 10.0).abs() < 1e-4, "{low} {high}");
    // Rewards of -1 only (MountainCar): [-1 / (1 - gamma), 0].
    let mut b = agent(ValueBounds::ObservedRewards, 0.9);
    observe(&mut b, -1.0);
    let (low, high) = b.bootstrap_bounds();
    assert!((low + 10.0).abs() < 1e-4 && high == 0.0, "{low} {high}");
    // gamma = 1: no bound.
    let mut c = agent(ValueBounds::ObservedRewards, 1.0);
    observe(&mut c, 1.0);
    assert_eq!(c.bootstrap_bounds(), (f32::NEG_INFINITY, f32::INFINITY));
    // No bounds: infinite whatever was observed.
    let mut d = agent(ValueBounds::None, 0.9);
    observe(&mut d, 1.0);
    assert_eq!(d.bootstrap_bounds(), (f32::NEG_INFINITY, f32::INFINITY));
}

#[test]
fn a_rejected_transition_does_not_widen_the_range() {
    let mut a = agent(ValueBounds::ObservedRewards, 0.9);
    observe(&mut a, 1.0);
    let (s, s2) = (array![0.0f32, f32::NAN], array![1.0f32, 0.0]);
    let bad = Transition {
        observation: s.view(),
        action: 0,
        reward: 50.0,
        next_observation: s2.view(),
        terminated: false,
        truncated: false,
    };
    assert!(a.observe(bad).is_err());
    assert_eq!(a.reward_range(), Some((1.0, 1.0)));
}

#[test]
fn the_bellman_target_clips_the_bootstrap_value_not_the_reward() {
    let a = agent(ValueBounds::Fixed { min: -0.25, max: 0.25 }, 0.5);
    let next_states = array![[3.0f32, -7.0], [-5.0, 9.0], [0.0, 0.0], [30.0, 40.0]];
    let batch = Batch {
        states: Array2::zeros((4, 2)),
        actions: vec![0, 1, 0, 1],
        rewards: array![1.0, 2.0, 3.0, 100.0],
        next_states: next_states.clone(),
        terminated: array![0.0, 0.0, 0.0, 1.0],
        truncated: Array1::zeros(4),
        steps: vec![1; 4],
        indices: vec![0, 1, 2, 3],
        weights: Array1::ones(4),
    };
    let mut y = Array1::zeros(4);
    a.bellman_targets(&batch, &mut y).unwrap();
    let q = a.target_network().unwrap().q_values(next_states.view()).unwrap();
    for i in 0..3 {
        let best = q.row(i).iter().copied().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(y[i], batch.rewards[i] + 0.5 * best.clamp(-0.25, 0.25), "row {i}");
    }
    // A terminal transition's target is its reward, however large.
    assert_eq!(y[3], 100.0);
    // The network's far-away inputs give values outside the range: the clip did something.
    assert!(q.iter().any(|v| v.abs() > 0.25), "{q:?}");
}

#[test]
fn a_fixed_range_must_be_finite_and_ordered() {
    for (min, max) in [(1.0, 0.0), (f32::NAN, 1.0), (0.0, f32::INFINITY)] {
        let config = DqnConfig::default().with_value_bounds(ValueBounds::Fixed { min, max });
        let err = config.validate().unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { field: "value_bounds", .. }), "{err}");
    }
    DqnConfig::default()
        .with_value_bounds(ValueBounds::Fixed { min: -1.0, max: -1.0 })
        .validate()
        .unwrap();
}

/// A Q-network without an output penalty: every method of the trait but the provided
/// `set_output_penalty`.
#[derive(Clone)]
struct NoPenalty(deepq::Mlp);

impl QNetwork for NoPenalty {
    fn input_dim(&self) -> usize {
        self.0.input_dim()
    }
    fn num_actions(&self) -> usize {
        self.0.num_actions()
    }
    fn q_values(&self, states: ndarray::ArrayView2<'_, f32>) -> deepq::Result<Array2<f32>> {
        self.0.q_values(states)
    }
    fn q_values_one(
        &mut self,
        state: ndarray::ArrayView1<'_, f32>,
        out: &mut [f32],
    ) -> deepq::Result<()> {
        self.0.q_values_one(state, out)
    }
    fn train_step(
        &mut self,
        states: ndarray::ArrayView2<'_, f32>,
        actions: &[usize],
        targets: ndarray::ArrayView1<'_, f32>,
        weights: Option<ndarray::ArrayView1<'_, f32>>,
    ) -> deepq::Result<deepq::TrainStats> {
        self.0.train_step(states, actions, targets, weights)
    }
    fn update_from(&mut self, source: &dyn QNetwork, tau: f32) -> deepq::Result<()> {
        self.0.update_from(source, tau)
    }
    fn set_learning_rate(&mut self, lr: f32) -> deepq::Result<()> {
        self.0.set_learning_rate(lr)
    }
    fn parameters(&self) -> Vec<ndarray::ArrayViewD<'_, f32>> {
        self.0.parameters()
    }
}

fn small_net() -> deepq::Mlp {
    deepq::Mlp::new(deepq::MlpConfig::new(2, vec![8], 2), &mut ChaCha8Rng::seed_from_u64(1))
        .unwrap()
}

#[test]
fn the_value_penalty_is_validated_and_needs_a_network_that_has_one() {
    for bad in [-1.0, f32::NAN, f32::INFINITY] {
        let e = DqnConfig::default().with_value_penalty(bad).validate().unwrap_err();
        assert!(matches!(e, Error::InvalidConfig { field: "value_penalty", .. }), "{e}");
    }
    let memory = || {
        deepq::ReplayBuffer::new(
            deepq::ReplayConfig::default().with_capacity(100).with_observation_dim(2),
        )
        .unwrap()
    };
    // A custom network without the penalty is refused when the agent is built, with the way
    // out in the message; with the penalty off, or without bounds, it is accepted.
    let config = DqnConfig::default().with_prioritized(None).with_value_penalty(1.0);
    let e = DqnAgent::with_parts(config.clone(), NoPenalty(small_net()), memory())
        .err()
        .expect("refused");
    assert!(matches!(&e, Error::Unsupported { what } if what.contains("value_penalty")), "{e}");
    assert!(
        DqnAgent::with_parts(
            config.clone().with_value_penalty(0.0),
            NoPenalty(small_net()),
            memory()
        )
        .is_ok()
    );
    assert!(
        DqnAgent::with_parts(
            config.with_value_bounds(ValueBounds::None),
            NoPenalty(small_net()),
            memory()
        )
        .is_ok()
    );
    // The network's own check: bounds in order, a finite weight >= 0.
    let mut net = small_net();
    for bad in [
        deepq::OutputPenalty { low: 1.0, high: 0.0, weight: 1.0 },
        deepq::OutputPenalty { low: f32::NAN, high: 0.0, weight: 1.0 },
        deepq::OutputPenalty { low: 0.0, high: 1.0, weight: -1.0 },
    ] {
        let e = net.set_output_penalty(Some(bad)).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { .. }), "{e}");
    }
}

#[test]
fn the_value_penalty_pulls_outputs_above_the_bound_down_even_for_untaken_actions() {
    // One state, action 0 taken with target 0; action 1 is never taken and starts far above
    // the bound [0, 1]. Without the penalty nothing moves Q(s, 1) but the shared layers; with
    // it, Q(s, 1) is brought under the bound.
    let fit =
        |penalty: Option<deepq::OutputPenalty>| {
            let config = deepq::MlpConfig::new(2, vec![], 2)
                .with_optimizer(deepq::Optimizer::Sgd { lr: 0.05, momentum: 0.0, nesterov: false });
            // Q(s, a) = w_a . s + b_a with w = 0 and b = [0, 5]: action 1 starts at 5.
            let layer = (Array2::zeros((2, 2)), array![0.0f32, 5.0]);
            let mut net = deepq::Mlp::with_parameters(config, vec![layer]).unwrap();
            net.set_output_penalty(penalty).unwrap();
            let states = array![[1.0f32, 0.5]];
            for _ in 0..200 {
                net.train_step(states.view(), &[0], Array1::zeros(1).view(), None).unwrap();
            }
            net.q_values(states.view()).unwrap()[[0, 1]]
        };
    let free = fit(None);
    let held = fit(Some(deepq::OutputPenalty { low: 0.0, high: 1.0, weight: 1.0 }));
    assert!(free > 4.0, "untaken action moved without a penalty: {free}");
    assert!(held < 1.01, "penalised action still above the bound: {held}");
}

#[test]
fn a_checkpoint_keeps_the_value_penalty() {
    let config = DqnConfig::default().with_value_penalty(0.5);
    let trainer =
        deepq::Trainer::new(config, deepq::TrainConfig::default().with_episodes(1), 4, 2).unwrap();
    let back = deepq::Trainer::from_bytes(&trainer.to_bytes().unwrap()).unwrap();
    assert_eq!(back.agent().config().value_penalty, 0.5);
}
