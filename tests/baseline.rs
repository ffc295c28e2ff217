//! The supervised random-rollout baseline: pairing, filtering, learning, determinism.

use deepq::{
    CartPole, ClassifierConfig, Env, Error, Result, RolloutConfig, Step, collect_random_games,
    evaluate_policy, play_classifier, train_classifier,
};
use ndarray::{Array1, array};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A tiny hand-made game: the observation is `[game, step]`; a game lasts `length(game)` steps,
/// reward 1 each. It records the actions it receives.
struct Tally {
    game: f32,
    step: f32,
    length: fn(f32) -> f32,
    actions: Vec<(f32, f32, usize)>,
}

impl Env for Tally {
    fn observation_dim(&self) -> usize {
        2
    }
    fn num_actions(&self) -> usize {
        3
    }
    fn reset(&mut self, _: &mut dyn RngCore) -> Array1<f32> {
        self.game += 1.0;
        self.step = 0.0;
        array![self.game, self.step]
    }
    fn step(&mut self, action: usize) -> Result<Step> {
        if action >= 3 {
            return Err(Error::InvalidAction { action, num_actions: 3 });
        }
        self.actions.push((self.game, self.step, action));
        self.step += 1.0;
        let terminated = self.step >= (self.length)(self.game);
        Ok(Step {
            observation: array![self.game, self.step],
            reward: 1.0,
            terminated,
            truncated: false,
        })
    }
}

#[test]
fn each_action_is_paired_with_the_observation_it_was_chosen_from_and_short_games_are_dropped() {
    // Games 1..=6 last 1, 2, ..., 6 steps; threshold 4 keeps games 4, 5, 6.
    let mut env = Tally { game: 0.0, step: 0.0, length: |g| g, actions: Vec::new() };
    let config = RolloutConfig::default().with_games(6).with_score_threshold(4.0);
    let (data, stats) =
        collect_random_games(&mut env, &config, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
    assert_eq!((stats.games, stats.accepted_games, stats.pairs), (6, 3, 4 + 5 + 6));
    assert_eq!(stats.mean_score, 21.0 / 6.0);
    assert_eq!(stats.mean_accepted_score, 5.0);
    let kept: Vec<_> = env.actions.iter().filter(|(g, _, _)| *g >= 4.0).collect();
    assert_eq!(kept.len(), data.len());
    for (row, &&(game, step, action)) in kept.iter().enumerate() {
        assert_eq!(data.observations.row(row).to_vec(), vec![game, step], "pair {row}");
        assert_eq!(data.actions[row], action, "pair {row}");
    }
    // The first pair of each kept game is the reset observation (step 0).
    assert_eq!(data.observations.row(0).to_vec(), vec![4.0, 0.0]);
}

#[test]
fn max_steps_cuts_games_and_bad_configs_are_errors() {
    let mut env = Tally { game: 0.0, step: 0.0, length: |_| 1000.0, actions: Vec::new() };
    let config = RolloutConfig::default().with_games(2).with_max_steps(7).with_score_threshold(0.0);
    let (data, _) =
        collect_random_games(&mut env, &config, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
    assert_eq!(data.len(), 14);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    for bad in [
        RolloutConfig::default().with_games(0),
        RolloutConfig::default().with_max_steps(0),
        RolloutConfig::default().with_score_threshold(f32::NAN),
    ] {
        assert!(matches!(
            collect_random_games(&mut env, &bad, &mut rng),
            Err(Error::InvalidConfig { .. })
        ));
    }
    let empty = deepq::Dataset { observations: ndarray::Array2::zeros((0, 2)), actions: vec![] };
    assert!(train_classifier(&empty, 3, &ClassifierConfig::default(), &mut rng).is_err());
    assert!(
        train_classifier(&data, 3, &ClassifierConfig::default().with_epochs(0), &mut rng).is_err()
    );
    assert!(
        train_classifier(
            &data,
            3,
            &ClassifierConfig::default().with_keep_probability(0.0),
            &mut rng
        )
        .is_err()
    );
}

/// Seed 0, a reduced budget (2,000 random games, a 64-64 classifier, 3 epochs): the classifier
/// must beat random play by a wide margin on 50 greedy games.
#[test]
fn with_a_reduced_budget_the_classifier_beats_random_play() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut env = CartPole::v0();
    let rollout = RolloutConfig::default().with_games(2_000);
    let (data, stats) = collect_random_games(&mut env, &rollout, &mut rng).unwrap();
    assert!(stats.accepted_games >= 30, "{stats:?}");
    let config = ClassifierConfig::default().with_hidden(vec![64, 64]).with_epochs(3);
    let (mut net, losses) = train_classifier(&data, 2, &config, &mut rng).unwrap();
    assert!(losses.last().unwrap() < &losses[0], "training lowers the loss: {losses:?}");
    let trained = play_classifier(&mut net, &mut env, 50, &mut rng).unwrap();
    let random = evaluate_policy(&mut env, 50, &mut rng, &mut |_| Ok(0)).unwrap();
    let mut coin = ChaCha8Rng::seed_from_u64(1);
    let uniform =
        evaluate_policy(&mut env, 200, &mut rng, &mut |_| Ok(coin.random_range(0..2))).unwrap();
    assert!(uniform.mean < 30.0, "random play averages about 22: {}", uniform.mean);
    assert!(
        trained.mean > 2.0 * uniform.mean && trained.mean > 60.0,
        "trained {} vs random {} (always-left {})",
        trained.mean,
        uniform.mean,
        random.mean
    );
}

#[test]
fn same_seed_same_table() {
    let run = || {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut env = CartPole::v0();
        let (data, stats) =
            collect_random_games(&mut env, &RolloutConfig::default().with_games(500), &mut rng)
                .unwrap();
        let config = ClassifierConfig::default().with_hidden(vec![16]).with_epochs(1);
        let (mut net, _) = train_classifier(&data, 2, &config, &mut rng).unwrap();
        (stats, play_classifier(&mut net, &mut env, 5, &mut rng).unwrap())
    };
    assert_eq!(run(), run());
}

/// An environment with no actions, or whose observations turn NaN after `nan_after` steps.
struct Broken {
    actions: usize,
    nan_after: usize,
    steps: usize,
}

impl deepq::Env for Broken {
    fn observation_dim(&self) -> usize {
        1
    }
    fn num_actions(&self) -> usize {
        self.actions
    }
    fn reset(&mut self, _: &mut dyn rand::RngCore) -> ndarray::Array1<f32> {
        self.steps = 0;
        ndarray::array![0.0]
    }
    fn step(&mut self, _: usize) -> deepq::Result<deepq::Step> {
        self.steps += 1;
        let v = if self.steps >= self.nan_after { f32::NAN } else { 0.5 };
        Ok(deepq::Step {
            observation: ndarray::array![v],
            reward: 1.0,
            terminated: false,
            truncated: false,
        })
    }
}

#[test]
fn random_games_refuse_an_env_with_no_actions_or_nan_observations() {
    // Issue 12, D7: 0 actions panicked; NaN observations went into the training data.
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let config = deepq::RolloutConfig::default().with_games(3);
    let err = deepq::collect_random_games(
        &mut Broken { actions: 0, nan_after: 9, steps: 0 },
        &config,
        &mut rng,
    )
    .unwrap_err();
    assert!(
        matches!(err, deepq::Error::EnvCheck { rule: deepq::EnvRule::NonEmptySpaces, .. }),
        "{err:?}"
    );
    let err = deepq::collect_random_games(
        &mut Broken { actions: 2, nan_after: 3, steps: 0 },
        &config,
        &mut rng,
    )
    .unwrap_err();
    assert!(
        matches!(err, deepq::Error::NonFinite { ref what, .. } if what.contains("game 0, step 3")),
        "{err:?}"
    );
}

#[test]
fn a_dataset_whose_rows_and_labels_differ_is_refused() {
    // Issue 12, D7: train_classifier panicked on it.
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let data = deepq::Dataset { observations: ndarray::Array2::zeros((3, 4)), actions: vec![0, 1] };
    let err = deepq::train_classifier(&data, 2, &deepq::ClassifierConfig::default(), &mut rng)
        .unwrap_err();
    assert!(matches!(err, deepq::Error::LengthMismatch { left: 3, right: 2, .. }), "{err:?}");
    // Huge epochs and batch sizes are not allocated up front (one epoch of one batch here).
    let data = deepq::Dataset { observations: ndarray::Array2::zeros((2, 4)), actions: vec![0, 1] };
    let config = deepq::ClassifierConfig {
        epochs: 1,
        batch_size: usize::MAX,
        hidden: vec![4],
        ..Default::default()
    };
    assert!(deepq::train_classifier(&data, 2, &config, &mut rng).is_ok());
}
