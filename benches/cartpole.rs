//! CartPole step throughput: deepq's `Env::step` (v1, with automatic reset on episode end).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use deepq::{CartPole, Env};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn step(c: &mut Criterion) {
    let mut env = CartPole::v1();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    env.reset(&mut rng);
    let actions: Vec<usize> = (0..1024).map(|_| rng.random_range(0..2)).collect();
    let mut i = 0;
    c.bench_function("cartpole_v1_step", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let step = env.step(black_box(actions[i])).expect("valid action in a running episode");
            if step.terminated || step.truncated {
                env.reset(&mut rng);
            }
            black_box(step.observation)
        })
    });
}

criterion_group!(benches, step);
criterion_main!(benches);
