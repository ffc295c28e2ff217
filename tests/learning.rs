//! Learning tests: the default DQN solves CartPole on every stated seed, within a stated budget,
//! and its greedy policy is still solved after training. Run in release (`cargo test
//! --release`); each test fails when learning fails.

use deepq::{
    CartPole, DqnAgent, DqnConfig, Env, EvalStats, TrainConfig, TrainReport, evaluate, train,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

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
    let report = train(&mut agent, &mut env, &train_config, &mut rng, &mut |_| {}).unwrap();
    let eval = evaluate(&mut agent, &mut env, 100, &mut rng).unwrap();
    (report, eval)
}

/// Seeds 0..=9, budget 300 episodes each: solved (trailing 100-episode mean >= 195) and a
/// 100-episode greedy evaluation with mean >= 195 on every seed.
#[test]
fn default_dqn_solves_cartpole_v0_on_seeds_0_to_9_within_300_episodes() {
    let mut failures = Vec::new();
    for seed in 0..=9 {
        let (report, eval) = run(CartPole::v0(), seed, 300);
        println!(
            "v0 seed {seed}: solved at {:?}, {} env steps, greedy eval mean {:.1} (min {})",
            report.solved_at, report.env_steps, eval.mean, eval.min
        );
        if report.solved_at.is_none() || eval.mean < 195.0 {
            failures.push((seed, report.solved_at, eval.mean));
        }
    }
    assert!(failures.is_empty(), "failed seeds (seed, solved_at, eval mean): {failures:?}");
}

/// CartPole-v1 (500 steps, solved at 475), seeds 0..=2, budget 1000 episodes each: solved, and a
/// 100-episode greedy evaluation with mean >= 475.
#[test]
fn default_dqn_solves_cartpole_v1_on_seeds_0_to_2() {
    let mut failures = Vec::new();
    for seed in 0..=2 {
        let (report, eval) = run(CartPole::v1(), seed, 1000);
        println!(
            "v1 seed {seed}: solved at {:?}, {} env steps, greedy eval mean {:.1} (min {})",
            report.solved_at, report.env_steps, eval.mean, eval.min
        );
        if report.solved_at.is_none() || eval.mean < 475.0 {
            failures.push((seed, report.solved_at, eval.mean));
        }
    }
    assert!(failures.is_empty(), "failed seeds (seed, solved_at, eval mean): {failures:?}");
}
