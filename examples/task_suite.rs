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
//! cargo run --release --example task_suite -- --task Acrobot-v1 --seed 0
//! ```
//! The JSON line has the keys `task, seed, solved_at, episodes, env_steps, train_seconds, eval`
//! and, for CartPole-v0, `continued` (`episodes, env_steps, train_seconds, eval`); each `eval` is
//! `{mean, min, q_start, discounted_return, max_q}`. `train_seconds` is the wall time of
//! training alone.

use std::error::Error;
use std::ops::ControlFlow;
use std::time::Instant;

use deepq::{
    Acrobot, CartPole, DqnConfig, Env, EvalStats, MountainCar, TrainConfig, TrainReport, Trainer,
};

const USAGE: &str =
    "usage: task_suite --task CartPole-v0|CartPole-v1|Acrobot-v1|MountainCar-v0 [--seed N]";
const EVAL_EPISODES: usize = 100;

fn env_for(task: &str) -> Option<Box<dyn Env>> {
    Some(match task {
        "CartPole-v0" => Box::new(CartPole::v0()),
        "CartPole-v1" => Box::new(CartPole::v1()),
        "Acrobot-v1" => Box::new(Acrobot::v1()),
        "MountainCar-v0" => Box::new(MountainCar::v0()),
        _ => return None,
    })
}

fn num(x: f32) -> String {
    if x.is_finite() { format!("{x}") } else { "null".into() }
}

fn eval_json(e: &EvalStats) -> String {
    let v = e.values.expect("a DqnAgent reports values");
    format!(
        r#"{{"mean": {}, "min": {}, "q_start": {}, "discounted_return": {}, "max_q": {}}}"#,
        num(e.mean),
        num(e.min),
        num(v.mean_start_value),
        num(v.mean_discounted_return),
        num(v.max_value)
    )
}

fn main() -> Result<(), Box<dyn Error>> {
    let (mut task, mut seed) = (None, 0u64);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--task" => task = Some(args.next().ok_or("--task needs a value")?),
            "--seed" => seed = args.next().ok_or("--seed needs a value")?.parse()?,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => {
                eprintln!("unknown flag {other}\n{USAGE}");
                std::process::exit(2);
            }
        }
    }
    let task = task.ok_or(USAGE)?;
    let (Some(mut env), Some(mut eval_env)) = (env_for(&task), env_for(&task)) else {
        eprintln!("unknown task {task}\n{USAGE}");
        std::process::exit(2);
    };
    let dqn = DqnConfig::for_task(&task).with_seed(seed);
    let train = match task.as_str() {
        "CartPole-v0" => TrainConfig::default()
            .with_episodes(300)
            .with_reward_threshold(CartPole::v0().reward_threshold()),
        "CartPole-v1" => TrainConfig::default()
            .with_episodes(1000)
            .with_reward_threshold(CartPole::v1().reward_threshold()),
        "Acrobot-v1" => TrainConfig::default().with_max_env_steps(100_000),
        _ => TrainConfig::default().with_max_env_steps(120_000),
    }
    .with_stop_when_solved(task.starts_with("CartPole"));
    let mut trainer = Trainer::new(dqn, train.clone(), env.observation_dim(), env.num_actions())?;
    let mut quiet = |_: &deepq::EpisodeStats| ControlFlow::Continue(());
    let start = Instant::now();
    let report: TrainReport = trainer.train(env.as_mut(), None, &mut quiet)?;
    let train_seconds = start.elapsed().as_secs_f64();
    let eval = trainer.evaluate(eval_env.as_mut(), EVAL_EPISODES)?;
    let solved_at = report.solved_at.map_or("null".into(), |e| e.to_string());
    let mut line = format!(
        r#"{{"task": "{task}", "seed": {seed}, "solved_at": {solved_at}, "episodes": {}, "env_steps": {}, "train_seconds": {train_seconds:.3}, "eval": {}"#,
        report.episodes(),
        report.env_steps,
        eval_json(&eval)
    );
    if task == "CartPole-v0" {
        trainer.set_config(train.with_episodes(600).with_stop_when_solved(false))?;
        let start = Instant::now();
        let more = trainer.train(env.as_mut(), None, &mut quiet)?;
        let seconds = start.elapsed().as_secs_f64();
        let eval = trainer.evaluate(eval_env.as_mut(), EVAL_EPISODES)?;
        line.push_str(&format!(
            r#", "continued": {{"episodes": {}, "env_steps": {}, "train_seconds": {seconds:.3}, "eval": {}}}"#,
            more.episodes(),
            more.env_steps,
            eval_json(&eval)
        ));
    }
    line.push('}');
    println!("{line}");
    Ok(())
}
