//! Acrobot: configuration, episode lifecycle, the reset draw and every error path.

use approx::assert_abs_diff_eq;
use deepq::{Acrobot, AcrobotConfig, CheckConfig, Env, Error, check_env};
use ndarray::Array1;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Pumps energy: torque in the direction the second joint turns. It reaches the goal in about
/// 100 steps (torque along the first joint's velocity does not).
fn pump(observation: &Array1<f32>) -> usize {
    if observation[5] > 0.0 { 2 } else { 0 }
}

/// An RNG that returns fixed 64-bit outputs, for the documented reset formula.
struct Fixed(Vec<u64>);

impl RngCore for Fixed {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.0.remove(0)
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes()[..chunk.len()]);
        }
    }
}

#[test]
fn v1_has_gymnasiums_limit_threshold_and_spaces() {
    let env = Acrobot::v1();
    assert_eq!((env.max_episode_steps(), env.reward_threshold()), (500, -100.0));
    assert_eq!((env.observation_dim(), env.num_actions()), (6, 3));
    assert_eq!(AcrobotConfig::default(), AcrobotConfig::v1());
    assert_eq!(env.config(), &AcrobotConfig::v1());
    let custom = AcrobotConfig::v1().with_max_episode_steps(7).with_reward_threshold(-80.0);
    let env = Acrobot::new(custom.clone()).unwrap();
    assert_eq!((env.max_episode_steps(), env.reward_threshold()), (7, -80.0));
    assert_eq!(env.config(), &custom);
}

#[test]
fn bad_configs_are_errors_naming_the_field() {
    let err = Acrobot::new(AcrobotConfig::v1().with_max_episode_steps(0)).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { field: "max_episode_steps", .. }), "{err:?}");
    assert!(err.to_string().contains("max_episode_steps = 0"), "{err}");
    for bad in [f32::NAN, f32::INFINITY] {
        let err = Acrobot::new(AcrobotConfig::v1().with_reward_threshold(bad)).unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { field: "reward_threshold", .. }), "{err:?}");
    }
}

#[test]
fn reset_draws_float32_values_from_the_gymnasium_interval() {
    let mut env = Acrobot::v1();
    let mut r = rng(3);
    let bound = f64::from(0.1f32); // 0.1 rounded to f32 is a hair above 0.1
    for _ in 0..1000 {
        let obs = env.reset(&mut r);
        let s = env.state();
        for v in s {
            assert!((-bound..=bound).contains(&v), "{v} outside [-0.1, 0.1]");
            assert_eq!(f64::from(v as f32), v, "{v} is not an f32 value");
        }
        assert_eq!((obs[4], obs[5]), (s[2] as f32, s[3] as f32));
        for (k, angle) in [s[0], s[1]].into_iter().enumerate() {
            assert_abs_diff_eq!(obs[2 * k], angle.cos() as f32, epsilon = 1e-7);
            assert_abs_diff_eq!(obs[2 * k + 1], angle.sin() as f32, epsilon = 1e-7);
        }
        assert_eq!(env.observation(), obs);
        assert_eq!(env.elapsed_steps(), 0);
    }
}

#[test]
fn reset_uses_numpys_uniform_formula_on_one_u64_per_value() {
    // -0.1 + 0.2 * ((u >> 11) * 2^-53), rounded to f32, for theta1, theta2, dtheta1, dtheta2.
    let mut env = Acrobot::v1();
    let half = 1u64 << 63; // u = 0.5: exactly 0
    env.reset(&mut Fixed(vec![0, u64::MAX, half, 3 << 62]));
    let expected = [-0.1f32, 0.1, 0.0, (-0.1 + 0.2 * 0.75) as f32];
    assert_eq!(env.state(), expected.map(f64::from));
}

#[test]
fn reset_is_deterministic_under_a_seed_and_differs_across_seeds() {
    let (mut a, mut b) = (Acrobot::v1(), Acrobot::v1());
    assert_eq!(a.reset(&mut rng(7)), b.reset(&mut rng(7)));
    assert_eq!(a.state(), b.state());
    assert_ne!(a.reset(&mut rng(7)), b.reset(&mut rng(8)));
}

#[test]
fn zero_torque_is_truncated_at_500_steps_with_reward_minus_one() {
    let mut env = Acrobot::v1();
    env.reset(&mut rng(1));
    for i in 1..=500 {
        let step = env.step(1).unwrap();
        assert_eq!(step.reward, -1.0);
        assert!(!step.terminated, "hanging without torque never reaches the goal");
        assert_eq!(step.truncated, i == 500, "step {i}");
        assert_eq!(env.elapsed_steps(), i);
    }
    match env.step(1) {
        Err(Error::EpisodeEnded { truncated: true }) => {}
        other => panic!("expected EpisodeEnded after truncation, got {other:?}"),
    }
}

#[test]
fn the_time_limit_is_the_configs() {
    let mut env = Acrobot::new(AcrobotConfig::v1().with_max_episode_steps(10)).unwrap();
    env.reset(&mut rng(2));
    let ends: Vec<bool> = (0..10).map(|_| env.step(0).unwrap().truncated).collect();
    assert_eq!(ends, [false, false, false, false, false, false, false, false, false, true]);
    assert!(env.step(0).is_err());
}

#[test]
fn reaching_the_goal_terminates_with_reward_zero_and_then_rejects_steps() {
    let mut env = Acrobot::v1();
    let mut obs = env.reset(&mut rng(0));
    let mut last = None;
    for _ in 0..500 {
        let step = env.step(pump(&obs)).unwrap();
        obs = step.observation.clone();
        if step.done() {
            last = Some(step);
            break;
        }
        assert_eq!(step.reward, -1.0);
    }
    let last = last.expect("pumping ends the episode");
    assert!(last.terminated && !last.truncated, "the goal is reached before 500 steps");
    assert_eq!(last.reward, 0.0);
    // The free end is above the goal line: -cos(theta1) - cos(theta1 + theta2) > 1.
    let [t1, t2, _, _] = env.state();
    assert!(-t1.cos() - (t2 + t1).cos() > 1.0);
    let err = env.step(1).unwrap_err();
    assert!(matches!(err, Error::EpisodeEnded { truncated: false }), "{err:?}");
    assert!(err.to_string().contains("terminated"), "{err}");
    env.reset(&mut rng(1));
    assert!(env.step(1).is_ok(), "a reset starts a new episode");
}

#[test]
fn angles_are_wrapped_and_velocities_bounded() {
    let mut env = Acrobot::v1();
    env.set_state([3.0, -3.0, 50.0, -80.0]).unwrap();
    let pi = std::f64::consts::PI;
    let mut on_bound = 0;
    for _ in 0..100 {
        let step = env.step(2).unwrap();
        let [t1, t2, v1, v2] = env.state();
        assert!((-pi..=pi).contains(&t1) && (-pi..=pi).contains(&t2), "{t1} {t2}");
        assert!(v1.abs() <= 4.0 * pi && v2.abs() <= 9.0 * pi, "{v1} {v2}");
        on_bound += usize::from(v1.abs() == 4.0 * pi || v2.abs() == 9.0 * pi);
        if step.done() {
            break;
        }
    }
    assert!(on_bound >= 1, "the velocities start beyond the bounds and are clipped to them");
}

#[test]
fn invalid_action_is_an_error_naming_action_and_bound_and_changes_nothing() {
    let mut env = Acrobot::v1();
    env.reset(&mut rng(0));
    let before = env.state();
    for action in [3, 4, usize::MAX] {
        let err = env.step(action).unwrap_err();
        match err {
            Error::InvalidAction { action: a, num_actions: 3 } => assert_eq!(a, action),
            ref other => panic!("expected InvalidAction, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains(&action.to_string()) && msg.contains('3'), "{msg}");
    }
    assert_eq!(env.state(), before);
    assert_eq!(env.elapsed_steps(), 0);
    assert!(env.step(2).is_ok(), "the episode goes on after a rejected action");
}

#[test]
fn step_before_reset_is_an_error() {
    let mut env = Acrobot::v1();
    let err = env.step(0).unwrap_err();
    assert!(matches!(err, Error::StepBeforeReset), "{err:?}");
    assert!(err.to_string().contains("reset"));
    assert!(matches!(env.step_into(0, &mut [0.0; 6]), Err(Error::StepBeforeReset)));
}

#[test]
fn set_state_starts_or_continues_an_episode_and_rejects_non_finite_values() {
    let mut env = Acrobot::v1();
    // Before any reset, set_state starts an episode at step 0.
    let state = [0.5, -1.0, 0.25, 2.0];
    env.set_state(state).unwrap();
    assert_eq!(env.state(), state);
    // An f64 state: the observation is the f64 cos and sin, rounded to f32.
    let expected = [0.5f64.cos(), 0.5f64.sin(), 1f64.cos(), (-1f64).sin(), 0.25, 2.0];
    assert_eq!(env.observation().to_vec(), expected.map(|v| v as f32));
    env.step(0).unwrap();
    assert_eq!(env.elapsed_steps(), 1);
    // In a running episode the step count is kept.
    env.set_state([0.0; 4]).unwrap();
    assert_eq!(env.elapsed_steps(), 1);
    // Non-finite values are rejected and the state is kept.
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let err = env.set_state([0.0, 0.0, bad, 0.0]).unwrap_err();
        assert!(matches!(err, Error::NonFinite { .. }), "{err:?}");
        assert!(err.to_string().contains("dtheta1"), "{err}");
        assert_eq!(env.state(), [0.0; 4]);
    }
}

#[test]
fn reset_to_starts_an_episode_from_a_float32_state_and_rejects_non_finite_values() {
    let mut env = Acrobot::v1();
    env.reset(&mut rng(0));
    env.step(0).unwrap();
    let obs = env.reset_to([0.05, -0.05, 0.01, -0.02]).unwrap();
    assert_eq!(env.elapsed_steps(), 0);
    assert_eq!(env.state(), [0.05f32, -0.05, 0.01, -0.02].map(f64::from));
    assert_eq!((obs[4], obs[5]), (0.01, -0.02));
    assert_abs_diff_eq!(obs[0], 0.05f32.cos(), epsilon = 1e-7);
    let before = env.state();
    for bad in [f32::NAN, f32::INFINITY] {
        let err = env.reset_to([bad, 0.0, 0.0, 0.0]).unwrap_err();
        assert!(matches!(err, Error::NonFinite { .. }), "{err:?}");
        assert!(err.to_string().contains("theta1"), "{err}");
        assert_eq!(env.state(), before);
    }
}

#[test]
fn a_step_from_an_extreme_state_is_an_error_and_keeps_the_state() {
    let mut env = Acrobot::v1();
    // Overflow to NaN.
    let extreme = [0.0, 0.0, 1e200, 0.0];
    env.set_state(extreme).unwrap();
    let err = env.step(1).unwrap_err();
    assert!(matches!(err, Error::NonFinite { .. }), "{err:?}");
    assert_eq!(env.state(), extreme);
    // An angle that Gymnasium's wrap would reduce for hours.
    let extreme = [1.0, 0.5, 1e4, -1e4];
    env.set_state(extreme).unwrap();
    let err = env.step(1).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    assert!(err.to_string().contains("theta1"), "{err}");
    assert_eq!(env.state(), extreme);
    assert_eq!(env.elapsed_steps(), 0);
    // Large but manageable velocities are bounded as Gymnasium bounds them.
    env.set_state([0.0, 0.0, 1e3, 0.0]).unwrap();
    let step = env.step(1).unwrap();
    assert!(step.observation.iter().all(|v| v.is_finite()));
}

#[test]
fn check_env_passes() {
    check_env(&mut Acrobot::v1(), &CheckConfig::default()).unwrap();
    let short = AcrobotConfig::v1().with_max_episode_steps(20);
    check_env(&mut Acrobot::new(short).unwrap(), &CheckConfig::default().with_seed(9)).unwrap();
}

#[test]
fn acrobot_is_usable_as_a_trait_object() {
    let mut envs: Vec<Box<dyn Env>> = vec![Box::new(Acrobot::v1())];
    for env in &mut envs {
        let obs = env.reset(&mut rng(0));
        assert_eq!(obs.len(), env.observation_dim());
        assert!(env.step(2).is_ok());
    }
}

#[test]
fn same_seed_and_actions_give_identical_episodes() {
    let run = || {
        let mut env = Acrobot::v1();
        let mut obs = env.reset(&mut rng(11));
        let mut trace = vec![obs.clone()];
        loop {
            let action = if trace.len() % 7 == 0 { 1 } else { pump(&obs) };
            let step = env.step(action).unwrap();
            obs = step.observation.clone();
            trace.push(obs.clone());
            if step.done() {
                return (trace, env.state());
            }
        }
    };
    assert_eq!(run(), run());
}

#[test]
fn step_into_equals_step_bit_for_bit_and_checks_its_buffer() {
    let (mut a, mut b) = (Acrobot::v1(), Acrobot::v1());
    a.reset(&mut rng(21));
    b.reset(&mut rng(21));
    let mut buffer = [0.0f32; 6];
    for i in 0..500 {
        let action = (i * 7 / 3) % 3;
        let step = a.step(action).unwrap();
        let info = b.step_into(action, &mut buffer).unwrap();
        assert_eq!(step.observation.to_vec(), buffer.to_vec(), "step {i}");
        assert_eq!(
            (step.reward, step.terminated, step.truncated),
            (info.reward, info.terminated, info.truncated)
        );
        assert_eq!(a.state().map(f64::to_bits), b.state().map(f64::to_bits));
        if info.done() {
            break;
        }
    }
    // The same errors as step, and a wrong-length buffer changes nothing.
    let mut fresh = Acrobot::v1();
    fresh.reset(&mut rng(0));
    let before = fresh.state();
    let err = fresh.step_into(0, &mut [0.0; 4]).unwrap_err();
    assert!(matches!(err, Error::ObservationLength { expected: 6, actual: 4, .. }), "{err:?}");
    assert!(matches!(fresh.step_into(3, &mut buffer), Err(Error::InvalidAction { .. })));
    assert_eq!(fresh.state(), before);
    assert_eq!(fresh.elapsed_steps(), 0);
}
