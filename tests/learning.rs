//! Learning tests: the default DQN solves CartPole on every stated seed, within a stated budget,
//! and its greedy policy is still solved after training. Run in release (`cargo test
//! --release`); each test fails when learning fails.

use deepq::{
    CartPole, DqnAgent, DqnConfig, Env, EvalStats, TrainConfig, TrainReport, evaluate, train,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::ops::ControlFlow;

/// Trains the default config with `seed` on `env` for at most `episodes`, stopping when solved,
/// then evaluates the greedy policy over 100 episodes.
fn run(mut env: CartPole, seed: u64, episodes: usize) -> (TrainReport, EvalStats) {
    let config = DqnConfig::default().with_seed(seed);
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut agent =
        DqnAgent::new(config, env.observation_dim(), env.num_actions(), &mut rng).unwrap();
    let train_config = TrainConfig::default()
        .with_episodes(episodes)
        .with_reward_threshold(env.reward_threshold());
    let report =
        train(&mut agent, &mut env, &train_config, &mut rng, &mut |_| ControlFlow::Continue(()))
            .unwrap();
    let eval = evaluate(&mut agent, &mut env, 100, &mut rng).unwrap();
    (report, eval)
}

/// Trains and evaluates every seed; returns the seeds that did not solve within `budget`
/// episodes or whose greedy evaluation mean fell below `threshold`.
fn failures(
    make: fn() -> CartPole,
    seeds: std::ops::RangeInclusive<u64>,
    budget: usize,
) -> Vec<String> {
    let mut failed = Vec::new();
    for seed in seeds {
        let env = make();
        let (name, threshold) = (env.max_episode_steps(), env.reward_threshold());
        let (report, eval) = run(env, seed, budget);
        let line = format!(
            "{name}-step CartPole, seed {seed}: solved at {:?}, {} env steps, greedy eval mean {:.1} \
             (min {})",
            report.solved_at, report.env_steps, eval.mean, eval.min
        );
        println!("{line}");
        if report.solved_at.is_none() || eval.mean < threshold {
            failed.push(line);
        }
    }
    failed
}

/// Seeds 0..=9, budget 300 episodes each: solved (trailing 100-episode mean >= 195) and a
/// 100-episode greedy evaluation with mean >= 195 on every seed.
#[test]
fn default_dqn_solves_cartpole_v0_on_seeds_0_to_9_within_300_episodes() {
    let failed = failures(CartPole::v0, 0..=9, 300);
    assert!(failed.is_empty(), "failed: {failed:#?}");
}

/// CartPole-v1 (500 steps, solved at 475), seeds 0..=2, budget 1000 episodes each: solved, and a
/// 100-episode greedy evaluation with mean >= 475.
#[test]
fn default_dqn_solves_cartpole_v1_on_seeds_0_to_2() {
    let failed = failures(CartPole::v1, 0..=2, 1000);
    assert!(failed.is_empty(), "failed: {failed:#?}");
}
