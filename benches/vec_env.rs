//! Vector environment throughput: environment steps per second (criterion's
//! `Throughput::Elements`, one element per sub-environment step) of `VecEnv::step_autoreset`
//! against the number of sub-environments N (1, 4, 16, 64), for CartPole-v1 (about 40 ns a step)
//! and for an environment whose step costs about 20 us (`benches/common/busy_env.rs`), stepped by
//! a `SequentialVecEnv` and by a `ThreadedVecEnv` with as many threads as the machine has
//! (available parallelism, 2 if unknown; at most N). Seeded random actions, cycled.
//!
//! `cargo bench --bench vec_env` (about 3 minutes); `-- --test` runs each case once.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use deepq::{CartPole, Env, SequentialVecEnv, ThreadedVecEnv, VecEnv, VecStep};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[path = "common/busy_env.rs"]
mod busy_env;
use busy_env::BusyEnv;

const SIZES: [usize; 4] = [1, 4, 16, 64];
/// Seeded action vectors per size, cycled.
const ACTION_SETS: usize = 64;

fn threads(n: usize) -> usize {
    std::thread::available_parallelism().map_or(2, |p| p.get()).min(n)
}

/// One vector step per iteration of `env`, from a seeded reset.
fn bench_env(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: BenchmarkId,
    env: &mut dyn VecEnv,
) {
    let n = env.num_envs();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let actions: Vec<Vec<usize>> =
        (0..ACTION_SETS).map(|_| (0..n).map(|_| rng.random_range(0..2)).collect()).collect();
    let mut out = VecStep::new(n, env.observation_dim());
    env.reset(&mut rng, out.observations.view_mut()).expect("reset");
    let mut k = 0;
    group.bench_function(id, |b| {
        b.iter(|| {
            k = (k + 1) % ACTION_SETS;
            env.step_autoreset(black_box(&actions[k]), &mut rng, &mut out).expect("valid step");
            black_box(&out.observations);
        })
    });
}

fn bench_kind<E: Env + Send + 'static>(
    c: &mut Criterion,
    name: &str,
    make: fn() -> E,
    measure: Duration,
) {
    let mut group = c.benchmark_group(name);
    group.warm_up_time(Duration::from_secs(1)).measurement_time(measure);
    for n in SIZES {
        group.throughput(Throughput::Elements(n as u64));
        let mut sequential = SequentialVecEnv::new((0..n).map(|_| make()).collect()).expect("envs");
        bench_env(&mut group, BenchmarkId::new("sequential", n), &mut sequential);
        let t = threads(n);
        let mut threaded = ThreadedVecEnv::new((0..n).map(|_| make()).collect(), t).expect("envs");
        bench_env(&mut group, BenchmarkId::new(format!("threaded_{t}t"), n), &mut threaded);
    }
    group.finish();
}

fn cartpole(c: &mut Criterion) {
    bench_kind(c, "vec_env_cartpole_v1", CartPole::v1, Duration::from_secs(3));
}

fn busy(c: &mut Criterion) {
    bench_kind(c, "vec_env_busy_20us", BusyEnv::new, Duration::from_secs(5));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = cartpole, busy
}
criterion_main!(benches);
