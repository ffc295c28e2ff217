//! An environment whose step is expensive: a fixed chain of dependent floating-point
//! operations (the logistic map, `x <- 3.9 x (1 - x)`, `BUSY_ITERATIONS` times) stands for a
//! simulator's step. Deterministic (no sleep, no clock): the same actions give the same
//! observations on every machine, only the time changes.
//!
//! Shared by `benches/vec_env.rs` through `#[path]`.

use std::hint::black_box;

use deepq::{Env, Result, Step, StepInfo};
use ndarray::Array1;
use rand::{Rng, RngCore};

/// Iterations of the logistic map per step: about 20 us on this project's machine (a 2-core
/// x86_64 KVM guest, 2026-12-02: 3.06 ns per dependent iteration at best, more under load).
pub const BUSY_ITERATIONS: u32 = 6_500;

/// Steps before an episode is truncated.
const EPISODE_STEPS: usize = 200;

/// Four observations driven by the logistic map; reward 1 per step, truncated after 200 steps.
pub struct BusyEnv {
    state: [f64; 4],
    elapsed: usize,
}

impl BusyEnv {
    pub fn new() -> Self {
        Self { state: [0.5; 4], elapsed: 0 }
    }
}

impl Env for BusyEnv {
    fn observation_dim(&self) -> usize {
        4
    }

    fn num_actions(&self) -> usize {
        2
    }

    fn reset(&mut self, rng: &mut dyn RngCore) -> Array1<f32> {
        self.state = std::array::from_fn(|_| rng.random_range(0.2..0.8));
        self.elapsed = 0;
        self.state.iter().map(|&v| v as f32).collect()
    }

    fn step(&mut self, action: usize) -> Result<Step> {
        let mut observation = [0.0f32; 4];
        let info = self.step_into(action, &mut observation)?;
        Ok(Step {
            observation: Array1::from(observation.to_vec()),
            reward: info.reward,
            terminated: info.terminated,
            truncated: info.truncated,
        })
    }

    fn step_into(&mut self, action: usize, observation: &mut [f32]) -> Result<StepInfo> {
        if action >= 2 {
            return Err(deepq::Error::InvalidAction { action, num_actions: 2 });
        }
        if observation.len() != 4 {
            return Err(deepq::Error::ObservationLength {
                what: "observation buffer",
                expected: 4,
                actual: observation.len(),
            });
        }
        if self.elapsed >= EPISODE_STEPS {
            return Err(deepq::Error::EpisodeEnded { truncated: true });
        }
        let mut x = black_box(self.state[action]);
        for _ in 0..BUSY_ITERATIONS {
            x = 3.9 * x * (1.0 - x);
        }
        self.state.rotate_left(1);
        self.state[3] = x;
        for (out, &v) in observation.iter_mut().zip(&self.state) {
            *out = v as f32;
        }
        self.elapsed += 1;
        Ok(StepInfo { reward: 1.0, terminated: false, truncated: self.elapsed == EPISODE_STEPS })
    }
}
