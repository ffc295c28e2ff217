//! `TimeLimit` truncates episodes after a number of steps, as Gymnasium's wrapper does, and
//! keeps the `Env` contract.

use deepq::{
    CartPole, CartPoleConfig, CheckConfig, Env, EnvRule, Error, Result, Step, StepInfo, TimeLimit,
    check_env,
};
use ndarray::{Array1, array};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// An env that never ends by itself: one observation value (the step count), 2 actions, reward
/// 1. It terminates at step `terminate_at` if one is given.
#[derive(Debug, Clone)]
struct Endless {
    steps: usize,
    started: bool,
    terminate_at: Option<usize>,
    ended: bool,
    /// Steps the wrapper passed on, valid or not.
    calls: usize,
}

impl Endless {
    fn new() -> Self {
        Self { steps: 0, started: false, terminate_at: None, ended: false, calls: 0 }
    }

    fn terminating_at(steps: usize) -> Self {
        Self { terminate_at: Some(steps), ..Self::new() }
    }
}

impl Env for Endless {
    fn observation_dim(&self) -> usize {
        1
    }

    fn num_actions(&self) -> usize {
        2
    }

    fn reset(&mut self, _rng: &mut dyn RngCore) -> Array1<f32> {
        self.steps = 0;
        self.started = true;
        self.ended = false;
        array![0.0]
    }

    fn step(&mut self, action: usize) -> Result<Step> {
        self.calls += 1;
        if action >= 2 {
            return Err(Error::InvalidAction { action, num_actions: 2 });
        }
        if !self.started {
            return Err(Error::StepBeforeReset);
        }
        if self.ended {
            return Err(Error::EpisodeEnded { truncated: false });
        }
        self.steps += 1;
        let terminated = self.terminate_at == Some(self.steps);
        self.ended = terminated;
        Ok(Step {
            observation: array![self.steps as f32],
            reward: 1.0,
            terminated,
            truncated: false,
        })
    }
}

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn flags(step: &Step) -> (bool, bool) {
    (step.terminated, step.truncated)
}

#[test]
fn an_endless_env_is_truncated_after_exactly_max_steps() {
    let mut env = TimeLimit::new(Endless::new(), 5).unwrap();
    assert_eq!((env.max_steps(), env.elapsed_steps()), (5, 0));
    env.reset(&mut rng(0));
    for i in 1..5 {
        let step = env.step(i % 2).unwrap();
        assert_eq!(flags(&step), (false, false), "step {i}");
        assert_eq!(step.reward, 1.0);
        assert_eq!(env.elapsed_steps(), i);
    }
    let step = env.step(0).unwrap();
    assert_eq!(flags(&step), (false, true));
    assert_eq!(step.observation, array![5.0]);
    assert_eq!(env.elapsed_steps(), 5);
}

#[test]
fn a_step_after_the_limit_is_rejected_without_calling_the_inner_env() {
    let mut env = TimeLimit::new(Endless::new(), 5).unwrap();
    env.reset(&mut rng(0));
    for _ in 0..5 {
        env.step(1).unwrap();
    }
    assert_eq!(env.inner().calls, 5);
    let err = env.step(1).unwrap_err();
    assert!(matches!(err, Error::EpisodeEnded { truncated: true }), "{err:?}");
    let err = env.step_into(1, &mut [0.0]).unwrap_err();
    assert!(matches!(err, Error::EpisodeEnded { truncated: true }), "{err:?}");
    assert_eq!(env.inner().calls, 5);
    assert_eq!(env.elapsed_steps(), 5);
}

#[test]
fn reset_restarts_the_count() {
    let mut env = TimeLimit::new(Endless::new(), 5).unwrap();
    for episode in 0..3 {
        assert_eq!(env.reset(&mut rng(episode)), array![0.0]);
        assert_eq!(env.elapsed_steps(), 0);
        let mut len = 0;
        loop {
            len += 1;
            if env.step(0).unwrap().done() {
                break;
            }
        }
        assert_eq!(len, 5, "episode {episode}");
    }
    // A reset in the middle of an episode also restarts the count.
    env.reset(&mut rng(9));
    env.step(0).unwrap();
    env.step(0).unwrap();
    env.reset(&mut rng(9));
    assert_eq!(env.elapsed_steps(), 0);
    for _ in 0..4 {
        assert!(!env.step(0).unwrap().done());
    }
    assert!(env.step(0).unwrap().truncated);
}

#[test]
fn an_invalid_action_is_an_error_and_does_not_count() {
    let mut env = TimeLimit::new(Endless::new(), 5).unwrap();
    env.reset(&mut rng(0));
    for bad in [2, 3, usize::MAX] {
        let err = env.step(bad).unwrap_err();
        assert!(matches!(err, Error::InvalidAction { num_actions: 2, .. }), "{err:?}");
        let err = env.step_into(bad, &mut [0.0]).unwrap_err();
        assert!(matches!(err, Error::InvalidAction { num_actions: 2, .. }), "{err:?}");
    }
    assert_eq!(env.elapsed_steps(), 0);
    for _ in 0..4 {
        assert!(!env.step(0).unwrap().done());
        env.step(2).unwrap_err();
    }
    assert!(env.step(0).unwrap().truncated);
    // After the end, an invalid action is still reported as an invalid action.
    let err = env.step(2).unwrap_err();
    assert!(matches!(err, Error::InvalidAction { action: 2, num_actions: 2 }), "{err:?}");
}

#[test]
fn a_wrong_buffer_is_an_error_and_does_not_count() {
    let mut env = TimeLimit::new(Endless::new(), 5).unwrap();
    env.reset(&mut rng(0));
    let err = env.step_into(0, &mut [0.0, 0.0]).unwrap_err();
    assert!(matches!(err, Error::ObservationLength { expected: 1, actual: 2, .. }), "{err:?}");
    assert_eq!(env.elapsed_steps(), 0);
}

#[test]
fn a_step_before_reset_is_an_error_and_does_not_count() {
    let mut env = TimeLimit::new(Endless::new(), 5).unwrap();
    let err = env.step(0).unwrap_err();
    assert!(matches!(err, Error::StepBeforeReset), "{err:?}");
    let err = env.step_into(0, &mut [0.0]).unwrap_err();
    assert!(matches!(err, Error::StepBeforeReset), "{err:?}");
    assert_eq!(env.elapsed_steps(), 0);
}

#[test]
fn termination_on_the_last_step_gives_both_flags() {
    let mut env = TimeLimit::new(Endless::terminating_at(5), 5).unwrap();
    env.reset(&mut rng(0));
    for _ in 0..4 {
        assert!(!env.step(1).unwrap().done());
    }
    assert_eq!(flags(&env.step(1).unwrap()), (true, true));
    // The episode ended by termination, as a CartPole that falls on its last step reports it.
    let err = env.step(1).unwrap_err();
    assert!(matches!(err, Error::EpisodeEnded { truncated: false }), "{err:?}");
}

#[test]
fn termination_before_the_limit_is_kept_and_ends_the_episode() {
    let mut env = TimeLimit::new(Endless::terminating_at(3), 5).unwrap();
    env.reset(&mut rng(0));
    env.step(0).unwrap();
    env.step(0).unwrap();
    assert_eq!(flags(&env.step(0).unwrap()), (true, false));
    let err = env.step(0).unwrap_err();
    assert!(matches!(err, Error::EpisodeEnded { truncated: false }), "{err:?}");
    assert_eq!(env.elapsed_steps(), 3);
}

#[test]
fn the_smaller_of_two_limits_wins() {
    // Alternating pushes keep the pole up for well over 10 steps.
    for (own, limit) in [(10, 4), (4, 10), (6, 6)] {
        let config = CartPoleConfig { max_episode_steps: own, ..CartPoleConfig::v1() };
        let mut env = TimeLimit::new(CartPole::new(config).unwrap(), limit).unwrap();
        env.reset(&mut rng(3));
        let mut len = 0;
        let step = loop {
            let step = env.step(len % 2).unwrap();
            len += 1;
            if step.done() {
                break step;
            }
        };
        assert_eq!(len, own.min(limit), "own limit {own}, wrapper limit {limit}");
        assert_eq!(flags(&step), (false, true), "own limit {own}, wrapper limit {limit}");
        let err = env.step(0).unwrap_err();
        assert!(matches!(err, Error::EpisodeEnded { truncated: true }), "{err:?}");
    }
}

#[test]
fn step_into_gives_the_same_episode_as_step() {
    let mut a = TimeLimit::new(CartPole::v1(), 50).unwrap();
    let mut b = TimeLimit::new(CartPole::v1(), 50).unwrap();
    for seed in 0..5 {
        let (mut rng_a, mut rng_b) = (rng(seed), rng(seed));
        let first_a = a.reset(&mut rng_a);
        let first_b = b.reset(&mut rng_b);
        assert_eq!(first_a, first_b);
        let mut buffer = [0.0f32; 4];
        loop {
            let step = a.step(rng_a.random_range(0..2)).unwrap();
            let info: StepInfo = b.step_into(rng_b.random_range(0..2), &mut buffer).unwrap();
            assert_eq!(step.observation.to_vec(), buffer.to_vec());
            assert_eq!(
                (step.reward, step.terminated, step.truncated),
                (info.reward, info.terminated, info.truncated)
            );
            assert_eq!(a.elapsed_steps(), b.elapsed_steps());
            if step.done() {
                break;
            }
        }
        assert!(a.elapsed_steps() <= 50);
    }
}

#[test]
fn check_env_passes_on_wrapped_envs() {
    let mut endless = TimeLimit::new(Endless::new(), 5).unwrap();
    check_env(&mut endless, &CheckConfig::default()).unwrap();
    let mut cartpole = TimeLimit::new(CartPole::v1(), 50).unwrap();
    check_env(&mut cartpole, &CheckConfig::default()).unwrap();
    // Also through a trait object.
    let env: &mut dyn Env = &mut TimeLimit::new(Endless::new(), 1).unwrap();
    check_env(env, &CheckConfig::default()).unwrap();
}

#[test]
fn check_env_fails_on_the_endless_env_unwrapped() {
    // The checker plays every episode for at most `CheckConfig::max_steps` (100,000) steps.
    let err = check_env(&mut Endless::new(), &CheckConfig::default());
    assert!(matches!(err, Err(Error::EnvCheck { rule: EnvRule::EpisodeEnds, .. })), "{err:?}");
}

#[test]
fn a_zero_limit_is_an_invalid_config() {
    let err = TimeLimit::new(Endless::new(), 0).unwrap_err();
    match err {
        Error::InvalidConfig { field, value, rule } => {
            assert_eq!((field, value.as_str(), rule), ("max_steps", "0", "must be at least 1"));
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn the_inner_env_is_reachable_and_the_wrapper_clones() {
    let mut env = TimeLimit::new(Endless::new(), 5).unwrap();
    env.reset(&mut rng(0));
    env.step(0).unwrap();
    let copy = env.clone();
    assert_eq!(copy.elapsed_steps(), 1);
    assert_eq!(copy.inner().steps, 1);
    env.inner_mut().terminate_at = Some(2);
    assert_eq!(flags(&env.step(0).unwrap()), (true, false));
    assert!(format!("{env:?}").contains("max_steps: 5"));
    let inner = env.into_inner();
    assert_eq!((inner.steps, inner.calls), (2, 2));
}
