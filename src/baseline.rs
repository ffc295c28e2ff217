//! The supervised random-rollout baseline: play random games, keep the good ones, imitate them.
//!
//! The recipe of a well-known blog post that predates DQN tutorials: play 10,000 games of
//! CartPole-v0 with uniformly random actions, keep every (observation, action) pair of the games
//! that scored at least 50, train a classifier observation -> action on them, then play it
//! greedily. [`collect_random_games`] makes the data set, [`train_classifier`] trains the
//! classifier and [`evaluate_policy`](crate::evaluate_policy) plays it.

use ndarray::{Array2, ArrayView1, Axis};
use rand::seq::SliceRandom;
use rand::{Rng, RngCore};

use crate::{
    Activation, Env, Error, EvalStats, Mlp, MlpConfig, Optimizer, Output, QNetwork, Result,
    evaluate_policy,
};

/// Settings of [`collect_random_games`], with the blog's values as defaults.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct RolloutConfig {
    /// Random games to play (default 10,000).
    pub games: usize,
    /// A game is kept when its score (sum of rewards) is at least this (default 50).
    pub score_threshold: f32,
    /// A game is cut after this many steps even if the environment has not ended it
    /// (default 500, the blog's `goal_steps`; CartPole-v0 ends games at 200 anyway).
    pub max_steps: usize,
}

impl Default for RolloutConfig {
    fn default() -> Self {
        Self { games: 10_000, score_threshold: 50.0, max_steps: 500 }
    }
}

impl RolloutConfig {
    /// Sets `games` (default 10,000).
    pub fn with_games(mut self, games: usize) -> Self {
        self.games = games;
        self
    }

    /// Sets `score_threshold` (default 50).
    pub fn with_score_threshold(mut self, threshold: f32) -> Self {
        self.score_threshold = threshold;
        self
    }

    /// Sets `max_steps` (default 500).
    pub fn with_max_steps(mut self, max_steps: usize) -> Self {
        self.max_steps = max_steps;
        self
    }

    /// Checks every rule of the config.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for `games == 0`, `max_steps == 0` or a non-finite threshold.
    pub fn validate(&self) -> Result<()> {
        if self.games == 0 {
            return Err(Error::invalid_config("games", "0", "must be at least 1"));
        }
        if self.max_steps == 0 {
            return Err(Error::invalid_config("max_steps", "0", "must be at least 1"));
        }
        if !self.score_threshold.is_finite() {
            return Err(Error::invalid_config(
                "score_threshold",
                self.score_threshold,
                "must be finite",
            ));
        }
        Ok(())
    }
}

/// Training pairs for an observation -> action classifier.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// One observation per row, `[pairs, observation_dim]`.
    pub observations: Array2<f32>,
    /// The action chosen from each observation.
    pub actions: Vec<usize>,
}

impl Dataset {
    /// Number of (observation, action) pairs.
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}

/// Statistics of the random population that [`collect_random_games`] played.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutStats {
    /// Games played.
    pub games: usize,
    /// Games that reached the score threshold and whose pairs were kept.
    pub accepted_games: usize,
    /// Pairs kept.
    pub pairs: usize,
    /// Mean score of all games (random play).
    pub mean_score: f32,
    /// Mean score of the accepted games (`NaN`-free: 0 when none was accepted).
    pub mean_accepted_score: f32,
}

/// Plays `config.games` games with uniformly random actions and keeps the (observation,
/// action) pairs of every game that scored at least `config.score_threshold`.
///
/// Each action is paired with the observation it was chosen from: the observation before the
/// step (the reset observation for the first action). All randomness comes from `rng`.
///
/// # Errors
/// [`Error::InvalidConfig`] for a bad config; errors of the environment are passed on.
pub fn collect_random_games(
    env: &mut dyn Env,
    config: &RolloutConfig,
    rng: &mut dyn RngCore,
) -> Result<(Dataset, RolloutStats)> {
    config.validate()?;
    let (dim, num_actions) = (env.observation_dim(), env.num_actions());
    if num_actions == 0 || dim == 0 {
        return Err(Error::EnvCheck {
            rule: crate::EnvRule::NonEmptySpaces,
            detail: format!("observation_dim() is {dim} and num_actions() is {num_actions}"),
        });
    }
    let mut kept: Vec<f32> = Vec::new();
    let mut actions: Vec<usize> = Vec::new();
    let mut game_obs: Vec<f32> = Vec::new();
    let mut game_actions: Vec<usize> = Vec::new();
    let (mut total, mut accepted_total, mut accepted) = (0.0f64, 0.0f64, 0usize);
    for game in 0..config.games {
        game_obs.clear();
        game_actions.clear();
        let mut observation = env.reset(rng);
        let mut score = 0.0f32;
        for step in 0..config.max_steps {
            let action = rng.random_range(0..num_actions);
            check_observation(observation.view(), dim, game, step)?;
            game_obs.extend(observation.iter());
            game_actions.push(action);
            let step = env.step(action)?;
            score += step.reward;
            if step.terminated || step.truncated {
                break;
            }
            observation = step.observation;
        }
        total += f64::from(score);
        if score >= config.score_threshold {
            accepted += 1;
            accepted_total += f64::from(score);
            kept.extend_from_slice(&game_obs);
            actions.extend_from_slice(&game_actions);
        }
    }
    let pairs = actions.len();
    let observations = Array2::from_shape_vec((pairs, dim), kept)
        .expect("every kept observation has observation_dim values");
    let stats = RolloutStats {
        games: config.games,
        accepted_games: accepted,
        pairs,
        mean_score: (total / config.games as f64) as f32,
        mean_accepted_score: if accepted == 0 {
            0.0
        } else {
            (accepted_total / accepted as f64) as f32
        },
    };
    Ok((Dataset { observations, actions }, stats))
}

/// Checks an observation the environment returned: its length and finite values (a NaN would
/// otherwise end up in the training data).
fn check_observation(
    observation: ArrayView1<'_, f32>,
    dim: usize,
    game: usize,
    step: usize,
) -> Result<()> {
    if observation.len() != dim {
        return Err(Error::EnvCheck {
            rule: crate::EnvRule::ObservationLength,
            detail: format!(
                "observation of {} values, observation_dim() is {dim}",
                observation.len()
            ),
        });
    }
    if let Some((i, &v)) = observation.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite {
            what: format!("observation[{i}] of game {game}, step {step}"),
            value: f64::from(v),
        });
    }
    Ok(())
}

/// Settings of [`train_classifier`], with the blog's values as defaults: a 4-128-256-512-256-128-2
/// ReLU network, dropout after every hidden layer with keep probability 0.8, a softmax output,
/// categorical cross-entropy, Adam at 1e-3, 5 epochs of batches of 64, shuffled every epoch.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct ClassifierConfig {
    /// Units of each hidden layer (default `[128, 256, 512, 256, 128]`).
    pub hidden: Vec<usize>,
    /// Probability of keeping a hidden unit during training (default 0.8, the blog's
    /// `dropout(..., 0.8)`, which is TensorFlow 1's keep probability).
    pub keep_probability: f32,
    /// Adam's learning rate (default 1e-3).
    pub learning_rate: f32,
    /// Passes over the data set (default 5).
    pub epochs: usize,
    /// Pairs per gradient step (default 64); the last batch of an epoch may be smaller.
    pub batch_size: usize,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        Self {
            hidden: vec![128, 256, 512, 256, 128],
            keep_probability: 0.8,
            learning_rate: 1e-3,
            epochs: 5,
            batch_size: 64,
        }
    }
}

impl ClassifierConfig {
    /// Sets `hidden` (default `[128, 256, 512, 256, 128]`).
    pub fn with_hidden(mut self, hidden: Vec<usize>) -> Self {
        self.hidden = hidden;
        self
    }

    /// Sets `epochs` (default 5).
    pub fn with_epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Sets `batch_size` (default 64).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Sets `keep_probability` (default 0.8).
    pub fn with_keep_probability(mut self, keep: f32) -> Self {
        self.keep_probability = keep;
        self
    }

    /// Checks every rule of the config (the network's own rules are checked when it is built).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for `epochs` or `batch_size` 0, or a keep probability outside
    /// `(0, 1]`.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(Error::invalid_config("epochs", "0", "must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(Error::invalid_config("batch_size", "0", "must be at least 1"));
        }
        if !(self.keep_probability > 0.0 && self.keep_probability <= 1.0) {
            return Err(Error::invalid_config(
                "keep_probability",
                self.keep_probability,
                "must be in (0, 1]",
            ));
        }
        Ok(())
    }
}

/// Trains a classifier observation -> action on `data` and returns it with the mean loss of
/// every epoch. Weight initialisation, dropout and shuffling draw from `rng`.
///
/// # Errors
/// [`Error::InvalidConfig`] for a bad config or an empty data set; errors of the network
/// (a label out of range, a non-finite observation) are passed on.
pub fn train_classifier(
    data: &Dataset,
    num_actions: usize,
    config: &ClassifierConfig,
    rng: &mut dyn RngCore,
) -> Result<(Mlp, Vec<f32>)> {
    config.validate()?;
    if data.is_empty() {
        return Err(Error::invalid_config("data", "0 pairs", "needs at least 1 pair to train on"));
    }
    if data.observations.nrows() != data.actions.len() {
        return Err(Error::LengthMismatch {
            what: "dataset observations (rows) vs actions",
            left: data.observations.nrows(),
            right: data.actions.len(),
        });
    }
    let net = MlpConfig::new(data.observations.ncols(), config.hidden.clone(), num_actions)
        .with_activation(Activation::Relu)
        .with_output(Output::Softmax)
        .with_dropout(1.0 - config.keep_probability)
        .with_optimizer(Optimizer::adam(config.learning_rate));
    let mut mlp = Mlp::new(net, rng)?;
    let mut order: Vec<usize> = (0..data.len()).collect();
    // Grown as needed: `epochs` and `batch_size` are the user's and may be huge.
    let mut epoch_losses = Vec::new();
    let mut labels = Vec::with_capacity(config.batch_size.min(data.len()));
    for _ in 0..config.epochs {
        order.shuffle(rng);
        let (mut total, mut seen) = (0.0f64, 0usize);
        for chunk in order.chunks(config.batch_size) {
            let x = data.observations.select(Axis(0), chunk);
            labels.clear();
            labels.extend(chunk.iter().map(|&i| data.actions[i]));
            let loss = mlp.train_classifier_step(x.view(), &labels, rng)?;
            total += f64::from(loss) * chunk.len() as f64;
            seen += chunk.len();
        }
        epoch_losses.push((total / seen as f64) as f32);
    }
    Ok((mlp, epoch_losses))
}

/// Plays `games` games choosing, at every step, the class the classifier rates highest for the
/// current observation, and returns the statistics of the scores. Resets draw from `rng`.
///
/// # Errors
/// As [`evaluate_policy`].
pub fn play_classifier(
    classifier: &mut Mlp,
    env: &mut dyn Env,
    games: usize,
    rng: &mut dyn RngCore,
) -> Result<EvalStats> {
    let mut scores = vec![0.0f32; classifier.num_actions()];
    evaluate_policy(env, games, rng, &mut |obs| {
        classifier.q_values_one(obs, &mut scores)?;
        Ok(crate::nn::argmax(&scores))
    })
}
