//! Seeded mutation fuzzers of every input deepq parses or validates: weights files (deepq's own
//! and PyTorch state dicts), TensorBoard event files, checkpoints and configs. Each input is a
//! valid one mutated by a seeded RNG (bit flips, byte overwrites, truncation, insertion and
//! deletion, header lengths); the parser must answer with `Ok` or `Err`, never a panic, and what
//! it accepts must be sound (finite parameters, a valid config, events that read back).
//!
//! `.ci/run` runs these with a small budget, in release and once more in a debug build (overflow
//! checks on). A long run: `DEEPQ_FUZZ_ITERATIONS=200000 cargo test --release --test fuzz --
//! --nocapture` (each fuzzer prints its count and time). A failure prints the fuzzer, its seed
//! and the iteration that reproduce it: set `DEEPQ_FUZZ_SEED` to replay.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use deepq::{
    DqnAgent, DqnConfig, Exploration, Mlp, MlpConfig, Optimizer, PrioritizedConfig, QNetwork,
    SummaryWriter, TargetUpdate, TrainConfig, TrainFrequency, Trainer, read_scalars,
};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Iterations per fuzzer: `DEEPQ_FUZZ_ITERATIONS`, else 20,000 (release) or 2,000 (debug).
fn iterations() -> usize {
    let default = if cfg!(debug_assertions) { 2_000 } else { 20_000 };
    std::env::var("DEEPQ_FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn seed() -> u64 {
    std::env::var("DEEPQ_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(12)
}

/// One mutation of `bytes`: flips, overwrites, truncation, insertion, deletion, or a new
/// 8-byte header length, 1 to 4 of them.
fn mutate(bytes: &[u8], rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let len = b.len().max(1);
        match rng.random_range(0..7) {
            0 if !b.is_empty() => {
                let i = rng.random_range(0..b.len());
                b[i] ^= 1 << rng.random_range(0..8);
            }
            1 if !b.is_empty() => {
                let i = rng.random_range(0..b.len());
                b[i] =
                    [0u8, 0xff, b'"', b'{', b'}', b',', b'-', b'9', b'e'][rng.random_range(0..9)];
            }
            2 => b.truncate(rng.random_range(0..len)),
            3 => {
                let i = rng.random_range(0..=b.len());
                let junk: Vec<u8> = (0..rng.random_range(1..16)).map(|_| rng.random()).collect();
                b.splice(i..i, junk);
            }
            4 if !b.is_empty() => {
                let i = rng.random_range(0..b.len());
                let j = (i + rng.random_range(1..32)).min(b.len());
                b.drain(i..j);
            }
            5 if b.len() >= 8 => {
                let n: u64 = match rng.random_range(0..4) {
                    0 => u64::MAX - rng.random_range(0..16),
                    1 => rng.random_range(0..b.len() as u64 + 16),
                    2 => 1 << rng.random_range(0..64),
                    _ => rng.random(),
                };
                b[..8].copy_from_slice(&n.to_le_bytes());
            }
            _ => {
                if !b.is_empty() {
                    let i = rng.random_range(0..b.len());
                    b[i] = b[i].wrapping_add(1);
                }
            }
        }
    }
    b
}

/// Runs `case` for every iteration with its own RNG; a panic fails the test naming the fuzzer,
/// the seed and the iteration.
fn fuzz(name: &str, mut case: impl FnMut(&mut ChaCha8Rng) -> bool) {
    let (n, seed) = (iterations(), seed());
    let start = Instant::now();
    let mut accepted = 0usize;
    for i in 0..n {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(i as u64);
        match catch_unwind(AssertUnwindSafe(|| case(&mut rng))) {
            Ok(ok) => accepted += usize::from(ok),
            Err(_) => panic!("fuzzer {name}: panic at DEEPQ_FUZZ_SEED={seed}, iteration {i}"),
        }
    }
    println!(
        "fuzzer {name}: {n} inputs ({accepted} accepted) in {:.2} s, seed {seed}",
        start.elapsed().as_secs_f64()
    );
}

fn finite(net: &Mlp) -> bool {
    net.parameters().iter().all(|p| p.iter().all(|v| v.is_finite()))
}

#[cfg(feature = "safetensors")]
#[test]
fn weights_files() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let valid =
        Mlp::new(MlpConfig::new(3, vec![4, 2], 2), &mut rng).unwrap().to_safetensors().unwrap();
    fuzz("weights", |rng| match Mlp::from_safetensors(&mutate(&valid, rng)) {
        Ok(net) => {
            assert!(finite(&net) && net.config().validate().is_ok(), "an accepted file is sound");
            true
        }
        Err(_) => false,
    });
}

#[cfg(feature = "safetensors")]
#[test]
fn torch_state_dicts() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let config = MlpConfig::new(3, vec![4, 2], 2);
    let valid = Mlp::new(config.clone(), &mut rng).unwrap().to_torch_safetensors().unwrap();
    fuzz("torch", |rng| match Mlp::from_torch_safetensors(&config, &mutate(&valid, rng)) {
        Ok(net) => {
            assert!(finite(&net) && net.config() == &config, "an accepted file is sound");
            true
        }
        Err(_) => false,
    });
}

#[test]
fn event_files() {
    let dir = std::env::temp_dir().join(format!("deepq-fuzz-events-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut writer = SummaryWriter::create(&dir).unwrap();
    for step in 0..5 {
        writer.add_scalar("loss", 1.0 / (step + 1) as f32, step).unwrap();
    }
    writer.flush().unwrap();
    let valid = std::fs::read(writer.path()).unwrap();
    let path = dir.join("mutated");
    fuzz("events", |rng| {
        std::fs::write(&path, mutate(&valid, rng)).unwrap();
        read_scalars(&path).is_ok()
    });
    drop(writer);
    std::fs::remove_dir_all(&dir).ok();
}

#[cfg(feature = "safetensors")]
#[test]
fn checkpoints() {
    let config =
        DqnConfig::default().with_hidden(vec![8]).with_memory_size(300).with_learning_starts(32);
    let mut trainer = Trainer::new(config, TrainConfig::default().with_episodes(4), 4, 2).unwrap();
    trainer
        .train(&mut deepq::CartPole::v0(), None, &mut |_| std::ops::ControlFlow::Continue(()))
        .unwrap();
    let valid = trainer.to_bytes().unwrap();
    let original = trainer.state_dict().unwrap();
    fuzz("checkpoints", |rng| match Trainer::from_bytes(&mutate(&valid, rng)) {
        Ok(t) => {
            // Only a change the checksum does not cover (JSON white space) can load.
            assert!(t.state_dict().unwrap() == original, "an accepted checkpoint is the run");
            true
        }
        Err(_) => false,
    });
}

/// A value from a list of extremes, or an ordinary one.
fn pick_usize(rng: &mut ChaCha8Rng, ordinary: std::ops::Range<usize>) -> usize {
    match rng.random_range(0..6) {
        0 => 0,
        1 => usize::MAX,
        2 => 1 << rng.random_range(30..64),
        _ => rng.random_range(ordinary),
    }
}

fn pick_f32(rng: &mut ChaCha8Rng, ordinary: std::ops::Range<f32>) -> f32 {
    match rng.random_range(0..8) {
        0 => f32::NAN,
        1 => f32::INFINITY,
        2 => -1.0,
        3 => f32::MAX,
        4 => 0.0,
        _ => rng.random_range(ordinary),
    }
}

#[test]
fn dqn_configs() {
    fuzz("configs", |rng| {
        // A small valid config with 1 to 3 fields set to extreme or ordinary values.
        let mut config = DqnConfig::default()
            .with_hidden(vec![8])
            .with_memory_size(300)
            .with_batch_size(16)
            .with_learning_starts(32)
            .with_seed(rng.next_u64());
        for _ in 0..rng.random_range(1..=3) {
            match rng.random_range(0..13) {
                0 => {
                    config.hidden =
                        (0..rng.random_range(0..3)).map(|_| pick_usize(rng, 1..32)).collect()
                }
                1 => {
                    config.optimizer = match rng.random_range(0..3) {
                        0 => Optimizer::sgd(pick_f32(rng, 1e-4..1e-1)),
                        1 => Optimizer::rmsprop(pick_f32(rng, 1e-4..1e-1)),
                        _ => Optimizer::adam(pick_f32(rng, 1e-4..1e-1)),
                    }
                }
                2 => config.max_grad_norm = rng.random::<bool>().then(|| pick_f32(rng, 0.1..10.0)),
                3 => config.gamma = pick_f32(rng, 0.0..1.0),
                4 => {
                    config.exploration = Exploration::Linear {
                        start: pick_f32(rng, 0.0..1.0),
                        end: pick_f32(rng, 0.0..1.0),
                        steps: pick_usize(rng, 0..100),
                    }
                }
                5 => config.memory_size = pick_usize(rng, 1..500),
                6 => config.batch_size = pick_usize(rng, 1..64),
                7 => config.learning_starts = pick_usize(rng, 0..100),
                8 => config.train_frequency = TrainFrequency::Steps(pick_usize(rng, 1..4)),
                9 => config.gradient_steps = pick_usize(rng, 1..3),
                10 => {
                    config.target_update = match rng.random_range(0..3) {
                        0 => TargetUpdate::None,
                        1 => TargetUpdate::Hard { every: pick_usize(rng, 1..50) },
                        _ => TargetUpdate::Polyak { tau: pick_f32(rng, 0.001..1.0) },
                    }
                }
                11 => config.double_dqn = rng.random(),
                _ => {
                    config.prioritized = rng.random::<bool>().then(|| PrioritizedConfig {
                        alpha: pick_f32(rng, 0.0..1.0),
                        beta_start: pick_f32(rng, 0.0..1.0),
                        epsilon: pick_f32(rng, 1e-6..1e-2),
                        ..PrioritizedConfig::default()
                    })
                }
            }
        }
        let mut r = ChaCha8Rng::seed_from_u64(config.seed);
        let Ok(mut agent) = DqnAgent::new(config, 4, 2, &mut r) else { return false };
        // An accepted config trains without a panic (errors are allowed: a learning rate of
        // f32::MAX diverges, and says so), and the weights stay finite.
        let train_config = TrainConfig::default().with_max_env_steps(100);
        let _ = deepq::train(
            &mut agent,
            &mut deepq::CartPole::v0(),
            &train_config,
            &mut r,
            &mut |_| std::ops::ControlFlow::Continue(()),
        );
        assert!(finite(agent.network()), "the weights stay finite");
        true
    });
}
