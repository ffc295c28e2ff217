//! Action selection: `DqnAgent::act` (epsilon-greedy at the end of the default schedule, 0.02)
//! and `DqnAgent::greedy_action` on a CartPole observation, for the default network (4-64-64-2)
//! and the RL Zoo's (4-256-256-2).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use deepq::{Agent, CartPole, DqnAgent, DqnConfig, Env, Exploration, Transition};
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

criterion_group!(benches, action_selection);
criterion_main!(benches);
