//! Time to solve CartPole-v0: one full training run of `DqnConfig::default()` from seed 0 until
//! the mean return of the last 100 episodes reaches 195 (at most 300 episodes, as
//! `examples/dqn_cartpole.rs`). The seed is fixed, so every sample repeats exactly the same run
//! (the same episodes and gradient steps); `benchmarks/compare.sh` covers seeds 0..=9. Ten
//! samples of one run each: expect a few minutes.

use std::hint::black_box;
use std::ops::ControlFlow;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use deepq::{CartPole, DqnAgent, DqnConfig, Env, TrainConfig, train};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const SEED: u64 = 0;

fn solve(c: &mut Criterion) {
    let mut group = c.benchmark_group("solve_cartpole_v0");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(60));
    group.bench_function("default_config_seed0", |b| {
        b.iter(|| {
            let mut env = CartPole::v0();
            let config = DqnConfig::default().with_seed(SEED);
            let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
            let mut agent =
                DqnAgent::new(config, env.observation_dim(), env.num_actions(), &mut rng).unwrap();
            let train_config = TrainConfig::default()
                .with_episodes(300)
                .with_reward_threshold(env.reward_threshold());
            let report = train(&mut agent, &mut env, &train_config, &mut rng, &mut |_| {
                ControlFlow::Continue(())
            })
            .unwrap();
            black_box(report.solved_at)
        })
    });
    group.finish();
}

criterion_group!(benches, solve);
criterion_main!(benches);
