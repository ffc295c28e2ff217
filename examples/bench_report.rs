//! # Benchmark report: deepq's side of `benchmarks/compare.sh`
//!
//! Times the same work as the Python peer scripts in `benchmarks/peers/` and prints one JSON
//! object per line (machine-readable; `compare.sh` turns both sides into one table):
//!
//! - `cartpole_v1_step`: `CartPole::v1().step` with random actions and a reset when an episode
//!   ends, ns per step; and `cartpole_physics_floor`, the same arithmetic on a bare `[f64; 4]`
//!   (`benches/common/physics_floor.rs`), ns per step.
//! - `dqn_update/4-24-24-2/b32` and `dqn_update/4-256-256-2/b64`: one gradient step (forward,
//!   masked MSE, backward, Adam 1e-3) on batches cycled from a pool of 64, us per update; and
//!   `forward_one/...`: the Q-values of one observation (action selection), ns per call.
//! - `solve_v0`: one line per seed: `DqnConfig::default()` trained on CartPole-v0 until the
//!   trailing 100-episode mean reaches 195 (at most 300 episodes, as `examples/dqn_cartpole.rs`),
//!   wall seconds of the training loop, episodes and environment steps.
//! - `sb3_zoo_v1_50k`: one line per seed: the RL Zoo's CartPole-v1 DQN hyperparameters
//!   (see [`sb3_zoo_config`]) and SB3's network initialisation (see [`sb3_agent`]) run for
//!   exactly 50 000 environment steps, wall seconds of the training loop, then the mean return
//!   of 100 greedy episodes.
//!
//! Timings are medians over `--repeats` (default 7) with min and max. Expected run time with the
//! defaults: about a minute on one core.
//!
//! ```text
//! cargo run --release --example bench_report -- [--repeats N] [--solve-seeds N] [--sb3-seeds N]
//!     [--only step,update,solve,sb3]
//! ```

#[path = "common/json_line.rs"]
mod json_line;

use std::error::Error;
use std::hint::black_box;
use std::ops::ControlFlow;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use deepq::{
    Agent, CartPole, DqnAgent, DqnConfig, Env, Exploration, Loss, Memory, Mlp, MlpConfig,
    Optimizer, QNetwork, ReplayBuffer, ReplayConfig, TargetUpdate, TrainConfig, TrainFrequency,
    Transition, evaluate, train,
};
use ndarray::{Array1, Array2};
use ndarray_rand::RandomExt;
use ndarray_rand::rand_distr::Uniform;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

#[path = "../benches/common/physics_floor.rs"]
mod physics_floor;
use json_line::{json_line, rounded};
use physics_floor::PhysicsFloor;

/// Environment steps timed per repeat of the step benchmarks.
const STEPS_PER_REPEAT: usize = 5_000_000;
/// Distinct batches cycled through by the update benchmark (as `benches/nn.rs`).
const BATCHES: usize = 64;
/// (name, input, hidden, output, batch, updates per repeat)
const SIZES: [(&str, usize, usize, usize, usize, usize); 2] =
    [("4-24-24-2/b32", 4, 24, 2, 32, 20_000), ("4-256-256-2/b64", 4, 256, 2, 64, 1_000)];
/// Single-observation forwards timed per repeat.
const FORWARDS_PER_REPEAT: usize = 200_000;
/// Episodes allowed to solve CartPole-v0 (`examples/dqn_cartpole.rs`'s default).
const SOLVE_EPISODES: usize = 300;
/// Environment steps of the Stable-Baselines3 comparison (the RL Zoo's `n_timesteps`).
const SB3_STEPS: usize = 50_000;
/// Greedy episodes of the final evaluation.
const EVAL_EPISODES: usize = 100;

/// `--only`: a part of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Part {
    /// `cartpole_v1_step` and `cartpole_physics_floor`.
    Step,
    /// `dqn_update/...` and `forward_one/...`.
    Update,
    /// `solve_v0`, one line per seed.
    Solve,
    /// `sb3_zoo_v1_50k`, one line per seed.
    Sb3,
}

/// Times deepq's side of benchmarks/compare.sh and prints one JSON object per line.
#[derive(Debug, Parser)]
#[command(name = "bench_report")]
struct Args {
    /// Timed repeats of each micro-benchmark (after one warm-up).
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u64).range(1..))]
    repeats: u64,
    /// Seeds of the time-to-solve runs (0 to N-1).
    #[arg(long = "solve-seeds", value_name = "N", default_value_t = 10)]
    solve_seeds: u64,
    /// Seeds of the Stable-Baselines3-configured runs (0 to N-1).
    #[arg(long = "sb3-seeds", value_name = "N", default_value_t = 3)]
    sb3_seeds: u64,
    /// Only these parts, comma-separated [default: all].
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Part>,
}

/// A timed micro-benchmark's JSON line.
#[derive(Debug, Serialize)]
struct TimedLine<'a> {
    work: &'a str,
    unit: &'a str,
    median: f64,
    min: f64,
    max: f64,
    repeats: usize,
}

/// A time-to-solve run's JSON line.
#[derive(Debug, Serialize)]
struct SolveLine {
    work: &'static str,
    seed: u64,
    solved: bool,
    solved_at_episode: Option<usize>,
    episodes: usize,
    env_steps: usize,
    wall_seconds: f64,
}

/// A Stable-Baselines3-configured run's JSON line.
#[derive(Debug, Serialize)]
struct Sb3Line {
    work: &'static str,
    seed: u64,
    env_steps: usize,
    episodes: usize,
    gradient_steps: usize,
    wall_seconds: f64,
    eval_mean: f32,
    eval_episodes: usize,
}

/// Runs `f` (which returns the time of one unit of work, in the unit wanted) `repeats` times
/// after one warm-up call, and prints the median, min and max as a JSON line.
fn report(
    work: &str,
    unit: &str,
    repeats: usize,
    mut f: impl FnMut() -> f64,
) -> Result<(), Box<dyn Error>> {
    f();
    let mut times: Vec<f64> = (0..repeats).map(|_| f()).collect();
    times.sort_by(f64::total_cmp);
    let n = times.len();
    let median = if n % 2 == 1 { times[n / 2] } else { (times[n / 2 - 1] + times[n / 2]) / 2.0 };
    let line = TimedLine {
        work,
        unit,
        median: rounded(median, 6),
        min: rounded(times[0], 6),
        max: rounded(times[n - 1], 6),
        repeats,
    };
    println!("{}", json_line(&line)?);
    Ok(())
}

fn bench_step(repeats: usize) -> Result<(), Box<dyn Error>> {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let actions: Vec<usize> = (0..1024).map(|_| rng.random_range(0..2)).collect();

    let mut env = CartPole::v1();
    env.reset(&mut rng);
    let mut i = 0usize;
    report("cartpole_v1_step", "ns", repeats, || {
        let start = Instant::now();
        for _ in 0..STEPS_PER_REPEAT {
            i = (i + 1) & 1023;
            let step = env.step(black_box(actions[i])).expect("valid action in a running episode");
            if step.terminated || step.truncated {
                env.reset(&mut rng);
            }
            black_box(step.observation);
        }
        start.elapsed().as_nanos() as f64 / STEPS_PER_REPEAT as f64
    })?;

    let mut floor = PhysicsFloor::v1(&mut rng);
    report("cartpole_physics_floor", "ns", repeats, || {
        let start = Instant::now();
        for _ in 0..STEPS_PER_REPEAT {
            i = (i + 1) & 1023;
            black_box(floor.step(black_box(actions[i]), &mut rng));
        }
        start.elapsed().as_nanos() as f64 / STEPS_PER_REPEAT as f64
    })?;
    Ok(())
}

type Pool = Vec<(Array2<f32>, Vec<usize>, Array1<f32>)>;

fn pool(rng: &mut ChaCha8Rng, input: usize, output: usize, batch: usize) -> Pool {
    let states_dist = Uniform::new(-2.0f32, 2.0).expect("valid bounds");
    let target_dist = Uniform::new(0.0f32, 2.0).expect("valid bounds");
    (0..BATCHES)
        .map(|_| {
            let states = Array2::random_using((batch, input), states_dist, rng);
            let actions = (0..batch).map(|_| rng.random_range(0..output)).collect();
            let targets = Array1::random_using(batch, target_dist, rng);
            (states, actions, targets)
        })
        .collect()
}

fn bench_update(repeats: usize) -> Result<(), Box<dyn Error>> {
    for (name, input, hidden, output, batch, updates) in SIZES {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        // Masked MSE and Adam(1e-3), MlpConfig's defaults, as the PyTorch script.
        let mut net = Mlp::new(MlpConfig::new(input, vec![hidden, hidden], output), &mut rng)?;
        let pool = pool(&mut rng, input, output, batch);
        let mut i = 0;
        report(&format!("dqn_update/{name}"), "us", repeats, || {
            let start = Instant::now();
            for _ in 0..updates {
                i = (i + 1) % BATCHES;
                let (states, actions, targets) = &pool[i];
                let stats = net
                    .train_step(black_box(states.view()), actions, targets.view(), None)
                    .expect("valid batch");
                black_box(stats.loss);
            }
            start.elapsed().as_nanos() as f64 / 1e3 / updates as f64
        })?;

        let state = Array1::random_using(input, Uniform::new(-1.0f32, 1.0)?, &mut rng);
        let mut out = vec![0.0; output];
        let arch = name.split('/').next().unwrap_or(name);
        report(&format!("forward_one/{arch}"), "ns", repeats, || {
            let start = Instant::now();
            for _ in 0..FORWARDS_PER_REPEAT {
                net.q_values_one(black_box(state.view()), &mut out).expect("valid state");
                black_box(out[0]);
            }
            start.elapsed().as_nanos() as f64 / FORWARDS_PER_REPEAT as f64
        })?;
    }
    Ok(())
}

fn bench_solve(seeds: u64) -> Result<(), Box<dyn Error>> {
    for seed in 0..seeds {
        let mut env = CartPole::v0();
        let config = DqnConfig::default().with_seed(seed);
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let mut agent = DqnAgent::new(config, env.observation_dim(), env.num_actions(), &mut rng)?;
        let train_config = TrainConfig::default()
            .with_episodes(SOLVE_EPISODES)
            .with_reward_threshold(env.reward_threshold());
        let start = Instant::now();
        let report = train(&mut agent, &mut env, &train_config, &mut rng, &mut |_| {
            ControlFlow::Continue(())
        })?;
        let wall = start.elapsed().as_secs_f64();
        let line = SolveLine {
            work: "solve_v0",
            seed,
            solved: report.solved(),
            solved_at_episode: report.solved_at,
            episodes: report.episodes(),
            env_steps: report.env_steps,
            wall_seconds: rounded(wall, 4),
        };
        println!("{}", json_line(&line)?);
    }
    Ok(())
}

/// The RL Zoo's DQN hyperparameters for CartPole-v1 (`hyperparams/dqn.yml`) in deepq's terms:
/// Stable-Baselines3 counts `train_freq` and `target_update_interval` in environment steps, as
/// deepq's `TrainFrequency::Steps` and `TargetUpdate::Hard` do; `exploration_fraction` 0.16 of
/// 50 000 steps is a linear decay over 8 000 steps. SB3's DQN defaults fill the rest: Huber
/// loss, `max_grad_norm` 10, Adam, no Double DQN, uniform replay with replacement.
fn sb3_zoo_config(seed: u64) -> DqnConfig {
    DqnConfig {
        hidden: vec![256, 256],
        optimizer: Optimizer::adam(2.3e-3),
        learning_rate_decay: None,
        loss: Loss::Huber,
        max_grad_norm: Some(10.0),
        gamma: 0.99,
        n_step: 1,
        value_bounds: deepq::ValueBounds::None,
        exploration: Exploration::Linear { start: 1.0, end: 0.04, steps: 8_000 },
        memory_size: 100_000,
        batch_size: 64,
        sample_with_replacement: true,
        learning_starts: 1_000,
        train_frequency: TrainFrequency::Steps(256),
        gradient_steps: 128,
        target_update: TargetUpdate::Hard { every: 10 },
        double_dqn: false,
        prioritized: None,
        truncation_as_termination: false,
        seed,
        ..DqnConfig::default()
    }
}

/// A DQN agent with `config` whose network starts as Stable-Baselines3's does: PyTorch's default
/// `nn.Linear` initialisation, weights and biases uniform in `[-1/sqrt(fan_in), 1/sqrt(fan_in))`
/// (deepq's default He-uniform bound is sqrt(6) times wider), and uniform replay.
fn sb3_agent(
    config: DqnConfig,
    observation_dim: usize,
    num_actions: usize,
    rng: &mut ChaCha8Rng,
) -> Result<DqnAgent, Box<dyn Error>> {
    let net = MlpConfig::new(observation_dim, config.hidden.clone(), num_actions)
        .with_activation(config.activation)
        .with_loss(config.loss)
        .with_optimizer(config.optimizer)
        .with_max_grad_norm(config.max_grad_norm);
    let layers = net
        .layer_sizes()
        .into_iter()
        .map(|(fan_in, fan_out)| {
            let bound = 1.0 / (fan_in as f32).sqrt();
            let dist = Uniform::new(-bound, bound).expect("valid bounds");
            (
                Array2::random_using((fan_out, fan_in), dist, rng),
                Array1::random_using(fan_out, dist, rng),
            )
        })
        .collect();
    let online = Mlp::with_parameters(net, layers)?;
    let memory: Box<dyn Memory> = Box::new(ReplayBuffer::new(ReplayConfig {
        capacity: config.memory_size,
        observation_dim,
        replacement: config.sample_with_replacement,
    })?);
    Ok(DqnAgent::with_parts(config, online, memory)?)
}

fn bench_sb3(seeds: u64) -> Result<(), Box<dyn Error>> {
    for seed in 0..seeds {
        let mut env = CartPole::v1();
        let config = sb3_zoo_config(seed);
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let mut agent = sb3_agent(config, env.observation_dim(), env.num_actions(), &mut rng)?;
        let start = Instant::now();
        let mut observation = env.reset(&mut rng);
        let mut episodes = 0usize;
        for _ in 0..SB3_STEPS {
            let action = agent.act(observation.view(), &mut rng)?;
            let step = env.step(action)?;
            agent.observe(Transition {
                observation: observation.view(),
                action,
                reward: step.reward,
                next_observation: step.observation.view(),
                terminated: step.terminated,
                truncated: step.truncated,
            })?;
            agent.learn(&mut rng)?;
            observation = if step.done() {
                episodes += 1;
                env.reset(&mut rng)
            } else {
                step.observation
            };
        }
        let wall = start.elapsed().as_secs_f64();
        let eval = evaluate(&mut agent, &mut env, EVAL_EPISODES, &mut rng)?;
        let line = Sb3Line {
            work: "sb3_zoo_v1_50k",
            seed,
            env_steps: SB3_STEPS,
            episodes,
            gradient_steps: agent.gradient_steps(),
            wall_seconds: rounded(wall, 4),
            eval_mean: eval.mean,
            eval_episodes: EVAL_EPISODES,
        };
        println!("{}", json_line(&line)?);
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let wanted = |part: Part| args.only.is_empty() || args.only.contains(&part);
    let repeats = args.repeats as usize;
    if wanted(Part::Step) {
        bench_step(repeats)?;
    }
    if wanted(Part::Update) {
        bench_update(repeats)?;
    }
    if wanted(Part::Solve) {
        bench_solve(args.solve_seeds)?;
    }
    if wanted(Part::Sb3) {
        bench_sb3(args.sb3_seeds)?;
    }
    Ok(())
}
