//! The hot paths do not allocate after warm-up: the single-observation forward allocates
//! nothing; a training step allocates only its returned TD errors, all layer buffers being
//! reused and the matrix products (`src/nn/gemm.rs`) working in registers (ndarray's
//! `matrixmultiply`, used before, allocated a packing buffer for each of its 8 products). Counted with a global allocator; this file holds a single test
//! so that no other test allocates concurrently.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use deepq::{Mlp, MlpConfig, QNetwork};
use ndarray::{Array1, Array2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_of(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    f();
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

#[test]
fn hot_paths_do_not_allocate_after_warm_up() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut net = Mlp::new(MlpConfig::new(4, vec![64, 64], 2), &mut rng).unwrap();
    let state = Array1::from(vec![0.1f32, -0.2, 0.3, 0.0]);
    let mut out = [0.0f32; 2];
    net.q_values_one(state.view(), &mut out).unwrap();
    let n = allocations_of(|| {
        for _ in 0..100 {
            net.q_values_one(state.view(), &mut out).unwrap();
        }
    });
    assert_eq!(n, 0, "q_values_one allocated");

    let states = Array2::from_elem((32, 4), 0.5f32);
    let actions = vec![1usize; 32];
    let targets = Array1::from_elem(32, 1.0f32);
    net.train_step(states.view(), &actions, targets.view(), None).unwrap();
    let n = allocations_of(|| {
        for _ in 0..10 {
            let stats = net.train_step(states.view(), &actions, targets.view(), None).unwrap();
            std::hint::black_box(stats);
        }
    });
    // The TD errors of `TrainStats`, and nothing else.
    assert_eq!(n, 10, "a training step allocates more than its TD errors");
}
