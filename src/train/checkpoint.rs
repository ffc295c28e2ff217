//! [`Trainer`] checkpoints: the whole run in one safetensors file.
//!
//! # Format (`format = deepq.checkpoint`, `format_version = 1`)
//! One [`StateDict`] written by [`StateDict::to_bytes`]: a safetensors file whose header
//! metadata holds every scalar as text and a CRC-32C `checksum` over all of it.
//!
//! | names | what |
//! |---|---|
//! | `agent.config.*` | the [`DqnConfig`](crate::DqnConfig) |
//! | `agent.online.layers.N.{weight,bias}`, `agent.online.optimizer_state.*` | the online network and its optimizer's step count and moments |
//! | `agent.target.layers.N.*` | the target network |
//! | `agent.memory.*` | the replay memory: transitions, write position, priorities, beta |
//! | `agent.{epsilon,env_steps,episodes,gradient_steps,...}` | the agent's counters |
//! | `train.*` | the [`TrainConfig`] |
//! | `progress.*` | the loop: returns, lengths, trailing-window sum, solved state, evaluations |
//! | `best.*` | the best evaluation's network, with `keep_best` |
//! | `rng.*`, `eval_rng.*` | both ChaCha8 RNGs: seed, stream and word position |

use std::path::Path;

use rand_chacha::ChaCha8Rng;

use super::trainer::Trainer;
use super::{
    CutEpisode, EvalConfig, EvalStats, Evaluation, Interval, Progress, StopReason, TrainConfig,
    ValueStats,
};
use crate::agent::DqnAgent;
use crate::atomic_file::write_atomic;
use crate::error::{Error, Result};
use crate::nn::Mlp;
use crate::policy::Policy;
use crate::state_dict::StateDict;

const FORMAT: &str = "deepq.checkpoint";
const FORMAT_VERSION: &str = "1";

fn invalid(reason: String) -> Error {
    Error::InvalidCheckpoint { origin: "<bytes>".into(), reason }
}

/// Replaces the origin of a checkpoint error.
fn with_origin(e: Error, origin: &str) -> Error {
    match e {
        Error::InvalidCheckpoint { reason, .. } => {
            Error::InvalidCheckpoint { origin: origin.to_string(), reason }
        }
        other => Error::InvalidCheckpoint { origin: origin.to_string(), reason: other.to_string() },
    }
}

fn save_rng(prefix: &str, rng: &ChaCha8Rng, dict: &mut StateDict) {
    let seed: String = rng.get_seed().iter().map(|b| format!("{b:02x}")).collect();
    dict.set(format!("{prefix}seed"), seed);
    dict.set(format!("{prefix}stream"), rng.get_stream());
    dict.set(format!("{prefix}word_pos"), rng.get_word_pos());
}

fn load_rng(prefix: &str, dict: &StateDict) -> Result<ChaCha8Rng> {
    use rand::SeedableRng;
    let text = dict.get(&format!("{prefix}seed"))?;
    let bytes: Option<Vec<u8>> = (text.len() == 64 && text.is_ascii())
        .then(|| (0..32).map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()).collect())
        .flatten();
    let seed: [u8; 32] = bytes
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| invalid(format!("{prefix}seed = {text:?} is not 64 hex digits")))?;
    let mut rng = ChaCha8Rng::from_seed(seed);
    rng.set_stream(dict.parse(&format!("{prefix}stream"))?);
    rng.set_word_pos(dict.parse(&format!("{prefix}word_pos"))?);
    Ok(rng)
}

fn interval_text(i: Interval) -> String {
    match i {
        Interval::Episodes(n) => format!("episodes {n}"),
        Interval::EnvSteps(n) => format!("env_steps {n}"),
    }
}

fn interval_from(text: &str) -> Result<Interval> {
    let bad = || invalid(format!("train.eval.every = {text:?} is not an interval"));
    let (kind, n) = text.split_once(' ').ok_or_else(bad)?;
    let n: usize = n.parse().map_err(|_| bad())?;
    match kind {
        "episodes" => Ok(Interval::Episodes(n)),
        "env_steps" => Ok(Interval::EnvSteps(n)),
        _ => Err(bad()),
    }
}

fn save_train_config(c: &TrainConfig, dict: &mut StateDict) {
    let TrainConfig {
        episodes,
        max_env_steps,
        reward_threshold,
        solve_window,
        stop_when_solved,
        max_episode_steps,
        eval,
    } = c;
    dict.set_option("train.episodes", *episodes);
    dict.set_option("train.max_env_steps", *max_env_steps);
    dict.set_option("train.reward_threshold", *reward_threshold);
    dict.set("train.solve_window", solve_window);
    dict.set("train.stop_when_solved", stop_when_solved);
    dict.set("train.max_episode_steps", max_episode_steps);
    dict.set("train.eval", eval.is_some());
    if let Some(EvalConfig { episodes, every, keep_best }) = eval {
        dict.set("train.eval.episodes", episodes);
        dict.set("train.eval.every", interval_text(*every));
        dict.set("train.eval.keep_best", keep_best);
    }
}

fn load_train_config(dict: &StateDict) -> Result<TrainConfig> {
    let eval = if dict.parse("train.eval")? {
        Some(EvalConfig {
            episodes: dict.parse("train.eval.episodes")?,
            every: interval_from(dict.get("train.eval.every")?)?,
            keep_best: dict.parse("train.eval.keep_best")?,
        })
    } else {
        None
    };
    let config = TrainConfig {
        episodes: dict.parse_option("train.episodes")?,
        max_env_steps: dict.parse_option("train.max_env_steps")?,
        reward_threshold: dict.parse_option("train.reward_threshold")?,
        solve_window: dict.parse("train.solve_window")?,
        stop_when_solved: dict.parse("train.stop_when_solved")?,
        max_episode_steps: dict.parse("train.max_episode_steps")?,
        eval,
    };
    config.validate().map_err(|e| invalid(format!("train config: {e}")))?;
    Ok(config)
}

fn stop_text(reason: &Option<StopReason>) -> String {
    match reason {
        None => "none".into(),
        Some(StopReason::EpisodeBudget) => "episode_budget".into(),
        Some(StopReason::StepBudget) => "step_budget".into(),
        Some(StopReason::Solved) => "solved".into(),
        Some(StopReason::Observer) => "observer".into(),
        Some(StopReason::Error(message)) => format!("error: {message}"),
    }
}

fn stop_from(text: &str) -> Result<Option<StopReason>> {
    Ok(match text {
        "none" => None,
        "episode_budget" => Some(StopReason::EpisodeBudget),
        "step_budget" => Some(StopReason::StepBudget),
        "solved" => Some(StopReason::Solved),
        "observer" => Some(StopReason::Observer),
        other => match other.strip_prefix("error: ") {
            Some(message) => Some(StopReason::Error(message.to_string())),
            None => return Err(invalid(format!("progress.stop_reason = {other:?} is unknown"))),
        },
    })
}

fn to_u64(v: &[usize]) -> Vec<u64> {
    v.iter().map(|&x| x as u64).collect()
}

fn to_usize(name: &str, v: &[u64]) -> Result<Vec<usize>> {
    v.iter()
        .map(|&x| {
            usize::try_from(x).map_err(|_| invalid(format!("{name} value {x} does not fit usize")))
        })
        .collect()
}

fn save_progress(p: &Progress, dict: &mut StateDict) -> Result<()> {
    let n = p.returns.len();
    dict.insert_f32("progress.returns", &[n], p.returns.clone())?;
    dict.insert_u64("progress.lengths", &[n], to_u64(&p.lengths))?;
    dict.set("progress.window_sum", p.window_sum);
    dict.set_option("progress.solved_at", p.solved_at);
    dict.set("progress.env_steps", p.env_steps);
    dict.set("progress.gradient_steps", p.gradient_steps);
    dict.set("progress.stop_reason", stop_text(&p.stop_reason));
    let first_cut = p.cut_episodes.first();
    dict.set_option("progress.cut_episode.return", first_cut.map(|c| c.partial_return));
    dict.set_option("progress.cut_episode.length", first_cut.map(|c| c.length));
    // Every cut episode (more than one only in a vector run); older checkpoints have only the
    // first.
    let cuts = &p.cut_episodes;
    dict.insert_f32(
        "progress.cut_episodes.returns",
        &[cuts.len()],
        cuts.iter().map(|c| c.partial_return).collect(),
    )?;
    dict.insert_u64(
        "progress.cut_episodes.lengths",
        &[cuts.len()],
        cuts.iter().map(|c| c.length as u64).collect(),
    )?;
    let e = &p.evaluations;
    dict.insert_u64(
        "progress.eval.episode",
        &[e.len()],
        e.iter().map(|v| v.episode as u64).collect(),
    )?;
    dict.insert_u64(
        "progress.eval.env_steps",
        &[e.len()],
        e.iter().map(|v| v.env_steps as u64).collect(),
    )?;
    dict.insert_u8(
        "progress.eval.best_so_far",
        &[e.len()],
        e.iter().map(|v| u8::from(v.best_so_far)).collect(),
    )?;
    let mut offsets = vec![0u64];
    let (mut returns, mut lengths) = (Vec::new(), Vec::new());
    for v in e {
        returns.extend_from_slice(&v.stats.returns);
        lengths.extend(v.stats.lengths.iter().map(|&l| l as u64));
        offsets.push(returns.len() as u64);
    }
    dict.insert_u64("progress.eval.offsets", &[offsets.len()], offsets)?;
    dict.insert_f32("progress.eval.returns", &[returns.len()], returns)?;
    dict.insert_u64("progress.eval.lengths", &[lengths.len()], lengths)?;
    dict.set_option("progress.best_evaluation", p.best_evaluation);
    // Value statistics: [gamma, mean_start_value, mean_discounted_return, max_value] per
    // evaluation, with a flag for the evaluations that have them.
    let has: Vec<u8> = e.iter().map(|v| u8::from(v.stats.values.is_some())).collect();
    dict.insert_u8("progress.eval.has_values", &[e.len()], has)?;
    let values: Vec<f32> = e
        .iter()
        .flat_map(|v| {
            let s = v.stats.values.unwrap_or(ValueStats {
                gamma: 0.0,
                mean_start_value: 0.0,
                mean_discounted_return: 0.0,
                max_value: 0.0,
            });
            [s.gamma, s.mean_start_value, s.mean_discounted_return, s.max_value]
        })
        .collect();
    dict.insert_f32("progress.eval.values", &[e.len(), 4], values)?;
    Ok(())
}

fn load_progress(dict: &StateDict) -> Result<Progress> {
    let n = dict.shape("progress.returns")?.first().copied().unwrap_or(0);
    let returns = dict.f32("progress.returns", &[n])?.to_vec();
    if let Some(r) = returns.iter().find(|r| !r.is_finite()) {
        return Err(invalid(format!("progress.returns holds a non-finite value {r}")));
    }
    let lengths = to_usize("progress.lengths", dict.u64("progress.lengths", &[n])?)?;
    let window_sum: f64 = dict.parse("progress.window_sum")?;
    if !window_sum.is_finite() {
        return Err(invalid(format!("progress.window_sum = {window_sum} is not finite")));
    }
    let solved_at: Option<usize> = dict.parse_option("progress.solved_at")?;
    if solved_at.is_some_and(|e| e == 0 || e > n) {
        return Err(invalid(format!("progress.solved_at {solved_at:?} is not an episode of {n}")));
    }
    let cut_episode = match (
        dict.parse_option::<f32>("progress.cut_episode.return")?,
        dict.parse_option::<usize>("progress.cut_episode.length")?,
    ) {
        (Some(partial_return), Some(length)) => Some(CutEpisode { partial_return, length }),
        (None, None) => None,
        _ => return Err(invalid("progress.cut_episode is half set".into())),
    };
    let cut_episodes = if dict.tensors().contains_key("progress.cut_episodes.returns") {
        let k = dict.shape("progress.cut_episodes.returns")?.first().copied().unwrap_or(0);
        let returns = dict.f32("progress.cut_episodes.returns", &[k])?;
        let lengths = to_usize(
            "progress.cut_episodes.lengths",
            dict.u64("progress.cut_episodes.lengths", &[k])?,
        )?;
        let cuts: Vec<CutEpisode> = returns
            .iter()
            .zip(lengths)
            .map(|(&partial_return, length)| CutEpisode { partial_return, length })
            .collect();
        if cuts.iter().any(|c| !c.partial_return.is_finite() || c.length == 0) {
            return Err(invalid(
                "progress.cut_episodes holds a non-finite return or a length 0".into(),
            ));
        }
        if cuts.first() != cut_episode.as_ref() {
            return Err(invalid(
                "progress.cut_episode is not the first of progress.cut_episodes".into(),
            ));
        }
        cuts
    } else {
        cut_episode.into_iter().collect()
    };
    let k = dict.shape("progress.eval.episode")?.first().copied().unwrap_or(0);
    let episodes = to_usize("progress.eval.episode", dict.u64("progress.eval.episode", &[k])?)?;
    let env_steps =
        to_usize("progress.eval.env_steps", dict.u64("progress.eval.env_steps", &[k])?)?;
    let best_flags = dict.u8("progress.eval.best_so_far", &[k])?;
    let offsets = to_usize("progress.eval.offsets", dict.u64("progress.eval.offsets", &[k + 1])?)?;
    let total = offsets.last().copied().unwrap_or(0);
    let eval_returns = dict.f32("progress.eval.returns", &[total])?;
    let eval_lengths =
        to_usize("progress.eval.lengths", dict.u64("progress.eval.lengths", &[total])?)?;
    let has_values = dict.u8("progress.eval.has_values", &[k])?;
    let values = dict.f32("progress.eval.values", &[k, 4])?;
    let mut evaluations = Vec::with_capacity(k);
    for i in 0..k {
        let (a, b) = (offsets[i], offsets[i + 1]);
        if a > b || b > total || offsets[0] != 0 {
            return Err(invalid("progress.eval.offsets are not increasing".into()));
        }
        let mut stats =
            EvalStats::from_episodes(eval_returns[a..b].to_vec(), eval_lengths[a..b].to_vec())
                .map_err(|e| invalid(format!("evaluation {i}: {e}")))?;
        stats.values = match has_values[i] {
            0 => None,
            1 => {
                let v = &values[4 * i..4 * i + 4];
                if v.iter().any(|x| !x.is_finite()) {
                    return Err(invalid(format!("progress.eval.values[{i}] is not finite")));
                }
                Some(ValueStats {
                    gamma: v[0],
                    mean_start_value: v[1],
                    mean_discounted_return: v[2],
                    max_value: v[3],
                })
            }
            f => return Err(invalid(format!("progress.eval.has_values[{i}] = {f}"))),
        };
        let best_so_far = match best_flags[i] {
            0 => false,
            1 => true,
            f => return Err(invalid(format!("progress.eval.best_so_far[{i}] = {f}"))),
        };
        evaluations.push(Evaluation {
            episode: episodes[i],
            env_steps: env_steps[i],
            stats,
            best_so_far,
        });
    }
    let best_evaluation: Option<usize> = dict.parse_option("progress.best_evaluation")?;
    if best_evaluation.is_some_and(|i| i >= k) || (best_evaluation.is_none() && k > 0) {
        return Err(invalid(format!(
            "progress.best_evaluation {best_evaluation:?} does not fit {k} evaluations"
        )));
    }
    Ok(Progress {
        returns,
        lengths,
        window_sum,
        solved_at,
        env_steps: dict.parse("progress.env_steps")?,
        gradient_steps: dict.parse("progress.gradient_steps")?,
        stop_reason: stop_from(dict.get("progress.stop_reason")?)?,
        cut_episodes,
        evaluations,
        best_evaluation,
    })
}

impl Trainer {
    /// The whole run as a [`StateDict`] (see the module docs of the format).
    ///
    /// # Errors
    /// None for the default agent; the `Result` covers memories that cannot be saved.
    pub fn state_dict(&self) -> Result<StateDict> {
        let mut dict = StateDict::new();
        dict.set("format", FORMAT);
        dict.set("format_version", FORMAT_VERSION);
        self.agent.save_state("agent.", &mut dict)?;
        save_train_config(&self.config, &mut dict);
        save_progress(&self.progress, &mut dict)?;
        dict.set("best", self.best.is_some());
        if let Some(best) = &self.best {
            best.network().save_parameters("best.", &mut dict)?;
        }
        save_rng("rng.", &self.rng, &mut dict);
        save_rng("eval_rng.", &self.eval_rng, &mut dict);
        Ok(dict)
    }

    /// Rebuilds a run from [`state_dict`](Trainer::state_dict), checking every piece.
    ///
    /// # Errors
    /// [`Error::InvalidCheckpoint`] for a missing, inconsistent or out-of-rule piece.
    pub fn from_state_dict(dict: &StateDict) -> Result<Trainer> {
        if dict.get("format")? != FORMAT {
            return Err(invalid(format!("format {:?} is not {FORMAT:?}", dict.get("format")?)));
        }
        if dict.get("format_version")? != FORMAT_VERSION {
            return Err(invalid(format!(
                "format_version {:?} is not supported (expected {FORMAT_VERSION})",
                dict.get("format_version")?
            )));
        }
        let agent = DqnAgent::load_state("agent.", dict)?;
        let config = load_train_config(dict)?;
        let progress = load_progress(dict)?;
        let best = if dict.parse("best")? {
            let net = Mlp::load_parameters("best.", dict)?;
            if net.config().layer_sizes() != agent.network().config().layer_sizes() {
                return Err(invalid("the best network's shape differs from the agent's".into()));
            }
            Some(Policy::from(net))
        } else {
            None
        };
        let rng = load_rng("rng.", dict)?;
        let eval_rng = load_rng("eval_rng.", dict)?;
        Ok(Trainer { agent, config, rng, eval_rng, progress, best })
    }

    /// The checkpoint as bytes ([`StateDict::to_bytes`]).
    ///
    /// # Errors
    /// As [`state_dict`](Trainer::state_dict).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.state_dict()?.to_bytes()
    }

    /// Reads a checkpoint from bytes.
    ///
    /// # Errors
    /// [`Error::InvalidCheckpoint`] for truncated or corrupt bytes (the checksum does not
    /// match), or a checkpoint that does not describe a valid run.
    pub fn from_bytes(bytes: &[u8]) -> Result<Trainer> {
        StateDict::from_bytes(bytes)
            .and_then(|dict| Trainer::from_state_dict(&dict))
            .map_err(|e| with_origin(e, "<bytes>"))
    }

    /// Writes the checkpoint to `path` atomically: a temporary file beside it, synced, then
    /// renamed over `path`, so a crash never leaves a half-written checkpoint and never
    /// destroys the previous one.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), &self.to_bytes()?)
    }

    /// Reads a checkpoint written by [`save`](Trainer::save).
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read; [`Error::InvalidCheckpoint`], naming the file,
    /// as [`from_bytes`](Trainer::from_bytes).
    pub fn load(path: impl AsRef<Path>) -> Result<Trainer> {
        let path = path.as_ref();
        let bytes = crate::atomic_file::read_regular_file(path)?;
        StateDict::from_bytes(&bytes)
            .and_then(|dict| Trainer::from_state_dict(&dict))
            .map_err(|e| with_origin(e, &path.display().to_string()))
    }
}
