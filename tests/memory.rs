//! The `Memory` trait as a learner sees it: through `&dyn Memory`, `&mut dyn Memory` and
//! `Box<dyn Memory>`, with the same contract for both implementations; `Batch` and
//! `Transition`.

use deepq::{
    Batch, Error, Memory, PrioritizedConfig, PrioritizedReplay, ReplayBuffer, ReplayConfig,
    Transition,
};
use ndarray::{Array1, array};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Both memories, capacity 8, observations of length 2 (constant beta so that repeated samples
/// are comparable).
fn memories() -> Vec<Box<dyn Memory>> {
    vec![
        Box::new(
            ReplayBuffer::new(ReplayConfig::default().with_capacity(8).with_observation_dim(2))
                .unwrap(),
        ),
        Box::new(
            ReplayBuffer::new(ReplayConfig { capacity: 8, observation_dim: 2, replacement: false })
                .unwrap(),
        ),
        Box::new(
            PrioritizedReplay::new(PrioritizedConfig {
                capacity: 8,
                observation_dim: 2,
                beta_steps: 0,
                ..Default::default()
            })
            .unwrap(),
        ),
    ]
}

fn push(memory: &mut dyn Memory, i: usize) -> deepq::Result<()> {
    let (s, n) = (array![i as f32, -(i as f32)], array![i as f32 + 1.0, 0.0]);
    memory.push(Transition {
        observation: s.view(),
        action: i % 2,
        reward: 0.5 * i as f32,
        next_observation: n.view(),
        terminated: i.is_multiple_of(3),
        truncated: false,
    })
}

fn describe(memory: &dyn Memory) -> (usize, usize, usize, bool) {
    (memory.observation_dim(), memory.len(), memory.capacity(), memory.is_empty())
}

/// A learner's step written against the trait only.
fn learn_step(
    memory: &mut dyn Memory,
    rng: &mut dyn RngCore,
    batch: &mut Batch,
) -> deepq::Result<()> {
    memory.sample_into(4, rng, batch)?;
    let td_errors: Vec<f32> = batch.rewards.iter().map(|r| r - 1.0).collect();
    memory.update_priorities(&batch.indices, &td_errors)
}

#[test]
fn both_memories_work_through_trait_objects() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    for mut memory in memories() {
        assert_eq!(describe(memory.as_ref()), (2, 0, 8, true));
        assert!(matches!(memory.sample(1, &mut rng), Err(Error::InvalidBatchSize { len: 0, .. })));
        for i in 0..11 {
            push(memory.as_mut(), i).unwrap();
        }
        assert_eq!(describe(memory.as_ref()), (2, 8, 8, false));
        let mut batch = Batch::with_capacity(4, 2);
        for _ in 0..10 {
            learn_step(memory.as_mut(), &mut rng, &mut batch).unwrap();
            assert_eq!(batch.len(), 4);
            assert_eq!(batch.states.dim(), (4, 2));
            assert_eq!(batch.next_states.dim(), (4, 2));
            for k in 0..4 {
                // Rows of a batch belong together; transitions 0, 1, 2 were overwritten.
                let i = batch.states[[k, 0]] as usize;
                assert!((3..11).contains(&i));
                assert_eq!(batch.indices[k], i % 8);
                assert_eq!(batch.states[[k, 1]], -(i as f32));
                assert_eq!(batch.next_states[[k, 0]], i as f32 + 1.0);
                assert_eq!(batch.actions[k], i % 2);
                assert_eq!(batch.rewards[k], 0.5 * i as f32);
                assert_eq!(batch.terminated[k], if i.is_multiple_of(3) { 1.0 } else { 0.0 });
                assert_eq!(batch.truncated[k], 0.0);
            }
            assert_eq!(batch.weights.iter().copied().fold(0.0, f32::max), 1.0);
        }
    }
}

#[test]
fn errors_leave_every_memory_intact() {
    for mut memory in memories() {
        let memory = memory.as_mut();
        for i in 0..6 {
            push(memory, i).unwrap();
        }
        let snapshot = |memory: &mut dyn Memory| {
            let batch = memory.sample(memory.len(), &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
            (memory.len(), batch)
        };
        let before = snapshot(memory);
        let good = array![0.0f32, 0.0];
        let observations = [
            array![0.0f32],
            array![0.0f32, 0.0, 0.0],
            array![f32::NAN, 0.0],
            array![0.0, f32::NEG_INFINITY],
        ];
        for wrong in &observations {
            for (o, n) in [(wrong, &good), (&good, wrong)] {
                let result = memory.push(Transition {
                    observation: o.view(),
                    action: 0,
                    reward: 0.0,
                    next_observation: n.view(),
                    terminated: false,
                    truncated: false,
                });
                assert!(
                    matches!(
                        result,
                        Err(Error::ObservationLength { .. } | Error::NonFinite { .. })
                    ),
                    "{result:?}"
                );
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut batch = Batch::default();
        assert!(memory.sample_into(0, &mut rng, &mut batch).is_err());
        assert!(memory.sample_into(7, &mut rng, &mut batch).is_err());
        assert!(memory.update_priorities(&[0, 6], &[1.0, 1.0]).is_err());
        assert!(memory.update_priorities(&[0], &[f32::NAN]).is_err());
        assert!(memory.update_priorities(&[0], &[]).is_err());
        assert_eq!(snapshot(memory), before);
    }
}

#[test]
fn transitions_accept_any_view() {
    // A strided view (every other value) stores the same as a contiguous one.
    let wide: Array1<f32> = array![1.0, 9.0, 2.0, 9.0];
    let strided = wide.slice(ndarray::s![..;2]);
    let contiguous = array![1.0f32, 2.0];
    for mut memory in memories() {
        for observation in [strided, contiguous.view()] {
            memory
                .push(Transition {
                    observation,
                    action: 0,
                    reward: 0.0,
                    next_observation: observation,
                    terminated: false,
                    truncated: true,
                })
                .unwrap();
        }
        let batch = memory.sample(2, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
        for row in batch.states.rows().into_iter().chain(batch.next_states.rows()) {
            assert_eq!(row, contiguous);
        }
        assert!(batch.truncated.iter().all(|&t| t == 1.0));
    }
}

#[test]
fn batch_with_capacity_is_empty() {
    let batch = Batch::with_capacity(64, 4);
    assert!(batch.is_empty());
    assert_eq!(batch.len(), 0);
    assert_eq!(batch.states.dim(), (0, 4));
    assert_eq!(Batch::default().len(), 0);
}
