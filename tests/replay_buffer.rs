//! `ReplayBuffer` through the public API: the ring, the two sampling modes, determinism and
//! errors that leave the contents intact.

use std::collections::HashSet;

use deepq::{Batch, Error, Memory, ReplayBuffer, ReplayConfig, Transition};
use ndarray::{Array1, array};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const DIM: usize = 3;

fn buffer(capacity: usize, replacement: bool) -> ReplayBuffer {
    ReplayBuffer::new(ReplayConfig { capacity, observation_dim: DIM, replacement }).unwrap()
}

/// Pushes transition number `i`: observation `[i; 3]`, next `[i + 0.5; 3]`, reward `i`.
fn push(memory: &mut dyn Memory, i: usize) {
    let s = Array1::from_elem(DIM, i as f32);
    let n = Array1::from_elem(DIM, i as f32 + 0.5);
    memory
        .push(Transition {
            observation: s.view(),
            action: i % 4,
            reward: i as f32,
            next_observation: n.view(),
            terminated: i % 5 == 4,
            truncated: i % 7 == 6,
        })
        .unwrap();
}

/// One stored transition as sampled: slot, state, action, reward, next state, flags.
type Row = (usize, Vec<f32>, usize, f32, Vec<f32>, f32, f32);

/// Every stored transition, by slot: sampled (seeded) until every slot has been seen.
fn contents(memory: &mut dyn Memory) -> Vec<Row> {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut seen = HashSet::new();
    let mut rows = Vec::new();
    while seen.len() < memory.len() {
        let batch = memory.sample(memory.len(), &mut rng).unwrap();
        for k in 0..batch.len() {
            if seen.insert(batch.indices[k]) {
                rows.push((
                    batch.indices[k],
                    batch.states.row(k).to_vec(),
                    batch.actions[k],
                    batch.rewards[k],
                    batch.next_states.row(k).to_vec(),
                    batch.terminated[k],
                    batch.truncated[k],
                ));
            }
        }
    }
    rows.sort_by_key(|row| row.0);
    rows
}

#[test]
fn ring_wraparound_overwrites_the_oldest() {
    for replacement in [true, false] {
        let mut memory = buffer(5, replacement);
        assert!(memory.is_empty());
        for i in 0..8 {
            push(&mut memory, i);
            assert_eq!(memory.len(), (i + 1).min(5));
        }
        assert_eq!(memory.capacity(), 5);
        let rows = contents(&mut memory);
        // Slots 0..3 were overwritten by transitions 5, 6, 7; slots 3, 4 still hold 3, 4.
        let rewards: Vec<f32> = rows.iter().map(|row| row.3).collect();
        assert_eq!(rewards, vec![5.0, 6.0, 7.0, 3.0, 4.0]);
        for (slot, state, action, reward, next, terminated, truncated) in rows {
            let i = reward as usize;
            assert_eq!(slot, i % 5);
            assert_eq!(state, vec![i as f32; DIM]);
            assert_eq!(next, vec![i as f32 + 0.5; DIM]);
            assert_eq!(action, i % 4);
            assert_eq!(terminated, if i % 5 == 4 { 1.0 } else { 0.0 });
            assert_eq!(truncated, if i % 7 == 6 { 1.0 } else { 0.0 });
        }
    }
}

#[test]
fn rejected_pushes_and_samples_leave_the_contents_intact() {
    let mut memory = buffer(6, true);
    for i in 0..9 {
        push(&mut memory, i);
    }
    let before = contents(&mut memory);
    let good = array![1.0f32, 2.0, 3.0];
    let short = array![1.0f32, 2.0];
    let long = array![1.0f32, 2.0, 3.0, 4.0];
    let nan = array![1.0f32, f32::NAN, 3.0];
    let inf = array![f32::INFINITY, 2.0, 3.0];
    fn t(memory: &mut ReplayBuffer, o: &Array1<f32>, n: &Array1<f32>, r: f32) -> deepq::Result<()> {
        memory.push(Transition {
            observation: o.view(),
            action: 0,
            reward: r,
            next_observation: n.view(),
            terminated: false,
            truncated: false,
        })
    }
    fn expect_length(result: deepq::Result<()>, what: &str, actual: usize) {
        match result {
            Err(Error::ObservationLength { what: w, expected: DIM, actual: a }) => {
                assert_eq!((w, a), (what, actual))
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    expect_length(t(&mut memory, &short, &good, 0.0), "observation", 2);
    expect_length(t(&mut memory, &long, &good, 0.0), "observation", 4);
    expect_length(t(&mut memory, &good, &short, 0.0), "next_observation", 2);
    expect_length(t(&mut memory, &good, &long, 0.0), "next_observation", 4);
    for result in [
        t(&mut memory, &nan, &good, 0.0),
        t(&mut memory, &good, &inf, 0.0),
        t(&mut memory, &good, &good, f32::NAN),
        t(&mut memory, &good, &good, f32::INFINITY),
        t(&mut memory, &good, &good, f32::NEG_INFINITY),
    ] {
        assert!(matches!(result, Err(Error::NonFinite { .. })), "{result:?}");
    }
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for batch_size in [0, 7, 100] {
        assert!(matches!(
            memory.sample(batch_size, &mut rng),
            Err(Error::InvalidBatchSize { batch_size: b, len: 6 }) if b == batch_size
        ));
    }
    assert_eq!(memory.len(), 6);
    assert_eq!(contents(&mut memory), before);
}

#[test]
fn a_failed_sample_into_leaves_the_batch_unchanged() {
    let mut memory = buffer(4, true);
    for i in 0..4 {
        push(&mut memory, i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut batch = memory.sample(3, &mut rng).unwrap();
    let before = batch.clone();
    assert!(memory.sample_into(5, &mut rng, &mut batch).is_err());
    assert_eq!(batch, before);
}

#[test]
fn without_replacement_the_indices_are_distinct() {
    let mut memory = buffer(50, false);
    for i in 0..40 {
        push(&mut memory, i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut batch = Batch::default();
    for batch_size in [1, 2, 10, 39, 40] {
        for _ in 0..50 {
            memory.sample_into(batch_size, &mut rng, &mut batch).unwrap();
            let distinct: HashSet<usize> = batch.indices.iter().copied().collect();
            assert_eq!(distinct.len(), batch_size);
            assert!(batch.indices.iter().all(|&i| i < 40));
        }
    }
    // A batch of the whole memory is a permutation of it.
    memory.sample_into(40, &mut rng, &mut batch).unwrap();
    let mut sorted = batch.indices.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..40).collect::<Vec<_>>());
}

#[test]
fn with_replacement_a_batch_may_repeat_but_not_exceed_the_memory() {
    let mut memory = buffer(20, true);
    for i in 0..20 {
        push(&mut memory, i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    // 20 independent draws from 20 slots repeat one with probability 1 - 20!/20^20 > 0.9999.
    let batch = memory.sample(20, &mut rng).unwrap();
    let distinct: HashSet<usize> = batch.indices.iter().copied().collect();
    assert!(distinct.len() < 20);
    assert!(memory.sample(21, &mut rng).is_err());
}

#[test]
fn the_same_seed_gives_the_same_batch() {
    for replacement in [true, false] {
        let mut memory = buffer(100, replacement);
        for i in 0..137 {
            push(&mut memory, i);
        }
        let first = memory.sample(32, &mut ChaCha8Rng::seed_from_u64(42)).unwrap();
        let second = memory.sample(32, &mut ChaCha8Rng::seed_from_u64(42)).unwrap();
        assert_eq!(first, second);
        let other = memory.sample(32, &mut ChaCha8Rng::seed_from_u64(43)).unwrap();
        assert_ne!(first.indices, other.indices);
    }
}

#[test]
fn weights_are_one_and_priority_updates_are_validated_no_ops() {
    let mut memory = buffer(10, true);
    for i in 0..5 {
        push(&mut memory, i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let batch = memory.sample(5, &mut rng).unwrap();
    assert!(batch.weights.iter().all(|&w| w == 1.0));
    let before = contents(&mut memory);
    memory.update_priorities(&batch.indices, &[1.0; 5]).unwrap();
    assert!(matches!(
        memory.update_priorities(&[0, 1], &[1.0]),
        Err(Error::LengthMismatch { left: 2, right: 1, .. })
    ));
    assert!(matches!(
        memory.update_priorities(&[5], &[1.0]),
        Err(Error::InvalidIndex { index: 5, len: 5 })
    ));
    assert!(matches!(memory.update_priorities(&[0], &[f32::NAN]), Err(Error::NonFinite { .. })));
    assert_eq!(contents(&mut memory), before);
}

#[test]
fn bad_configs_are_errors() {
    let config = ReplayConfig::default();
    assert_eq!((config.capacity, config.observation_dim, config.replacement), (10_000, 4, true));
    assert!(matches!(
        ReplayBuffer::new(config.clone().with_capacity(0)),
        Err(Error::InvalidConfig { field: "capacity", .. })
    ));
    assert!(matches!(
        ReplayBuffer::new(config.clone().with_observation_dim(0)),
        Err(Error::InvalidConfig { field: "observation_dim", .. })
    ));
    assert!(ReplayBuffer::new(config.with_capacity(usize::MAX)).is_err());
}

#[test]
fn an_observation_size_too_large_to_store_is_named_as_such() {
    // Issue 12, D13: the error named `capacity` when `observation_dim` was the bad value.
    let config = ReplayConfig { capacity: 10, observation_dim: usize::MAX / 4, replacement: true };
    let err = ReplayBuffer::new(config).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { field: "observation_dim", .. }), "{err:?}");
    let config = ReplayConfig { capacity: usize::MAX / 4, observation_dim: 10, replacement: true };
    let err = ReplayBuffer::new(config).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { field: "capacity", .. }), "{err:?}");
}
