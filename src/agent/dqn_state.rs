//! A [`DqnAgent`]'s full state in a [`StateDict`]: its config, both networks with the
//! optimizer state, the replay memory and every counter, for checkpoints that resume bit for
//! bit.

use std::collections::HashMap;

use super::dqn::{
    DqnAgent, DqnConfig, Exploration, LearningRateDecay, TargetUpdate, TrainFrequency, ValueBounds,
};
use crate::error::Result;
use crate::memory::{Memory, PrioritizedConfig};
use crate::nn::{Mlp, mlp_config_from_metadata, mlp_metadata};
use crate::state_dict::{StateDict, invalid_state as invalid};

impl DqnConfig {
    /// Writes every field under `prefix` (the network's settings in the weights-file layout
    /// under `{prefix}net.`).
    pub(crate) fn save_state(&self, prefix: &str, dict: &mut StateDict) {
        // Destructured, so that a new field fails to compile until it is saved.
        let DqnConfig {
            hidden,
            activation,
            init,
            optimizer,
            learning_rate_decay,
            loss,
            max_grad_norm,
            gamma,
            n_step,
            exploration,
            memory_size,
            batch_size,
            sample_with_replacement,
            learning_starts,
            train_frequency,
            gradient_steps,
            target_update,
            double_dqn,
            prioritized,
            truncation_as_termination,
            value_bounds,
            value_penalty,
            seed,
        } = self;
        // The network part: the sizes are placeholders (1 input, 1 output), only the settings
        // are read back.
        let net = crate::MlpConfig::new(1, hidden.clone(), 1)
            .with_activation(*activation)
            .with_init(*init)
            .with_loss(*loss)
            .with_optimizer(*optimizer)
            .with_max_grad_norm(*max_grad_norm);
        for (key, value) in mlp_metadata(&net) {
            dict.set(format!("{prefix}net.{key}"), value);
        }
        let key = |k: &str| format!("{prefix}{k}");
        dict.set_option(key("learning_rate_decay.end"), learning_rate_decay.map(|d| d.end));
        dict.set_option(key("learning_rate_decay.steps"), learning_rate_decay.map(|d| d.steps));
        dict.set(key("gamma"), gamma);
        dict.set(key("n_step"), n_step);
        match *exploration {
            Exploration::Multiplicative { start, floor, decay } => {
                dict.set(key("exploration"), "multiplicative");
                dict.set(key("exploration.start"), start);
                dict.set(key("exploration.floor"), floor);
                dict.set(key("exploration.decay"), decay);
            }
            Exploration::Linear { start, end, steps } => {
                dict.set(key("exploration"), "linear");
                dict.set(key("exploration.start"), start);
                dict.set(key("exploration.end"), end);
                dict.set(key("exploration.steps"), steps);
            }
        }
        dict.set(key("memory_size"), memory_size);
        dict.set(key("batch_size"), batch_size);
        dict.set(key("sample_with_replacement"), sample_with_replacement);
        dict.set(key("learning_starts"), learning_starts);
        let (kind, n) = match *train_frequency {
            TrainFrequency::Steps(n) => ("steps", n),
            TrainFrequency::Episodes(n) => ("episodes", n),
        };
        dict.set(key("train_frequency"), kind);
        dict.set(key("train_frequency.n"), n);
        dict.set(key("gradient_steps"), gradient_steps);
        match *target_update {
            TargetUpdate::None => dict.set(key("target_update"), "none"),
            TargetUpdate::Hard { every } => {
                dict.set(key("target_update"), "hard");
                dict.set(key("target_update.every"), every);
            }
            TargetUpdate::Polyak { tau } => {
                dict.set(key("target_update"), "polyak");
                dict.set(key("target_update.tau"), tau);
            }
        }
        dict.set(key("double_dqn"), double_dqn);
        dict.set(key("prioritized"), prioritized.is_some());
        if let Some(p) = prioritized {
            dict.set(key("prioritized.alpha"), p.alpha);
            dict.set(key("prioritized.beta_start"), p.beta_start);
            dict.set(key("prioritized.beta_steps"), p.beta_steps);
            dict.set(key("prioritized.epsilon"), p.epsilon);
        }
        dict.set(key("truncation_as_termination"), truncation_as_termination);
        match *value_bounds {
            ValueBounds::None => dict.set(key("value_bounds"), "none"),
            ValueBounds::ObservedRewards => dict.set(key("value_bounds"), "observed_rewards"),
            ValueBounds::Fixed { min, max } => {
                dict.set(key("value_bounds"), "fixed");
                dict.set(key("value_bounds.min"), min);
                dict.set(key("value_bounds.max"), max);
            }
        }
        dict.set(key("value_penalty"), value_penalty);
        dict.set(key("seed"), seed);
    }

    /// Reads a config written by [`save_state`](DqnConfig::save_state) and validates it.
    pub(crate) fn load_state(prefix: &str, dict: &StateDict) -> Result<DqnConfig> {
        let key = |k: &str| format!("{prefix}{k}");
        let net_prefix = key("net.");
        let meta: HashMap<String, String> = dict
            .metadata()
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(&net_prefix).map(|k| (k.to_string(), v.clone())))
            .collect();
        let net = mlp_config_from_metadata(&meta)
            .map_err(|reason| invalid(format!("config network: {reason}")))?;
        let learning_rate_decay = match (
            dict.parse_option::<f32>(&key("learning_rate_decay.end"))?,
            dict.parse_option::<usize>(&key("learning_rate_decay.steps"))?,
        ) {
            (Some(end), Some(steps)) => Some(LearningRateDecay { end, steps }),
            (None, None) => None,
            _ => return Err(invalid("learning_rate_decay is half set".into())),
        };
        let exploration = match dict.get(&key("exploration"))? {
            "multiplicative" => Exploration::Multiplicative {
                start: dict.parse(&key("exploration.start"))?,
                floor: dict.parse(&key("exploration.floor"))?,
                decay: dict.parse(&key("exploration.decay"))?,
            },
            "linear" => Exploration::Linear {
                start: dict.parse(&key("exploration.start"))?,
                end: dict.parse(&key("exploration.end"))?,
                steps: dict.parse(&key("exploration.steps"))?,
            },
            other => return Err(invalid(format!("unknown exploration {other:?}"))),
        };
        let n: usize = dict.parse(&key("train_frequency.n"))?;
        let train_frequency = match dict.get(&key("train_frequency"))? {
            "steps" => TrainFrequency::Steps(n),
            "episodes" => TrainFrequency::Episodes(n),
            other => return Err(invalid(format!("unknown train_frequency {other:?}"))),
        };
        let target_update = match dict.get(&key("target_update"))? {
            "none" => TargetUpdate::None,
            "hard" => TargetUpdate::Hard { every: dict.parse(&key("target_update.every"))? },
            "polyak" => TargetUpdate::Polyak { tau: dict.parse(&key("target_update.tau"))? },
            other => return Err(invalid(format!("unknown target_update {other:?}"))),
        };
        let prioritized = if dict.parse(&key("prioritized"))? {
            Some(PrioritizedConfig {
                alpha: dict.parse(&key("prioritized.alpha"))?,
                beta_start: dict.parse(&key("prioritized.beta_start"))?,
                beta_steps: dict.parse(&key("prioritized.beta_steps"))?,
                epsilon: dict.parse(&key("prioritized.epsilon"))?,
                ..PrioritizedConfig::default()
            })
        } else {
            None
        };
        // A checkpoint written before value bounds existed has none.
        let bounds_key = key("value_bounds");
        let value_bounds = match dict.metadata().get(&bounds_key).map(String::as_str) {
            None | Some("none") => ValueBounds::None,
            Some("observed_rewards") => ValueBounds::ObservedRewards,
            Some("fixed") => ValueBounds::Fixed {
                min: dict.parse(&key("value_bounds.min"))?,
                max: dict.parse(&key("value_bounds.max"))?,
            },
            Some(other) => return Err(invalid(format!("unknown value_bounds {other:?}"))),
        };
        let config = DqnConfig {
            hidden: net.hidden,
            activation: net.activation,
            init: net.init,
            optimizer: net.optimizer,
            learning_rate_decay,
            loss: net.loss,
            max_grad_norm: net.max_grad_norm,
            gamma: dict.parse(&key("gamma"))?,
            // A checkpoint written before n-step returns existed is one-step.
            n_step: if dict.metadata().contains_key(&key("n_step")) {
                dict.parse(&key("n_step"))?
            } else {
                1
            },
            exploration,
            memory_size: dict.parse(&key("memory_size"))?,
            batch_size: dict.parse(&key("batch_size"))?,
            sample_with_replacement: dict.parse(&key("sample_with_replacement"))?,
            learning_starts: dict.parse(&key("learning_starts"))?,
            train_frequency,
            gradient_steps: dict.parse(&key("gradient_steps"))?,
            target_update,
            double_dqn: dict.parse(&key("double_dqn"))?,
            prioritized,
            truncation_as_termination: dict.parse(&key("truncation_as_termination"))?,
            value_bounds,
            // A checkpoint written before the value penalty existed has none.
            value_penalty: if dict.metadata().contains_key(&key("value_penalty")) {
                dict.parse(&key("value_penalty"))?
            } else {
                0.0
            },
            seed: dict.parse(&key("seed"))?,
        };
        config.validate().map_err(|e| invalid(format!("config: {e}")))?;
        Ok(config)
    }
}

impl<M: Memory> DqnAgent<Mlp, M> {
    /// Writes the whole agent under `prefix`: `{prefix}config.*`, the online network with its
    /// optimizer state (`{prefix}online.`), the target network's parameters
    /// (`{prefix}target.`), the memory (`{prefix}memory.`) and the counters.
    ///
    /// # Errors
    /// [`Error::Unsupported`] if the memory cannot be saved.
    pub(crate) fn save_state(&self, prefix: &str, dict: &mut StateDict) -> Result<()> {
        let key = |k: &str| format!("{prefix}{k}");
        self.config.save_state(&key("config."), dict);
        self.online.save_state(&key("online."), dict)?;
        if let Some(target) = &self.target {
            target.save_parameters(&key("target."), dict)?;
        }
        self.memory.save_state(&key("memory."), dict)?;
        dict.set(key("observation_dim"), self.observation_dim);
        dict.set(key("num_actions"), self.num_actions);
        dict.set(key("epsilon"), self.epsilon);
        dict.set(key("env_steps"), self.env_steps);
        dict.set(key("episodes"), self.episodes);
        dict.set(key("gradient_steps"), self.gradient_steps);
        dict.set_option(key("learned_at_step"), self.learned_at_step);
        dict.set(key("episode_ended"), self.episode_ended);
        if let Some((low, high)) = self.reward_range() {
            dict.set(key("reward_range.min"), low);
            dict.set(key("reward_range.max"), high);
        }
        if self.config.n_step > 1 {
            self.window.save_state(&key("n_step."), dict)?;
            // The windows of sub-environments 1 and up of a vector run that hold steps.
            let held: Vec<u64> = self
                .extra_windows
                .iter()
                .filter(|(_, w)| !w.is_empty())
                .map(|(&i, _)| i as u64)
                .collect();
            if !held.is_empty() {
                dict.insert_u64(key("n_step.envs"), &[held.len()], held.clone())?;
                for i in held {
                    self.extra_windows[&(i as usize)]
                        .save_state(&key(&format!("n_step.env{i}.")), dict)?;
                }
            }
        }
        Ok(())
    }
}

impl DqnAgent {
    /// Rebuilds an agent written by [`save_state`](DqnAgent::save_state), checking that every
    /// piece agrees with the config.
    ///
    /// # Errors
    /// [`Error::InvalidCheckpoint`] for a missing or inconsistent piece.
    pub(crate) fn load_state(prefix: &str, dict: &StateDict) -> Result<DqnAgent> {
        let key = |k: &str| format!("{prefix}{k}");
        let config = DqnConfig::load_state(&key("config."), dict)?;
        let observation_dim: usize = dict.parse(&key("observation_dim"))?;
        let num_actions: usize = dict.parse(&key("num_actions"))?;
        let online = Mlp::load_state(&key("online."), dict)?;
        let expected = config.network(observation_dim, num_actions);
        let mut got = online.config().clone();
        // The learning rate is the schedule's current value; everything else must match.
        got.optimizer = got.optimizer.with_learning_rate(expected.optimizer.learning_rate());
        if got != expected {
            return Err(invalid(format!(
                "the online network {:?} does not match the config's {expected:?}",
                online.config()
            )));
        }
        let target = match config.target_update {
            TargetUpdate::None => None,
            _ => {
                let target = Mlp::load_parameters(&key("target."), dict)?;
                if target.config().layer_sizes() != online.config().layer_sizes() {
                    return Err(invalid(
                        "the target network's shape differs from the online one's".into(),
                    ));
                }
                Some(target)
            }
        };
        let mut memory = config.memory(observation_dim)?;
        memory.load_state(&key("memory."), dict)?;
        let mut agent = DqnAgent::with_parts(config, online, memory)?;
        agent.target = target;
        let epsilon: f32 = dict.parse(&key("epsilon"))?;
        if !(0.0..=1.0).contains(&epsilon) {
            return Err(invalid(format!("epsilon {epsilon} is not in [0, 1]")));
        }
        agent.epsilon = epsilon;
        agent.env_steps = dict.parse(&key("env_steps"))?;
        agent.episodes = dict.parse(&key("episodes"))?;
        agent.gradient_steps = dict.parse(&key("gradient_steps"))?;
        agent.learned_at_step = dict.parse_option(&key("learned_at_step"))?;
        agent.episode_ended = dict.parse(&key("episode_ended"))?;
        agent.window = agent.window.load_state(&key("n_step."), dict, num_actions)?;
        let envs_key = key("n_step.envs");
        if agent.config.n_step > 1 && dict.tensors().contains_key(&envs_key) {
            let k = dict.shape(&envs_key)?.first().copied().unwrap_or(0);
            let mut previous = 0u64;
            for &i in dict.u64(&envs_key, &[k])? {
                if i <= previous || usize::try_from(i).is_err() {
                    return Err(invalid(format!(
                        "{envs_key} is not an increasing list of sub-environments from 1: {i} \
                         after {previous}"
                    )));
                }
                previous = i;
                let prefix = key(&format!("n_step.env{i}."));
                dict.get(&format!("{prefix}len"))?; // listed, so it must be there
                let window = agent.window.load_state(&prefix, dict, num_actions)?;
                agent.extra_windows.insert(i as usize, window);
            }
        }
        if dict.metadata().contains_key(&key("reward_range.min")) {
            let low: f32 = dict.parse(&key("reward_range.min"))?;
            let high: f32 = dict.parse(&key("reward_range.max"))?;
            if !(low.is_finite() && high.is_finite() && low <= high) {
                return Err(invalid(format!("reward range [{low}, {high}] is not a finite range")));
            }
            agent.reward_range = (low, high);
        }
        Ok(agent)
    }
}
