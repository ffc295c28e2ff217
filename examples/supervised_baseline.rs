//! # The supervised random-rollout baseline
//!
//! Reproduces a classic blog recipe, before any DQN: play 10,000 games of CartPole-v0 with random
//! actions, keep the (observation, action) pairs of the games that scored at least 50, train a
//! 4-128-256-512-256-128-2 classifier on them (dropout keep 0.8, Adam 1e-3, 5 epochs, batch 64),
//! then play 100 games greedily with it.
//!
//! Expected output: one row per run (seeds 0, 1, 2 by default) with the accepted games, the
//! training pairs and the mean, median and SD of the 100 scores, as in the blog's table, and the
//! time of each phase. The blog reported means of 156-200; a faithful numpy reproduction scored
//! 112.6, 199.1 and 136.7 on three seeds: whether it solves is seed luck. Random play averages
//! about 22.
//!
//! ```text
//! cargo run --release --example supervised_baseline -- [--seed N] [--runs N] [--games N] [--json]
//! ```
//! `--seed` is the first run's seed (run `i` uses `seed + i`). With `--json` every run is also
//! printed as one JSON object per line.

use std::error::Error;
use std::time::Instant;

use deepq::{
    CartPole, ClassifierConfig, RolloutConfig, collect_random_games, play_classifier,
    train_classifier,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Greedy games played with each trained classifier.
const PLAY_GAMES: usize = 100;

struct Args {
    seed: u64,
    runs: usize,
    games: usize,
    json: bool,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let mut args = Args { seed: 0, runs: 3, games: 10_000, json: false };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--seed" => args.seed = value("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--runs" => args.runs = value("--runs")?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--games" => {
                args.games = value("--games")?.parse().map_err(|e| format!("--games: {e}"))?
            }
            "--json" => args.json = true,
            "-h" | "--help" => {
                println!("usage: supervised_baseline [--seed N] [--runs N] [--games N] [--json]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown flag {other:?} (try --help)").into()),
        }
    }
    if args.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    Ok(args)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    let rollout = RolloutConfig::default().with_games(args.games);
    let classifier = ClassifierConfig::default();
    println!(
        "{} random games of CartPole-v0 per run, kept at score >= {}, classifier {:?}, {} epochs",
        rollout.games, rollout.score_threshold, classifier.hidden, classifier.epochs
    );
    println!(
        "{:>4} {:>5} {:>9} {:>7} {:>7} {:>7} {:>6} {:>7} | {:>8} {:>8} {:>8}",
        "run",
        "seed",
        "accepted",
        "pairs",
        "mean",
        "median",
        "SD",
        "random",
        "collect",
        "train",
        "play"
    );
    let mut json_lines = Vec::new();
    for run in 0..args.runs {
        let seed = args.seed + run as u64;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut env = CartPole::v0();

        let t = Instant::now();
        let (data, stats) = collect_random_games(&mut env, &rollout, &mut rng)?;
        let collect_s = t.elapsed().as_secs_f64();

        let t = Instant::now();
        let (mut net, _losses) = train_classifier(&data, 2, &classifier, &mut rng)?;
        let train_s = t.elapsed().as_secs_f64();

        let t = Instant::now();
        let scores = play_classifier(&mut net, &mut env, PLAY_GAMES, &mut rng)?;
        let play_s = t.elapsed().as_secs_f64();

        println!(
            "{:>4} {:>5} {:>9} {:>7} {:>7.1} {:>7.1} {:>6.1} {:>7.1} | {:>7.2}s {:>7.2}s {:>7.2}s",
            run + 1,
            seed,
            stats.accepted_games,
            stats.pairs,
            scores.mean,
            scores.median,
            scores.sd,
            stats.mean_score,
            collect_s,
            train_s,
            play_s
        );
        json_lines.push(format!(
            "{{\"run\": {}, \"seed\": {seed}, \"games\": {}, \"accepted_games\": {}, \"pairs\": {}, \
             \"mean\": {}, \"median\": {}, \"sd\": {}, \"random_mean\": {}, \"collect_seconds\": \
             {collect_s:.3}, \"train_seconds\": {train_s:.3}, \"play_seconds\": {play_s:.3}}}",
            run + 1,
            stats.games,
            stats.accepted_games,
            stats.pairs,
            scores.mean,
            scores.median,
            scores.sd,
            stats.mean_score
        ));
    }
    println!(
        "(mean, median, SD: {PLAY_GAMES} greedy games; random: mean score of all random games)"
    );
    if args.json {
        for line in json_lines {
            println!("{line}");
        }
    }
    Ok(())
}
