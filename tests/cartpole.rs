//! CartPole: versions, configuration, episode lifecycle and every error path.

use approx::assert_abs_diff_eq;
use deepq::{CartPole, CartPoleConfig, Env, Error};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// A simple balancing controller that keeps the pole up for the whole episode.
fn balance(obs: &ndarray::Array1<f32>) -> usize {
    usize::from(obs[2] + 0.5 * obs[3] + 0.01 * obs[0] + 0.05 * obs[1] > 0.0)
}

#[test]
fn versions_have_gymnasium_limits_and_thresholds() {
    let v0 = CartPole::v0();
    assert_eq!((v0.max_episode_steps(), v0.reward_threshold()), (200, 195.0));
    let v1 = CartPole::v1();
    assert_eq!((v1.max_episode_steps(), v1.reward_threshold()), (500, 475.0));
    assert_eq!(CartPoleConfig::default(), CartPoleConfig::v1());
    assert_eq!((v1.observation_dim(), v1.num_actions()), (4, 2));
}

#[test]
fn reset_draws_each_component_from_the_gymnasium_interval() {
    let mut env = CartPole::v1();
    let mut r = rng(3);
    for _ in 0..1000 {
        let obs = env.reset(&mut r);
        for (v, o) in env.state().iter().zip(&obs) {
            assert!((-0.05..0.05).contains(v), "{v} outside [-0.05, 0.05)");
            assert_eq!(*v as f32, *o, "the observation is the f32 cast of the state");
        }
        assert_eq!(env.elapsed_steps(), 0);
    }
}

#[test]
fn reset_is_deterministic_under_a_seed_and_differs_across_seeds() {
    let (mut a, mut b) = (CartPole::v1(), CartPole::v1());
    assert_eq!(a.reset(&mut rng(7)), b.reset(&mut rng(7)));
    assert_ne!(a.reset(&mut rng(7)), b.reset(&mut rng(8)));
}

#[test]
fn v0_truncates_at_200_and_v1_at_500() {
    for (mut env, limit) in [(CartPole::v0(), 200), (CartPole::v1(), 500)] {
        let mut obs = env.reset(&mut rng(1));
        let mut steps = 0;
        loop {
            let step = env.step(balance(&obs)).unwrap();
            steps += 1;
            assert_eq!(step.reward, 1.0);
            obs = step.observation.clone();
            if step.done() {
                assert!(step.truncated && !step.terminated, "the controller should balance");
                break;
            }
        }
        assert_eq!(steps, limit);
        match env.step(0) {
            Err(Error::EpisodeEnded { truncated: true }) => {}
            other => panic!("expected EpisodeEnded after truncation, got {other:?}"),
        }
    }
}

#[test]
fn termination_gives_reward_one_and_then_rejects_steps() {
    let mut env = CartPole::v1();
    env.reset(&mut rng(0));
    let mut last = None;
    for _ in 0..500 {
        let step = env.step(1).unwrap();
        assert_eq!(step.reward, 1.0, "reward 1 on every step, the terminating one too");
        if step.done() {
            last = Some(step);
            break;
        }
    }
    let last = last.expect("always pushing right ends the episode");
    assert!(last.terminated && !last.truncated);
    let err = env.step(0).unwrap_err();
    assert!(matches!(err, Error::EpisodeEnded { truncated: false }), "{err:?}");
    assert!(err.to_string().contains("terminated"), "{err}");
    // A reset starts a new episode.
    env.reset(&mut rng(1));
    assert!(env.step(0).is_ok());
}

#[test]
fn sutton_barto_reward_is_zero_then_minus_one() {
    let mut env = CartPole::new(CartPoleConfig::v1().with_sutton_barto_reward(true)).unwrap();
    env.reset(&mut rng(0));
    loop {
        let step = env.step(0).unwrap();
        if step.terminated {
            assert_eq!(step.reward, -1.0);
            break;
        }
        assert_eq!(step.reward, 0.0);
    }
}

#[test]
fn invalid_action_is_an_error_naming_action_and_bound_and_changes_nothing() {
    let mut env = CartPole::v1();
    env.reset(&mut rng(0));
    let before = env.state();
    for action in [2, 3, usize::MAX] {
        let err = env.step(action).unwrap_err();
        match err {
            Error::InvalidAction { action: a, num_actions: 2 } => assert_eq!(a, action),
            ref other => panic!("expected InvalidAction, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains(&action.to_string()) && msg.contains('2'), "{msg}");
    }
    assert_eq!(env.state(), before);
    assert_eq!(env.elapsed_steps(), 0);
    assert!(env.step(1).is_ok(), "the episode goes on after a rejected action");
}

#[test]
fn step_before_reset_is_an_error() {
    let mut env = CartPole::v0();
    let err = env.step(0).unwrap_err();
    assert!(matches!(err, Error::StepBeforeReset), "{err:?}");
    assert!(err.to_string().contains("reset"));
}

#[test]
fn bad_configs_are_errors_naming_the_field() {
    let err = CartPole::new(CartPoleConfig::v0().with_max_episode_steps(0)).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { field: "max_episode_steps", .. }), "{err:?}");
    assert!(err.to_string().contains("max_episode_steps = 0"), "{err}");
    let err = CartPole::new(CartPoleConfig::v0().with_reward_threshold(f32::NAN)).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { field: "reward_threshold", .. }), "{err:?}");
}

#[test]
fn set_state_starts_or_continues_an_episode_and_rejects_non_finite_values() {
    let mut env = CartPole::v0();
    // Before any reset, set_state starts an episode at step 0.
    env.set_state([0.1, 0.0, -0.02, 0.0]).unwrap();
    assert_eq!(env.state(), [0.1, 0.0, -0.02, 0.0]);
    let obs = env.observation();
    assert_abs_diff_eq!(obs[0], 0.1f32);
    env.step(0).unwrap();
    assert_eq!(env.elapsed_steps(), 1);
    // In a running episode the step count is kept.
    env.set_state([0.0; 4]).unwrap();
    assert_eq!(env.elapsed_steps(), 1);
    // Non-finite values are rejected and the state is kept.
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let err = env.set_state([0.0, 0.0, bad, 0.0]).unwrap_err();
        assert!(matches!(err, Error::NonFinite { .. }), "{err:?}");
        assert!(err.to_string().contains("theta"), "{err}");
        assert_eq!(env.state(), [0.0; 4]);
    }
}

#[test]
fn a_step_that_would_overflow_is_an_error_and_keeps_the_state() {
    let mut env = CartPole::v1();
    let extreme = [0.0, 0.0, 0.1, 1e200];
    env.set_state(extreme).unwrap();
    let err = env.step(1).unwrap_err();
    assert!(matches!(err, Error::NonFinite { .. }), "{err:?}");
    assert_eq!(env.state(), extreme);
}

#[test]
fn cartpole_is_usable_as_a_trait_object() {
    let mut envs: Vec<Box<dyn Env>> = vec![Box::new(CartPole::v0()), Box::new(CartPole::v1())];
    for env in &mut envs {
        let obs = env.reset(&mut rng(0));
        assert_eq!(obs.len(), env.observation_dim());
        assert!(env.step(0).is_ok());
    }
}

#[test]
fn same_seed_and_actions_give_identical_episodes() {
    let run = || {
        let mut env = CartPole::v1();
        let mut obs = env.reset(&mut rng(11));
        let mut trace = vec![obs.clone()];
        loop {
            let step = env.step(balance(&obs) ^ (trace.len() % 7 == 0) as usize).unwrap();
            obs = step.observation.clone();
            trace.push(obs.clone());
            if step.done() {
                return trace;
            }
        }
    };
    assert_eq!(run(), run());
}

#[test]
fn step_into_equals_step_bit_for_bit_and_checks_its_buffer() {
    let (mut a, mut b) = (CartPole::v1(), CartPole::v1());
    a.reset(&mut rng(21));
    b.reset(&mut rng(21));
    let mut buffer = [0.0f32; 4];
    for i in 0..500 {
        let action = (i * 7 / 3) % 2;
        let step = a.step(action).unwrap();
        let info = b.step_into(action, &mut buffer).unwrap();
        assert_eq!(step.observation.to_vec(), buffer.to_vec(), "step {i}");
        assert_eq!(
            (step.reward, step.terminated, step.truncated),
            (info.reward, info.terminated, info.truncated)
        );
        assert_eq!(a.state(), b.state());
        if info.done() {
            break;
        }
    }
    // The same errors as step, and a wrong-length buffer changes nothing.
    let mut fresh = CartPole::v0();
    assert!(matches!(fresh.step_into(0, &mut buffer), Err(Error::StepBeforeReset)));
    fresh.reset(&mut rng(0));
    let before = fresh.state();
    let err = fresh.step_into(0, &mut [0.0; 3]).unwrap_err();
    assert!(matches!(err, Error::ObservationLength { expected: 4, actual: 3, .. }), "{err:?}");
    assert!(matches!(fresh.step_into(2, &mut buffer), Err(Error::InvalidAction { .. })));
    assert_eq!(fresh.state(), before);
    assert_eq!(fresh.elapsed_steps(), 0);
}
