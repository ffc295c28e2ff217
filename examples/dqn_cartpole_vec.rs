//! # DQN on CartPole over a vector environment
//!
//! Trains deepq's default DQN on `--n-envs` copies of CartPole at once
//! (`Trainer::train_vec`): one batched forward pass picks the actions of every copy, every
//! transition goes to the replay memory, and each vector step takes `--n-envs` gradient steps
//! (so one per environment step, as the default takes with one environment) on one
//! `train_frequency` step, which counts vector steps as Stable-Baselines3's `train_freq` does.
//! Then plays 100 greedy episodes.
//!
//! Expected output: a line every 20 episodes (episode, return, trailing mean, epsilon, env
//! steps), the episode at which it was solved (the mean return of the last 100 episodes reaches
//! 195 on v0), the steps and the wall time, then the greedy evaluation. With the defaults (4
//! copies, seed 0) it takes about 3 s in release on this project's machine (2026-12-02): solved
//! at episode 199 after 26,284 environment steps (6,571 vector steps), greedy mean 200.0.
//!
//! ```text
//! cargo run --release --example dqn_cartpole_vec -- [--n-envs N] [--threads T] [--seed N]
//!     [--env v0|v1] [--episodes N] [--max-env-steps N]
//! ```
//! `--threads 0` (the default) steps the copies one after another (`SequentialVecEnv`, the
//! right choice for CartPole's 40 ns step); `--threads T` steps them on T worker threads
//! (`ThreadedVecEnv`), with the same results bit for bit. `--n-envs 1` is the run of
//! `examples/dqn_cartpole.rs` with the same seed, bit for bit.

use std::error::Error;
use std::ops::ControlFlow;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use deepq::{CartPole, DqnConfig, SequentialVecEnv, ThreadedVecEnv, TrainConfig, Trainer, VecEnv};

/// Greedy evaluation episodes after training.
const EVAL_EPISODES: usize = 100;
/// Print a progress line every this many episodes.
const PRINT_EVERY: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Version {
    /// CartPole-v0: 200 steps, solved at 195.
    V0,
    /// CartPole-v1: 500 steps, solved at 475.
    V1,
}

/// Trains a DQN on several copies of CartPole at once.
#[derive(Debug, Parser)]
#[command(name = "dqn_cartpole_vec")]
struct Args {
    /// Copies of the environment stepped together.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    n_envs: u16,
    /// Worker threads (0: step the copies one after another on the main thread).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Seed of the run.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The environment.
    #[arg(long, value_enum, default_value = "v0")]
    env: Version,
    /// Episode budget [default: 300 for v0, 1000 for v1].
    #[arg(long)]
    episodes: Option<usize>,
    /// Environment-step budget (every copy's steps count).
    #[arg(long)]
    max_env_steps: Option<usize>,
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let n = usize::from(args.n_envs);
    let make = || if args.env == Version::V0 { CartPole::v0() } else { CartPole::v1() };
    let copies: Vec<CartPole> = (0..n).map(|_| make()).collect();
    let threshold = copies[0].reward_threshold();
    let mut env: Box<dyn VecEnv> = match args.threads {
        0 => Box::new(SequentialVecEnv::new(copies)?),
        t => Box::new(ThreadedVecEnv::new(copies, t)?),
    };
    let default_episodes = if args.env == Version::V0 { 300 } else { 1000 };
    let mut train_config = TrainConfig::default().with_reward_threshold(threshold);
    train_config = match (args.max_env_steps, args.episodes) {
        (Some(steps), Some(e)) => train_config.with_max_env_steps(steps).with_episodes(e),
        (Some(steps), None) => train_config.with_max_env_steps(steps),
        (None, e) => train_config.with_episodes(e.unwrap_or(default_episodes)),
    };
    // One gradient step per environment step, as the default with one environment.
    let dqn = DqnConfig::default().with_seed(args.seed).with_gradient_steps(n);
    let mut trainer = Trainer::new(dqn, train_config, env.observation_dim(), env.num_actions())?;
    let stepping = match args.threads {
        0 => "one after another".to_string(),
        t => format!("on {t} threads"),
    };
    println!(
        "DQN on {n} copies of CartPole-{:?} (seed {}), stepped {stepping}",
        args.env, args.seed
    );

    let start = Instant::now();
    let report = trainer.train_vec(&mut *env, None, &mut |s| {
        if s.episode % PRINT_EVERY == 0 {
            println!(
                "episode {:4}  return {:5.0}  mean(100) {:6.1}  epsilon {:.3}  env steps {}",
                s.episode, s.episode_return, s.trailing_mean, s.epsilon, s.env_steps
            );
        }
        ControlFlow::Continue(())
    })?;
    let wall = start.elapsed().as_secs_f64();
    match report.solved_at {
        Some(e) => println!("solved at episode {e}"),
        None => println!("not solved in {} episodes", report.episodes()),
    }
    println!(
        "{} episodes, {} env steps ({} vector steps), {} gradient steps, {wall:.2} s; {} \
         episodes still running when it stopped (stopped: {:?})",
        report.episodes(),
        report.env_steps,
        report.env_steps / n,
        report.gradient_steps,
        report.cut_episodes.len(),
        report.stop_reason
    );

    let eval = trainer.evaluate(&mut make(), EVAL_EPISODES)?;
    println!(
        "greedy evaluation over {EVAL_EPISODES} episodes: mean {:.1}, median {:.1}, SD {:.1}, \
         min {}, max {}",
        eval.mean, eval.median, eval.sd, eval.min, eval.max
    );
    Ok(())
}
