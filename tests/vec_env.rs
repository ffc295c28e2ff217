//! Vector environments: a `SequentialVecEnv` and a `ThreadedVecEnv` (1, 2, 3 and N threads)
//! give, for the same seeded actions, bit for bit what N separate environments stepped by hand
//! give under the documented rule (step every sub-environment; then reset, in index order from
//! the one RNG, each one whose step ended its episode), over episodes that end by termination
//! and by truncation; and bad input, failing and panicking sub-environments are errors, never a
//! panic or a hang.

use deepq::{
    CartPole, Env, Error, SequentialVecEnv, Step, StepInfo, ThreadedVecEnv, TimeLimit, VecEnv,
    VecStep,
};
use ndarray::{Array1, Array2, ShapeBuilder};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

const N: usize = 5;
const STEPS: usize = 300;

/// CartPole-v1 cut at 10 to 30 steps: random play ends some episodes by dropping the pole
/// (termination) and others at the limit (truncation).
fn cartpoles() -> Vec<TimeLimit<CartPole>> {
    (0..N).map(|i| TimeLimit::new(CartPole::v1(), 10 + 5 * i).unwrap()).collect()
}

/// The seeded actions of every step.
fn actions() -> Vec<Vec<usize>> {
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    (0..STEPS).map(|_| (0..N).map(|_| rng.random_range(0..2)).collect()).collect()
}

/// What one vector step must return.
#[derive(Debug, Clone)]
struct Expected {
    observations: Vec<Array1<f32>>,
    final_observations: Vec<Array1<f32>>,
    infos: Vec<StepInfo>,
}

/// N environments stepped by hand: the first observations, then every step's results.
fn by_hand(seed: u64) -> (Vec<Array1<f32>>, Vec<Expected>) {
    let mut envs = cartpoles();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let first: Vec<Array1<f32>> = envs.iter_mut().map(|env| env.reset(&mut rng)).collect();
    let mut steps = Vec::new();
    for actions in actions() {
        let results: Vec<Step> =
            envs.iter_mut().zip(&actions).map(|(env, &a)| env.step(a).unwrap()).collect();
        let mut observations = Vec::new();
        for (env, step) in envs.iter_mut().zip(&results) {
            // Reset in index order, from the one RNG, after every sub-environment has stepped.
            observations.push(if step.done() {
                env.reset(&mut rng)
            } else {
                step.observation.clone()
            });
        }
        steps.push(Expected {
            observations,
            final_observations: results.iter().map(|s| s.observation.clone()).collect(),
            infos: results
                .iter()
                .map(|s| StepInfo {
                    reward: s.reward,
                    terminated: s.terminated,
                    truncated: s.truncated,
                })
                .collect(),
        });
    }
    (first, steps)
}

fn bits(a: ndarray::ArrayView1<'_, f32>) -> Vec<u32> {
    a.iter().map(|v| v.to_bits()).collect()
}

fn assert_rows(what: &str, t: usize, got: &Array2<f32>, expected: &[Array1<f32>]) {
    for (i, row) in expected.iter().enumerate() {
        assert_eq!(bits(got.row(i)), bits(row.view()), "{what} of sub-env {i} at step {t}");
    }
}

/// Runs `env` through the seeded actions with `step_autoreset` and compares every step with the
/// hand-stepped environments.
fn check_against_hand(env: &mut dyn VecEnv, label: &str) {
    let seed = 7;
    let (first, expected) = by_hand(seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = VecStep::new(env.num_envs(), env.observation_dim());
    env.reset(&mut rng, out.observations.view_mut()).unwrap();
    assert_rows(&format!("{label}: first observation"), 0, &out.observations, &first);
    for (t, (actions, e)) in actions().iter().zip(&expected).enumerate() {
        env.step_autoreset(actions, &mut rng, &mut out).unwrap();
        assert_rows(&format!("{label}: observation"), t, &out.observations, &e.observations);
        assert_rows(
            &format!("{label}: final observation"),
            t,
            &out.final_observations,
            &e.final_observations,
        );
        for (i, (got, want)) in out.infos.iter().zip(&e.infos).enumerate() {
            assert_eq!(got.reward.to_bits(), want.reward.to_bits(), "{label}: reward {i} at {t}");
            assert_eq!(
                (got.terminated, got.truncated),
                (want.terminated, want.truncated),
                "{label}: flags {i} at {t}"
            );
        }
    }
}

#[test]
fn the_reference_run_ends_episodes_both_ways() {
    // Otherwise the comparisons below would not cover both kinds of end.
    let (_, steps) = by_hand(7);
    let infos = steps.iter().flat_map(|s| s.infos.iter());
    let terminated = infos.clone().filter(|i| i.terminated).count();
    let truncated = infos.clone().filter(|i| i.truncated && !i.terminated).count();
    assert!(terminated >= 20 && truncated >= 20, "{terminated} terminated, {truncated} truncated");
}

#[test]
fn sequential_matches_environments_stepped_by_hand() {
    let mut env = SequentialVecEnv::new(cartpoles()).unwrap();
    check_against_hand(&mut env, "sequential");
}

#[test]
fn threaded_matches_environments_stepped_by_hand_for_every_thread_count() {
    for threads in [1, 2, 3, N] {
        let mut env = ThreadedVecEnv::new(cartpoles(), threads).unwrap();
        assert_eq!(env.threads(), threads);
        check_against_hand(&mut env, &format!("{threads} threads"));
    }
    let mut env = ThreadedVecEnv::with_available_parallelism(cartpoles()).unwrap();
    assert!((1..=N).contains(&env.threads()));
    check_against_hand(&mut env, "available parallelism");
}

#[test]
fn step_then_reset_masked_is_step_autoreset() {
    // The primitives (Gymnasium's DISABLED mode) that the training loop uses.
    let (first, expected) = by_hand(7);
    for mut env in [
        Box::new(SequentialVecEnv::new(cartpoles()).unwrap()) as Box<dyn VecEnv>,
        Box::new(ThreadedVecEnv::new(cartpoles(), 2).unwrap()),
    ] {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut obs = Array2::zeros((N, 4));
        let mut infos = vec![StepInfo { reward: 0.0, terminated: false, truncated: false }; N];
        env.reset(&mut rng, obs.view_mut()).unwrap();
        assert_rows("first", 0, &obs, &first);
        for (t, (actions, e)) in actions().iter().zip(&expected).enumerate() {
            env.step(actions, obs.view_mut(), &mut infos).unwrap();
            assert_rows("final observation", t, &obs, &e.final_observations);
            let mask: Vec<bool> = infos.iter().map(StepInfo::done).collect();
            env.reset_masked(&mask, &mut rng, obs.view_mut()).unwrap();
            assert_rows("observation", t, &obs, &e.observations);
        }
    }
}

#[test]
fn observation_views_in_any_layout_get_the_same_values() {
    let (first, expected) = by_hand(7);
    for mut env in [
        Box::new(SequentialVecEnv::new(cartpoles()).unwrap()) as Box<dyn VecEnv>,
        Box::new(ThreadedVecEnv::new(cartpoles(), 3).unwrap()),
    ] {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        // Column-major: no row is contiguous.
        let mut obs = Array2::<f32>::zeros((N, 4).f());
        let mut infos = vec![StepInfo { reward: 0.0, terminated: false, truncated: false }; N];
        env.reset(&mut rng, obs.view_mut()).unwrap();
        assert_rows("first", 0, &obs, &first);
        for (t, (actions, e)) in actions().iter().zip(&expected).take(40).enumerate() {
            env.step(actions, obs.view_mut(), &mut infos).unwrap();
            assert_rows("final observation", t, &obs, &e.final_observations);
            let mask: Vec<bool> = infos.iter().map(StepInfo::done).collect();
            env.reset_masked(&mask, &mut rng, obs.view_mut()).unwrap();
        }
    }
}

/// An environment that can be told to fail: its observation has `dim` values, its step number
/// `fail_at` (from 1, counted over its whole life) returns an error, `panic_at` panics, and a
/// reset returns `reset_len` values.
#[derive(Debug, Clone)]
struct Faulty {
    dim: usize,
    actions: usize,
    steps: usize,
    fail_at: Option<usize>,
    panic_at: Option<usize>,
    reset_len: usize,
}

impl Faulty {
    fn new(dim: usize) -> Self {
        Self { dim, actions: 2, steps: 0, fail_at: None, panic_at: None, reset_len: dim }
    }
}

impl Env for Faulty {
    fn observation_dim(&self) -> usize {
        self.dim
    }

    fn num_actions(&self) -> usize {
        self.actions
    }

    fn reset(&mut self, rng: &mut dyn RngCore) -> Array1<f32> {
        Array1::from_elem(self.reset_len, rng.random::<f32>())
    }

    fn step(&mut self, action: usize) -> deepq::Result<Step> {
        if action >= self.actions {
            return Err(Error::InvalidAction { action, num_actions: self.actions });
        }
        self.steps += 1;
        if self.panic_at == Some(self.steps) {
            panic!("faulty env panics at step {}", self.steps);
        }
        if self.fail_at == Some(self.steps) {
            return Err(Error::NonFinite { what: "faulty env".into(), value: f64::NAN });
        }
        Ok(Step {
            observation: Array1::from_elem(self.dim, self.steps as f32),
            reward: 1.0,
            terminated: false,
            truncated: false,
        })
    }
}

fn faulty(n: usize, change: impl Fn(usize, &mut Faulty)) -> Vec<Faulty> {
    (0..n)
        .map(|i| {
            let mut env = Faulty::new(3);
            change(i, &mut env);
            env
        })
        .collect()
}

fn both(envs: Vec<Faulty>, threads: usize) -> [Box<dyn VecEnv>; 2] {
    [
        Box::new(SequentialVecEnv::new(envs.clone()).unwrap()),
        Box::new(ThreadedVecEnv::new(envs, threads).unwrap()),
    ]
}

fn sub_env(e: &Error) -> (usize, &Error) {
    match e {
        Error::SubEnv { index, source } => (*index, source),
        other => panic!("expected Error::SubEnv, got {other:?}"),
    }
}

#[test]
fn bad_construction_is_an_error() {
    let empty = || Vec::<CartPole>::new();
    assert!(matches!(
        SequentialVecEnv::new(empty()),
        Err(Error::InvalidArgument { what: "envs", .. })
    ));
    assert!(matches!(
        ThreadedVecEnv::new(empty(), 1),
        Err(Error::InvalidArgument { what: "envs", .. })
    ));
    let mixed = faulty(3, |i, env| env.dim = if i == 2 { 4 } else { 3 });
    let e = SequentialVecEnv::new(mixed.clone()).unwrap_err();
    assert!(e.to_string().contains("sub-environment 2 has observation_dim 4"), "{e}");
    assert!(matches!(
        ThreadedVecEnv::new(mixed, 2),
        Err(Error::InvalidArgument { what: "envs", .. })
    ));
    let actions = faulty(2, |i, env| env.actions = 2 + i);
    assert!(SequentialVecEnv::new(actions).is_err());
    assert!(SequentialVecEnv::new(faulty(2, |_, env| env.dim = 0)).is_err());
    for threads in [0, 4] {
        let e = ThreadedVecEnv::new(faulty(3, |_, _| ()), threads).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { what: "threads", .. }), "{e}");
    }
}

#[test]
fn bad_arguments_are_errors_that_change_nothing() {
    for mut env in both(faulty(4, |_, _| ()), 2) {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut obs = Array2::zeros((4, 3));
        let mut infos = vec![StepInfo { reward: 0.0, terminated: false, truncated: false }; 4];
        let e = env.step(&[0; 4], obs.view_mut(), &mut infos).unwrap_err();
        assert!(matches!(sub_env(&e), (0, Error::StepBeforeReset)), "{e}");
        assert!(matches!(
            env.reset_masked(&[true; 3], &mut rng, obs.view_mut()),
            Err(Error::LengthMismatch { .. })
        ));
        assert!(matches!(
            env.reset(&mut rng, Array2::zeros((4, 2)).view_mut()),
            Err(Error::ShapeMismatch { .. })
        ));
        env.reset(&mut rng, obs.view_mut()).unwrap();
        assert!(matches!(
            env.step(&[0; 3], obs.view_mut(), &mut infos),
            Err(Error::LengthMismatch { .. })
        ));
        assert!(matches!(
            env.step(&[0; 4], obs.view_mut(), &mut infos[..3]),
            Err(Error::LengthMismatch { .. })
        ));
        assert!(matches!(
            env.step(&[0; 4], Array2::zeros((3, 3)).view_mut(), &mut infos),
            Err(Error::ShapeMismatch { .. })
        ));
        let e = env.step(&[0, 1, 2, 5], obs.view_mut(), &mut infos).unwrap_err();
        assert!(
            matches!(sub_env(&e), (2, Error::InvalidAction { action: 2, num_actions: 2 })),
            "{e}"
        );
        // Nothing stepped: the next step is every sub-environment's first.
        env.step(&[0; 4], obs.view_mut(), &mut infos).unwrap();
        assert!(obs.iter().all(|&v| v == 1.0), "{obs}");
        let mut out = VecStep::new(3, 3);
        assert!(matches!(
            env.step_autoreset(&[0; 4], &mut rng, &mut out),
            Err(Error::ShapeMismatch { .. })
        ));
    }
}

#[test]
fn a_step_after_the_end_without_a_reset_is_an_error() {
    let envs =
        || (0..3).map(|i| TimeLimit::new(CartPole::v1(), 2 + i).unwrap()).collect::<Vec<_>>();
    for mut env in [
        Box::new(SequentialVecEnv::new(envs()).unwrap()) as Box<dyn VecEnv>,
        Box::new(ThreadedVecEnv::new(envs(), 3).unwrap()),
    ] {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut obs = Array2::zeros((3, 4));
        let mut infos = vec![StepInfo { reward: 0.0, terminated: false, truncated: false }; 3];
        env.reset(&mut rng, obs.view_mut()).unwrap();
        env.step(&[0, 1, 0], obs.view_mut(), &mut infos).unwrap();
        env.step(&[1, 0, 1], obs.view_mut(), &mut infos).unwrap();
        assert!(infos[0].truncated && !infos[1].done());
        let e = env.step(&[0, 1, 0], obs.view_mut(), &mut infos).unwrap_err();
        assert!(matches!(sub_env(&e), (0, Error::EpisodeEnded { truncated: true })), "{e}");
        env.reset_masked(&[true, false, false], &mut rng, obs.view_mut()).unwrap();
        env.step(&[0, 1, 0], obs.view_mut(), &mut infos).unwrap();
        assert!(!infos[0].done() && infos[1].truncated);
    }
}

#[test]
fn a_failing_sub_environment_is_reported_and_the_rest_must_be_reset() {
    for mut env in
        both(faulty(5, |i, env| env.fail_at = [None, None, Some(3), Some(2), None][i]), 2)
    {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut obs = Array2::zeros((5, 3));
        let mut infos = vec![StepInfo { reward: 0.0, terminated: false, truncated: false }; 5];
        env.reset(&mut rng, obs.view_mut()).unwrap();
        env.step(&[0; 5], obs.view_mut(), &mut infos).unwrap();
        // Sub-environment 3 fails at its 2nd step, 2 at its 3rd: the lowest failing index is
        // reported.
        let e = env.step(&[0; 5], obs.view_mut(), &mut infos).unwrap_err();
        assert!(matches!(sub_env(&e), (3, Error::NonFinite { .. })), "{e}");
        let e = env.step(&[0; 5], obs.view_mut(), &mut infos).unwrap_err();
        assert!(matches!(sub_env(&e), (0, Error::StepBeforeReset)), "{e}");
        env.reset(&mut rng, obs.view_mut()).unwrap();
        let e = env.step(&[0; 5], obs.view_mut(), &mut infos).unwrap_err();
        assert!(matches!(sub_env(&e), (2, Error::NonFinite { .. })), "{e}");
        env.reset(&mut rng, obs.view_mut()).unwrap();
        env.step(&[0; 5], obs.view_mut(), &mut infos).unwrap();
    }
}

#[test]
fn a_reset_of_the_wrong_length_is_an_error() {
    for mut env in both(faulty(3, |i, env| env.reset_len = if i == 1 { 2 } else { 3 }), 3) {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut obs = Array2::zeros((3, 3));
        let e = env.reset(&mut rng, obs.view_mut()).unwrap_err();
        assert!(
            matches!(sub_env(&e), (1, Error::ObservationLength { expected: 3, actual: 2, .. })),
            "{e}"
        );
    }
}

/// Sub-environment 0 is in the worker's chunk, 2 in the calling thread's (4 sub-environments on
/// 2 threads).
#[test]
fn a_panicking_sub_environment_is_an_error_for_good_on_either_thread() {
    for bad in [0, 2] {
        let envs = faulty(4, |i, env| env.panic_at = (i == bad).then_some(3));
        let mut env = ThreadedVecEnv::new(envs, 2).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut obs = Array2::zeros((4, 3));
        let mut infos = vec![StepInfo { reward: 0.0, terminated: false, truncated: false }; 4];
        env.reset(&mut rng, obs.view_mut()).unwrap();
        for _ in 0..2 {
            env.step(&[1; 4], obs.view_mut(), &mut infos).unwrap();
        }
        let e = env.step(&[1; 4], obs.view_mut(), &mut infos).unwrap_err();
        match &e {
            Error::SubEnvPanicked { index, message } if *index == bad => {
                assert!(message.contains("panics at step 3"))
            }
            other => panic!("expected SubEnvPanicked for sub-environment {bad}, got {other:?}"),
        }
        // Unusable from then on, and it says why.
        assert!(matches!(
            env.step(&[1; 4], obs.view_mut(), &mut infos),
            Err(Error::SubEnvPanicked { index, .. }) if index == bad
        ));
        assert!(matches!(
            env.reset(&mut rng, obs.view_mut()),
            Err(Error::SubEnvPanicked { index, .. }) if index == bad
        ));
        drop(env); // joins the workers: no hang
    }
}

#[test]
fn sub_environments_are_reachable() {
    let mut seq = SequentialVecEnv::new(cartpoles()).unwrap();
    let mut threaded = ThreadedVecEnv::new(cartpoles(), 2).unwrap();
    assert_eq!(seq.envs().len(), N);
    assert_eq!(threaded.env(4).map(|e| e.max_steps()), Some(30));
    assert!(threaded.env(N).is_none());
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut out = VecStep::new(N, 4);
    threaded.reset(&mut rng, out.observations.view_mut()).unwrap();
    threaded.step_autoreset(&[0; N], &mut rng, &mut out).unwrap();
    assert_eq!(threaded.env_mut(3).map(|e| e.elapsed_steps()), Some(1));
    seq.envs_mut()[0].inner_mut();
    assert_eq!(seq.into_envs().len(), N);
    assert!(format!("{threaded:?}").contains("threads: 2"));
}
