//! The DQN agent: config validation, Bellman targets (terminated vs truncated), exploration,
//! target networks, bad input, object safety and determinism.

use approx::assert_relative_eq;
use deepq::{
    Activation, Agent, Batch, CartPole, DqnAgent, DqnConfig, Env, Error, Exploration, Init,
    LearningRateDecay, Loss, Memory, Optimizer, PrioritizedConfig, QNetwork, TargetUpdate,
    TrainConfig, TrainFrequency, Transition, ValueBounds, train,
};
use ndarray::{Array1, Array2, array};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::ops::ControlFlow;

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn agent(config: DqnConfig) -> DqnAgent {
    DqnAgent::new(config, 4, 2, &mut rng(0)).unwrap()
}

fn transition<'a>(
    s: &'a Array1<f32>,
    a: usize,
    r: f32,
    s2: &'a Array1<f32>,
    terminated: bool,
    truncated: bool,
) -> Transition<'a> {
    Transition {
        observation: s.view(),
        action: a,
        reward: r,
        next_observation: s2.view(),
        terminated,
        truncated,
    }
}

fn field_of(config: DqnConfig) -> (&'static str, String) {
    match DqnAgent::new(config, 4, 2, &mut rng(0)) {
        Err(err @ Error::InvalidConfig { field, .. }) => (field, err.to_string()),
        Err(other) => panic!("expected InvalidConfig, got {other:?}"),
        Ok(_) => panic!("expected an error"),
    }
}

#[test]
fn every_broken_rule_is_its_own_error_naming_field_and_value() {
    let d = DqnConfig::default;
    let cases: Vec<(DqnConfig, &str, &str)> = vec![
        (d().with_gamma(1.5), "gamma", "1.5"),
        (d().with_gamma(-0.1), "gamma", "-0.1"),
        (d().with_gamma(f32::NAN), "gamma", "NaN"),
        (d().with_n_step(0), "n_step", "0"),
        (d().with_n_step(101), "n_step", "101"),
        (d().with_learning_rate(0.0), "optimizer.lr", "0"),
        (d().with_learning_rate(-1e-3), "optimizer.lr", "-0.001"),
        (d().with_learning_rate(f32::INFINITY), "optimizer.lr", "inf"),
        (d().with_batch_size(0), "batch_size", "0"),
        (d().with_memory_size(100).with_batch_size(101), "batch_size", "101"),
        (d().with_memory_size(0), "memory_size", "0"),
        (d().with_hidden(vec![64, 0]), "hidden", "[64, 0]"),
        (DqnConfig { gradient_steps: 0, ..d() }, "gradient_steps", "0"),
        // Issue 12, D3: 2^31 validated and then ran for hours.
        (d().with_gradient_steps(1 << 31), "gradient_steps", "2147483648"),
        (DqnConfig { train_frequency: TrainFrequency::Steps(0), ..d() }, "train_frequency", "0"),
        (d().with_target_update(TargetUpdate::Polyak { tau: 0.0 }), "target_update.tau", "0"),
        (d().with_target_update(TargetUpdate::Polyak { tau: 1.5 }), "target_update.tau", "1.5"),
        (d().with_target_update(TargetUpdate::Hard { every: 0 }), "target_update.every", "0"),
        (d().with_target_update(TargetUpdate::None), "double_dqn", "true"),
        (
            d().with_exploration(Exploration::Linear { start: 1.2, end: 0.1, steps: 10 }),
            "exploration.start",
            "1.2",
        ),
        (
            d().with_exploration(Exploration::Multiplicative {
                start: 1.0,
                floor: 0.0,
                decay: 0.0,
            }),
            "exploration.decay",
            "0",
        ),
        (DqnConfig { max_grad_norm: Some(0.0), ..d() }, "max_grad_norm", "0"),
        (
            DqnConfig {
                learning_rate_decay: Some(LearningRateDecay { end: -1.0, steps: 9 }),
                ..d()
            },
            "learning_rate_decay.end",
            "-1",
        ),
        (
            DqnConfig {
                learning_rate_decay: Some(LearningRateDecay { end: 1e-4, steps: 0 }),
                ..d()
            },
            "learning_rate_decay.steps",
            "0",
        ),
        (d().with_prioritized(Some(PrioritizedConfig::default().with_alpha(2.0))), "alpha", "2"),
    ];
    for (config, field, value) in cases {
        let (got, message) = field_of(config);
        assert_eq!(got, field, "{message}");
        assert!(message.contains(field) && message.contains(value), "{message}");
    }
}

#[test]
fn default_and_tutorial_configs_are_valid_and_the_tutorial_is_as_written() {
    DqnConfig::default().validate().unwrap();
    let t = DqnConfig::tutorial();
    t.validate().unwrap();
    assert_eq!(t.hidden, vec![30, 30]);
    assert_eq!(t.optimizer.learning_rate(), 0.2);
    assert!(matches!(t.optimizer, Optimizer::RmsProp { .. }));
    assert_eq!(t.gamma, 0.5);
    assert_eq!(t.exploration, Exploration::Multiplicative { start: 1.0, floor: 0.0, decay: 0.1 });
    assert_eq!((t.memory_size, t.batch_size), (100_000, 8));
    assert_eq!(t.target_update, TargetUpdate::None);
    assert_eq!(t.train_frequency, TrainFrequency::Episodes(1));
    assert!(t.truncation_as_termination && !t.double_dqn && !t.sample_with_replacement);
    assert_eq!(t.loss, Loss::KerasMaskedMse);
}

fn manual_batch(terminated: [f32; 3]) -> Batch {
    Batch {
        states: Array2::zeros((3, 4)),
        actions: vec![0, 1, 0],
        rewards: array![1.0, 0.5, -1.0],
        next_states: array![[0.1, 0.2, 0.3, 0.4], [-0.1, 0.0, 0.2, 0.1], [0.5, -0.5, 0.0, 0.3]],
        terminated: Array1::from(terminated.to_vec()),
        truncated: Array1::zeros(3),
        steps: vec![1, 1, 1],
        indices: vec![0, 1, 2],
        weights: Array1::ones(3),
    }
}

#[test]
fn bellman_target_cuts_only_at_termination() {
    let a = agent(DqnConfig::default().with_double_dqn(false).with_gamma(0.9));
    let batch = manual_batch([1.0, 0.0, 0.0]);
    let mut y = Array1::zeros(3);
    a.bellman_targets(&batch, &mut y).unwrap();
    let q_next = a.target_network().unwrap().q_values(batch.next_states.view()).unwrap();
    // terminated: y = r
    assert_eq!(y[0], 1.0);
    // not terminated (a truncated transition is stored this way): y = r + gamma * max Q(s')
    for i in 1..3 {
        let max = q_next.row(i).iter().copied().fold(f32::NEG_INFINITY, f32::max);
        assert_relative_eq!(y[i], batch.rewards[i] + 0.9 * max, max_relative = 1e-6);
    }
}

#[test]
fn double_dqn_values_the_online_argmax_with_the_target_network() {
    let mut a = agent(DqnConfig::default().with_gamma(0.9));
    // Make online and target differ: train the online network a few steps on a fixed batch.
    let mut r = rng(1);
    let s = array![0.01f32, 0.02, 0.03, 0.04];
    for i in 0..200 {
        let s2 = array![0.02f32 * (i % 7) as f32, -0.01, 0.05, 0.1];
        a.observe(transition(&s, i % 2, 1.0, &s2, false, false)).unwrap();
        a.learn(&mut r).unwrap();
    }
    let batch = manual_batch([0.0, 0.0, 1.0]);
    let mut y = Array1::zeros(3);
    a.bellman_targets(&batch, &mut y).unwrap();
    let online = a.network().q_values(batch.next_states.view()).unwrap();
    let target = a.target_network().unwrap().q_values(batch.next_states.view()).unwrap();
    for i in 0..2 {
        let best = if online[[i, 1]] > online[[i, 0]] { 1 } else { 0 };
        assert_relative_eq!(y[i], batch.rewards[i] + 0.9 * target[[i, best]], max_relative = 1e-6);
    }
    assert_eq!(y[2], -1.0);
}

#[test]
fn truncated_transitions_bootstrap_unless_the_tutorial_treats_them_as_terminal() {
    let s = array![0.0f32, 0.0, 0.0, 0.0];
    let s2 = array![0.1f32, 0.0, 0.0, 0.0];
    for (config, expected) in [(DqnConfig::default(), 0.0), (DqnConfig::tutorial(), 1.0)] {
        let mut a = agent(config.with_batch_size(1));
        a.observe(transition(&s, 1, 1.0, &s2, false, true)).unwrap();
        let mut memory_copy = rng(3);
        let batch = a.memory_mut().sample(1, &mut memory_copy).unwrap();
        assert_eq!(batch.terminated[0], expected);
        assert_eq!(batch.truncated[0], 1.0);
    }
}

#[test]
fn bad_transitions_are_errors_and_lose_nothing() {
    // One-step storage keeps the first transition; 3-step storage (the default) holds it in
    // its window until 3 steps are known.
    for (n_step, stored) in [(1, 1), (3, 0)] {
        let mut a = agent(DqnConfig::default().with_n_step(n_step));
        let s = array![0.0f32, 0.0, 0.0, 0.0];
        a.observe(transition(&s, 0, 1.0, &s, false, false)).unwrap();
        let short = array![0.0f32, 0.0, 0.0];
        let nan = array![0.0f32, f32::NAN, 0.0, 0.0];
        let err = a.observe(transition(&s, 2, 1.0, &s, false, false)).unwrap_err();
        assert!(matches!(err, Error::InvalidAction { action: 2, num_actions: 2 }), "{err:?}");
        assert!(a.observe(transition(&short, 0, 1.0, &s, false, false)).is_err());
        assert!(a.observe(transition(&s, 0, 1.0, &nan, false, false)).is_err());
        assert!(a.observe(transition(&s, 0, f32::INFINITY, &s, false, false)).is_err());
        assert_eq!(a.memory().len(), stored);
        assert_eq!(a.env_steps(), 1);
        assert_eq!(a.reward_range(), Some((1.0, 1.0)));
        let err = a.act(short.view(), &mut rng(0)).unwrap_err();
        assert!(err.to_string().contains('3'), "{err}");
        assert!(a.greedy_action(nan.view()).is_err());
        // The window still holds exactly the good step: two more fill it.
        a.observe(transition(&s, 1, 1.0, &s, false, false)).unwrap();
        a.observe(transition(&s, 0, 1.0, &s, false, true)).unwrap();
        assert_eq!(a.memory().len(), 3);
    }
}

#[test]
fn exploration_schedules() {
    // Linear: from start to end over `steps` environment steps.
    let config = DqnConfig::default().with_exploration(Exploration::Linear {
        start: 1.0,
        end: 0.1,
        steps: 10,
    });
    let mut a = agent(config);
    let s = array![0.0f32, 0.0, 0.0, 0.0];
    assert_eq!(a.epsilon(), 1.0);
    for _ in 0..5 {
        a.observe(transition(&s, 0, 1.0, &s, false, false)).unwrap();
    }
    assert_relative_eq!(a.epsilon(), 0.55, max_relative = 1e-6);
    for _ in 0..10 {
        a.observe(transition(&s, 0, 1.0, &s, false, false)).unwrap();
    }
    assert_relative_eq!(a.epsilon(), 0.1, max_relative = 1e-6);

    // Multiplicative (the tutorial's): decays every step once the memory holds a batch.
    let mut t = agent(DqnConfig::tutorial());
    for i in 0..7 {
        t.observe(transition(&s, 0, 1.0, &s, false, false)).unwrap();
        assert_eq!(t.epsilon(), 1.0, "no decay before a batch is stored (step {i})");
    }
    t.observe(transition(&s, 0, 1.0, &s, false, false)).unwrap();
    assert_relative_eq!(t.epsilon(), 0.1);
    t.observe(transition(&s, 0, 1.0, &s, false, false)).unwrap();
    assert_relative_eq!(t.epsilon(), 0.01, max_relative = 1e-6);
}

#[test]
fn acting_explores_at_epsilon_one_and_is_greedy_at_zero() {
    let mut a = agent(DqnConfig::default());
    let s = array![0.01f32, 0.2, -0.03, 0.1];
    let mut r = rng(5);
    let mut counts = [0usize; 2];
    for _ in 0..1000 {
        counts[a.act(s.view(), &mut r).unwrap()] += 1;
    }
    assert!(counts[0] > 400 && counts[1] > 400, "{counts:?}");
    let mut greedy = agent(DqnConfig::default().with_exploration(Exploration::Linear {
        start: 0.0,
        end: 0.0,
        steps: 0,
    }));
    let q = greedy.network().q_values(s.view().insert_axis(ndarray::Axis(0))).unwrap();
    let best = if q[[0, 1]] > q[[0, 0]] { 1 } else { 0 };
    for _ in 0..20 {
        assert_eq!(greedy.act(s.view(), &mut r).unwrap(), best);
    }
    assert_eq!(greedy.greedy_action(s.view()).unwrap(), best);
}

#[test]
fn hard_target_updates_copy_the_online_network_every_c_steps() {
    let config = DqnConfig {
        learning_starts: 0,
        batch_size: 4,
        // One-step storage, so that the memory holds a batch from step 4; a gradient step on
        // every environment step, so that the online network moves away from the copy at once.
        train_frequency: TrainFrequency::Steps(1),
        ..DqnConfig::default().with_target_update(TargetUpdate::Hard { every: 10 }).with_n_step(1)
    };
    let mut a = agent(config);
    let mut r = rng(2);
    let s = array![0.0f32, 0.1, 0.0, -0.1];
    let probe = array![[0.3f32, -0.2, 0.1, 0.0]];
    for step in 1..=20 {
        a.observe(transition(&s, step % 2, 1.0, &s, false, false)).unwrap();
        a.learn(&mut r).unwrap();
        let online = a.network().q_values(probe.view()).unwrap();
        let target = a.target_network().unwrap().q_values(probe.view()).unwrap();
        if step % 10 == 0 {
            assert_eq!(online, target, "step {step}: a hard copy");
        } else if step > 4 {
            assert_ne!(online, target, "step {step}: the target lags");
        }
    }
}

#[test]
fn the_agent_works_as_a_trait_object_with_prioritized_replay() {
    let config = DqnConfig { learning_starts: 64, ..DqnConfig::default() }
        .with_prioritized(Some(PrioritizedConfig::default()));
    let mut a = agent(config);
    let agent: &mut dyn Agent = &mut a;
    let mut env = CartPole::v0();
    let mut r = rng(4);
    let report =
        train(agent, &mut env, &TrainConfig::default().with_episodes(10), &mut r, &mut |_| {
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(report.episodes(), 10);
    assert!(report.gradient_steps > 0);
}

#[test]
fn one_seed_gives_identical_runs() {
    let run = |seed: u64| {
        let config = DqnConfig::default().with_seed(seed);
        let mut r = rng(config.seed);
        let mut env = CartPole::v0();
        let mut a =
            DqnAgent::new(config, env.observation_dim(), env.num_actions(), &mut r).unwrap();
        let tc = TrainConfig::default().with_episodes(40);
        let report =
            train(&mut a, &mut env, &tc, &mut r, &mut |_| ControlFlow::Continue(())).unwrap();
        let q = a.network().q_values(array![[0.01f32, 0.0, 0.02, 0.0]].view()).unwrap();
        (report.returns, q)
    };
    let (a, b) = (run(3), run(3));
    assert_eq!(a, b);
    assert_ne!(a.0, run(4).0);
}

#[test]
fn the_learning_rate_decays_linearly_over_gradient_steps() {
    let config = DqnConfig {
        learning_starts: 0,
        batch_size: 2,
        learning_rate_decay: Some(LearningRateDecay { end: 1e-4, steps: 10 }),
        ..DqnConfig::default()
    };
    let mut a = agent(config);
    let mut r = rng(0);
    let s = array![0.0f32, 0.1, 0.0, -0.1];
    for _ in 0..30 {
        a.observe(transition(&s, 1, 1.0, &s, false, false)).unwrap();
        a.learn(&mut r).unwrap();
    }
    assert!(a.gradient_steps() > 10);
    assert_relative_eq!(a.network().config().optimizer.learning_rate(), 1e-4, max_relative = 1e-6);
    // The schedule's start is the config's rate, which is kept.
    assert_eq!(a.config().optimizer.learning_rate(), 1e-3);
}

#[test]
fn the_config_chooses_the_networks_initialisation() {
    let mut r = rng(4);
    let torch =
        DqnAgent::new(DqnConfig::default().with_init(Init::TorchDefault), 4, 2, &mut r).unwrap();
    assert_eq!(torch.network().config().init, Init::TorchDefault);
    let (_, bias) = torch.network().layer(0).unwrap();
    assert!(bias.iter().any(|&b| b != 0.0), "nn.Linear draws its biases");
    let he = DqnAgent::new(DqnConfig::default(), 4, 2, &mut rng(4)).unwrap();
    assert_eq!(he.network().config().init, Init::HeUniform);
}

#[test]
fn every_field_has_a_setter() {
    let lr_decay = Some(LearningRateDecay { end: 1e-4, steps: 10 });
    let config = DqnConfig::default()
        .with_hidden(vec![8])
        .with_activation(Activation::Tanh)
        .with_init(Init::GlorotUniform)
        .with_optimizer(Optimizer::rmsprop(1e-3))
        .with_learning_rate_decay(lr_decay)
        .with_loss(Loss::Huber)
        .with_max_grad_norm(None)
        .with_gamma(0.9)
        .with_n_step(4)
        .with_exploration(Exploration::Linear { start: 0.5, end: 0.1, steps: 10 })
        .with_memory_size(100)
        .with_batch_size(4)
        .with_sample_with_replacement(false)
        .with_learning_starts(7)
        .with_train_frequency(TrainFrequency::Episodes(2))
        .with_gradient_steps(3)
        .with_target_update(TargetUpdate::Hard { every: 5 })
        .with_double_dqn(false)
        .with_prioritized(None)
        .with_truncation_as_termination(true)
        .with_value_bounds(ValueBounds::Fixed { min: -1.0, max: 2.0 })
        .with_value_penalty(0.25)
        .with_seed(9);
    let expected = DqnConfig {
        hidden: vec![8],
        activation: Activation::Tanh,
        init: Init::GlorotUniform,
        optimizer: Optimizer::rmsprop(1e-3),
        learning_rate_decay: lr_decay,
        loss: Loss::Huber,
        max_grad_norm: None,
        gamma: 0.9,
        n_step: 4,
        exploration: Exploration::Linear { start: 0.5, end: 0.1, steps: 10 },
        memory_size: 100,
        batch_size: 4,
        sample_with_replacement: false,
        learning_starts: 7,
        train_frequency: TrainFrequency::Episodes(2),
        gradient_steps: 3,
        target_update: TargetUpdate::Hard { every: 5 },
        double_dqn: false,
        prioritized: None,
        truncation_as_termination: true,
        value_bounds: ValueBounds::Fixed { min: -1.0, max: 2.0 },
        value_penalty: 0.25,
        seed: 9,
    };
    assert_eq!(config, expected);
    assert_eq!(DqnConfig::default().with_learning_rate(0.5).optimizer.learning_rate(), 0.5);
}

#[test]
fn a_diverging_agent_reports_the_step_and_keeps_its_last_good_weights() {
    // Issue 12, D1: plain SGD at 1e3 with no clipping diverges within a few gradient steps.
    // The error comes from the step that diverged, before anything is written: every online
    // and target parameter and every priority stays finite, and the agent still acts.
    let config = DqnConfig::default()
        .with_optimizer(Optimizer::sgd(1e3))
        .with_max_grad_norm(None)
        .with_learning_starts(100)
        .with_seed(1);
    let mut r = rng(config.seed);
    let mut env = CartPole::v0();
    let mut agent = DqnAgent::new(config, 4, 2, &mut r).unwrap();
    let err =
        train(&mut agent, &mut env, &TrainConfig::default().with_episodes(60), &mut r, &mut |_| {
            ControlFlow::Continue(())
        })
        .unwrap_err();
    assert!(
        matches!(&err, Error::NonFinite { what, .. } if what.contains("optimizer step")),
        "{err}"
    );
    let finite = |n: &deepq::Mlp| n.parameters().iter().all(|p| p.iter().all(|v| v.is_finite()));
    assert!(finite(agent.network()), "online weights");
    assert!(finite(agent.target_network().unwrap()), "target weights");
    let obs = array![0.01f32, 0.0, -0.02, 0.0];
    assert!(agent.greedy_action(obs.view()).unwrap() < 2);
    assert!(agent.gradient_steps() >= 1, "it trained before it diverged");
}

#[test]
fn a_memory_smaller_than_a_batch_is_refused() {
    // Issue 12, D8: the agent then never learned, silently.
    let mut r = rng(0);
    let net = deepq::Mlp::new(deepq::MlpConfig::new(4, vec![8], 2), &mut r).unwrap();
    let memory =
        deepq::ReplayBuffer::new(deepq::ReplayConfig::default().with_capacity(10)).unwrap();
    let err = DqnAgent::with_parts(DqnConfig::default().with_batch_size(64), net, memory)
        .err()
        .expect("refused");
    assert!(matches!(err, Error::InvalidConfig { field: "memory", .. }), "{err:?}");
}

/// A Q-network that answers batches with one row too few (a broken custom network).
#[derive(Clone)]
struct ShortRows(deepq::Mlp);

impl QNetwork for ShortRows {
    fn input_dim(&self) -> usize {
        self.0.input_dim()
    }
    fn num_actions(&self) -> usize {
        self.0.num_actions()
    }
    fn q_values(&self, states: ndarray::ArrayView2<'_, f32>) -> deepq::Result<Array2<f32>> {
        let q = self.0.q_values(states)?;
        Ok(q.slice(ndarray::s![1.., ..]).to_owned())
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
    fn set_output_penalty(&mut self, p: Option<deepq::OutputPenalty>) -> deepq::Result<()> {
        self.0.set_output_penalty(p)
    }
    fn parameters(&self) -> Vec<ndarray::ArrayViewD<'_, f32>> {
        self.0.parameters()
    }
}

#[test]
fn a_custom_network_with_wrongly_shaped_q_values_is_an_error_not_a_panic() {
    // Issue 12, D8: the Bellman targets indexed past the rows a custom network returned.
    let mut r = rng(0);
    let net = ShortRows(deepq::Mlp::new(deepq::MlpConfig::new(4, vec![8], 2), &mut r).unwrap());
    let memory =
        deepq::ReplayBuffer::new(deepq::ReplayConfig::default().with_capacity(100)).unwrap();
    let config = DqnConfig::default().with_batch_size(8).with_learning_starts(8);
    let mut agent = DqnAgent::with_parts(config, net, memory).unwrap();
    let mut env = CartPole::v0();
    let err =
        train(&mut agent, &mut env, &TrainConfig::default().with_episodes(5), &mut r, &mut |_| {
            ControlFlow::Continue(())
        })
        .unwrap_err();
    assert!(
        matches!(&err, Error::ShapeMismatch { what, .. } if what.contains("next states")),
        "{err:?}"
    );
}

#[test]
fn a_replay_memory_too_large_to_allocate_is_refused_naming_its_bytes() {
    // Issue 12, D3: sizes that validate must be allocated or refused, never abort.
    for prioritized in [true, false] {
        let mut config = DqnConfig::default().with_memory_size(1 << 40);
        if !prioritized {
            config = config.with_prioritized(None);
        }
        let err = DqnAgent::new(config, 4, 2, &mut rng(0)).err().expect("refused");
        match &err {
            Error::InvalidConfig { field: "capacity", value, .. } => {
                assert!(value.contains("bytes"), "{value}")
            }
            other => panic!("{other:?}"),
        }
    }
}
