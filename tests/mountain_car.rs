//! MountainCar: configuration, resets, the episode lifecycle and every error path.

use deepq::{CheckConfig, Env, Error, MountainCar, MountainCarConfig, check_env};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Push in the direction of the velocity: pumps energy and reaches the flag in ~120 steps.
fn pump(obs: &[f32]) -> usize {
    if obs[1] >= 0.0 { 2 } else { 0 }
}

#[test]
fn v0_has_gymnasium_spaces_limit_and_threshold() {
    let env = MountainCar::v0();
    assert_eq!((env.observation_dim(), env.num_actions()), (2, 3));
    assert_eq!((env.max_episode_steps(), env.reward_threshold()), (200, -110.0));
    assert_eq!(env.config().goal_velocity, 0.0);
    assert_eq!(MountainCarConfig::default(), MountainCarConfig::v0());
    assert_eq!(env.elapsed_steps(), 0);
}

#[test]
fn check_env_passes() {
    check_env(&mut MountainCar::v0(), &CheckConfig::default()).unwrap();
    let mut short = MountainCar::new(MountainCarConfig::v0().with_max_episode_steps(7)).unwrap();
    check_env(&mut short, &CheckConfig::default()).unwrap();
}

#[test]
fn reset_starts_at_rest_in_the_gymnasium_interval() {
    let mut env = MountainCar::v0();
    let mut r = rng(3);
    let (mut lowest, mut highest) = (f64::INFINITY, f64::NEG_INFINITY);
    for _ in 0..2000 {
        let obs = env.reset(&mut r);
        let [position, velocity] = env.state();
        assert!((-0.6..-0.4).contains(&position), "{position} outside [-0.6, -0.4)");
        assert_eq!(velocity.to_bits(), 0, "the start velocity is +0.0");
        assert_eq!(obs.to_vec(), vec![position as f32, 0.0], "the f32 cast of the state");
        assert_eq!(env.elapsed_steps(), 0);
        (lowest, highest) = (lowest.min(position), highest.max(position));
    }
    // Uniform over the whole interval.
    assert!(lowest < -0.599 && highest > -0.401, "{lowest}..{highest}");
}

#[test]
fn reset_uses_one_word_of_the_rng_as_numpy_does() {
    /// Hands out one fixed word.
    struct Fixed(u64, usize);
    impl rand::RngCore for Fixed {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.1 += 1;
            self.0
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            dest.fill(0);
        }
    }
    let mut env = MountainCar::v0();
    for (word, position) in [
        (0, -0.6),
        // numpy's rounding: the largest word gives -0.4 itself.
        (u64::MAX, -0.4),
        (u64::MAX - (1 << 11), -0.6 + 0.19999999999999996 * (1.0 - f64::EPSILON)),
        (1 << 63, -0.6 + 0.19999999999999996 * 0.5),
    ] {
        let mut r = Fixed(word, 0);
        env.reset(&mut r);
        assert_eq!(r.1, 1, "exactly one next_u64");
        assert_eq!(env.state(), [position, 0.0], "word {word:#x}");
    }
}

#[test]
fn reset_is_deterministic_under_a_seed_and_differs_across_seeds() {
    let (mut a, mut b) = (MountainCar::v0(), MountainCar::v0());
    assert_eq!(a.reset(&mut rng(7)), b.reset(&mut rng(7)));
    assert_ne!(a.reset(&mut rng(7)), b.reset(&mut rng(8)));
}

#[test]
fn same_seed_and_actions_give_identical_episodes() {
    let run = |seed| {
        let mut env = MountainCar::v0();
        let mut r = rng(seed);
        let mut obs = env.reset(&mut r);
        let mut trace = vec![(obs.to_vec(), env.state())];
        loop {
            let action = if trace.len() % 5 == 0 { 1 } else { pump(obs.as_slice().unwrap()) };
            let step = env.step(action).unwrap();
            obs = step.observation.clone();
            trace.push((obs.to_vec(), env.state()));
            if step.done() {
                return trace;
            }
        }
    };
    assert_eq!(run(11), run(11));
    assert_ne!(run(11), run(12));
}

#[test]
fn doing_nothing_is_truncated_at_200_with_reward_minus_one() {
    let mut env = MountainCar::v0();
    env.reset(&mut rng(1));
    let mut steps = 0;
    loop {
        // Doing nothing never reaches the flag.
        let step = env.step(1).unwrap();
        steps += 1;
        assert_eq!(step.reward, -1.0);
        if step.done() {
            assert!(step.truncated && !step.terminated);
            break;
        }
    }
    assert_eq!(steps, 200);
    assert_eq!(env.elapsed_steps(), 200);
    match env.step(0) {
        Err(Error::EpisodeEnded { truncated: true }) => {}
        other => panic!("expected EpisodeEnded after truncation, got {other:?}"),
    }
}

#[test]
fn pumping_reaches_the_flag_and_then_steps_are_rejected() {
    let mut env = MountainCar::v0();
    let mut obs = env.reset(&mut rng(0));
    let mut ret = 0.0;
    let last = loop {
        let step = env.step(pump(obs.as_slice().unwrap())).unwrap();
        ret += step.reward;
        obs = step.observation.clone();
        if step.done() {
            break step;
        }
    };
    assert!(last.terminated && !last.truncated);
    assert!(env.state()[0] >= 0.5 && env.state()[1] >= 0.0);
    assert!(ret > -200.0 && ret < -80.0, "return {ret}");
    let err = env.step(2).unwrap_err();
    assert!(matches!(err, Error::EpisodeEnded { truncated: false }), "{err:?}");
    assert!(err.to_string().contains("terminated"), "{err}");
    env.reset(&mut rng(1));
    assert!(env.step(1).is_ok(), "a reset starts a new episode");
}

#[test]
fn a_goal_velocity_delays_termination() {
    // At the flag but slower than the goal velocity: not terminated.
    let config = MountainCarConfig::v0().with_goal_velocity(0.05);
    let mut env = MountainCar::new(config).unwrap();
    env.set_state([0.55, 0.01]).unwrap();
    let step = env.step(2).unwrap();
    assert!(env.state()[0] >= 0.5 && !step.terminated);
    // The same step with the default goal velocity terminates.
    let mut env = MountainCar::v0();
    env.set_state([0.55, 0.01]).unwrap();
    assert!(env.step(2).unwrap().terminated);
}

#[test]
fn the_left_wall_stops_the_car_and_the_speed_is_limited() {
    let mut env = MountainCar::v0();
    env.set_state([-1.19, -0.05]).unwrap();
    env.step(0).unwrap();
    assert_eq!(env.state(), [-1.2, 0.0]);
    env.set_state([-1.0, 0.0695]).unwrap(); // gravity pulls right here
    env.step(2).unwrap();
    assert_eq!(env.state()[1], 0.07);
    env.set_state([0.0, -0.5]).unwrap();
    env.step(0).unwrap();
    assert_eq!(env.state()[1], -0.07);
}

#[test]
fn a_time_limit_of_one_truncates_the_first_step() {
    let mut env = MountainCar::new(MountainCarConfig::v0().with_max_episode_steps(1)).unwrap();
    env.reset(&mut rng(0));
    let step = env.step(1).unwrap();
    assert!(step.truncated && !step.terminated);
    assert!(env.step(1).is_err());
}

#[test]
fn invalid_action_is_an_error_naming_action_and_bound_and_changes_nothing() {
    let mut env = MountainCar::v0();
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
    let mut env = MountainCar::v0();
    let err = env.step(0).unwrap_err();
    assert!(matches!(err, Error::StepBeforeReset), "{err:?}");
    assert!(err.to_string().contains("reset"));
    assert!(matches!(env.step_into(0, &mut [0.0; 2]), Err(Error::StepBeforeReset)));
}

#[test]
fn bad_configs_are_errors_naming_the_field() {
    let err = MountainCar::new(MountainCarConfig::v0().with_max_episode_steps(0)).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { field: "max_episode_steps", .. }), "{err:?}");
    assert!(err.to_string().contains("max_episode_steps = 0"), "{err}");
    let err =
        MountainCar::new(MountainCarConfig::v0().with_reward_threshold(f32::NAN)).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { field: "reward_threshold", .. }), "{err:?}");
    let err =
        MountainCar::new(MountainCarConfig::v0().with_goal_velocity(f64::INFINITY)).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { field: "goal_velocity", .. }), "{err:?}");
}

#[test]
fn set_state_starts_or_continues_an_episode_and_rejects_non_finite_values() {
    let mut env = MountainCar::v0();
    // Before any reset, set_state starts an episode at step 0.
    env.set_state([-0.3, 0.01]).unwrap();
    assert_eq!(env.state(), [-0.3, 0.01]);
    assert_eq!(env.observation().to_vec(), vec![-0.3f32, 0.01f32]);
    env.step(0).unwrap();
    assert_eq!(env.elapsed_steps(), 1);
    // In a running episode the step count is kept.
    env.set_state([-0.5, 0.0]).unwrap();
    assert_eq!(env.elapsed_steps(), 1);
    // Non-finite values are rejected, naming the component, and the state is kept.
    for (bad, name) in [
        ([f64::NAN, 0.0], "position"),
        ([0.0, f64::INFINITY], "velocity"),
        ([f64::NEG_INFINITY, 0.0], "position"),
    ] {
        let err = env.set_state(bad).unwrap_err();
        assert!(matches!(err, Error::NonFinite { .. }), "{err:?}");
        assert!(err.to_string().contains(name), "{err}");
        assert_eq!(env.state(), [-0.5, 0.0]);
    }
    // After the episode ended, set_state starts a new one at step 0.
    env.set_state([0.55, 0.05]).unwrap();
    assert!(env.step(2).unwrap().terminated);
    env.set_state([-0.5, 0.0]).unwrap();
    assert_eq!(env.elapsed_steps(), 0);
    assert!(env.step(1).is_ok());
}

#[test]
fn a_step_that_would_overflow_is_an_error_and_keeps_the_state() {
    // 3 * 1e308 overflows to infinity, whose cosine is NaN.
    let mut env = MountainCar::v0();
    env.set_state([1e308, 0.0]).unwrap();
    let err = env.step(1).unwrap_err();
    assert!(matches!(err, Error::NonFinite { .. }), "{err:?}");
    assert_eq!(env.state(), [1e308, 0.0]);
    assert_eq!(env.elapsed_steps(), 0);
}

#[test]
fn step_into_equals_step_bit_for_bit_and_checks_its_buffer() {
    let (mut a, mut b) = (MountainCar::v0(), MountainCar::v0());
    a.reset(&mut rng(21));
    b.reset(&mut rng(21));
    let mut buffer = [0.0f32; 2];
    for i in 0..200 {
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
    // A wrong-length buffer or action changes nothing.
    let mut fresh = MountainCar::v0();
    fresh.reset(&mut rng(0));
    let before = fresh.state();
    let err = fresh.step_into(0, &mut [0.0; 3]).unwrap_err();
    assert!(matches!(err, Error::ObservationLength { expected: 2, actual: 3, .. }), "{err:?}");
    assert!(matches!(fresh.step_into(3, &mut buffer), Err(Error::InvalidAction { .. })));
    assert_eq!(fresh.state(), before);
    assert_eq!(fresh.elapsed_steps(), 0);
}

#[test]
fn mountain_car_is_usable_as_a_trait_object() {
    let mut env: Box<dyn Env> = Box::new(MountainCar::v0());
    let obs = env.reset(&mut rng(0));
    assert_eq!(obs.len(), env.observation_dim());
    assert!(env.step(2).is_ok());
}
