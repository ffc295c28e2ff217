//! `check_env` accepts well-behaved environments and names the rule each broken one breaks.

use std::collections::HashSet;

use deepq::{CartPole, CheckConfig, Env, EnvRule, Error, Result, Step, check_env};
use ndarray::{Array1, array};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What a [`Countdown`] does wrong.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    None,
    NoActions,
    ShortObservation,
    NanObservation,
    NanReward,
    ResetIgnoresSeed,
    StepIgnoresSeed,
    AcceptsInvalidAction,
    InvalidActionMovesState,
    RejectsValidAction,
    NeverEnds,
    StepAfterEndAccepted,
}

/// A small valid env: a random start in 5..10, each action counts down by 1 or 2 (with a
/// seeded chance of an extra step), terminated at zero, truncated after 20 steps.
struct Countdown {
    fault: Fault,
    left: i64,
    steps: usize,
    running: bool,
    noise: ChaCha8Rng,
    resets: u64,
}

impl Countdown {
    fn new(fault: Fault) -> Self {
        Self {
            fault,
            left: 0,
            steps: 0,
            running: false,
            noise: ChaCha8Rng::seed_from_u64(0),
            resets: 0,
        }
    }

    fn obs(&self) -> Array1<f32> {
        match self.fault {
            Fault::ShortObservation => array![self.left as f32],
            Fault::NanObservation if self.steps == 2 => array![f32::NAN, 0.0],
            _ => array![self.left as f32, self.steps as f32],
        }
    }
}

impl Env for Countdown {
    fn observation_dim(&self) -> usize {
        2
    }

    fn num_actions(&self) -> usize {
        if self.fault == Fault::NoActions { 0 } else { 2 }
    }

    fn reset(&mut self, rng: &mut dyn RngCore) -> Array1<f32> {
        self.resets += 1;
        self.left = if self.fault == Fault::ResetIgnoresSeed {
            5 + (self.resets % 5) as i64
        } else {
            rng.random_range(5..10)
        };
        self.noise = ChaCha8Rng::seed_from_u64(rng.next_u64());
        self.steps = 0;
        self.running = true;
        self.obs()
    }

    fn step(&mut self, action: usize) -> Result<Step> {
        let invalid = action >= 2;
        if invalid {
            match self.fault {
                Fault::AcceptsInvalidAction => {}
                Fault::InvalidActionMovesState => {
                    self.left -= 1;
                    return Err(Error::InvalidAction { action, num_actions: 2 });
                }
                _ => return Err(Error::InvalidAction { action, num_actions: 2 }),
            }
        }
        if self.fault == Fault::RejectsValidAction && self.steps == 1 {
            return Err(Error::InvalidAction { action, num_actions: 2 });
        }
        if !self.running && self.fault != Fault::StepAfterEndAccepted {
            return Err(Error::EpisodeEnded { truncated: false });
        }
        let extra = if self.fault == Fault::StepIgnoresSeed {
            (self.resets % 2) as i64
        } else {
            i64::from(self.noise.random_bool(0.1))
        };
        if self.fault != Fault::NeverEnds {
            self.left -= 1 + (action.min(1) as i64) + extra;
        }
        self.steps += 1;
        let terminated = self.left <= 0;
        let truncated = self.steps >= 20 && self.fault != Fault::NeverEnds;
        self.running = !(terminated || truncated);
        let reward = if self.fault == Fault::NanReward && self.steps == 2 { f32::NAN } else { 1.0 };
        Ok(Step { observation: self.obs(), reward, terminated, truncated })
    }
}

fn rule_of(fault: Fault) -> (EnvRule, String) {
    let config = CheckConfig::default().with_max_steps(1000);
    match check_env(&mut Countdown::new(fault), &config) {
        Err(Error::EnvCheck { rule, detail }) => (rule, detail),
        other => panic!("{fault:?}: expected an EnvCheck error, got {other:?}"),
    }
}

#[test]
fn accepts_cartpole_v0_and_v1() {
    check_env(&mut CartPole::v0(), &CheckConfig::default()).unwrap();
    check_env(&mut CartPole::v1(), &CheckConfig::default().with_seed(9).with_episodes(5)).unwrap();
}

#[test]
fn accepts_a_valid_custom_env_with_seeded_step_noise() {
    check_env(&mut Countdown::new(Fault::None), &CheckConfig::default()).unwrap();
}

#[test]
fn each_broken_env_is_rejected_with_its_own_rule_and_message() {
    let cases = [
        (Fault::NoActions, EnvRule::NonEmptySpaces, "num_actions() = 0"),
        (Fault::ShortObservation, EnvRule::ObservationLength, "1 values, observation_dim() is 2"),
        (Fault::NanObservation, EnvRule::FiniteObservation, "observation[0] = NaN"),
        (Fault::NanReward, EnvRule::FiniteReward, "reward = NaN"),
        (Fault::ResetIgnoresSeed, EnvRule::DeterministicReset, "two resets with seed"),
        (Fault::StepIgnoresSeed, EnvRule::DeterministicEpisode, "same actions gave"),
        (Fault::AcceptsInvalidAction, EnvRule::InvalidActionRejected, "action 2 with"),
        (Fault::InvalidActionMovesState, EnvRule::DeterministicEpisode, "invalid actions first"),
        (Fault::RejectsValidAction, EnvRule::ValidActionAccepted, "failed: invalid action"),
        (Fault::NeverEnds, EnvRule::EpisodeEnds, "not ended after 1000 steps"),
        (Fault::StepAfterEndAccepted, EnvRule::StepAfterEndRejected, "next step returned Ok"),
    ];
    let mut messages = HashSet::new();
    for (fault, expected_rule, expected_text) in cases {
        let (rule, detail) = rule_of(fault);
        assert_eq!(rule, expected_rule, "{fault:?}: {detail}");
        assert!(detail.contains(expected_text), "{fault:?}: {detail:?} lacks {expected_text:?}");
        let message = Error::EnvCheck { rule, detail }.to_string();
        assert!(message.starts_with("env check failed: "), "{message}");
        assert!(messages.insert(message), "{fault:?} shares its message with another fault");
    }
}

#[test]
fn the_error_message_names_the_rule() {
    let err = check_env(&mut Countdown::new(Fault::NanReward), &CheckConfig::default());
    let msg = err.unwrap_err().to_string();
    assert!(msg.contains("rewards must be finite"), "{msg}");
}

#[test]
fn a_zero_budget_is_a_config_error() {
    let mut env = CartPole::v0();
    let err = check_env(&mut env, &CheckConfig::default().with_episodes(0)).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { field: "episodes", .. }), "{err:?}");
    let err = check_env(&mut env, &CheckConfig::default().with_max_steps(0)).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { field: "max_steps", .. }), "{err:?}");
}

#[test]
fn a_budget_shorter_than_the_time_limit_reports_an_unending_episode() {
    let err = check_env(&mut CartPole::v1(), &CheckConfig::default().with_max_steps(5));
    assert!(matches!(err, Err(Error::EnvCheck { rule: EnvRule::EpisodeEnds, .. })), "{err:?}");
}

#[test]
fn the_provided_step_into_copies_the_observation_of_step() {
    let (mut a, mut b) = (Countdown::new(Fault::None), Countdown::new(Fault::None));
    a.reset(&mut ChaCha8Rng::seed_from_u64(4));
    b.reset(&mut ChaCha8Rng::seed_from_u64(4));
    let mut buffer = [0.0f32; 2];
    loop {
        let step = a.step(1).unwrap();
        let info = b.step_into(1, &mut buffer).unwrap();
        assert_eq!(step.observation.to_vec(), buffer.to_vec());
        assert_eq!(
            (step.reward, step.terminated, step.truncated),
            (info.reward, info.terminated, info.truncated)
        );
        if info.done() {
            break;
        }
    }
    let mut env = Countdown::new(Fault::None);
    env.reset(&mut ChaCha8Rng::seed_from_u64(4));
    let err = env.step_into(0, &mut [0.0; 5]).unwrap_err();
    assert!(matches!(err, Error::ObservationLength { expected: 2, actual: 5, .. }), "{err:?}");
    assert_eq!(env.steps, 0, "a wrong buffer is rejected before stepping");
    let mut short = Countdown::new(Fault::ShortObservation);
    short.reset(&mut ChaCha8Rng::seed_from_u64(4));
    let err = short.step_into(0, &mut buffer).unwrap_err();
    assert!(matches!(err, Error::ObservationLength { actual: 1, .. }), "{err:?}");
}
