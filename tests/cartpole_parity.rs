//! CartPole matches Gymnasium bit for bit.
//!
//! `tests/data/cartpole_golden.txt` was written by `tests/data/make_cartpole_golden.py`
//! (Gymnasium's `CartPole-v1` through `gym.make`, so with its `TimeLimit`; versions in the file's
//! header). Every step is replayed here from the same state with the same action, and the f64
//! state, the f32 observation, the reward and both end flags must be equal, bit for bit.

use std::collections::BTreeMap;

use deepq::{CartPole, CartPoleConfig, Env};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

struct GoldenStep {
    action: usize,
    state: [f64; 4],
    observation: [f32; 4],
    reward: f32,
    terminated: bool,
    truncated: bool,
}

struct Episode {
    name: String,
    max_steps: usize,
    sutton_barto: bool,
    init: [f64; 4],
    steps: Vec<GoldenStep>,
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

fn load() -> Vec<Episode> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cartpole_golden.txt");
    let text = std::fs::read_to_string(path).expect("golden file is committed");
    let mut episodes = Vec::new();
    let mut current: Option<Episode> = None;
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f[0] {
            "episode" => {
                current = Some(Episode {
                    name: f[1].to_string(),
                    max_steps: f[2].parse().unwrap(),
                    sutton_barto: flag(f[3]),
                    init: [0.0; 4],
                    steps: Vec::new(),
                })
            }
            "init" => {
                let e = current.as_mut().unwrap();
                e.init = std::array::from_fn(|i| f64_bits(f[1 + i]));
            }
            "step" => current.as_mut().unwrap().steps.push(GoldenStep {
                action: f[1].parse().unwrap(),
                state: std::array::from_fn(|i| f64_bits(f[2 + i])),
                observation: std::array::from_fn(|i| f32_bits(f[6 + i])),
                reward: f[10].parse().unwrap(),
                terminated: flag(f[11]),
                truncated: flag(f[12]),
            }),
            "end" => episodes.push(current.take().unwrap()),
            other => panic!("unknown record {other}"),
        }
    }
    episodes
}

#[test]
fn every_golden_step_is_bit_identical_to_gymnasium() {
    let episodes = load();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut steps_checked = 0;
    let mut by_kind: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for ep in &episodes {
        let config = CartPoleConfig::v1()
            .with_max_episode_steps(ep.max_steps)
            .with_sutton_barto_reward(ep.sutton_barto);
        let mut env = CartPole::new(config).unwrap();
        env.reset(&mut rng);
        env.set_state(ep.init).unwrap();
        for (i, g) in ep.steps.iter().enumerate() {
            let step = env.step(g.action).unwrap_or_else(|e| panic!("{} step {i}: {e}", ep.name));
            let state = env.state();
            for (k, (&ours, &theirs)) in state.iter().zip(&g.state).enumerate() {
                assert_eq!(
                    ours.to_bits(),
                    theirs.to_bits(),
                    "{} step {i}: state[{k}] = {ours:e}, Gymnasium {theirs:e}",
                    ep.name
                );
                assert_eq!(
                    step.observation[k].to_bits(),
                    g.observation[k].to_bits(),
                    "{} step {i}: observation[{k}]",
                    ep.name
                );
            }
            assert_eq!(step.reward, g.reward, "{} step {i}: reward", ep.name);
            assert_eq!(step.terminated, g.terminated, "{} step {i}: terminated", ep.name);
            assert_eq!(step.truncated, g.truncated, "{} step {i}: truncated", ep.name);
            steps_checked += 1;
        }
        // Gymnasium's episode ended on its last recorded step; so must ours.
        assert!(env.step(0).is_err(), "{}: a step after the end must be rejected", ep.name);
        let kind = ep.name.split('-').next().unwrap();
        let entry = by_kind.entry(kind).or_default();
        entry.0 += 1;
        entry.1 += ep.steps.len();
    }
    println!("golden episodes and steps by kind: {by_kind:?}; {steps_checked} steps checked");
    // The file holds every kind of case the parity claim rests on.
    for kind in ["random", "long", "sutton", "both", "edge", "box"] {
        assert!(by_kind.contains_key(kind), "golden file lacks {kind} episodes");
    }
    assert!(steps_checked > 10_000);
}

#[test]
fn golden_file_covers_truncation_termination_and_both() {
    let episodes = load();
    let last = |e: &Episode| {
        let s = e.steps.last().unwrap();
        (s.terminated, s.truncated)
    };
    let long_truncated =
        episodes.iter().filter(|e| e.name.starts_with("long") && last(e) == (false, true)).count();
    let both = episodes.iter().filter(|e| last(e) == (true, true)).count();
    let terminated = episodes.iter().filter(|e| last(e) == (true, false)).count();
    let at_v1_limit =
        episodes.iter().filter(|e| e.max_steps == 500 && e.steps.len() == 500).count();
    assert!(long_truncated >= 10, "only {long_truncated} long episodes reach truncation");
    assert!(at_v1_limit >= 5, "only {at_v1_limit} episodes run the full 500 steps");
    assert!(both >= 5, "only {both} episodes end terminated and truncated on one step");
    assert!(terminated >= 100);
    // The edge cases (first step from the state; velocities are zero, so the position does
    // not move): on the threshold is not terminal, one ulp beyond is.
    let edge = |name: &str| {
        let e = episodes.iter().find(|e| e.name == name).unwrap();
        (e.steps[0].terminated, e.steps[0].truncated)
    };
    assert_eq!(edge("edge-0-a0"), (false, false)); // x = +2.4
    assert_eq!(edge("edge-1-a0"), (true, false)); // x = +2.4 + 1 ulp
    assert_eq!(edge("edge-3-a1"), (false, false)); // theta = +threshold
    assert_eq!(edge("edge-4-a1"), (true, false)); // theta = +threshold + 1 ulp
}
