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
//!     [--plot supervised_baseline.png]
//! ```
//! `--seed` is the first run's seed (run `i` uses `seed + i`). With `--json` every run is also
//! printed as one JSON object per line, with the keys `run, seed, games, accepted_games, pairs,
//! mean, median, sd, random_mean, collect_seconds, train_seconds, play_seconds`.
//!
//! `--plot PATH` (default `supervised_baseline.png`) is where the score distribution is drawn: a
//! histogram of the classifier's scores over every run next to the scores of random play
//! (1,000 more random games per run, from a stream of the run's seed of their own, so that the
//! runs above are unchanged), as shares of their games.

#[path = "common/atomic_write.rs"]
mod atomic_write;
#[path = "common/json_line.rs"]
mod json_line;
#[path = "common/plot.rs"]
mod plot;

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use deepq::{
    CartPole, ClassifierConfig, Env, RolloutConfig, collect_random_games, evaluate_policy,
    play_classifier, train_classifier,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use json_line::{json_line, rounded};
use plot::{Chart, Mark, Series};

/// Greedy games played with each trained classifier.
const PLAY_GAMES: usize = 100;
/// Random games played per run for the plot's random-play histogram.
const PLOT_RANDOM_GAMES: usize = 1_000;
/// ChaCha8 streams of the run's seed for the plot's random games: their resets and their
/// actions (the run itself draws from stream 0).
const PLOT_RESET_STREAM: u64 = 1;
const PLOT_ACTION_STREAM: u64 = 2;
/// Bins of the histogram, over scores 0 to CartPole-v0's 200.
const BINS: usize = 20;

/// Plays random games of CartPole-v0, trains a classifier on the good ones and plays it (the
/// blog's supervised baseline), several seeds in a row.
#[derive(Debug, Parser)]
#[command(name = "supervised_baseline")]
struct Args {
    /// Seed of the first run; run i uses seed + i.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Runs, one seed each.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    runs: u64,
    /// Random games per run to collect the training pairs from.
    #[arg(long, default_value_t = 10_000)]
    games: usize,
    /// Also print every run as one JSON object per line.
    #[arg(long)]
    json: bool,
    /// Where to write the PNG of the score distributions.
    #[arg(long, value_name = "PATH", default_value = "supervised_baseline.png")]
    plot: PathBuf,
}

/// One run, as its JSON line.
#[derive(Debug, Serialize)]
struct RunLine {
    run: u64,
    seed: u64,
    games: usize,
    accepted_games: usize,
    pairs: usize,
    mean: f32,
    median: f32,
    sd: f32,
    random_mean: f32,
    collect_seconds: f64,
    train_seconds: f64,
    play_seconds: f64,
}

/// The scores of `games` games of uniformly random actions, from streams of `seed` of their own.
fn random_scores(env: &mut dyn Env, games: usize, seed: u64) -> deepq::Result<Vec<f32>> {
    let mut resets = ChaCha8Rng::seed_from_u64(seed);
    resets.set_stream(PLOT_RESET_STREAM);
    let mut actions = ChaCha8Rng::seed_from_u64(seed);
    actions.set_stream(PLOT_ACTION_STREAM);
    let n = env.num_actions();
    let stats = evaluate_policy(env, games, &mut resets, &mut |_| Ok(actions.random_range(0..n)))?;
    Ok(stats.returns)
}

/// The histograms of the classifier's and random play's scores, side by side in each bin.
fn score_chart(args: &Args, classifier: &[f32], random: &[f32]) -> Chart {
    let range = 0.0..f64::from(CartPole::v0().max_episode_steps() as u32);
    let bin = (range.end - range.start) / BINS as f64;
    let mean = |v: &[f32]| v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len().max(1) as f64;
    let bars = |values: &[f32], offset: f64| -> Vec<(f64, f64)> {
        plot::histogram(values, range.clone(), BINS)
            .into_iter()
            .map(|(x, share)| (x + offset, share))
            .collect()
    };
    let (classifier_bars, random_bars) = (bars(classifier, 0.5 * bin), bars(random, 0.05 * bin));
    let highest = classifier_bars.iter().chain(&random_bars).map(|b| b.1).fold(0.0, f64::max);
    let seeds = match args.runs {
        1 => format!("seed {}", args.seed),
        n => format!("seeds {}-{}", args.seed, args.seed + n - 1),
    };
    Chart {
        title: format!("CartPole-v0: the supervised classifier against random play ({seeds})"),
        x_label: "score (return of a game)".into(),
        y_label: "share of the games (%)".into(),
        x_range: range.clone(),
        y_range: 0.0..(1.1 * highest).clamp(10.0, 110.0),
        series: vec![
            Series {
                label: format!("random play, {} games: mean {:.1}", random.len(), mean(random)),
                color: (160, 160, 160),
                mark: Mark::Bars { width: 0.45 * bin },
                points: random_bars,
            },
            Series {
                label: format!(
                    "classifier, {} greedy games: mean {:.1}",
                    classifier.len(),
                    mean(classifier)
                ),
                color: (31, 78, 153),
                mark: Mark::Bars { width: 0.45 * bin },
                points: classifier_bars,
            },
        ],
    }
}

/// Why `path` cannot take the plot, if it cannot: a directory, or in a directory that does
/// not exist (checked before the runs, not after them).
fn unwritable(path: &Path) -> Option<String> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if path.is_dir() {
        Some(format!("--plot {}: is a directory", path.display()))
    } else if !parent.is_dir() {
        Some(format!("--plot {}: no directory {}", path.display(), parent.display()))
    } else {
        None
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    if let Some(message) = unwritable(&args.plot) {
        Args::command().error(ErrorKind::ValueValidation, message).exit();
    }
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
    let (mut classifier_scores, mut random_play) = (Vec::new(), Vec::new());
    for run in 0..args.runs {
        let seed = args.seed + run;
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
        json_lines.push(json_line(&RunLine {
            run: run + 1,
            seed,
            games: stats.games,
            accepted_games: stats.accepted_games,
            pairs: stats.pairs,
            mean: scores.mean,
            median: scores.median,
            sd: scores.sd,
            random_mean: stats.mean_score,
            collect_seconds: rounded(collect_s, 3),
            train_seconds: rounded(train_s, 3),
            play_seconds: rounded(play_s, 3),
        })?);
        classifier_scores.extend_from_slice(&scores.returns);
        random_play.extend(random_scores(&mut env, PLOT_RANDOM_GAMES, seed)?);
    }
    println!(
        "(mean, median, SD: {PLAY_GAMES} greedy games; random: mean score of all random games)"
    );
    let chart = score_chart(&args, &classifier_scores, &random_play);
    let png = chart.to_png().map_err(|e| e as Box<dyn Error>)?;
    atomic_write::write_atomic(&args.plot, &png)
        .map_err(|e| format!("--plot {}: {e}", args.plot.display()))?;
    println!("score distributions drawn in {}", args.plot.display());
    if args.json {
        for line in json_lines {
            println!("{line}");
        }
    }
    Ok(())
}
