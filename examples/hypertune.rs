//! # Hyperparameter search, on every local core
//!
//! The cloud tutorial's tuning job without the cloud: runs the trainer (`examples/trainer.rs`)
//! as many trials over the notebook's search space, in parallel on all local cores (a rayon pool;
//! `--jobs N` to choose), and ranks the trials by their greedy reward.
//!
//! | parameter | trainer flag | random search (`--search random`, default) | grid (`--search grid`) |
//! |---|---|---|---|
//! | learning rate | `--learning_rate` | log-uniform in [1e-4, 1e-1], 3 significant digits | 1e-4, 1e-3, 1e-2, 1e-1 |
//! | hidden neurons | `--hidden_neurons` | uniform integer in [10, 50] | 10, 30, 50 |
//! | gamma | `--gamma` | uniform in [0.8, 1.0], 3 decimals | 0.8, 0.9, 1.0 |
//! | batch size | `--memory_batch_size` | one of 4, 16, 32, 64, 128, 256 | all six |
//!
//! Random search runs 15 trials by default, as the notebook; the grid has 216 points and
//! `--trials N` takes N distinct points of it, drawn from `--seed`. The search space is drawn from `--seed`; trial `i`
//! (from 0) trains with seed `--seed + i`, so every trial is deterministic and can be replayed
//! alone with the `trainer` command printed in the results. Each trial writes a full trainer
//! job directory `trial-NN` under `--out` (default `runs/hypertune`; `--light` leaves out the
//! GIF and the plots); `tensorboard --logdir runs/hypertune` shows all of them.
//!
//! ```text
//! cargo run --release --example hypertune -- [--trials 15] [--search random|grid] [--jobs N]
//!     [--seed 0] [--episodes 300] [--game CartPole-v0] [--preset default|tutorial]
//!     [--eval_rate 10] [--out runs/hypertune] [--light]
//! ```
//!
//! Expected output: a line as each trial finishes (on a terminal, a progress bar over the trials
//! instead, showing the latest line), then the trials ranked by
//! `final_episode_reward` (the mean of 10 greedy episodes after training; ties broken by
//! `episode_reward`, the last periodic evaluation), and the wall time. `results.json` and
//! `results.csv` in `--out` hold each trial's flags, seed, rewards and job directory. 15 trials
//! of 300 CartPole-v0 episodes took 17 to 26 s of wall time on 2 shared cores when measured.

#[path = "trainer/args.rs"]
mod args;
#[path = "common/atomic_write.rs"]
mod atomic_write;
#[path = "trainer/job.rs"]
mod job;
#[path = "common/plot.rs"]
mod plot;
#[path = "common/progress.rs"]
mod progress;
#[path = "trainer/vertex.rs"]
mod vertex;

use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde_json::json;

use args::{Game, Preset, TrainerArgs};
use job::{JobResult, Outputs, decimal};
use progress::Progress;

/// The notebook's batch sizes.
const BATCH_SIZES: [usize; 6] = [4, 16, 32, 64, 128, 256];
/// Learning-rate range (log-uniform).
const LEARNING_RATE: (f64, f64) = (1e-4, 1e-1);
/// Hidden-neuron range, inclusive.
const HIDDEN_NEURONS: (usize, usize) = (10, 50);
/// Gamma range.
const GAMMA: (f64, f64) = (0.8, 1.0);
/// Grid levels of the continuous parameters.
const GRID_LEARNING_RATES: [f32; 4] = [1e-4, 1e-3, 1e-2, 1e-1];
const GRID_HIDDEN: [usize; 3] = [10, 30, 50];
const GRID_GAMMAS: [f32; 3] = [0.8, 0.9, 1.0];
/// ChaCha8 stream of the search-space draws (trials train on stream 0 of their own seeds).
const SEARCH_STREAM: u64 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Search {
    Random,
    Grid,
}

/// Random or grid search over the notebook's space, one trainer job per trial, in parallel.
#[derive(Debug, Parser)]
#[command(name = "hypertune")]
struct HypertuneArgs {
    /// Trials to run [default: 15 for random search, the whole grid (216) for grid search].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    trials: Option<u32>,
    /// How to choose the trials.
    #[arg(long, value_enum, default_value = "random")]
    search: Search,
    /// Trials run at once [default: the number of local cores].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    jobs: Option<u32>,
    /// Seed of the search-space draws; trial i trains with seed + i.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Training episodes of each trial.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..))]
    episodes: u32,
    /// The environment of every trial.
    #[arg(long, value_enum, default_value = "CartPole-v0")]
    game: Game,
    /// The configuration the searched flags override.
    #[arg(long, value_enum, default_value = "default")]
    preset: Preset,
    /// Greedy evaluation episode every this many episodes.
    #[arg(long = "eval_rate", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    eval_rate: u32,
    /// Output directory: one trainer job directory per trial, results.json, results.csv.
    #[arg(long, default_value = "runs/hypertune")]
    out: PathBuf,
    /// Replace the trials of a previous search in --out (passed to every trial's trainer).
    #[arg(long)]
    overwrite: bool,
    /// Leave out each trial's GIF and learning-curve plots (SVG and PNG).
    #[arg(long)]
    light: bool,
}

/// One point of the search space.
#[derive(Debug, Clone, Copy)]
struct Point {
    learning_rate: f32,
    hidden_neurons: usize,
    gamma: f32,
    memory_batch_size: usize,
}

/// `v` rounded to `digits` significant digits.
fn significant(v: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits - 1 - v.abs().log10().floor() as i32);
    (v * scale).round() / scale
}

fn random_points(n: usize, seed: u64) -> Vec<Point> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(SEARCH_STREAM);
    (0..n)
        .map(|_| {
            let (lo, hi) = (LEARNING_RATE.0.ln(), LEARNING_RATE.1.ln());
            let lr = significant(rng.random_range(lo..=hi).exp(), 3);
            let gamma = (rng.random_range(GAMMA.0..=GAMMA.1) * 1000.0).round() / 1000.0;
            Point {
                learning_rate: lr as f32,
                hidden_neurons: rng.random_range(HIDDEN_NEURONS.0..=HIDDEN_NEURONS.1),
                gamma: gamma as f32,
                memory_batch_size: BATCH_SIZES[rng.random_range(0..BATCH_SIZES.len())],
            }
        })
        .collect()
}

/// The whole grid, or `n` distinct points of it drawn with a seeded shuffle (kept in grid
/// order), so that a few trials still vary every parameter.
fn grid_points(n: Option<usize>, seed: u64) -> Vec<Point> {
    let mut grid = Vec::new();
    for &learning_rate in &GRID_LEARNING_RATES {
        for &hidden_neurons in &GRID_HIDDEN {
            for &gamma in &GRID_GAMMAS {
                for &memory_batch_size in &BATCH_SIZES {
                    grid.push(Point { learning_rate, hidden_neurons, gamma, memory_batch_size });
                }
            }
        }
    }
    match n {
        Some(n) if n < grid.len() => {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(SEARCH_STREAM);
            let mut chosen: Vec<usize> = (0..grid.len()).collect();
            chosen.shuffle(&mut rng);
            chosen.truncate(n);
            chosen.sort_unstable();
            chosen.into_iter().map(|i| grid[i]).collect()
        }
        _ => grid,
    }
}

/// The trainer flags of one trial.
fn trial_args(h: &HypertuneArgs, i: usize, p: &Point) -> TrainerArgs {
    TrainerArgs {
        game: h.game,
        episodes: h.episodes as usize,
        learning_rate: Some(p.learning_rate),
        hidden_neurons: Some(p.hidden_neurons),
        gamma: Some(p.gamma),
        explore_decay: None,
        memory_size: None,
        memory_batch_size: Some(p.memory_batch_size),
        job_dir: h.out.join(format!("trial-{i:02}")),
        print_rate: 0,
        eval_rate: h.eval_rate as usize,
        seed: h.seed + i as u64,
        preset: h.preset,
        config: None,
        checkpoint_every: Some(0),
        resume: false,
        keep_best: false,
        overwrite: h.overwrite,
        dirs: None,
        hypertune: None,
        progress_bar: false,
    }
}

/// The `trainer` command line that replays a trial.
fn command(a: &TrainerArgs) -> String {
    format!(
        "cargo run --release --example trainer -- --game {} --episodes {} --preset {} \
         --learning_rate {} --hidden_neurons {} --gamma {} --memory_batch_size {} \
         --eval_rate {} --seed {} --job-dir {}",
        a.game.id(),
        a.episodes,
        a.preset.name(),
        a.learning_rate.unwrap_or(f32::NAN),
        a.hidden_neurons.unwrap_or(0),
        a.gamma.unwrap_or(f32::NAN),
        a.memory_batch_size.unwrap_or(0),
        a.eval_rate,
        a.seed,
        a.job_dir.display()
    )
}

struct Trial {
    index: usize,
    args: TrainerArgs,
    result: Result<JobResult, String>,
}

impl Trial {
    /// Sort key: final greedy mean, then the last evaluation (failed trials last).
    fn key(&self) -> (f32, f32) {
        match &self.result {
            Ok(r) => (r.final_eval.mean, r.episode_reward.unwrap_or(f32::NEG_INFINITY)),
            Err(_) => (f32::NEG_INFINITY, f32::NEG_INFINITY),
        }
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let h = HypertuneArgs::parse();
    let points = match h.search {
        Search::Random => random_points(h.trials.unwrap_or(15) as usize, h.seed),
        Search::Grid => grid_points(h.trials.map(|n| n as usize), h.seed),
    };
    let jobs = match h.jobs {
        Some(j) => j as usize,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let outputs = Outputs { gif: !h.light, plot: !h.light };
    std::fs::create_dir_all(&h.out)?;
    println!(
        "{} trials ({:?} search, {} episodes of {} each, preset {}) on {jobs} threads into {}",
        points.len(),
        h.search,
        h.episodes,
        h.game.id(),
        h.preset.name(),
        h.out.display()
    );

    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs).build()?;
    let start = Instant::now();
    let total = points.len();
    let progress = Progress::for_stdout(total as u64, "trials");
    let finished = std::sync::atomic::AtomicU64::new(0);
    let mut trials: Vec<Trial> = pool.install(|| {
        points
            .par_iter()
            .enumerate()
            .map(|(index, point)| {
                let args = trial_args(&h, index, point);
                let result = args.dqn_config().and_then(|config| {
                    job::run(&args, &config, outputs, &mut std::io::sink())
                        .map_err(|e| e.to_string())
                });
                let line = match &result {
                    Ok(r) => format!(
                        "trial {index:2} done in {:5.1} s: final_episode_reward {:.1}, \
                         episode_reward {}",
                        r.wall_seconds,
                        r.final_eval.mean,
                        r.episode_reward.map_or("-".into(), |v| v.to_string())
                    ),
                    Err(e) => format!("trial {index:2} failed: {e}"),
                };
                let done = finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                progress.set_position(done);
                // A trial's line is progress; one that cannot be written is no reason to lose
                // the search.
                let _ = progress.line(&mut std::io::stdout(), &line);
                Trial { index, args, result }
            })
            .collect()
    });
    progress.finish();
    let wall = start.elapsed().as_secs_f64();
    trials.sort_by(|a, b| b.key().partial_cmp(&a.key()).unwrap_or(std::cmp::Ordering::Equal));

    let mut table = format!(
        "{:>4} {:>5} {:>4} {:>13} {:>6} {:>6} {:>5} {:>14} {:>20} {:>9} {:>7} {:>6}\n",
        "rank",
        "trial",
        "seed",
        "learning_rate",
        "hidden",
        "gamma",
        "batch",
        "episode_reward",
        "final_episode_reward",
        "mean(100)",
        "steps",
        "secs"
    );
    let mut csv = String::from(
        "rank,trial,seed,learning_rate,hidden_neurons,gamma,memory_batch_size,episode_reward,\
         final_episode_reward,final_sd,train_mean_100,env_steps,wall_seconds,job_dir,error\n",
    );
    let mut rows = Vec::new();
    for (rank, t) in trials.iter().enumerate() {
        let a = &t.args;
        let (lr, hidden, gamma, batch) = (
            a.learning_rate.unwrap_or(f32::NAN),
            a.hidden_neurons.unwrap_or(0),
            a.gamma.unwrap_or(f32::NAN),
            a.memory_batch_size.unwrap_or(0),
        );
        let dir = a.job_dir.display().to_string();
        match &t.result {
            Ok(r) => {
                let er = r.episode_reward.map_or("-".into(), |v| v.to_string());
                let _ = writeln!(
                    table,
                    "{:>4} {:>5} {:>4} {lr:>13} {hidden:>6} {gamma:>6} {batch:>5} {er:>14} \
                     {:>20.1} {:>9.1} {:>7} {:>6.1}",
                    rank + 1,
                    t.index,
                    a.seed,
                    r.final_eval.mean,
                    r.trailing_mean,
                    r.env_steps,
                    r.wall_seconds
                );
                let _ = writeln!(
                    csv,
                    "{},{},{},{lr},{hidden},{gamma},{batch},{},{},{},{},{},{:.3},{dir},",
                    rank + 1,
                    t.index,
                    a.seed,
                    r.episode_reward.map_or(String::new(), |v| v.to_string()),
                    r.final_eval.mean,
                    r.final_eval.sd,
                    r.trailing_mean,
                    r.env_steps,
                    r.wall_seconds
                );
            }
            Err(e) => {
                let _ = writeln!(
                    table,
                    "{:>4} {:>5} {:>4} {lr:>13} {hidden:>6} {gamma:>6} {batch:>5} failed: {e}",
                    rank + 1,
                    t.index,
                    a.seed
                );
                let _ = writeln!(
                    csv,
                    "{},{},{},{lr},{hidden},{gamma},{batch},,,,,,,{dir},\"{}\"",
                    rank + 1,
                    t.index,
                    a.seed,
                    e.replace('"', "\"\"")
                );
            }
        }
        let ok = t.result.as_ref().ok();
        rows.push(json!({
            "rank": rank + 1,
            "trial": t.index,
            "seed": a.seed,
            "learning_rate": decimal(lr),
            "hidden_neurons": hidden,
            "gamma": decimal(gamma),
            "memory_batch_size": batch,
            "episode_reward": ok.and_then(|r| r.episode_reward).map(decimal),
            "final_episode_reward": ok.map(|r| decimal(r.final_eval.mean)),
            "final_eval_returns": ok.map(|r| r.final_eval.returns.clone()),
            "train_mean_100": ok.map(|r| decimal(r.trailing_mean)),
            "env_steps": ok.map(|r| r.env_steps),
            "wall_seconds": ok.map(|r| r.wall_seconds),
            "job_dir": dir,
            "command": command(a),
            "error": t.result.as_ref().err(),
        }));
    }
    let results = json!({
        "search": format!("{:?}", h.search).to_lowercase(),
        "game": h.game.id(),
        "preset": h.preset.name(),
        "episodes": h.episodes,
        "eval_rate": h.eval_rate,
        "seed": h.seed,
        "jobs": jobs,
        "wall_seconds": wall,
        "ranked_by": "final_episode_reward (mean of 10 greedy episodes), then episode_reward",
        "trials": rows,
    });
    std::fs::write(h.out.join("results.json"), serde_json::to_string_pretty(&results)? + "\n")?;
    std::fs::write(h.out.join("results.csv"), csv)?;

    print!("\n{table}");
    println!(
        "\n{total} trials on {jobs} threads in {wall:.1} s wall time; results in {} and {}",
        h.out.join("results.json").display(),
        h.out.join("results.csv").display()
    );
    if let Some(best) = trials.first().filter(|t| t.result.is_ok()) {
        println!("best trial: {}", command(&best.args));
    }
    Ok(())
}
