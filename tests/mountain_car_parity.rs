//! MountainCar matches Gymnasium's `MountainCar-v0` bit for bit, resets included.
//!
//! `tests/data/mountain_car_golden.txt` was written by `tests/data/make_mountain_car_golden.py`
//! (Gymnasium's `MountainCar-v0` through `gym.make`, so with its `TimeLimit`; versions in the
//! file's header). Every reset is replayed from the 64-bit word Gymnasium's generator drew, and
//! every step from the same state with the same action; the f64 state, the f32 observation, the
//! reward and both end flags must be equal, bit for bit.

use std::collections::BTreeMap;

use deepq::{Env, MountainCar, MountainCarConfig};
use rand::RngCore;

/// An RNG that hands out recorded 64-bit words, and counts them.
struct Replay {
    words: Vec<u64>,
    used: usize,
}

impl RngCore for Replay {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }

    fn next_u64(&mut self) -> u64 {
        let word = *self.words.get(self.used).expect("reset drew more words than Gymnasium");
        self.used += 1;
        word
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

enum Start {
    /// Gymnasium's reset: the raw word, the state after it and the observation it returned.
    Reset { raw: u64, state: [f64; 2], observation: [f32; 2] },
    /// `env.unwrapped.state = ...`.
    Init([f64; 2]),
}

struct GoldenStep {
    action: usize,
    state: [f64; 2],
    observation: [f32; 2],
    reward: f32,
    terminated: bool,
    truncated: bool,
}

struct Episode {
    name: String,
    max_steps: usize,
    goal_velocity: f64,
    start: Start,
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

fn golden() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/mountain_car_golden.txt");
    std::fs::read_to_string(path).expect("golden file is committed")
}

fn load() -> Vec<Episode> {
    let text = golden();
    let mut episodes = Vec::new();
    let mut current: Option<Episode> = None;
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f[0] {
            "episode" => {
                current = Some(Episode {
                    name: f[1].to_string(),
                    max_steps: f[2].parse().unwrap(),
                    goal_velocity: f[3].parse().unwrap(),
                    start: Start::Init([f64::NAN; 2]),
                    steps: Vec::new(),
                })
            }
            "reset" => {
                current.as_mut().unwrap().start = Start::Reset {
                    raw: u64::from_str_radix(f[1], 16).unwrap(),
                    state: [f64_bits(f[2]), f64_bits(f[3])],
                    observation: [f32_bits(f[4]), f32_bits(f[5])],
                }
            }
            "init" => {
                current.as_mut().unwrap().start = Start::Init([f64_bits(f[1]), f64_bits(f[2])])
            }
            "step" => current.as_mut().unwrap().steps.push(GoldenStep {
                action: f[1].parse().unwrap(),
                state: [f64_bits(f[2]), f64_bits(f[3])],
                observation: [f32_bits(f[4]), f32_bits(f[5])],
                reward: f[6].parse().unwrap(),
                terminated: flag(f[7]),
                truncated: flag(f[8]),
            }),
            "end" => episodes.push(current.take().unwrap()),
            other => panic!("unknown record {other}"),
        }
    }
    episodes
}

fn bits(v: [f64; 2]) -> [u64; 2] {
    v.map(f64::to_bits)
}

fn bits32(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[derive(Debug, Default)]
struct Counts {
    episodes: usize,
    resets: usize,
    steps: usize,
    terminated: usize,
    truncated: usize,
    both: usize,
    wall_hits: usize,
    speed_limit_hits: usize,
}

#[test]
fn every_golden_reset_and_step_is_bit_identical_to_gymnasium() {
    let episodes = load();
    let mut counts = Counts::default();
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    let mut buffer = [0.0f32; 2];
    for ep in &episodes {
        let config = MountainCarConfig::v0()
            .with_max_episode_steps(ep.max_steps)
            .with_goal_velocity(ep.goal_velocity);
        let mut env = MountainCar::new(config).unwrap();
        match ep.start {
            Start::Reset { raw, state, observation } => {
                let mut rng = Replay { words: vec![raw], used: 0 };
                let obs = env.reset(&mut rng);
                assert_eq!(rng.used, 1, "{}: reset draws exactly one word", ep.name);
                assert_eq!(bits(env.state()), bits(state), "{}: state after reset", ep.name);
                assert_eq!(bits32(obs.as_slice().unwrap()), bits32(&observation), "{}", ep.name);
                counts.resets += 1;
            }
            Start::Init(state) => env.set_state(state).unwrap(),
        }
        for (i, g) in ep.steps.iter().enumerate() {
            // Alternate the two stepping paths: both must be Gymnasium's.
            let (observation, reward, terminated, truncated) = if i % 2 == 0 {
                let s = env.step(g.action).unwrap_or_else(|e| panic!("{} step {i}: {e}", ep.name));
                (bits32(s.observation.as_slice().unwrap()), s.reward, s.terminated, s.truncated)
            } else {
                let s = env.step_into(g.action, &mut buffer).unwrap();
                (bits32(&buffer), s.reward, s.terminated, s.truncated)
            };
            let state = env.state();
            assert_eq!(
                bits(state),
                bits(g.state),
                "{} step {i}: state {state:?}, Gymnasium {:?}",
                ep.name,
                g.state
            );
            assert_eq!(observation, bits32(&g.observation), "{} step {i}: observation", ep.name);
            assert_eq!(reward, g.reward, "{} step {i}: reward", ep.name);
            assert_eq!(terminated, g.terminated, "{} step {i}: terminated", ep.name);
            assert_eq!(truncated, g.truncated, "{} step {i}: truncated", ep.name);
            counts.steps += 1;
            counts.wall_hits += usize::from(bits(state) == bits([-1.2, 0.0]));
            counts.speed_limit_hits += usize::from(state[1].abs() == 0.07);
        }
        if let Some(last) = ep.steps.last() {
            counts.terminated += usize::from(last.terminated);
            counts.truncated += usize::from(last.truncated);
            counts.both += usize::from(last.terminated && last.truncated);
            if last.terminated || last.truncated {
                assert!(env.step(1).is_err(), "{}: a step after the end must fail", ep.name);
            }
        }
        counts.episodes += 1;
        *by_kind.entry(ep.name.split('-').next().unwrap()).or_default() += 1;
    }
    println!("{counts:?}; episodes by kind: {by_kind:?}");
    // The file holds every kind of case the parity claim rests on.
    for kind in
        ["reset", "random", "policy", "wall", "speed", "goalvel", "both", "goal", "edge", "box"]
    {
        assert!(by_kind.contains_key(kind), "golden file lacks {kind} episodes");
    }
    assert!(counts.resets >= 20_000, "{counts:?}");
    assert!(counts.steps >= 100_000, "{counts:?}");
    assert!(counts.terminated >= 200, "{counts:?}");
    assert!(counts.truncated >= 200, "{counts:?}");
    assert!(counts.both >= 5, "{counts:?}");
    assert!(counts.wall_hits >= 100, "{counts:?}");
    assert!(counts.speed_limit_hits >= 100, "{counts:?}");
}

#[test]
fn golden_file_records_its_provenance() {
    let text = golden();
    let header: Vec<&str> = text.lines().take_while(|l| l.starts_with('#')).collect();
    assert!(
        header.iter().any(|l| l.contains("gymnasium 1.4.0") && l.contains("numpy")),
        "{header:?}"
    );
    assert!(header.iter().any(|l| l.contains("make_mountain_car_golden.py")));
}

#[test]
fn golden_goal_boundary_is_inclusive_and_needs_a_non_negative_velocity() {
    // Landing on exactly 0.5 with velocity +0.0 terminates (`>=` on both), one ulp of
    // negative velocity or one ulp of position short does not.
    let episodes = load();
    let mut seen = [false; 3];
    for ep in episodes.iter().filter(|e| e.name.starts_with("goal-")) {
        let s = &ep.steps[0];
        let [p, v] = s.state;
        if p == 0.5 && v.to_bits() == 0 {
            assert!(s.terminated, "{}", ep.name);
            seen[0] = true;
        }
        if p == 0.5 && v < 0.0 {
            assert!(!s.terminated, "{}", ep.name);
            seen[1] = true;
        }
        if p < 0.5 {
            assert!(!s.terminated, "{}", ep.name);
            seen[2] = p == f64::from_bits(0.5f64.to_bits() - 1) || seen[2];
        }
    }
    assert_eq!(seen, [true; 3], "the goal cases are in the file");
}
