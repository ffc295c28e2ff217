//! `PrioritizedReplay` through the public API: sampling frequencies against priorities,
//! importance weights, beta annealing, max-priority insertion and validated updates.

use approx::assert_relative_eq;
use deepq::{Error, Memory, PrioritizedConfig, PrioritizedReplay, Transition};
use ndarray::Array1;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn memory(config: PrioritizedConfig, pushes: usize) -> PrioritizedReplay {
    let mut memory = PrioritizedReplay::new(config.with_observation_dim(2)).unwrap();
    for i in 0..pushes {
        push(&mut memory, i);
    }
    memory
}

fn push(memory: &mut PrioritizedReplay, i: usize) {
    let s = Array1::from_elem(2, i as f32);
    memory
        .push(Transition {
            observation: s.view(),
            action: i,
            reward: i as f32,
            next_observation: s.view(),
            terminated: false,
            truncated: false,
        })
        .unwrap();
}

/// The stored priorities of slots `0..len`.
fn priorities(memory: &PrioritizedReplay) -> Vec<f64> {
    (0..memory.len()).map(|i| memory.sum_tree().get(i).unwrap()).collect()
}

#[test]
fn sampling_frequencies_follow_priorities() {
    // 16 transitions with TD errors 0.5, 0.75, .., 4.25: priorities (|delta| + eps)^0.6 from
    // 0.66 to 2.38, so each expects between 2.6% and 9.4% of the draws. 200 000 draws
    // (25 000 batches of 8): the smallest expected count is about 5 300, sd about 72 (1.4%)
    // for independent draws, less with stratification. Bounds: every count within 5% of its
    // expectation, and Pearson's chi-square below 37.7, the 0.999 quantile for 15 degrees of
    // freedom.
    let n = 16;
    let mut memory = memory(PrioritizedConfig::default().with_capacity(n), n);
    let td_errors: Vec<f32> = (0..n).map(|i| 0.5 + 0.25 * i as f32).collect();
    memory.update_priorities(&(0..n).collect::<Vec<_>>(), &td_errors).unwrap();
    let p: Vec<f64> = td_errors.iter().map(|&d| (f64::from(d) + 1e-6).powf(0.6)).collect();
    let total: f64 = p.iter().sum();
    for (i, &pi) in p.iter().enumerate() {
        assert_relative_eq!(memory.sum_tree().get(i).unwrap(), pi, max_relative = 1e-6);
    }

    let mut rng = ChaCha8Rng::seed_from_u64(2016);
    let mut counts = vec![0usize; n];
    let mut batch = deepq::Batch::with_capacity(8, 2);
    let draws = 200_000;
    for _ in 0..draws / 8 {
        memory.sample_into(8, &mut rng, &mut batch).unwrap();
        batch.indices.iter().for_each(|&i| counts[i] += 1);
    }
    let mut chi_square = 0.0;
    for (i, &count) in counts.iter().enumerate() {
        let expected = draws as f64 * p[i] / total;
        let deviation = (count as f64 - expected) / expected;
        assert!(deviation.abs() < 0.05, "slot {i}: {count} draws, expected {expected:.0}");
        chi_square += (count as f64 - expected).powi(2) / expected;
    }
    assert!(chi_square < 37.7, "chi-square {chi_square}");
}

#[test]
fn weights_follow_the_formula_and_their_max_is_one() {
    let n = 12;
    let mut memory = memory(PrioritizedConfig::default().with_capacity(20), n);
    let td_errors: Vec<f32> = (0..n).map(|i| (i as f32 - 5.0) * 0.3).collect();
    memory.update_priorities(&(0..n).collect::<Vec<_>>(), &td_errors).unwrap();
    let p = priorities(&memory);
    let total: f64 = p.iter().sum();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for beta in [0.0f32, 0.4, 0.7, 1.0] {
        memory.set_beta(beta).unwrap();
        for _ in 0..20 {
            let batch = memory.sample(6, &mut rng).unwrap();
            let raw: Vec<f64> = batch
                .indices
                .iter()
                .map(|&i| (n as f64 * p[i] / total).powf(-f64::from(beta)))
                .collect();
            let max = raw.iter().copied().fold(0.0, f64::max);
            for (k, &w) in batch.weights.iter().enumerate() {
                assert_relative_eq!(f64::from(w), raw[k] / max, max_relative = 1e-6);
                assert!(w > 0.0 && w <= 1.0);
            }
            assert_eq!(batch.weights.iter().copied().fold(0.0, f32::max), 1.0);
            // The largest weight belongs to the least likely sample.
            let rarest =
                (0..6).min_by(|&a, &b| p[batch.indices[a]].total_cmp(&p[batch.indices[b]]));
            assert_eq!(batch.weights[rarest.unwrap()], 1.0);
        }
    }
}

#[test]
fn beta_anneals_linearly_to_one_and_stays() {
    let config = PrioritizedConfig::default().with_beta_start(0.4).with_beta_steps(10);
    let mut memory = memory(config, 4);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    assert_eq!(memory.beta(), 0.4);
    let mut previous = memory.beta();
    for call in 1..=10 {
        memory.sample(2, &mut rng).unwrap();
        assert_relative_eq!(memory.beta(), 0.4 + 0.6 * call as f32 / 10.0, max_relative = 1e-6);
        assert!(memory.beta() > previous);
        previous = memory.beta();
    }
    assert_eq!(memory.beta(), 1.0);
    for _ in 0..5 {
        memory.sample(2, &mut rng).unwrap();
    }
    assert_eq!(memory.beta(), 1.0);
}

#[test]
fn set_beta_overrides_the_schedule() {
    let mut memory = memory(PrioritizedConfig::default().with_beta_steps(10), 4);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    memory.set_beta(0.9).unwrap();
    memory.sample(2, &mut rng).unwrap();
    assert_eq!(memory.beta(), 0.9);
    for bad in [-0.1, 1.5, f32::NAN] {
        assert!(matches!(memory.set_beta(bad), Err(Error::InvalidConfig { field: "beta", .. })));
    }
    assert_eq!(memory.beta(), 0.9);
    // beta_steps = 0: no annealing at all.
    let mut fixed = self::memory(PrioritizedConfig::default().with_beta_steps(0), 4);
    fixed.sample(2, &mut rng).unwrap();
    assert_eq!(fixed.beta(), 0.4);
}

#[test]
fn new_transitions_get_the_current_max_priority() {
    let mut memory = memory(PrioritizedConfig::default().with_capacity(8), 0);
    push(&mut memory, 0);
    assert_eq!(priorities(&memory), vec![1.0]);
    push(&mut memory, 1);
    memory.update_priorities(&[0, 1], &[3.0, 0.1]).unwrap();
    let max = memory.sum_tree().max();
    assert_relative_eq!(max, (3.0f64 + 1e-6).powf(0.6), max_relative = 1e-6);
    push(&mut memory, 2);
    assert_eq!(memory.sum_tree().get(2), Some(max));
    // Fresh transitions come first: sampling all three, the new one is as likely as the best.
    let p = priorities(&memory);
    assert_eq!(p[2], p[0]);
}

#[test]
fn rejected_updates_leave_priorities_unchanged() {
    let mut memory = memory(PrioritizedConfig::default().with_capacity(10), 6);
    memory.update_priorities(&[0, 1, 2], &[0.3, 0.2, 0.1]).unwrap();
    let before = (priorities(&memory), memory.sum_tree().clone());
    // The bad entry is last: validation must reject the whole call before applying any.
    assert!(matches!(
        memory.update_priorities(&[0, 1, 6], &[5.0, 5.0, 5.0]),
        Err(Error::InvalidIndex { index: 6, len: 6 })
    ));
    assert!(memory.update_priorities(&[0, 1, 10], &[5.0, 5.0, 5.0]).is_err());
    assert!(matches!(
        memory.update_priorities(&[0, 1, 2], &[5.0, 5.0, f32::NAN]),
        Err(Error::NonFinite { .. })
    ));
    assert!(memory.update_priorities(&[0, 1], &[5.0, f32::INFINITY]).is_err());
    assert!(matches!(
        memory.update_priorities(&[0, 1, 2], &[5.0, 5.0]),
        Err(Error::LengthMismatch { left: 3, right: 2, .. })
    ));
    assert_eq!((priorities(&memory), memory.sum_tree().clone()), before);
    // An empty update is fine and changes nothing.
    memory.update_priorities(&[], &[]).unwrap();
    assert_eq!(priorities(&memory), before.0);
}

#[test]
fn rejected_pushes_and_samples_leave_the_memory_intact() {
    let mut memory = memory(PrioritizedConfig::default().with_capacity(5).with_beta_steps(0), 7);
    memory.update_priorities(&[0, 1, 2, 3, 4], &[0.5, 1.0, 1.5, 2.0, 2.5]).unwrap();
    let snapshot = |memory: &mut PrioritizedReplay| {
        let batch = memory.sample(5, &mut ChaCha8Rng::seed_from_u64(9)).unwrap();
        (memory.len(), priorities(memory), batch)
    };
    let before = snapshot(&mut memory);
    let good = Array1::from_elem(2, 1.0f32);
    let bad = [Array1::from_elem(3, 1.0f32), Array1::from_vec(vec![f32::NAN, 0.0])];
    for wrong in &bad {
        for (o, n) in [(wrong, &good), (&good, wrong)] {
            let t = Transition {
                observation: o.view(),
                action: 0,
                reward: 0.0,
                next_observation: n.view(),
                terminated: false,
                truncated: false,
            };
            assert!(memory.push(t).is_err());
        }
    }
    let t = Transition {
        observation: good.view(),
        action: 0,
        reward: f32::NAN,
        next_observation: good.view(),
        terminated: false,
        truncated: false,
    };
    assert!(matches!(memory.push(t), Err(Error::NonFinite { .. })));
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    assert!(matches!(memory.sample(0, &mut rng), Err(Error::InvalidBatchSize { .. })));
    assert!(matches!(memory.sample(6, &mut rng), Err(Error::InvalidBatchSize { .. })));
    assert_eq!(snapshot(&mut memory), before);
}

#[test]
fn the_same_seed_gives_the_same_batch() {
    let run = || {
        let mut memory = memory(PrioritizedConfig::default().with_capacity(64), 100);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut batches = Vec::new();
        for step in 0..20 {
            let batch = memory.sample(16, &mut rng).unwrap();
            let td: Vec<f32> = batch.indices.iter().map(|&i| (i * step) as f32 * 0.01).collect();
            memory.update_priorities(&batch.indices, &td).unwrap();
            batches.push(batch);
        }
        batches
    };
    assert_eq!(run(), run());
}

#[test]
fn equal_priorities_sample_uniformly_with_unit_weights() {
    // alpha = 0 makes every priority 1 whatever the TD error.
    let mut memory = memory(PrioritizedConfig::default().with_alpha(0.0).with_capacity(8), 8);
    memory.update_priorities(&[0, 3], &[10.0, 0.0]).unwrap();
    assert!(priorities(&memory).iter().all(|&p| p == 1.0));
    let batch = memory.sample(8, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
    assert!(batch.weights.iter().all(|&w| w == 1.0));
    // Stratified over 8 equal segments: each slot exactly once.
    let mut indices = batch.indices.clone();
    indices.sort_unstable();
    assert_eq!(indices, (0..8).collect::<Vec<_>>());
}

#[test]
fn config_defaults_and_rules() {
    let config = PrioritizedConfig::default();
    assert_eq!((config.alpha, config.beta_start, config.epsilon), (0.6, 0.4, 1e-6));
    assert_eq!((config.capacity, config.observation_dim, config.beta_steps), (10_000, 4, 100_000));
    for bad in [
        config.clone().with_alpha(1.01),
        config.clone().with_beta_start(-0.01),
        config.clone().with_epsilon(-1e-6),
        config.clone().with_capacity(0),
        config.clone().with_observation_dim(0),
    ] {
        assert!(matches!(PrioritizedReplay::new(bad), Err(Error::InvalidConfig { .. })));
    }
}
