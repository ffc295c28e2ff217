//! Checkpoints of a `Trainer`: a run saved halfway and loaded again continues exactly as the
//! uninterrupted run (returns, weights, optimizer state, memory, counters, RNGs), with uniform
//! and with prioritized replay; truncated and corrupted files are errors, never panics and
//! never a silently different run.
#![cfg(feature = "safetensors")]

use std::ops::ControlFlow;

use deepq::{
    Agent, CartPole, DqnConfig, Env, Error, EvalConfig, Interval, LearningRateDecay, QNetwork,
    StateDict, TargetUpdate, TrainConfig, Trainer,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Episodes of the straight run; the interrupted one stops at half.
const EPISODES: usize = 60;

fn keep_going(_: &deepq::EpisodeStats) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

/// A small, fast DQN that starts learning within the first episodes.
fn dqn(prioritized: bool) -> DqnConfig {
    let config = DqnConfig::default()
        .with_seed(11)
        .with_hidden(vec![32, 32])
        .with_learning_starts(100)
        .with_memory_size(5_000);
    if prioritized {
        config.with_learning_rate_decay(Some(LearningRateDecay { end: 1e-4, steps: 1_500 }))
    } else {
        config
            .with_prioritized(None)
            .with_target_update(TargetUpdate::Hard { every: 100 })
            .with_sample_with_replacement(false)
    }
}

fn train_config(episodes: usize) -> TrainConfig {
    TrainConfig::default().with_episodes(episodes).with_eval(
        EvalConfig::default()
            .with_episodes(2)
            .with_every(Interval::EnvSteps(150))
            .with_keep_best(true),
    )
}

fn straight(prioritized: bool) -> Trainer {
    let mut trainer = Trainer::new(dqn(prioritized), train_config(EPISODES), 4, 2).unwrap();
    let (mut env, mut eval_env) = (CartPole::v0(), CartPole::v0());
    trainer.train(&mut env, Some(&mut eval_env), &mut keep_going).unwrap();
    trainer
}

fn interrupted(prioritized: bool, path: &std::path::Path) -> Trainer {
    let mut first = Trainer::new(dqn(prioritized), train_config(EPISODES / 2), 4, 2).unwrap();
    let (mut env, mut eval_env) = (CartPole::v0(), CartPole::v0());
    let report = first.train(&mut env, Some(&mut eval_env), &mut keep_going).unwrap();
    assert_eq!(report.episodes(), EPISODES / 2);
    first.save(path).unwrap();
    drop(first);
    // A new process would start here: fresh environments, the checkpoint only.
    let mut resumed = Trainer::load(path).unwrap();
    resumed.set_config(train_config(EPISODES)).unwrap();
    let (mut env, mut eval_env) = (CartPole::v0(), CartPole::v0());
    resumed.train(&mut env, Some(&mut eval_env), &mut keep_going).unwrap();
    resumed
}

/// Equal state dicts, or a panic naming the first entries that differ.
fn assert_same_state(a: &StateDict, b: &StateDict) {
    if a == b {
        return;
    }
    let meta: Vec<_> = a
        .metadata()
        .iter()
        .filter(|(k, v)| b.metadata().get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .collect();
    let tensors: Vec<_> = a
        .tensors()
        .iter()
        .filter(|(k, v)| b.tensors().get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .collect();
    panic!(
        "states differ: metadata {meta:?}, tensors {tensors:?} (and {} vs {} keys)",
        a.metadata().len() + a.tensors().len(),
        b.metadata().len() + b.tensors().len()
    );
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("deepq-checkpoint-{}-{name}", std::process::id()))
}

fn check_resume_is_exact(prioritized: bool) {
    let path = temp(if prioritized { "per.ckpt" } else { "uniform.ckpt" });
    let a = straight(prioritized);
    let b = interrupted(prioritized, &path);
    let (ra, rb) = (a.report(), b.report());
    assert_eq!(ra.episodes(), EPISODES);
    assert!(ra.gradient_steps > 500, "the run learned: {} gradient steps", ra.gradient_steps);
    assert_eq!(ra.returns, rb.returns, "returns");
    assert_eq!(ra.lengths, rb.lengths);
    assert_eq!(ra.evaluations, rb.evaluations, "evaluations");
    assert!(ra.evaluations.len() >= 5);
    assert_eq!((ra.env_steps, ra.gradient_steps), (rb.env_steps, rb.gradient_steps));
    // Weights bit for bit, online and target.
    assert_eq!(a.agent().network().parameters(), b.agent().network().parameters());
    let (ta, tb) = (a.agent().target_network().unwrap(), b.agent().target_network().unwrap());
    assert_eq!(ta.parameters(), tb.parameters());
    assert_eq!(
        a.best_policy().unwrap().network().parameters(),
        b.best_policy().unwrap().network().parameters()
    );
    assert_eq!(a.agent().epsilon(), b.agent().epsilon());
    // Memory contents and everything else (optimizer moments, counters, RNG positions): the
    // two runs' whole states are equal.
    let (sa, sb) = (a.state_dict().unwrap(), b.state_dict().unwrap());
    let memory = |s: &StateDict| {
        s.tensors()
            .iter()
            .filter(|(k, _)| k.starts_with("agent.memory."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(memory(&sa).len(), if prioritized { 8 } else { 7 });
    assert_eq!(memory(&sa), memory(&sb), "memory contents");
    assert_same_state(&sa, &sb);
    std::fs::remove_file(&path).ok();
}

#[test]
fn resuming_a_uniform_replay_run_is_bit_exact() {
    check_resume_is_exact(false);
}

#[test]
fn resuming_a_prioritized_replay_run_is_bit_exact() {
    check_resume_is_exact(true);
}

#[test]
fn a_loaded_checkpoint_has_the_state_that_was_saved() {
    let trainer = straight(true);
    let bytes = trainer.to_bytes().unwrap();
    let loaded = Trainer::from_bytes(&bytes).unwrap();
    assert_same_state(&loaded.state_dict().unwrap(), &trainer.state_dict().unwrap());
    assert_eq!(loaded.to_bytes().unwrap(), bytes, "saving is deterministic");
    assert_eq!(loaded.agent().memory().len(), trainer.agent().memory().len());
    assert_eq!(loaded.report(), trainer.report());
    assert_eq!(loaded.config(), trainer.config());
    assert_eq!(loaded.agent().config(), trainer.agent().config());
}

#[test]
fn a_checkpoint_written_before_n_step_returns_and_value_bounds_loads_as_it_was() {
    // What version 1 wrote before `DqnConfig::n_step`, `DqnConfig::value_bounds` and
    // `Batch::steps` existed: a one-step, unbounded run, without those keys, the agent's
    // reward range and the memory's step counts.
    let old_config = dqn(true).with_learning_starts(64).with_n_step(1);
    let old_config = old_config.with_value_bounds(deepq::ValueBounds::None);
    let mut trainer = Trainer::new(old_config, train_config(6), 4, 2).unwrap();
    let (mut env, mut eval_env) = (CartPole::v0(), CartPole::v0());
    trainer.train(&mut env, Some(&mut eval_env), &mut keep_going).unwrap();
    let state = trainer.state_dict().unwrap();
    let new_keys = [
        "agent.config.n_step",
        "agent.config.value_bounds",
        "agent.reward_range.min",
        "agent.reward_range.max",
    ];
    let mut old = StateDict::new();
    for (k, v) in state.metadata() {
        if !new_keys.contains(&k.as_str()) {
            old.set(k.clone(), v);
        }
    }
    for (k, t) in state.tensors() {
        if k != "agent.memory.steps" {
            old.insert(k.clone(), &t.shape, t.data.clone()).unwrap();
        }
    }
    assert_eq!(old.metadata().len() + 4, state.metadata().len());
    assert_eq!(old.tensors().len() + 1, state.tensors().len());
    let loaded = Trainer::from_state_dict(&old).unwrap();
    assert_eq!(loaded.agent().config().n_step, 1);
    assert_eq!(loaded.agent().config().value_bounds, deepq::ValueBounds::None);
    // Everything else is as saved (the reward range is rebuilt as unobserved, which an
    // unbounded agent never reads).
    let mut reloaded = loaded.state_dict().unwrap();
    assert!(reloaded.metadata().get("agent.reward_range.min").is_none());
    for key in ["agent.reward_range.min", "agent.reward_range.max"] {
        reloaded.set(key, state.get(key).unwrap());
    }
    assert_same_state(&reloaded, &state);
}

/// A small checkpoint (a few hundred transitions) for the corruption tests.
fn small_checkpoint() -> Vec<u8> {
    let mut trainer =
        Trainer::new(dqn(true).with_learning_starts(64), train_config(6), 4, 2).unwrap();
    let (mut env, mut eval_env) = (CartPole::v0(), CartPole::v0());
    trainer.train(&mut env, Some(&mut eval_env), &mut keep_going).unwrap();
    trainer.to_bytes().unwrap()
}

#[test]
fn truncated_checkpoints_are_errors() {
    let bytes = small_checkpoint();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut lengths: Vec<usize> = (0..64).chain(bytes.len() - 64..bytes.len()).collect();
    lengths.extend((0..300).map(|_| rng.random_range(0..bytes.len())));
    for len in lengths {
        match Trainer::from_bytes(&bytes[..len]) {
            Err(Error::InvalidCheckpoint { .. }) => {}
            other => panic!("truncated to {len} of {}: {:?}", bytes.len(), other.map(|_| ())),
        }
    }
}

#[test]
fn corrupted_checkpoints_are_errors_or_the_same_run() {
    let bytes = small_checkpoint();
    let original = Trainer::from_bytes(&bytes).unwrap().state_dict().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let mut rejected = 0;
    for _ in 0..2_000 {
        let mut b = bytes.clone();
        let i = rng.random_range(0..b.len());
        b[i] ^= 1 << rng.random_range(0..8);
        match Trainer::from_bytes(&b) {
            Err(Error::InvalidCheckpoint { .. }) => rejected += 1,
            Err(other) => panic!("byte {i}: unexpected error kind {other:?}"),
            // Only a flip in the header's padding or in JSON white space can load, and then
            // it is the same run.
            Ok(t) => {
                assert_eq!(t.state_dict().unwrap(), original, "byte {i} changed the run silently")
            }
        }
    }
    assert!(rejected > 1_900, "{rejected} of 2000 flips rejected");
}

#[test]
fn a_checkpoint_is_written_atomically_and_missing_files_are_io_errors() {
    let dir = temp("atomic-dir");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.ckpt");
    let trainer = Trainer::new(dqn(false), train_config(2), 4, 2).unwrap();
    trainer.save(&path).unwrap();
    trainer.save(&path).unwrap(); // over the previous one
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("run.ckpt")], "no temporary file is left");
    assert!(Trainer::load(&path).is_ok());
    match Trainer::load(dir.join("missing.ckpt")) {
        Err(Error::Io { .. }) => {}
        other => panic!("{:?}", other.map(|_| ())),
    }
    // A weights file is not a checkpoint.
    trainer.policy().save(dir.join("weights.safetensors")).unwrap();
    let err = Trainer::load(dir.join("weights.safetensors")).unwrap_err();
    assert!(err.to_string().contains("weights.safetensors"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_agent_that_does_not_fit_is_refused_after_loading() {
    let trainer = Trainer::new(dqn(false), train_config(2), 4, 2).unwrap();
    let mut loaded = Trainer::from_bytes(&trainer.to_bytes().unwrap()).unwrap();
    let mut wrong = deepq::TimeLimit::new(WideEnv, 10).unwrap();
    let err = loaded.train(&mut wrong, None, &mut keep_going).unwrap_err();
    assert!(
        matches!(err, Error::DimensionMismatch { what: "num_actions", agent: 2, env: 3 }),
        "{err:?}"
    );
}

/// CartPole's observations with a third action that does nothing.
struct WideEnv;

impl Env for WideEnv {
    fn observation_dim(&self) -> usize {
        4
    }
    fn num_actions(&self) -> usize {
        3
    }
    fn reset(&mut self, _rng: &mut dyn rand::RngCore) -> ndarray::Array1<f32> {
        ndarray::Array1::zeros(4)
    }
    fn step(&mut self, _action: usize) -> deepq::Result<deepq::Step> {
        Ok(deepq::Step {
            observation: ndarray::Array1::zeros(4),
            reward: 1.0,
            terminated: false,
            truncated: false,
        })
    }
}
