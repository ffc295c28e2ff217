//! The trainer's flags, as the cloud tutorial's `trainer.py` named them, and how they resolve
//! into a [`DqnConfig`].
//!
//! Shared by `examples/trainer.rs`, `examples/hypertune.rs` and `tests/deploy.rs` (which checks
//! that every flag the Katib manifest passes is one of these), so not every item is used by each.
#![allow(dead_code)]

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use deepq::{
    Acrobot, CartPole, DqnConfig, Env, Error, Exploration, Frame, MountainCar, Step, StepInfo,
};
use serde::{Serialize, Serializer};

use crate::vertex::{HypertuneFile, JobDirs};
use ndarray::Array1;
use rand::RngCore;

/// `--game`: the environment, by its Gymnasium id. An unknown id is a clap error that lists
/// these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Game {
    /// 200 steps per episode, solved at a 100-episode mean of 195.
    #[value(name = "CartPole-v0")]
    CartPoleV0,
    /// 500 steps per episode, solved at 475.
    #[value(name = "CartPole-v1")]
    CartPoleV1,
    /// Swing the tip of a two-link pendulum above a line: 500 steps, reward -1 per step,
    /// threshold -100.
    #[value(name = "Acrobot-v1")]
    AcrobotV1,
    /// Drive an underpowered car up a hill: 200 steps, reward -1 per step, threshold -110.
    #[value(name = "MountainCar-v0")]
    MountainCarV0,
}

impl Game {
    /// The Gymnasium id.
    pub fn id(self) -> &'static str {
        match self {
            Game::CartPoleV0 => "CartPole-v0",
            Game::CartPoleV1 => "CartPole-v1",
            Game::AcrobotV1 => "Acrobot-v1",
            Game::MountainCarV0 => "MountainCar-v0",
        }
    }

    /// A fresh environment.
    pub fn make(self) -> GameEnv {
        match self {
            Game::CartPoleV0 => GameEnv::CartPole(CartPole::v0()),
            Game::CartPoleV1 => GameEnv::CartPole(CartPole::v1()),
            Game::AcrobotV1 => GameEnv::Acrobot(Acrobot::v1()),
            Game::MountainCarV0 => GameEnv::MountainCar(MountainCar::v0()),
        }
    }

    /// Gymnasium's `metadata["render_fps"]` of the game: the frame rate of its recording.
    pub fn render_fps(self) -> u16 {
        match self {
            Game::CartPoleV0 | Game::CartPoleV1 => 50,
            Game::AcrobotV1 => 15,
            Game::MountainCarV0 => 30,
        }
    }
}

impl Serialize for Game {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// The environment of a [`Game`]: one of deepq's built-in tasks.
#[derive(Debug, Clone)]
pub enum GameEnv {
    /// CartPole-v0 or -v1.
    CartPole(CartPole),
    /// Acrobot-v1.
    Acrobot(Acrobot),
    /// MountainCar-v0.
    MountainCar(MountainCar),
}

impl GameEnv {
    fn env(&self) -> &dyn Env {
        match self {
            GameEnv::CartPole(e) => e,
            GameEnv::Acrobot(e) => e,
            GameEnv::MountainCar(e) => e,
        }
    }

    fn env_mut(&mut self) -> &mut dyn Env {
        match self {
            GameEnv::CartPole(e) => e,
            GameEnv::Acrobot(e) => e,
            GameEnv::MountainCar(e) => e,
        }
    }

    /// The current state drawn as Gymnasium draws it.
    pub fn render(&self) -> Frame {
        match self {
            GameEnv::CartPole(e) => e.render(),
            GameEnv::Acrobot(e) => e.render(),
            GameEnv::MountainCar(e) => e.render(),
        }
    }

    /// The trailing-mean return at which the task counts as solved.
    pub fn reward_threshold(&self) -> f32 {
        match self {
            GameEnv::CartPole(e) => e.reward_threshold(),
            GameEnv::Acrobot(e) => e.reward_threshold(),
            GameEnv::MountainCar(e) => e.reward_threshold(),
        }
    }

    /// The time limit of an episode.
    pub fn max_episode_steps(&self) -> usize {
        match self {
            GameEnv::CartPole(e) => e.max_episode_steps(),
            GameEnv::Acrobot(e) => e.max_episode_steps(),
            GameEnv::MountainCar(e) => e.max_episode_steps(),
        }
    }
}

impl Env for GameEnv {
    fn observation_dim(&self) -> usize {
        self.env().observation_dim()
    }

    fn num_actions(&self) -> usize {
        self.env().num_actions()
    }

    fn reset(&mut self, rng: &mut dyn RngCore) -> Array1<f32> {
        self.env_mut().reset(rng)
    }

    fn step(&mut self, action: usize) -> Result<Step, Error> {
        self.env_mut().step(action)
    }

    fn step_into(&mut self, action: usize, observation: &mut [f32]) -> Result<StepInfo, Error> {
        self.env_mut().step_into(action, observation)
    }
}

/// `--preset`: the configuration the other flags start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// `DqnConfig::default()`: the configuration that solves CartPole.
    Default,
    /// `DqnConfig::tutorial()`: the notebook's defaults and algorithm, as written.
    Tutorial,
}

impl Preset {
    /// The flag value.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Default => "default",
            Preset::Tutorial => "tutorial",
        }
    }
}

impl Serialize for Preset {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Trains a DQN on CartPole and writes TensorBoard logs, weights, a GIF of the trained agent, a
/// learning curve, per-episode metrics and the resolved config into --job-dir.
///
/// Hyperparameter flags left out keep the --preset's values; a flag given overrides it. Every
/// evaluation prints `episode_reward=<value>` on its own line (Katib's StdOut metrics format).
#[derive(Debug, Clone, PartialEq, Parser, Serialize)]
#[command(name = "trainer")]
pub struct TrainerArgs {
    /// The environment.
    #[arg(long, value_enum, default_value = "CartPole-v0")]
    pub game: Game,
    /// Training episodes; all of them are played (no early stop when solved, as the tutorial).
    #[arg(long, default_value_t = 300, value_parser = at_least_one)]
    pub episodes: usize,
    /// Learning rate of the preset's optimizer [default: the preset's].
    #[arg(long = "learning_rate", value_name = "LR", value_parser = positive)]
    pub learning_rate: Option<f32>,
    /// Units of each of the two hidden layers [default: the preset's].
    #[arg(long = "hidden_neurons", value_name = "N", value_parser = at_least_one)]
    pub hidden_neurons: Option<usize>,
    /// Discount factor in [0, 1] [default: the preset's].
    #[arg(long, value_parser = unit_interval)]
    pub gamma: Option<f32>,
    /// Multiply epsilon by this factor after every step, in (0, 1]. Given with --preset default,
    /// it replaces the linear schedule by a multiplicative one from 1 down to the linear
    /// schedule's final epsilon [default: the preset's schedule].
    #[arg(long = "explore_decay", value_name = "FACTOR", value_parser = decay_factor)]
    pub explore_decay: Option<f32>,
    /// Capacity of the replay memory [default: the preset's].
    #[arg(long = "memory_size", value_name = "N", value_parser = at_least_one)]
    pub memory_size: Option<usize>,
    /// Transitions sampled per gradient step, at most --memory_size [default: the preset's].
    #[arg(long = "memory_batch_size", value_name = "N", value_parser = at_least_one)]
    pub memory_batch_size: Option<usize>,
    /// Directory for the outputs (created if missing). Without it, Vertex AI's AIP_MODEL_DIR,
    /// AIP_CHECKPOINT_DIR and AIP_TENSORBOARD_LOG_DIR are used where set (gs://B/P as its
    /// Cloud Storage FUSE mount /gcs/B/P), else runs/trainer.
    #[arg(long = "job-dir", value_name = "DIR", default_value = "runs/trainer")]
    #[serde(rename = "job-dir")]
    pub job_dir: PathBuf,
    /// Print a progress line every this many episodes (0: never).
    #[arg(long = "print_rate", value_name = "N", default_value_t = 10)]
    pub print_rate: usize,
    /// Play one greedy evaluation episode every this many episodes and report its return as
    /// `episode_reward`.
    #[arg(long = "eval_rate", value_name = "N", default_value_t = 10, value_parser = at_least_one)]
    pub eval_rate: usize,
    /// Seed of the run's random number generator.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The configuration the hyperparameter flags override.
    #[arg(long, value_enum, default_value = "default")]
    pub preset: Preset,
    /// Start from this DqnConfig JSON instead of a preset: a bare DqnConfig (fields left out
    /// keep DqnConfig::default()'s values) or a job's config.json (its "dqn" object).
    /// Hyperparameter flags override it, and so does --seed (default 0), always.
    #[arg(long, value_name = "FILE", conflicts_with = "preset")]
    pub config: Option<PathBuf>,
    /// Write a checkpoint of the whole run every this many episodes (0: never) [default: the
    /// --eval_rate].
    #[arg(long = "checkpoint_every", value_name = "N")]
    pub checkpoint_every: Option<usize>,
    /// Continue from the newest valid checkpoint in the job's checkpoint directory (falling
    /// back to the one before if the newest is unreadable); with none, start from scratch.
    #[arg(long)]
    pub resume: bool,
    /// Keep the weights of the best greedy evaluation in best.safetensors and report it as
    /// the final episode_reward.
    #[arg(long = "keep_best")]
    pub keep_best: bool,

    /// Replace the files of a previous run in --job-dir (without it, a job-dir that holds a
    /// previous run's files is refused, so that a run never destroys another's results).
    #[arg(long)]
    pub overwrite: bool,

    /// Where the job writes (`None`: everything in --job-dir); set from the environment by the
    /// trainer's `main` ([`JobDirs::resolve`]).
    #[arg(skip)]
    #[serde(skip)]
    pub dirs: Option<JobDirs>,
    /// The cloudml-hypertune metrics file to report to (`None`: none); the trainer's `main`
    /// sets it from the environment ([`HypertuneFile::from_env`]).
    #[arg(skip)]
    #[serde(skip)]
    pub hypertune: Option<HypertuneFile>,
    /// Draw a progress bar instead of the progress lines (the trainer's `main` sets it when
    /// stdout is a terminal).
    #[arg(skip)]
    #[serde(skip)]
    pub progress_bar: bool,
}

impl TrainerArgs {
    /// The preset's [`DqnConfig`] with every flag given applied, validated.
    ///
    /// `--hidden_neurons N` is two hidden layers of N. `--explore_decay d` keeps a
    /// multiplicative schedule's start and floor; a linear schedule (`--preset default`)
    /// becomes `Multiplicative { start, floor: end, decay: d }`.
    ///
    /// # Errors
    /// The config's validation error, prefixed with the flag that broke the rule.
    pub fn dqn_config(&self) -> Result<DqnConfig, String> {
        let mut config = match (&self.config, self.preset) {
            (Some(path), _) => read_config_file(path)?,
            (None, Preset::Default) => DqnConfig::default(),
            (None, Preset::Tutorial) => DqnConfig::tutorial(),
        };
        if let Some(lr) = self.learning_rate {
            config = config.with_learning_rate(lr);
        }
        if let Some(n) = self.hidden_neurons {
            config.hidden = vec![n, n];
        }
        if let Some(gamma) = self.gamma {
            config.gamma = gamma;
        }
        if let Some(decay) = self.explore_decay {
            config.exploration = match config.exploration {
                Exploration::Multiplicative { start, floor, .. } => {
                    Exploration::Multiplicative { start, floor, decay }
                }
                Exploration::Linear { start, end, .. } => {
                    Exploration::Multiplicative { start, floor: end, decay }
                }
            };
        }
        if let Some(n) = self.memory_size {
            config.memory_size = n;
        }
        if let Some(n) = self.memory_batch_size {
            config.batch_size = n;
        }
        config.seed = self.seed;
        config.validate().map_err(|e| match &e {
            Error::InvalidConfig { field, .. } => match flag_of(field) {
                Some(flag) => format!("invalid value for {flag}: {e}"),
                None => match &self.config {
                    Some(path) => format!("invalid config (--config {}): {e}", path.display()),
                    None => format!("invalid config (--preset {}): {e}", self.preset.name()),
                },
            },
            _ => e.to_string(),
        })?;
        Ok(config)
    }

    /// The directories the job writes into.
    pub fn job_dirs(&self) -> JobDirs {
        self.dirs.clone().unwrap_or_else(|| JobDirs::all_in(&self.job_dir))
    }

    /// Episodes between checkpoints (0: none).
    pub fn checkpoint_interval(&self) -> usize {
        self.checkpoint_every.unwrap_or(self.eval_rate)
    }
}

/// A `--config` file: a `DqnConfig` as the `serde` feature writes it, or a job's `config.json`
/// whose `dqn` object is one.
fn read_config_file(path: &std::path::Path) -> Result<DqnConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--config {}: cannot read it: {e}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("--config {}: not JSON: {e}", path.display()))?;
    let dqn = match value.get("dqn") {
        Some(inner) if value.get("flags").is_some() => inner.clone(),
        _ => value,
    };
    serde_json::from_value(dqn)
        .map_err(|e| format!("--config {}: not a DqnConfig: {e}", path.display()))
}

/// The flag that sets a `DqnConfig` field, if one does.
fn flag_of(field: &str) -> Option<&'static str> {
    Some(match field {
        "hidden" => "--hidden_neurons",
        "gamma" => "--gamma",
        "memory_size" => "--memory_size",
        "batch_size" => "--memory_batch_size",
        "exploration.decay" => "--explore_decay",
        f if f.starts_with("optimizer") => "--learning_rate",
        _ => return None,
    })
}

/// A count of at least 1. An integral decimal (`256.0`) is taken too: Vertex AI may pass a
/// DISCRETE parameter's value in that form.
fn at_least_one(s: &str) -> Result<usize, String> {
    let n = match s.parse::<usize>() {
        Ok(n) => n,
        Err(e) => match s.parse::<f64>() {
            Ok(v) if v.fract() == 0.0 && v >= 0.0 && v < 2f64.powi(53) => v as usize,
            _ => return Err(format!("{e}")),
        },
    };
    if n == 0 { Err("must be at least 1".into()) } else { Ok(n) }
}

fn float(s: &str) -> Result<f32, String> {
    let v: f32 = s.parse().map_err(|e| format!("{e}"))?;
    if v.is_finite() { Ok(v) } else { Err("must be finite".into()) }
}

fn positive(s: &str) -> Result<f32, String> {
    let v = float(s)?;
    if v > 0.0 { Ok(v) } else { Err("must be > 0".into()) }
}

fn unit_interval(s: &str) -> Result<f32, String> {
    let v = float(s)?;
    if (0.0..=1.0).contains(&v) { Ok(v) } else { Err("must be in [0, 1]".into()) }
}

fn decay_factor(s: &str) -> Result<f32, String> {
    let v = float(s)?;
    if v > 0.0 && v <= 1.0 { Ok(v) } else { Err("must be in (0, 1]".into()) }
}
