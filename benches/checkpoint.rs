//! Saving and loading a `Trainer` checkpoint whose replay memory holds 200,000 transitions (the
//! default `memory_size`, full), with the default prioritized replay and with uniform replay:
//! `to_bytes` / `from_bytes` in memory, and `save` (atomic: temporary file, fsync, rename) /
//! `load` through a file in the temporary directory. The file size is printed once per case.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use deepq::{DqnConfig, Memory, TrainConfig, Trainer, Transition};
use ndarray::Array1;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const TRANSITIONS: usize = 200_000;

fn filled(prioritized: bool) -> Trainer {
    let mut config = DqnConfig::default();
    if !prioritized {
        config = config.with_prioritized(None);
    }
    let mut trainer = Trainer::new(config, TrainConfig::default(), 4, 2).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let memory = trainer.agent_mut().memory_mut();
    for i in 0..TRANSITIONS {
        let s = Array1::from_iter((0..4).map(|_| rng.random_range(-1.0f32..1.0)));
        let n = Array1::from_iter((0..4).map(|_| rng.random_range(-1.0f32..1.0)));
        memory
            .push(Transition {
                observation: s.view(),
                action: i % 2,
                reward: 1.0,
                next_observation: n.view(),
                terminated: i % 50 == 49,
                truncated: false,
            })
            .unwrap();
    }
    if prioritized {
        // Distinct priorities, as after training.
        let indices: Vec<usize> = (0..TRANSITIONS).collect();
        let td: Vec<f32> = (0..TRANSITIONS).map(|_| rng.random_range(-2.0f32..2.0)).collect();
        memory.update_priorities(&indices, &td).unwrap();
    }
    trainer
}

fn checkpoint(c: &mut Criterion) {
    let mut group = c.benchmark_group("checkpoint_200k_transitions");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let dir = std::env::temp_dir().join(format!("deepq-bench-checkpoint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, prioritized) in [("prioritized", true), ("uniform", false)] {
        let trainer = filled(prioritized);
        let bytes = trainer.to_bytes().unwrap();
        eprintln!("{name}: checkpoint of {TRANSITIONS} transitions = {} bytes", bytes.len());
        let path = dir.join(format!("{name}.ckpt"));
        group.bench_function(BenchmarkId::new("to_bytes", name), |b| {
            b.iter(|| black_box(trainer.to_bytes().unwrap()))
        });
        group.bench_function(BenchmarkId::new("from_bytes", name), |b| {
            b.iter(|| black_box(Trainer::from_bytes(&bytes).unwrap()))
        });
        group.bench_function(BenchmarkId::new("save", name), |b| {
            b.iter(|| trainer.save(&path).unwrap())
        });
        group.bench_function(BenchmarkId::new("load", name), |b| {
            b.iter(|| black_box(Trainer::load(&path).unwrap()))
        });
    }
    group.finish();
    std::fs::remove_dir_all(&dir).ok();
}

criterion_group!(benches, checkpoint);
criterion_main!(benches);
