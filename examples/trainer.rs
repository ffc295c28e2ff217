//! # The tutorial's trainer
//!
//! The cloud tutorial's `trainer.py` in Rust: trains a DQN on CartPole with the tutorial's
//! flags and writes, into `--job-dir` (default `runs/trainer`):
//!
//! | file | what |
//! |---|---|
//! | `events.out.tfevents.*` | TensorBoard scalars, step = episode: Stable-Baselines3's tags as `deepq::TensorBoardLogger` writes them (`rollout/ep_rew_mean` and `rollout/ep_len_mean` over the last 100 episodes, `rollout/exploration_rate`, `train/loss`, `train/mean_q`, `train/learning_rate`, `train/n_updates`, `time/fps`, `eval/mean_reward`, `eval/mean_ep_length`, and the value diagnostics `eval/mean_start_value`, `eval/mean_discounted_return`, `eval/max_value`), plus `episode_reward` (each evaluation) and `eval/final_mean_reward` |
//! | `model.safetensors` | the trained Q-network (`deepq::Mlp::load`, or PyTorch's safetensors) |
//! | `recording.gif` | one greedy episode of the trained agent, drawn as Gymnasium draws the game (CartPole and MountainCar 600x400, Acrobot 500x500) at Gymnasium's frame rate (50, 30 and 15 fps) |
//! | `learning_curve.svg`, `learning_curve.png` | the learning curve (plotters): every episode's return, their trailing 100-episode mean, the greedy evaluations and the solve threshold, over the episodes |
//! | `metrics.csv` | one row per episode: episode, return, length, epsilon, loss, trailing_mean, env_steps, eval, ep_len_mean, mean_q, learning_rate, n_updates, eval_length |
//! | `config.json` | the flags and the resolved `DqnConfig` (as the `serde` feature writes it; `--config` reads the file back) |
//! | `checkpoint-<episode>.ckpt` | the whole run (`deepq::Trainer`'s checkpoint plus where the other files stood), every `--checkpoint_every` episodes; the newest two are kept |
//! | `best.safetensors` | with `--keep_best`: the network of the best greedy evaluation (Stable-Baselines3's `best_model`) |
//!
//! and reports every evaluation to the cloudml-hypertune metrics file that Vertex AI reads
//! (`$CLOUD_ML_HP_METRIC_FILE`, else `/tmp/hypertune/output.metrics`; see
//! `examples/trainer/vertex.rs`).
//!
//! Without `--job-dir`, Vertex AI's `AIP_MODEL_DIR`, `AIP_CHECKPOINT_DIR` and
//! `AIP_TENSORBOARD_LOG_DIR` are used where they are set (a `gs://bucket/path` as its Cloud
//! Storage FUSE mount `/gcs/bucket/path`): the outputs, the checkpoints and the event files.
//!
//! ```text
//! cargo run --release --example trainer -- --job-dir runs/trainer
//!     [--game CartPole-v0|CartPole-v1|Acrobot-v1|MountainCar-v0]
//!     [--episodes 300] [--learning_rate LR] [--hidden_neurons N] [--gamma G]
//!     [--explore_decay D] [--memory_size N] [--memory_batch_size N] [--print_rate 10]
//!     [--eval_rate 10] [--seed 0] [--preset default|tutorial | --config FILE.json]
//!     [--checkpoint_every N] [--resume] [--keep_best] [--overwrite]
//! ```
//!
//! `--resume` continues from the newest valid checkpoint (a damaged newest one falls back to the
//! one before, with a message; with none, it starts from scratch and says so, so a cluster can
//! always pass it). A run killed at any moment and resumed ends with a `model.safetensors`
//! byte-identical to the uninterrupted run's, and `metrics.csv`, the event file and the
//! hypertune file hold each episode once (`tests/trainer_resume.rs` kills it at random points).
//!
//! `--preset default` starts from `DqnConfig::default()` (the configuration that solves
//! CartPole), `--preset tutorial` from `DqnConfig::tutorial()` (the notebook's defaults and
//! algorithm: RMSprop at 0.2, gamma 0.5, epsilon multiplied by 0.1 per step, 30 hidden neurons,
//! batches of 8). A hyperparameter flag given on the command line overrides the preset; one left
//! out keeps the preset's value. `--hidden_neurons N` is two hidden layers of N. With
//! `--preset default`, `--explore_decay D` replaces the linear epsilon schedule by the tutorial's
//! multiplicative one, `Multiplicative { start: 1, floor: <the linear schedule's end>, decay: D }`.
//! Every episode is played (no early stop when solved, as the tutorial). Bad flags and bad values
//! (including `--memory_batch_size` above `--memory_size`) are errors with exit status 2.
//!
//! Expected output: a progress line every `--print_rate` episodes (on a terminal, a progress bar
//! instead, showing the latest line), `episode_reward=<return>` on
//! its own line after every greedy evaluation episode (every `--eval_rate` episodes; Katib's
//! StdOut metrics collector reads these lines), `final_episode_reward=<mean>` after a final
//! 10-episode greedy evaluation, with `--keep_best` a last `episode_reward=` line with the best
//! evaluation's return, its episode and its file, then the files written with their sizes. The default run
//! (300 episodes of CartPole-v0) takes seconds in release.

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
use std::io::{IsTerminal, Write};

use clap::{CommandFactory, FromArgMatches, error::ErrorKind, parser::ValueSource};

use args::TrainerArgs;

fn main() -> Result<(), Box<dyn Error>> {
    let matches = TrainerArgs::command().get_matches();
    let mut args = TrainerArgs::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // Vertex AI's output directories and metrics file, from the environment.
    let env = |name: &str| std::env::var(name).ok();
    let given = matches.value_source("job_dir") == Some(ValueSource::CommandLine);
    let dirs =
        vertex::JobDirs::resolve(given.then_some(args.job_dir.as_path()), &args.job_dir, &env);
    if !given {
        for (var, dir) in [
            ("AIP_MODEL_DIR", &dirs.job),
            ("AIP_CHECKPOINT_DIR", &dirs.checkpoints),
            ("AIP_TENSORBOARD_LOG_DIR", &dirs.tensorboard),
        ] {
            if let Some(uri) = env(var).filter(|v| !v.is_empty()) {
                println!("{var}={uri}: writing into {}", dir.display());
            }
        }
    }
    args.job_dir = dirs.job.clone();
    args.dirs = Some(dirs);
    args.hypertune = Some(vertex::HypertuneFile::from_env(&env));
    args.progress_bar = std::io::stdout().is_terminal();
    let config = match args.dqn_config() {
        Ok(config) => config,
        Err(message) => TrainerArgs::command().error(ErrorKind::ValueValidation, message).exit(),
    };
    println!(
        "training a DQN on {} for {} episodes (preset {}, seed {}) into {}",
        args.game.id(),
        args.episodes,
        args.preset.name(),
        args.seed,
        args.job_dir.display()
    );
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = match job::run(&args, &config, job::Outputs::ALL, &mut out) {
        Ok(result) => result,
        // A value the library refuses (a network too large to allocate, ...) is a bad flag, and
        // a job-dir that holds a previous run or is in use is a bad --job-dir: exit status 2
        // with the message, as clap's own errors.
        Err(e)
            if matches!(
                e.downcast_ref::<deepq::Error>(),
                Some(deepq::Error::InvalidConfig { .. })
            ) || e.downcast_ref::<job::UsageError>().is_some() =>
        {
            TrainerArgs::command().error(ErrorKind::ValueValidation, e.to_string()).exit()
        }
        Err(e) => return Err(e),
    };
    writeln!(
        out,
        "{} env steps in {:.1} s; last episode_reward {}, final {}-episode greedy mean {:.1} \
         (SD {:.1})",
        result.env_steps,
        result.wall_seconds,
        result.episode_reward.map_or("-".to_string(), |r| r.to_string()),
        job::FINAL_EVAL_EPISODES,
        result.final_eval.mean,
        result.final_eval.sd
    )?;
    write!(out, "{}", job::describe_files(&args.job_dir, &result.files))?;
    if let Some(h) = &args.hypertune {
        writeln!(out, "hypertune metrics (Vertex AI): {}", h.path().display())?;
    }
    Ok(())
}
