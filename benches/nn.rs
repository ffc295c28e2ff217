//! The hand-written MLP: one DQN update (forward, backward, Adam) at the tutorial's size
//! (4-24-24-2, batch 32) and at a large size (4-256-256-2, batch 64), the single-observation
//! forward of action selection, and the machine's ceilings to compare the large update against:
//! a 512^3 product with ndarray's `general_mat_mul` (`matrixmultiply`), the library's own kernel
//! on a 4-256-256-2 forward pass at batch 64, and the core's fused multiply-add peak (independent
//! FMAs on registers, at the widest vectors the processor has).
//!
//! FLOPs of the large update: forward 2*64*(4*256 + 256*256 + 256*2), the weight gradients as
//! many again, the input gradients of layers 2 and 3 2*64*(256*256 + 256*2): about 25.7 MFLOP.
//! criterion reports them as "elements" per second, i.e. FLOP/s.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use deepq::{Mlp, MlpConfig, QNetwork};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2};
use ndarray_rand::RandomExt;
use ndarray_rand::rand_distr::Uniform;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// (name, input, hidden, output, batch)
const SIZES: [(&str, usize, usize, usize, usize); 2] =
    [("4-24-24-2/b32", 4, 24, 2, 32), ("4-256-256-2/b64", 4, 256, 2, 64)];

/// Distinct batches cycled through by the update benchmark.
const BATCHES: usize = 64;

fn update_flops(input: usize, hidden: usize, output: usize, batch: usize) -> u64 {
    let forward = 2 * batch * (input * hidden + hidden * hidden + hidden * output);
    let input_grads = 2 * batch * (hidden * hidden + hidden * output);
    (2 * forward + input_grads) as u64
}

fn dqn_update(c: &mut Criterion) {
    let mut group = c.benchmark_group("dqn_update");
    for (name, input, hidden, output, batch) in SIZES {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut net = Mlp::new(MlpConfig::new(input, vec![hidden, hidden], output), &mut rng)
            .expect("valid config");
        // A pool of batches, cycled, as a replay memory would give (a single batch repeated
        // thousands of times is overfitted and its vanishing gradients make Adam's moments
        // subnormal, which is slow on x86 and not what a DQN sees).
        let states_dist = Uniform::new(-2.0f32, 2.0).expect("valid bounds");
        let target_dist = Uniform::new(0.0f32, 2.0).expect("valid bounds");
        let pool: Vec<(Array2<f32>, Vec<usize>, Array1<f32>)> = (0..BATCHES)
            .map(|_| {
                let states = Array2::random_using((batch, input), states_dist, &mut rng);
                let actions = (0..batch).map(|_| rng.random_range(0..output)).collect();
                let targets = Array1::random_using(batch, target_dist, &mut rng);
                (states, actions, targets)
            })
            .collect();
        let mut i = 0;
        group.throughput(Throughput::Elements(update_flops(input, hidden, output, batch)));
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                i = (i + 1) % BATCHES;
                let (states, actions, targets) = &pool[i];
                let stats = net
                    .train_step(black_box(states.view()), actions, targets.view(), None)
                    .expect("valid batch");
                black_box(stats.loss)
            })
        });
    }
    group.finish();
}

fn q_values_one(c: &mut Criterion) {
    let mut group = c.benchmark_group("q_values_one");
    for (name, input, hidden, output, _) in SIZES {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut net = Mlp::new(MlpConfig::new(input, vec![hidden, hidden], output), &mut rng)
            .expect("valid config");
        let state = Array1::random_using(input, Uniform::new(-1.0f32, 1.0).unwrap(), &mut rng);
        let mut out = vec![0.0; output];
        let name = name.split('/').next().unwrap_or(name);
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                net.q_values_one(black_box(state.view()), &mut out).expect("valid state");
                black_box(out[0])
            })
        });
    }
    group.finish();
}

fn matmul_ceiling(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul_ceiling");
    let n = 512;
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let dist = Uniform::new(-1.0f32, 1.0).unwrap();
    let a = Array2::random_using((n, n), dist, &mut rng);
    let b = Array2::random_using((n, n), dist, &mut rng);
    let mut out = Array2::zeros((n, n));
    group.throughput(Throughput::Elements(2 * (n * n * n) as u64));
    group.bench_function(BenchmarkId::from_parameter("512x512x512"), |bench| {
        bench.iter(|| {
            general_mat_mul(1.0, black_box(&a), &b, 0.0, &mut out);
            black_box(out[[0, 0]])
        })
    });
    // The library's own kernel at the large update's sizes: a 4-256-256-2 forward pass at
    // batch 64.
    let net = Mlp::new(MlpConfig::new(4, vec![256, 256], 2), &mut rng).unwrap();
    let states = Array2::random_using((64, 4), dist, &mut rng);
    group.throughput(Throughput::Elements(2 * 64 * (4 * 256 + 256 * 256 + 256 * 2)));
    group.bench_function(BenchmarkId::from_parameter("forward_4-256-256-2_b64"), |bench| {
        bench.iter(|| black_box(net.forward(black_box(states.view())).unwrap()[[0, 0]]))
    });
    // The core's peak: independent fused multiply-adds on registers only, nothing loaded or
    // stored, at the widest vectors the processor has.
    let (name, lanes, run) = fma_peak();
    group.throughput(Throughput::Elements(2 * lanes as u64 * FMA_ITERATIONS as u64));
    group
        .bench_function(BenchmarkId::from_parameter(name), |bench| bench.iter(|| black_box(run())));
    group.finish();
}

/// Iterations of the FMA-peak loop per measured call.
const FMA_ITERATIONS: usize = 10_000;

/// The FMA-peak loop for the widest level: its name, the multiply-adds per iteration, and the
/// loop.
fn fma_peak() -> (&'static str, usize, fn() -> f32) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // 24 of the 32 registers, 16 lanes each: enough chains to cover the latency of
            // two FMA units.
            #[target_feature(enable = "avx512f,fma")]
            unsafe fn avx512() -> f32 {
                fma_chains::<384>()
            }
            // SAFETY: the processor has AVX-512F (and so FMA), checked just above.
            return ("fma_peak_avx512", 384, || unsafe { avx512() });
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2() -> f32 {
                fma_chains::<96>()
            }
            // SAFETY: the processor has AVX2 and FMA, checked just above.
            return ("fma_peak_avx2", 96, || unsafe { avx2() });
        }
    }
    ("fma_peak_scalar", 8, fma_chains::<8>)
}

/// `N` independent chains of `FMA_ITERATIONS` fused multiply-adds.
#[inline(always)]
fn fma_chains<const N: usize>() -> f32 {
    let (x, y) = (black_box(0.999f32), black_box(1e-3f32));
    let mut acc = [1.0f32; N];
    for _ in 0..FMA_ITERATIONS {
        for v in acc.iter_mut() {
            *v = v.mul_add(x, y);
        }
    }
    acc.iter().sum()
}

criterion_group!(benches, dqn_update, q_values_one, matmul_ceiling);
criterion_main!(benches);
