//! Replay memory throughput: push into a full memory, sample batches of 32/64/128 (uniform
//! with and without replacement, prioritized) and update priorities. Capacity 100 000,
//! CartPole-sized observations (4 values).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use deepq::{
    Batch, Memory, PrioritizedConfig, PrioritizedReplay, ReplayBuffer, ReplayConfig, Transition,
};
use ndarray::Array2;
use ndarray_rand::RandomExt;
use ndarray_rand::rand_distr::Uniform;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const CAPACITY: usize = 100_000;
const DIM: usize = 4;
const BATCH_SIZES: [usize; 3] = [32, 64, 128];

/// 1024 seeded observations to push, cycled.
fn observations(rng: &mut ChaCha8Rng) -> Array2<f32> {
    Array2::random_using((1024, DIM), Uniform::new(-1.0f32, 1.0).unwrap(), rng)
}

fn fill(memory: &mut dyn Memory, obs: &Array2<f32>, rng: &mut ChaCha8Rng) {
    for i in 0..memory.capacity() {
        push(memory, obs, i, rng.random_range(0..2));
    }
}

fn push(memory: &mut dyn Memory, obs: &Array2<f32>, i: usize, action: usize) {
    let k = i & 1023;
    memory
        .push(Transition {
            observation: obs.row(k),
            action,
            reward: 1.0,
            next_observation: obs.row((k + 1) & 1023),
            terminated: k == 1023,
            truncated: false,
        })
        .expect("valid transition");
}

fn memories(rng: &mut ChaCha8Rng, obs: &Array2<f32>) -> Vec<(&'static str, Box<dyn Memory>)> {
    let uniform = ReplayConfig { capacity: CAPACITY, observation_dim: DIM, replacement: true };
    let config =
        PrioritizedConfig { capacity: CAPACITY, observation_dim: DIM, ..Default::default() };
    let mut list: Vec<(&'static str, Box<dyn Memory>)> = vec![
        ("uniform", Box::new(ReplayBuffer::new(uniform.clone()).unwrap())),
        (
            "uniform_no_replacement",
            Box::new(ReplayBuffer::new(uniform.with_replacement(false)).unwrap()),
        ),
        ("prioritized", Box::new(PrioritizedReplay::new(config).unwrap())),
    ];
    for (_, memory) in &mut list {
        fill(memory.as_mut(), obs, rng);
        // Spread the priorities (a no-op for uniform memory).
        let indices: Vec<usize> = (0..CAPACITY).collect();
        let td: Vec<f32> = (0..CAPACITY).map(|_| rng.random_range(0.0..2.0)).collect();
        memory.update_priorities(&indices, &td).unwrap();
    }
    list
}

fn bench_push(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let obs = observations(&mut rng);
    let mut group = c.benchmark_group("memory_push");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2));
    for (name, mut memory) in memories(&mut rng, &obs) {
        if name == "uniform_no_replacement" {
            continue; // the same push as "uniform"
        }
        let mut i = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                push(memory.as_mut(), black_box(&obs), i, i & 1);
            })
        });
    }
    group.finish();
}

fn bench_sample(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let obs = observations(&mut rng);
    let mut group = c.benchmark_group("memory_sample");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2));
    for (name, mut memory) in memories(&mut rng, &obs) {
        for batch_size in BATCH_SIZES {
            let mut batch = Batch::with_capacity(batch_size, DIM);
            group.bench_with_input(BenchmarkId::new(name, batch_size), &batch_size, |b, &size| {
                b.iter(|| {
                    memory.sample_into(black_box(size), &mut rng, &mut batch).unwrap();
                    black_box(&batch);
                })
            });
        }
    }
    group.finish();
}

fn bench_update_priorities(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let obs = observations(&mut rng);
    let config =
        PrioritizedConfig { capacity: CAPACITY, observation_dim: DIM, ..Default::default() };
    let mut memory = PrioritizedReplay::new(config).unwrap();
    fill(&mut memory, &obs, &mut rng);
    let mut group = c.benchmark_group("memory_update_priorities");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2));
    for batch_size in BATCH_SIZES {
        let batch = memory.sample(batch_size, &mut rng).unwrap();
        let td: Vec<f32> = (0..batch_size).map(|_| rng.random_range(-1.0..1.0)).collect();
        group.bench_with_input(BenchmarkId::new("prioritized", batch_size), &batch_size, |b, _| {
            b.iter(|| memory.update_priorities(black_box(&batch.indices), black_box(&td)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench_push, bench_sample, bench_update_priorities);
criterion_main!(benches);
