//! Action selection: `DqnAgent::act` (epsilon-greedy at the end of the default schedule)
//! and `DqnAgent::greedy_action` on a CartPole observation, for the default network (4-64-64-2)
//! and the RL Zoo's (4-256-256-2); and the DQN step: everything the default config does per
//! environment step once learning runs (act, the environment step, observe, learn: a gradient
//! step of batch 64 every second step, with Double DQN, prioritized replay, 3-step returns and
//! the value penalty), with its multiply-adds stated and its rate against the matrix-multiply
//! ceiling measured in the same run (a 4-256-256-2 forward pass at batch 64 with the library's
//! kernel).
//!
//! Multiply-adds per environment step of the default 4-64-64-2 network, batch 64: a forward pass
//! is 64 * (4*64 + 64*64 + 64*2) = 286,720; each gradient step runs three (online on the states,
//! online and target on the next states) and a backward pass (the weight gradients, 286,720,
//! and the input gradients of layers 1 and 2, 64 * (64*64 + 64*2) = 270,336): 1,417,216; with
//! the greedy forward of `act` (4,480). The default trains every second environment step, so
//! an environment step averages 1,417,216 / 2 + 4,480 = 713,088 multiply-adds, 1.43 MFLOP
//! (`gradient_steps` gradient steps every `train_frequency` steps, from the config).
//! criterion reports FLOP/s as "elements" per second.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use deepq::{Agent, CartPole, DqnAgent, DqnConfig, Env, Exploration, TrainFrequency, Transition};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn agents() -> Vec<(&'static str, DqnAgent, ChaCha8Rng)> {
    [("4-64-64-2", vec![64, 64]), ("4-256-256-2", vec![256, 256])]
        .into_iter()
        .map(|(name, hidden)| {
            let config = DqnConfig::default().with_hidden(hidden);
            let decay = match config.exploration {
                Exploration::Linear { steps, .. } => steps,
                Exploration::Multiplicative { .. } => 10_000,
            };
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            let mut env = CartPole::v1();
            let mut agent = DqnAgent::new(config, 4, 2, &mut rng).expect("valid config");
            // Observe (without learning) past the end of the epsilon schedule.
            let mut observation = env.reset(&mut rng);
            for k in 0..decay + 1 {
                let action = k & 1;
                let step = env.step(action).expect("valid action");
                agent
                    .observe(Transition {
                        observation: observation.view(),
                        action,
                        reward: step.reward,
                        next_observation: step.observation.view(),
                        terminated: step.terminated,
                        truncated: step.truncated,
                    })
                    .expect("valid transition");
                observation = if step.done() { env.reset(&mut rng) } else { step.observation };
            }
            (name, agent, rng)
        })
        .collect()
}

fn action_selection(c: &mut Criterion) {
    let mut group = c.benchmark_group("action_selection");
    for (name, mut agent, mut rng) in agents() {
        let mut env = CartPole::v1();
        let observation = env.reset(&mut rng);
        group.bench_function(BenchmarkId::new("act", name), |b| {
            b.iter(|| black_box(agent.act(black_box(observation.view()), &mut rng).unwrap()))
        });
        group.bench_function(BenchmarkId::new("greedy_action", name), |b| {
            b.iter(|| black_box(agent.greedy_action(black_box(observation.view())).unwrap()))
        });
    }
    group.finish();
}

/// FLOPs (2 per multiply-add) of one default DQN environment step, on average over the
/// `train_every` environment steps between trainings: see the module docs.
fn dqn_step_flops(hidden: usize, batch: usize, gradient_steps: usize, train_every: usize) -> u64 {
    let (i, h, o) = (4, hidden, 2);
    let forward = batch * (i * h + h * h + h * o);
    let input_grads = batch * (h * h + h * o);
    let gradient_step = 3 * forward + forward + input_grads;
    let act = i * h + h * h + h * o;
    (2 * (gradient_steps * gradient_step + train_every * act) / train_every) as u64
}

fn dqn_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("dqn_step");
    let config = DqnConfig::default();
    let TrainFrequency::Steps(train_every) = config.train_frequency else {
        unreachable!("the default trains every few environment steps")
    };
    group.throughput(criterion::Throughput::Elements(dqn_step_flops(
        config.hidden[0],
        config.batch_size,
        config.gradient_steps,
        train_every,
    )));
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut env = CartPole::v0();
    let mut agent = DqnAgent::new(config, 4, 2, &mut rng).expect("valid config");
    // Past learning_starts and the exploration schedule, as the bulk of a solve.
    let mut observation = env.reset(&mut rng);
    let mut step =
        |agent: &mut DqnAgent, rng: &mut ChaCha8Rng, observation: &mut ndarray::Array1<f32>| {
            let action = agent.act(observation.view(), rng).unwrap();
            let s = env.step(action).unwrap();
            agent
                .observe(Transition {
                    observation: observation.view(),
                    action,
                    reward: s.reward,
                    next_observation: s.observation.view(),
                    terminated: s.terminated,
                    truncated: s.truncated,
                })
                .unwrap();
            agent.learn(rng).unwrap();
            *observation = if s.done() { env.reset(rng) } else { s.observation };
        };
    for _ in 0..6_000 {
        step(&mut agent, &mut rng, &mut observation);
    }
    group.bench_function("default_4-64-64-2", |b| {
        b.iter(|| step(&mut agent, &mut rng, &mut observation))
    });
    group.finish();

    // The ceiling: the library's kernel on the large update's biggest product, through a
    // 4-256-256-2 network's forward pass at batch 64 (64 * (4*256 + 256*256 + 256*2) multiply-adds).
    let mut group = c.benchmark_group("matmul_ceiling");
    let net = deepq::Mlp::new(deepq::MlpConfig::new(4, vec![256, 256], 2), &mut rng).unwrap();
    let states = ndarray::Array2::from_shape_fn((64, 4), |(i, j)| ((i * 7 + j) % 11) as f32 * 0.1);
    group.throughput(criterion::Throughput::Elements(2 * 64 * (4 * 256 + 256 * 256 + 256 * 2)));
    group.bench_function("forward_4-256-256-2_b64", |b| {
        b.iter(|| black_box(net.forward(black_box(states.view())).unwrap()[[0, 0]]))
    });
    group.finish();
}

criterion_group!(benches, action_selection, dqn_step);
criterion_main!(benches);
