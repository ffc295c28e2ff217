//! Acrobot matches Gymnasium's `Acrobot-v1` bit for bit.
//!
//! `tests/data/acrobot_golden.txt` was written by `tests/data/make_acrobot_golden.py`
//! (Gymnasium's `Acrobot-v1` through `gym.make`, so with its `TimeLimit`; versions, the C
//! library and numpy's SIMD extensions in the file's header). Every episode starts from the
//! same state (a `float32` start state as Gymnasium's reset leaves it, or a `float64` state set
//! directly) and every step is replayed with the same action: the first observation, the f64
//! state, the f32 observation, the reward and both end flags must be equal, bit for bit. The
//! `trig` records pin numpy's `float32` `cos` and `sin` (which make the first observation) on
//! 14 million inputs.

use std::collections::BTreeMap;

use deepq::{Acrobot, AcrobotConfig, Env};
use rand::RngCore;

struct GoldenStep {
    action: usize,
    state: [f64; 4],
    observation: [f32; 6],
    reward: f32,
    terminated: bool,
    truncated: bool,
}

enum Start {
    /// A float32 start state, with the raw 64-bit draws of the reset that made it, if known.
    Float32([f32; 4], Option<[u64; 4]>),
    Float64([f64; 4]),
}

struct Episode {
    name: String,
    max_steps: usize,
    start: Start,
    first_observation: [f32; 6],
    steps: Vec<GoldenStep>,
}

struct TrigBlock {
    set: String,
    count: usize,
    hash: u64,
}

fn f64_bits(s: &str) -> f64 {
    f64::from_bits(u64::from_str_radix(s, 16).expect("16 hex digits"))
}

fn f32_bits(s: &str) -> f32 {
    f32::from_bits(u32::from_str_radix(s, 16).expect("8 hex digits"))
}

fn flag(s: &str) -> bool {
    match s {
        "0" => false,
        "1" => true,
        other => panic!("bad flag {other}"),
    }
}

fn load() -> (Vec<Episode>, Vec<TrigBlock>) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/acrobot_golden.txt");
    let text = std::fs::read_to_string(path).expect("golden file is committed");
    let (mut episodes, mut trig) = (Vec::new(), Vec::new());
    let mut current: Option<Episode> = None;
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let episode = |current: &mut Option<Episode>| current.take().expect("inside an episode");
        match f[0] {
            "episode" => {
                current = Some(Episode {
                    name: f[1].to_string(),
                    max_steps: f[2].parse().unwrap(),
                    start: Start::Float64([0.0; 4]),
                    first_observation: [0.0; 6],
                    steps: Vec::new(),
                })
            }
            "start32" => {
                let mut e = episode(&mut current);
                e.start = Start::Float32(std::array::from_fn(|i| f32_bits(f[1 + i])), None);
                current = Some(e);
            }
            "raw" => {
                let mut e = episode(&mut current);
                let Start::Float32(start, _) = e.start else {
                    panic!("{}: raw without start32", e.name)
                };
                let raw = std::array::from_fn(|i| u64::from_str_radix(f[1 + i], 16).unwrap());
                e.start = Start::Float32(start, Some(raw));
                current = Some(e);
            }
            "start64" => {
                let mut e = episode(&mut current);
                e.start = Start::Float64(std::array::from_fn(|i| f64_bits(f[1 + i])));
                current = Some(e);
            }
            "obs" => {
                let mut e = episode(&mut current);
                e.first_observation = std::array::from_fn(|i| f32_bits(f[1 + i]));
                current = Some(e);
            }
            "step" => current.as_mut().expect("inside an episode").steps.push(GoldenStep {
                action: f[1].parse().unwrap(),
                state: std::array::from_fn(|i| f64_bits(f[2 + i])),
                observation: std::array::from_fn(|i| f32_bits(f[6 + i])),
                reward: f[12].parse().unwrap(),
                terminated: flag(f[13]),
                truncated: flag(f[14]),
            }),
            "end" => episodes.push(episode(&mut current)),
            "trig" => trig.push(TrigBlock {
                set: f[1].to_string(),
                count: f[3].parse().unwrap(),
                hash: u64::from_str_radix(f[4], 16).unwrap(),
            }),
            other => panic!("unknown record {other}"),
        }
    }
    (episodes, trig)
}

/// Replays the raw 64-bit outputs of numpy's bit generator.
struct Replay(std::array::IntoIter<u64, 4>);

impl RngCore for Replay {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next().expect("the reset draws four numbers")
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes()[..chunk.len()]);
        }
    }
}

fn assert_observation(ours: &[f32], theirs: &[f32; 6], what: &str) {
    for (k, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert_eq!(a.to_bits(), b.to_bits(), "{what}: observation[{k}] = {a:e}, Gymnasium {b:e}");
    }
}

#[test]
fn every_golden_reset_and_step_is_bit_identical_to_gymnasium() {
    let (episodes, _) = load();
    let mut by_kind: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut replayed_draws = 0;
    for ep in &episodes {
        let config = AcrobotConfig::v1().with_max_episode_steps(ep.max_steps);
        let mut env = Acrobot::new(config.clone()).unwrap();
        match ep.start {
            Start::Float32(start, raw) => {
                let observation = env.reset_to(start).unwrap();
                assert_observation(
                    observation.as_slice().unwrap(),
                    &ep.first_observation,
                    &ep.name,
                );
                assert_eq!(env.state(), start.map(f64::from), "{}", ep.name);
                if let Some(raw) = raw {
                    // Env::reset turns numpy's raw draws into Gymnasium's start state.
                    let mut fresh = Acrobot::new(config).unwrap();
                    let observation = fresh.reset(&mut Replay(raw.into_iter()));
                    let what = format!("{} (reset from numpy's draws)", ep.name);
                    assert_eq!(
                        fresh.state().map(f64::to_bits),
                        env.state().map(f64::to_bits),
                        "{what}"
                    );
                    assert_observation(
                        observation.as_slice().unwrap(),
                        &ep.first_observation,
                        &what,
                    );
                    replayed_draws += 1;
                }
            }
            Start::Float64(state) => {
                env.set_state(state).unwrap();
                let observation = env.observation();
                assert_observation(
                    observation.as_slice().unwrap(),
                    &ep.first_observation,
                    &ep.name,
                );
            }
        }
        for (i, g) in ep.steps.iter().enumerate() {
            let what = format!("{} step {i}", ep.name);
            let step = env.step(g.action).unwrap_or_else(|e| panic!("{what}: {e}"));
            for (k, (ours, theirs)) in env.state().iter().zip(&g.state).enumerate() {
                assert_eq!(
                    ours.to_bits(),
                    theirs.to_bits(),
                    "{what}: state[{k}] = {ours:e}, Gymnasium {theirs:e}"
                );
            }
            assert_observation(step.observation.as_slice().unwrap(), &g.observation, &what);
            assert_eq!(step.reward, g.reward, "{what}: reward");
            assert_eq!(step.terminated, g.terminated, "{what}: terminated");
            assert_eq!(step.truncated, g.truncated, "{what}: truncated");
        }
        if ep.steps.last().is_some_and(|s| s.terminated || s.truncated) {
            assert!(env.step(1).is_err(), "{}: a step after the end must be rejected", ep.name);
        }
        let kind = ep.name.split('-').next().unwrap();
        let entry = by_kind.entry(kind).or_default();
        entry.0 += 1;
        entry.1 += ep.steps.len();
    }
    println!("golden episodes and steps by kind: {by_kind:?}");
    for kind in ["reset", "edge32", "random", "long", "pump", "both", "box", "edge64"] {
        assert!(by_kind.contains_key(kind), "golden file lacks {kind} episodes");
    }
    assert!(by_kind["reset"].0 >= 20_000);
    assert!(replayed_draws >= 20_000);
}

#[test]
fn golden_file_covers_truncation_termination_and_both() {
    let (episodes, _) = load();
    let last = |e: &Episode| e.steps.last().map(|s| (s.terminated, s.truncated));
    let count = |prefix: &str, end: (bool, bool)| {
        episodes.iter().filter(|e| e.name.starts_with(prefix) && last(e) == Some(end)).count()
    };
    assert!(count("long", (false, true)) >= 10, "long episodes reach the time limit of 500");
    assert!(episodes.iter().any(|e| e.steps.len() == 500));
    assert!(count("random", (false, true)) >= 30, "random episodes reach their time limits");
    assert_eq!(count("pump", (true, false)), 60, "every pumping episode reaches the goal");
    assert_eq!(count("both", (true, true)), 5);
    // The box states clip velocities to the bounds and wrap angles.
    let max_vel = [4.0 * std::f64::consts::PI, 9.0 * std::f64::consts::PI];
    let clipped = episodes
        .iter()
        .flat_map(|e| &e.steps)
        .filter(|s| s.state[2].abs() == max_vel[0] || s.state[3].abs() == max_vel[1])
        .count();
    assert!(clipped >= 100, "only {clipped} steps end on a velocity bound");
}

/// The trig sets of the golden script, in its order: f32 bit patterns, non-finite ones skipped.
fn trig_inputs(set: &str) -> Vec<f32> {
    let (low, top) = (0.05f32.to_bits(), 0.1f32.to_bits());
    let bits: Vec<u32> = match set {
        "dense" => (low..=top).collect(),
        "reset" => {
            let positive: Vec<u32> = (0..=top).step_by(997).collect();
            positive.iter().copied().chain(positive.iter().map(|b| b | 1 << 31)).collect()
        }
        "negative" => (low..=top).step_by(3).map(|b| b | 1 << 31).collect(),
        "all" => (0..1u64 << 32).step_by(4099).map(|b| b as u32).collect(),
        other => panic!("unknown trig set {other}"),
    };
    bits.into_iter().map(f32::from_bits).filter(|x| x.is_finite()).collect()
}

#[test]
fn first_observation_takes_numpys_float32_cos_and_sin_bit_for_bit() {
    let (_, blocks) = load();
    let mut by_set: BTreeMap<&str, Vec<&TrigBlock>> = BTreeMap::new();
    for block in &blocks {
        by_set.entry(&block.set).or_default().push(block);
    }
    assert_eq!(by_set.keys().copied().collect::<Vec<_>>(), ["all", "dense", "negative", "reset"]);
    let mut env = Acrobot::v1();
    let mut checked = 0;
    for (set, blocks) in by_set {
        let inputs = trig_inputs(set);
        assert_eq!(inputs.len(), blocks.iter().map(|b| b.count).sum::<usize>(), "{set}");
        for (b, (block, xs)) in blocks.iter().zip(inputs.chunks(1 << 16)).enumerate() {
            assert_eq!(block.count, xs.len(), "{set} block {b}");
            let (mut hash, mut weight) = (0u64, 1u64);
            for pair in xs.chunks(2) {
                let y = pair.get(1).copied().unwrap_or(0.0);
                // The first observation of a float32 start state holds cos and sin of both angles.
                let observation = env.reset_to([pair[0], y, 0.0, 0.0]).unwrap();
                for (k, _) in pair.iter().enumerate() {
                    let (cos, sin) =
                        (observation[2 * k].to_bits(), observation[2 * k + 1].to_bits());
                    let value = u64::from(cos) | u64::from(sin) << 32;
                    hash = hash.wrapping_add(value.wrapping_mul(weight));
                    weight = weight.wrapping_mul(0x100000001b3);
                }
            }
            assert_eq!(
                hash,
                block.hash,
                "{set} block {b}: numpy's float32 cos/sin differ on some input of {:e}..={:e}",
                xs[0],
                xs[xs.len() - 1]
            );
            checked += xs.len();
        }
    }
    assert!(checked > 14_000_000, "{checked}");
}
