//! CartPole step throughput: deepq's `Env::step` and its allocation-free `Env::step_into` (v1,
//! with automatic reset on episode end),
//! against its floor: the same f64 arithmetic on a bare `[f64; 4]` with the termination test,
//! the time limit and the reset (`benches/common/physics_floor.rs`), and the part of that floor
//! that no implementation can skip while staying bit-exact with Gymnasium: libm's `sin` and
//! `cos` of the pole angle.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use deepq::{CartPole, Env};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[path = "common/physics_floor.rs"]
mod physics_floor;
use physics_floor::PhysicsFloor;

fn step(c: &mut Criterion) {
    let mut group = c.benchmark_group("cartpole_v1_step");
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let actions: Vec<usize> = (0..1024).map(|_| rng.random_range(0..2)).collect();

    let mut env = CartPole::v1();
    env.reset(&mut rng);
    let mut i = 0;
    group.bench_function("deepq", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let step = env.step(black_box(actions[i])).expect("valid action in a running episode");
            if step.terminated || step.truncated {
                env.reset(&mut rng);
            }
            black_box(step.observation)
        })
    });

    let mut env = CartPole::v1();
    env.reset(&mut rng);
    let mut observation = [0.0f32; 4];
    group.bench_function("deepq_step_into", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let info = env
                .step_into(black_box(actions[i]), &mut observation)
                .expect("valid action in a running episode");
            if info.done() {
                env.reset(&mut rng);
            }
            black_box(observation)
        })
    });

    let mut floor = PhysicsFloor::v1(&mut rng);
    group.bench_function("physics_floor", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            black_box(floor.step(black_box(actions[i]), &mut rng))
        })
    });

    // Angles spread over the episode's range (|theta| < 12 degrees).
    let angles: Vec<f64> = (0..1024).map(|_| rng.random_range(-0.21..0.21)).collect();
    group.bench_function("sin_cos_only", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let theta = black_box(angles[i]);
            black_box((theta.sin(), theta.cos()))
        })
    });
    group.finish();
}

criterion_group!(benches, step);
criterion_main!(benches);
