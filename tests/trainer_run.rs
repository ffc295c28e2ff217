//! The `Trainer` run object: it is the run of `DqnAgent::new` + `train` seeded from
//! `DqnConfig::seed`, evaluates on its own environment at the chosen interval, keeps the best
//! network, counts its budgets over several calls and keeps its report after an error.

use std::ops::ControlFlow;

use deepq::{
    Agent, CartPole, DqnAgent, DqnConfig, Env, Error, EvalConfig, Interval, Policy, QNetwork,
    Result, Step, StopReason, TrainConfig, Trainer, train,
};
use ndarray::Array1;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn keep_going(_: &deepq::EpisodeStats) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

fn small() -> DqnConfig {
    DqnConfig::default().with_seed(5).with_hidden(vec![16, 16]).with_learning_starts(100)
}

#[test]
fn a_trainer_run_is_the_run_of_its_seed() {
    let config = small();
    let train_config = TrainConfig::default().with_episodes(25);
    // By hand: one RNG seeded from the config's seed draws the weights, then trains.
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut env = CartPole::v0();
    let mut agent = DqnAgent::new(config.clone(), 4, 2, &mut rng).unwrap();
    let by_hand = train(&mut agent, &mut env, &train_config, &mut rng, &mut keep_going).unwrap();
    // The run object, with evaluations on an environment of their own: training is unchanged.
    let with_eval =
        train_config.clone().with_eval(EvalConfig::default().with_every(Interval::Episodes(5)));
    let mut trainer = Trainer::new(config, with_eval, 4, 2).unwrap();
    let (mut env, mut eval_env) = (CartPole::v0(), CartPole::v0());
    let report = trainer.train(&mut env, Some(&mut eval_env), &mut keep_going).unwrap();
    assert_eq!(report.returns, by_hand.returns);
    assert_eq!(report.gradient_steps, by_hand.gradient_steps);
    assert_eq!(trainer.agent().network().parameters(), agent.network().parameters());
    assert_eq!(trainer.rng(), &rng);
}

#[test]
fn evaluations_run_at_their_interval_and_reach_the_observer() {
    let eval = EvalConfig::default().with_episodes(3).with_every(Interval::Episodes(4));
    let mut trainer =
        Trainer::new(small(), TrainConfig::default().with_episodes(10).with_eval(eval), 4, 2)
            .unwrap();
    let (mut env, mut eval_env) = (CartPole::v0(), CartPole::v0());
    let mut seen = Vec::new();
    let report = trainer
        .train(&mut env, Some(&mut eval_env), &mut |s| {
            if let Some(e) = &s.evaluation {
                seen.push((s.episode, e.stats.returns.len()));
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(seen, vec![(4, 3), (8, 3)]);
    let episodes: Vec<usize> = report.evaluations.iter().map(|e| e.episode).collect();
    assert_eq!(episodes, vec![4, 8]);

    // Every 200 environment steps: after each episode that crossed a multiple of 200.
    let eval = EvalConfig::default().with_episodes(1).with_every(Interval::EnvSteps(200));
    let config = TrainConfig::default().with_max_env_steps(1_000).with_eval(eval);
    let mut trainer = Trainer::new(small(), config, 4, 2).unwrap();
    let report = trainer.train(&mut env, Some(&mut eval_env), &mut keep_going).unwrap();
    let mut crossed = Vec::new();
    let mut steps = 0;
    for (i, &len) in report.lengths.iter().enumerate() {
        if (steps + len) / 200 > steps / 200 {
            crossed.push(i + 1);
        }
        steps += len;
    }
    let at: Vec<usize> = report.evaluations.iter().map(|e| e.episode).collect();
    assert_eq!(at, crossed);
    assert!(at.len() >= 4, "{at:?}");
    for e in &report.evaluations {
        assert_eq!(e.env_steps, report.lengths[..e.episode].iter().sum::<usize>());
    }
}

#[test]
fn keep_best_keeps_the_earliest_strictly_best_evaluation() {
    let eval = EvalConfig::default()
        .with_episodes(2)
        .with_every(Interval::Episodes(3))
        .with_keep_best(true);
    let config = TrainConfig::default().with_episodes(60).with_eval(eval);
    let mut trainer = Trainer::new(small(), config, 4, 2).unwrap();
    let (mut env, mut eval_env) = (CartPole::v0(), CartPole::v0());
    let report = trainer.train(&mut env, Some(&mut eval_env), &mut keep_going).unwrap();
    let means: Vec<f32> = report.evaluations.iter().map(|e| e.stats.mean).collect();
    let best = report.best_evaluation.unwrap();
    let max = means.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    assert_eq!(means[best], max);
    assert_eq!(means.iter().position(|&m| m == max), Some(best), "ties keep the earliest");
    for (i, e) in report.evaluations.iter().enumerate() {
        let before = means[..i].iter().copied().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(e.best_so_far, e.stats.mean > before, "evaluation {i}");
    }
    // The kept policy is the network after that evaluation's episode: a run stopped there (its
    // training is the same, evaluations never change it) ends with the same weights.
    let kept: Policy = trainer.best_policy().expect("keep_best keeps one").clone();
    let at = report.evaluations[best].episode;
    let mut short = Trainer::new(small(), TrainConfig::default().with_episodes(at), 4, 2).unwrap();
    short.train(&mut CartPole::v0(), None, &mut keep_going).unwrap();
    assert_eq!(kept.network().parameters(), short.agent().network().parameters());
    assert!(Trainer::new(small(), TrainConfig::default(), 4, 2).unwrap().best_policy().is_none());
}

#[test]
fn evaluation_needs_an_evaluation_environment() {
    let config = TrainConfig::default().with_eval(EvalConfig::default());
    let mut trainer = Trainer::new(small(), config, 4, 2).unwrap();
    let err = trainer.train(&mut CartPole::v0(), None, &mut keep_going).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { field: "eval", .. }), "{err:?}");
    let err = trainer.train(&mut CartPole::v0(), Some(&mut WideEnv), &mut keep_going).unwrap_err();
    assert!(matches!(err, Error::DimensionMismatch { what: "num_actions", .. }), "{err:?}");
}

#[test]
fn budgets_count_over_the_whole_run() {
    let mut trainer = Trainer::new(small(), TrainConfig::default().with_episodes(5), 4, 2).unwrap();
    let mut env = CartPole::v0();
    assert_eq!(trainer.train(&mut env, None, &mut keep_going).unwrap().episodes(), 5);
    // The budget is spent: another call returns at once.
    let report = trainer.train(&mut env, None, &mut keep_going).unwrap();
    assert_eq!((report.episodes(), report.stop_reason), (5, StopReason::EpisodeBudget));
    trainer.set_config(TrainConfig::default().with_episodes(8)).unwrap();
    let report = trainer.train(&mut env, None, &mut keep_going).unwrap();
    assert_eq!(report.episodes(), 8);
    assert_eq!(trainer.agent().env_steps(), report.env_steps);
    // A stop by the observer, then a call that goes on.
    trainer.set_config(TrainConfig::default().with_episodes(20)).unwrap();
    let report = trainer.train(&mut env, None, &mut |_| ControlFlow::Break(())).unwrap();
    assert_eq!((report.episodes(), report.stop_reason), (9, StopReason::Observer));
    assert_eq!(trainer.train(&mut env, None, &mut keep_going).unwrap().episodes(), 20);
    assert!(trainer.set_config(TrainConfig::default().with_episodes(0)).is_err());
    assert_eq!(trainer.config().episodes, Some(20), "a rejected config changes nothing");
}

#[test]
fn a_solved_run_stays_stopped_until_told_to_go_on() {
    let config =
        TrainConfig::default().with_episodes(50).with_reward_threshold(0.0).with_solve_window(3);
    let mut trainer = Trainer::new(small(), config.clone(), 4, 2).unwrap();
    let mut env = CartPole::v0();
    let report = trainer.train(&mut env, None, &mut keep_going).unwrap();
    assert_eq!((report.solved_at, report.stop_reason.clone()), (Some(3), StopReason::Solved));
    assert_eq!(trainer.train(&mut env, None, &mut keep_going).unwrap().episodes(), 3);
    trainer.set_config(config.with_stop_when_solved(false).with_episodes(6)).unwrap();
    let report = trainer.train(&mut env, None, &mut keep_going).unwrap();
    assert_eq!((report.episodes(), report.solved_at), (6, Some(3)));
}

#[test]
fn after_an_error_the_report_says_so_and_keeps_what_was_done() {
    let mut trainer =
        Trainer::new(small(), TrainConfig::default().with_episodes(10), 4, 2).unwrap();
    let mut env = FailsAt { calls: 0, fail_at: 30 };
    let err = trainer.train(&mut env, None, &mut keep_going).unwrap_err();
    assert!(matches!(err, Error::NonFinite { .. }), "{err:?}");
    let report = trainer.report();
    assert_eq!(report.episodes(), 2, "episodes of 12 steps: two whole ones before step 30");
    assert!(matches!(report.stop_reason, StopReason::Error(ref m) if m.contains("non-finite")));
}

#[test]
fn trainer_evaluate_draws_from_its_evaluation_rng() {
    let mut a = Trainer::new(small(), TrainConfig::default().with_episodes(3), 4, 2).unwrap();
    let mut b = Trainer::new(small(), TrainConfig::default().with_episodes(3), 4, 2).unwrap();
    let mut env = CartPole::v0();
    a.train(&mut env, None, &mut keep_going).unwrap();
    b.train(&mut env, None, &mut keep_going).unwrap();
    let rng_before = a.rng().clone();
    let ea = a.evaluate(&mut CartPole::v0(), 5).unwrap();
    assert_eq!(a.rng(), &rng_before, "evaluation leaves the training RNG alone");
    assert_eq!(ea, b.evaluate(&mut CartPole::v0(), 5).unwrap());
    assert_eq!(ea.returns.len(), 5);
    let _ = a.agent_mut().greedy_action(ndarray::array![0.0f32, 0.0, 0.0, 0.0].view()).unwrap();
}

/// Four observations, three actions.
struct WideEnv;

impl Env for WideEnv {
    fn observation_dim(&self) -> usize {
        4
    }
    fn num_actions(&self) -> usize {
        3
    }
    fn reset(&mut self, _: &mut dyn RngCore) -> Array1<f32> {
        Array1::zeros(4)
    }
    fn step(&mut self, _: usize) -> Result<Step> {
        Ok(Step { observation: Array1::zeros(4), reward: 0.0, terminated: true, truncated: false })
    }
}

/// Episodes of 12 steps; the `fail_at`-th step overall returns an error.
struct FailsAt {
    calls: usize,
    fail_at: usize,
}

impl Env for FailsAt {
    fn observation_dim(&self) -> usize {
        4
    }
    fn num_actions(&self) -> usize {
        2
    }
    fn reset(&mut self, _: &mut dyn RngCore) -> Array1<f32> {
        Array1::zeros(4)
    }
    fn step(&mut self, _: usize) -> Result<Step> {
        self.calls += 1;
        if self.calls == self.fail_at {
            return Err(Error::NonFinite {
                what: "custom env observation".into(),
                value: f64::NAN,
            });
        }
        let terminated = self.calls.is_multiple_of(12);
        Ok(Step { observation: Array1::zeros(4), reward: 1.0, terminated, truncated: false })
    }
}
