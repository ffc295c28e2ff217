//! The training loop's bookkeeping (solve rule, report, observer) and the evaluation statistics,
//! checked with a scripted agent and environment whose returns are known in advance.

use approx::assert_relative_eq;
use deepq::{
    Agent, Env, Error, EvalConfig, EvalStats, Interval, LearnStats, Result, Step, StopReason,
    TrainConfig, Transition, evaluate, evaluate_policy, evaluate_policy_capped, train,
};
use ndarray::{Array1, ArrayView1, array};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::ops::ControlFlow;

/// Episode `k` (from 0) lasts `lengths[k % lengths.len()]` steps with reward 1 per step, then
/// terminates.
struct Scripted {
    lengths: Vec<usize>,
    episode: usize,
    step: usize,
    running: bool,
}

impl Scripted {
    fn new(lengths: Vec<usize>) -> Self {
        Self { lengths, episode: 0, step: 0, running: false }
    }
}

impl Env for Scripted {
    fn observation_dim(&self) -> usize {
        1
    }

    fn num_actions(&self) -> usize {
        2
    }

    fn reset(&mut self, _rng: &mut dyn RngCore) -> Array1<f32> {
        if self.running || self.step > 0 {
            self.episode += 1;
        }
        self.step = 0;
        self.running = true;
        array![0.0]
    }

    fn step(&mut self, action: usize) -> Result<Step> {
        if action >= 2 {
            return Err(Error::InvalidAction { action, num_actions: 2 });
        }
        if !self.running {
            return Err(Error::EpisodeEnded { truncated: false });
        }
        self.step += 1;
        let terminated = self.step >= self.lengths[self.episode % self.lengths.len()];
        self.running = !terminated;
        Ok(Step {
            observation: array![self.step as f32],
            reward: 1.0,
            terminated,
            truncated: false,
        })
    }
}

/// Counts what the loop asks of it; "learns" on every step with loss equal to the step count.
#[derive(Default)]
struct Counting {
    acted: usize,
    observed: Vec<(bool, bool)>,
    learned: usize,
}

impl Agent for Counting {
    fn observation_dim(&self) -> usize {
        1
    }

    fn num_actions(&self) -> usize {
        2
    }

    fn act(&mut self, _: ArrayView1<'_, f32>, _: &mut dyn RngCore) -> Result<usize> {
        self.acted += 1;
        Ok(1)
    }

    fn greedy_action(&mut self, _: ArrayView1<'_, f32>) -> Result<usize> {
        Ok(0)
    }

    fn observe(&mut self, t: Transition<'_>) -> Result<()> {
        self.observed.push((t.terminated, t.truncated));
        Ok(())
    }

    fn learn(&mut self, _: &mut dyn RngCore) -> Result<Option<LearnStats>> {
        self.learned += 1;
        Ok(Some(LearnStats { loss: 2.0, mean_q: 0.5, gradient_steps: 1 }))
    }

    fn epsilon(&self) -> f32 {
        0.25
    }
}

fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(0)
}

#[test]
fn solved_at_is_the_first_full_window_reaching_the_threshold() {
    // Returns 10, 10, 10, then 30 forever; window 4, threshold 25:
    // windows: [10,10,10,30]=15, [10,10,30,30]=20, [10,30,30,30]=25 -> solved at episode 6.
    let mut env = Scripted::new(vec![10, 10, 10, 30, 30, 30, 30, 30, 30, 30]);
    let config =
        TrainConfig::default().with_episodes(10).with_reward_threshold(25.0).with_solve_window(4);
    let mut seen = Vec::new();
    let report = train(&mut Counting::default(), &mut env, &config, &mut rng(), &mut |s| {
        seen.push((s.episode, s.episode_return, s.trailing_mean));
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(report.solved_at, Some(6));
    assert_eq!(report.episodes(), 6, "stops when solved");
    assert_eq!(report.stop_reason, StopReason::Solved);
    assert_eq!(report.returns, vec![10.0, 10.0, 10.0, 30.0, 30.0, 30.0]);
    assert_eq!(seen[3], (4, 30.0, 15.0));
    assert_eq!(seen[5], (6, 30.0, 25.0));
}

#[test]
fn never_solved_before_a_full_window() {
    let mut env = Scripted::new(vec![100]);
    let config =
        TrainConfig::default().with_episodes(5).with_reward_threshold(50.0).with_solve_window(10);
    let report = train(&mut Counting::default(), &mut env, &config, &mut rng(), &mut |_| {
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(report.solved_at, None);
    assert_eq!(report.episodes(), 5);
}

#[test]
fn training_continues_after_solving_when_asked() {
    let mut env = Scripted::new(vec![5]);
    let config = TrainConfig::default()
        .with_episodes(8)
        .with_reward_threshold(5.0)
        .with_solve_window(2)
        .with_stop_when_solved(false);
    let report = train(&mut Counting::default(), &mut env, &config, &mut rng(), &mut |_| {
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(report.solved_at, Some(2));
    assert_eq!(report.episodes(), 8);
}

#[test]
fn the_loop_acts_observes_and_learns_once_per_step_and_reports_it() {
    let mut env = Scripted::new(vec![3, 4]);
    let mut agent = Counting::default();
    let mut stats = Vec::new();
    let config = TrainConfig::default().with_episodes(2);
    let report = train(&mut agent, &mut env, &config, &mut rng(), &mut |s| {
        stats.push(s.clone());
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!((agent.acted, agent.learned, agent.observed.len()), (7, 7, 7));
    assert_eq!(report.env_steps, 7);
    assert_eq!(report.gradient_steps, 7);
    assert_eq!(report.lengths, vec![3, 4]);
    assert_eq!(agent.observed[2], (true, false), "the last step of an episode is terminal");
    assert_eq!(stats[1].env_steps, 7);
    assert_eq!(stats[1].loss, Some(2.0));
    assert_eq!(stats[1].mean_q, Some(0.5));
    assert_eq!(stats[1].trailing_mean_length, 3.5);
    assert_eq!(report.stop_reason, StopReason::EpisodeBudget);
    assert_eq!(stats[1].epsilon, 0.25);
    assert!(stats[1].terminated);
}

#[test]
fn bad_train_configs_are_errors() {
    let mut env = Scripted::new(vec![1]);
    for (config, field) in [
        (TrainConfig::default().with_episodes(0), "episodes"),
        (TrainConfig::default().with_solve_window(0), "solve_window"),
        (TrainConfig::default().with_reward_threshold(f32::NAN), "reward_threshold"),
        (TrainConfig::default().with_max_env_steps(0), "max_env_steps"),
        (TrainConfig { episodes: None, ..TrainConfig::default() }, "episodes"),
        (TrainConfig::default().with_max_episode_steps(0), "max_episode_steps"),
        (TrainConfig::default().with_eval(EvalConfig::default()), "eval"),
        (TrainConfig::default().with_eval(EvalConfig::default().with_episodes(0)), "eval.episodes"),
        (
            TrainConfig::default()
                .with_eval(EvalConfig::default().with_every(Interval::EnvSteps(0))),
            "eval.every",
        ),
    ] {
        let err = train(&mut Counting::default(), &mut env, &config, &mut rng(), &mut |_| {
            ControlFlow::Continue(())
        })
        .unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { field: f, .. } if f == field), "{err:?}");
    }
}

#[test]
fn errors_of_the_env_and_agent_are_passed_on() {
    struct BadAction;
    impl Agent for BadAction {
        fn observation_dim(&self) -> usize {
            1
        }
        fn num_actions(&self) -> usize {
            2
        }
        fn act(&mut self, _: ArrayView1<'_, f32>, _: &mut dyn RngCore) -> Result<usize> {
            Ok(9)
        }
        fn greedy_action(&mut self, _: ArrayView1<'_, f32>) -> Result<usize> {
            Ok(9)
        }
        fn observe(&mut self, _: Transition<'_>) -> Result<()> {
            Ok(())
        }
        fn learn(&mut self, _: &mut dyn RngCore) -> Result<Option<LearnStats>> {
            Ok(None)
        }
    }
    let mut env = Scripted::new(vec![3]);
    let err = train(&mut BadAction, &mut env, &TrainConfig::default(), &mut rng(), &mut |_| {
        ControlFlow::Continue(())
    });
    assert!(matches!(err, Err(Error::InvalidAction { action: 9, .. })), "{err:?}");
    let err = evaluate(&mut BadAction, &mut env, 3, &mut rng());
    assert!(matches!(err, Err(Error::InvalidAction { action: 9, .. })), "{err:?}");
}

#[test]
fn evaluation_statistics() {
    let lengths = vec![3, 1, 4, 1, 5, 9];
    let stats = EvalStats::from_episodes(vec![3.0, 1.0, 4.0, 1.0, 5.0, 9.0], lengths).unwrap();
    assert_relative_eq!(stats.mean, 23.0 / 6.0, max_relative = 1e-6);
    assert_relative_eq!(stats.mean_length, 23.0 / 6.0, max_relative = 1e-6);
    assert_eq!(stats.median, 3.5);
    // population SD, as numpy's np.std: sqrt(mean((x - mean)^2))
    let m = 23.0f64 / 6.0;
    let var =
        [3.0, 1.0, 4.0, 1.0, 5.0, 9.0].iter().map(|x: &f64| (x - m).powi(2)).sum::<f64>() / 6.0;
    assert_relative_eq!(stats.sd, var.sqrt() as f32, max_relative = 1e-6);
    assert_eq!((stats.min, stats.max), (1.0, 9.0));
    assert_eq!(EvalStats::from_episodes(vec![7.0, 2.0, 5.0], vec![1, 1, 1]).unwrap().median, 5.0);
    assert!(EvalStats::from_episodes(vec![], vec![]).is_err());
    assert!(EvalStats::from_episodes(vec![1.0, f32::NAN], vec![1, 1]).is_err());
    assert!(EvalStats::from_episodes(vec![1.0, 2.0], vec![1]).is_err());
}

#[test]
fn evaluate_policy_plays_whole_episodes_greedily() {
    let mut env = Scripted::new(vec![2, 6]);
    let stats = evaluate_policy(&mut env, 4, &mut rng(), &mut |_| Ok(0)).unwrap();
    assert_eq!(stats.returns, vec![2.0, 6.0, 2.0, 6.0]);
    assert_eq!(stats.lengths, vec![2, 6, 2, 6]);
    assert_eq!(stats.mean, 4.0);
    assert!(evaluate_policy(&mut env, 0, &mut rng(), &mut |_| Ok(0)).is_err());
}

#[test]
fn a_step_budget_cuts_the_last_episode_and_says_so() {
    // Episodes of 4 steps; a budget of 10 steps: two whole episodes, the third cut after 2.
    let mut env = Scripted::new(vec![4]);
    let mut agent = Counting::default();
    let mut seen = 0;
    let config = TrainConfig::default().with_max_env_steps(10);
    let report = train(&mut agent, &mut env, &config, &mut rng(), &mut |_| {
        seen += 1;
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(report.stop_reason, StopReason::StepBudget);
    assert_eq!((report.env_steps, report.episodes(), seen), (10, 2, 2));
    assert_eq!(agent.acted, 10);
    let cut = report.cut_episode.expect("the third episode was cut");
    assert_eq!((cut.length, cut.partial_return), (2, 2.0));

    // A budget that ends with an episode cuts nothing.
    let mut env = Scripted::new(vec![4]);
    let config = TrainConfig::default().with_max_env_steps(8);
    let report = train(&mut Counting::default(), &mut env, &config, &mut rng(), &mut |_| {
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!((report.env_steps, report.episodes(), report.cut_episode), (8, 2, None));
    assert_eq!(report.stop_reason, StopReason::StepBudget);
}

#[test]
fn with_both_budgets_the_first_spent_stops_training() {
    let mut env = Scripted::new(vec![4]);
    let config = TrainConfig::default().with_max_env_steps(1000).with_episodes(3);
    let report = train(&mut Counting::default(), &mut env, &config, &mut rng(), &mut |_| {
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!((report.episodes(), report.env_steps), (3, 12));
    assert_eq!(report.stop_reason, StopReason::EpisodeBudget);
}

#[test]
fn the_observer_can_stop_training_after_an_episode() {
    let mut env = Scripted::new(vec![2, 3, 50]);
    let config = TrainConfig::default().with_episodes(100);
    let report = train(&mut Counting::default(), &mut env, &config, &mut rng(), &mut |s| {
        if s.episode_return >= 3.0 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    })
    .unwrap();
    assert_eq!(report.returns, vec![2.0, 3.0]);
    assert_eq!(report.stop_reason, StopReason::Observer);
}

/// An environment with `actions` actions and observations of `dim` values that never ends.
struct Endless {
    dim: usize,
    actions: usize,
}

impl Env for Endless {
    fn observation_dim(&self) -> usize {
        self.dim
    }

    fn num_actions(&self) -> usize {
        self.actions
    }

    fn reset(&mut self, _rng: &mut dyn RngCore) -> Array1<f32> {
        Array1::zeros(self.dim)
    }

    fn step(&mut self, action: usize) -> Result<Step> {
        if action >= self.actions {
            return Err(Error::InvalidAction { action, num_actions: self.actions });
        }
        Ok(Step {
            observation: Array1::zeros(self.dim),
            reward: 0.0,
            terminated: false,
            truncated: false,
        })
    }
}

#[test]
fn an_agent_that_does_not_fit_the_env_is_refused_before_anything_runs() {
    let mut agent = Counting::default(); // 1 input, 2 actions
    for (mut env, what, env_value) in [
        (Endless { dim: 1, actions: 3 }, "num_actions", 3),
        (Endless { dim: 4, actions: 2 }, "observation_dim", 4),
    ] {
        let err = train(&mut agent, &mut env, &TrainConfig::default(), &mut rng(), &mut |_| {
            ControlFlow::Continue(())
        })
        .unwrap_err();
        match &err {
            Error::DimensionMismatch { what: w, env: e, .. } => {
                assert_eq!((*w, *e), (what, env_value));
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains(what), "{err}");
        let err = evaluate(&mut agent, &mut env, 1, &mut rng()).unwrap_err();
        assert!(matches!(err, Error::DimensionMismatch { .. }), "{err:?}");
    }
    assert_eq!(agent.acted, 0);
    let message = Error::DimensionMismatch { what: "num_actions", agent: 2, env: 3 }.to_string();
    assert_eq!(message, "the agent's num_actions is 2 but the environment's is 3");
}

#[test]
fn an_episode_that_never_ends_is_an_error_naming_it() {
    let mut env = Endless { dim: 1, actions: 2 };
    let config = TrainConfig::default().with_max_episode_steps(50);
    let err = train(&mut Counting::default(), &mut env, &config, &mut rng(), &mut |_| {
        ControlFlow::Continue(())
    })
    .unwrap_err();
    assert!(matches!(err, Error::EpisodeTooLong { episode: 1, max_steps: 50 }), "{err:?}");
    assert!(err.to_string().contains("TimeLimit"), "{err}");
    // evaluate and evaluate_policy stop at the documented default cap.
    let err = evaluate(&mut Counting::default(), &mut env, 2, &mut rng()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::EpisodeTooLong { episode: 1, max_steps: deepq::DEFAULT_MAX_EPISODE_STEPS }
        ),
        "{err:?}"
    );
    let err = evaluate_policy_capped(&mut env, 2, 7, &mut rng(), &mut |_| Ok(0)).unwrap_err();
    assert!(matches!(err, Error::EpisodeTooLong { max_steps: 7, .. }), "{err:?}");
}

#[test]
fn huge_budgets_do_not_allocate_up_front() {
    let mut env = Scripted::new(vec![1]);
    let config = TrainConfig::default().with_episodes(usize::MAX).with_max_env_steps(5);
    let report = train(&mut Counting::default(), &mut env, &config, &mut rng(), &mut |_| {
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(report.episodes(), 5);
    let stats = evaluate_policy(&mut env, 3, &mut rng(), &mut |_| Ok(0)).unwrap();
    assert_eq!(stats.returns.len(), 3);
}

/// Acts 0 always and claims the value `10 * observation[0] + 2` with discount 0.5.
struct Valued;

impl Agent for Valued {
    fn observation_dim(&self) -> usize {
        1
    }
    fn num_actions(&self) -> usize {
        2
    }
    fn act(&mut self, _: ArrayView1<'_, f32>, _: &mut dyn RngCore) -> Result<usize> {
        Ok(0)
    }
    fn greedy_action(&mut self, _: ArrayView1<'_, f32>) -> Result<usize> {
        Ok(0)
    }
    fn greedy_action_and_value(
        &mut self,
        obs: ArrayView1<'_, f32>,
    ) -> Result<(usize, Option<f32>)> {
        Ok((0, Some(10.0 * obs[0] + 2.0)))
    }
    fn discount(&self) -> Option<f32> {
        Some(0.5)
    }
    fn observe(&mut self, _: Transition<'_>) -> Result<()> {
        Ok(())
    }
    fn learn(&mut self, _: &mut dyn RngCore) -> Result<Option<LearnStats>> {
        Ok(None)
    }
}

#[test]
fn evaluate_compares_the_agents_values_with_the_discounted_returns() {
    // Episodes of 3 and 5 steps, reward 1: discounted returns 1.75 and 1.9375 (gamma 0.5);
    // the observation is the step count, so the start value is 2 and the largest 10 * 4 + 2.
    let mut env = Scripted::new(vec![3, 5]);
    let stats = evaluate(&mut Valued, &mut env, 2, &mut rng()).unwrap();
    let values = stats.values.expect("the agent gives values");
    assert_eq!(values.gamma, 0.5);
    assert_eq!(values.mean_start_value, 2.0);
    assert_eq!(values.mean_discounted_return, (1.75 + 1.9375) / 2.0);
    assert_eq!(values.max_value, 42.0);
    // An agent without values, and evaluate_policy, give none.
    assert_eq!(evaluate(&mut Counting::default(), &mut env, 2, &mut rng()).unwrap().values, None);
    assert_eq!(evaluate_policy(&mut env, 2, &mut rng(), &mut |_| Ok(0)).unwrap().values, None);
}
