//! # One task of the learning suite
//!
//! Trains `DqnConfig::for_task(id)` (the default with the task's preset, if it has one; seeded
//! with `--seed`) on one built-in Gymnasium task with the
//! protocol of the learning requirements, then prints one JSON line. `benchmarks/suite.sh` runs
//! it for every task and seed; `tests/learning.rs` checks the same protocol on fewer seeds.
//!
//! | task | budget | then |
//! |---|---|---|
//! | `CartPole-v0` | until solved (trailing 100-episode mean >= 195), at most 300 episodes | 100 greedy episodes; then trained on, without stopping, to 600 episodes and 100 greedy episodes again |
//! | `CartPole-v1` | until solved (>= 475), at most 1,000 episodes | 100 greedy episodes |
//! | `Acrobot-v1` | 100,000 environment steps | 100 greedy episodes |
//! | `MountainCar-v0` | 120,000 environment steps | 100 greedy episodes |
//!
//! The greedy episodes run on a separate environment from the trainer's evaluation RNG, so they
//! do not change the training run. Each evaluation reports the value diagnostics
//! (`deepq::ValueStats`): the mean `Q(s0, a0)`, the mean discounted return from `s0` and the
//! largest Q-value seen.
//!
//! ```text
//! cargo run --release --example task_suite -- --task Acrobot-v1 --seed 0 [--no-preset]
//! ```
//! `--no-preset` trains `DqnConfig::default()` where the task has a preset, to measure what the
//! preset buys (`DqnConfig::for_task`'s table). The JSON line has the keys `task, seed,
//! solved_at, episodes, env_steps, train_seconds, eval` (and `config: "default"` with
//! `--no-preset`)
//! and, for CartPole-v0, `continued` (`episodes, env_steps, train_seconds, eval`); each `eval` is
//! `{mean, min, q_start, discounted_return, max_q}` (a value that is not finite is `null`).
//! `train_seconds` is the wall time of training alone. On a terminal a progress bar shows the
//! run as it goes; otherwise (`benchmarks/suite.sh`, a pipe) the JSON line is the whole output.

#[path = "common/json_line.rs"]
mod json_line;
#[path = "common/progress.rs"]
mod progress;

use std::error::Error;
use std::ops::ControlFlow;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use deepq::{
    Acrobot, CartPole, DqnConfig, Env, EpisodeStats, EvalStats, MountainCar, TrainConfig,
    TrainReport, Trainer,
};
use serde::Serialize;

use json_line::{json_line, rounded};
use progress::Progress;

const EVAL_EPISODES: usize = 100;
/// CartPole-v0's episodes when it is trained on after solving.
const CONTINUED_EPISODES: usize = 600;

/// `--task`: a built-in task, by its Gymnasium id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Task {
    /// Until solved (>= 195) within 300 episodes, then trained on to 600.
    #[value(name = "CartPole-v0")]
    CartPoleV0,
    /// Until solved (>= 475) within 1,000 episodes.
    #[value(name = "CartPole-v1")]
    CartPoleV1,
    /// 100,000 environment steps.
    #[value(name = "Acrobot-v1")]
    AcrobotV1,
    /// 120,000 environment steps.
    #[value(name = "MountainCar-v0")]
    MountainCarV0,
}

impl Task {
    fn id(self) -> &'static str {
        match self {
            Task::CartPoleV0 => "CartPole-v0",
            Task::CartPoleV1 => "CartPole-v1",
            Task::AcrobotV1 => "Acrobot-v1",
            Task::MountainCarV0 => "MountainCar-v0",
        }
    }

    fn make(self) -> Box<dyn Env> {
        match self {
            Task::CartPoleV0 => Box::new(CartPole::v0()),
            Task::CartPoleV1 => Box::new(CartPole::v1()),
            Task::AcrobotV1 => Box::new(Acrobot::v1()),
            Task::MountainCarV0 => Box::new(MountainCar::v0()),
        }
    }

    /// The suite's budget for the task.
    fn train_config(self) -> TrainConfig {
        match self {
            Task::CartPoleV0 => TrainConfig::default()
                .with_episodes(300)
                .with_reward_threshold(CartPole::v0().reward_threshold()),
            Task::CartPoleV1 => TrainConfig::default()
                .with_episodes(1000)
                .with_reward_threshold(CartPole::v1().reward_threshold()),
            Task::AcrobotV1 => TrainConfig::default().with_max_env_steps(100_000),
            Task::MountainCarV0 => TrainConfig::default().with_max_env_steps(120_000),
        }
        .with_stop_when_solved(matches!(self, Task::CartPoleV0 | Task::CartPoleV1))
    }
}

/// Trains DqnConfig::for_task(TASK) on one built-in task with the learning suite's protocol and
/// prints one JSON line.
#[derive(Debug, Parser)]
#[command(name = "task_suite")]
struct Args {
    /// The task.
    #[arg(long, value_enum)]
    task: Task,
    /// Seed of the run.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Train `DqnConfig::default()` even where the task has a preset (the JSON line then has
    /// `"config": "default"`), to measure what the preset buys.
    #[arg(long)]
    no_preset: bool,
}

/// A greedy evaluation in the JSON line; non-finite values are `null`.
#[derive(Debug, Serialize)]
struct EvalLine {
    mean: f32,
    min: f32,
    q_start: f32,
    discounted_return: f32,
    max_q: f32,
}

impl EvalLine {
    fn new(e: &EvalStats) -> Result<Self, Box<dyn Error>> {
        let v = e.values.ok_or("the evaluation reported no value diagnostics")?;
        Ok(Self {
            mean: e.mean,
            min: e.min,
            q_start: v.mean_start_value,
            discounted_return: v.mean_discounted_return,
            max_q: v.max_value,
        })
    }
}

/// CartPole-v0's training on to 600 episodes, in the JSON line.
#[derive(Debug, Serialize)]
struct ContinuedLine {
    episodes: usize,
    env_steps: usize,
    train_seconds: f64,
    eval: EvalLine,
}

/// The JSON line.
#[derive(Debug, Serialize)]
struct SuiteLine {
    task: &'static str,
    seed: u64,
    /// `"default"` with `--no-preset`, absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<&'static str>,
    solved_at: Option<usize>,
    episodes: usize,
    env_steps: usize,
    train_seconds: f64,
    eval: EvalLine,
    #[serde(skip_serializing_if = "Option::is_none")]
    continued: Option<ContinuedLine>,
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let task = args.task;
    let (mut env, mut eval_env) = (task.make(), task.make());
    let dqn = if args.no_preset { DqnConfig::default() } else { DqnConfig::for_task(task.id()) }
        .with_seed(args.seed);
    let train = task.train_config();
    let mut trainer = Trainer::new(dqn, train.clone(), env.observation_dim(), env.num_actions())?;
    // A bar on a terminal (over episodes, or environment steps for a step budget); nothing
    // otherwise: the output is the one JSON line.
    let (total, by_steps) = match (train.max_env_steps, train.episodes) {
        (Some(steps), _) => (steps, true),
        (None, _) if task == Task::CartPoleV0 => (CONTINUED_EPISODES, false),
        (None, episodes) => (episodes.unwrap_or(0), false),
    };
    let unit = if by_steps { "env steps" } else { "episodes" };
    let progress = Progress::for_stdout(total as u64, unit);
    let mut observer = |s: &EpisodeStats| {
        progress.set_position(if by_steps { s.env_steps } else { s.episode } as u64);
        progress.set_message(&format!(
            "{} seed {}: episode {}, mean(100) {:.1}",
            task.id(),
            args.seed,
            s.episode,
            s.trailing_mean
        ));
        ControlFlow::Continue(())
    };
    let start = Instant::now();
    let report: TrainReport = trainer.train(env.as_mut(), None, &mut observer)?;
    let train_seconds = start.elapsed().as_secs_f64();
    let eval = trainer.evaluate(eval_env.as_mut(), EVAL_EPISODES)?;
    let mut line = SuiteLine {
        task: task.id(),
        seed: args.seed,
        config: args.no_preset.then_some("default"),
        solved_at: report.solved_at,
        episodes: report.episodes(),
        env_steps: report.env_steps,
        train_seconds: rounded(train_seconds, 3),
        eval: EvalLine::new(&eval)?,
        continued: None,
    };
    if task == Task::CartPoleV0 {
        trainer.set_config(train.with_episodes(CONTINUED_EPISODES).with_stop_when_solved(false))?;
        let start = Instant::now();
        let more = trainer.train(env.as_mut(), None, &mut observer)?;
        let seconds = start.elapsed().as_secs_f64();
        let eval = trainer.evaluate(eval_env.as_mut(), EVAL_EPISODES)?;
        line.continued = Some(ContinuedLine {
            episodes: more.episodes(),
            env_steps: more.env_steps,
            train_seconds: rounded(seconds, 3),
            eval: EvalLine::new(&eval)?,
        });
    }
    progress.finish();
    println!("{}", json_line(&line)?);
    Ok(())
}
