//! The bare-physics floor of a CartPole step: Gymnasium's explicit-Euler arithmetic on a plain
//! `[f64; 4]`, with the termination test, the time limit and a reset when the episode ends, and
//! nothing else (no `Step`, no `Array1`, no error checks). It replicates `dynamics()` of
//! `src/env/cartpole.rs` operation for operation (the constants are private to the crate, so
//! they are repeated here), so that `CartPole::step` can be compared with the arithmetic it
//! cannot avoid.
//!
//! Shared by `benches/cartpole.rs` and `examples/bench_report.rs` through `#[path]`.

use rand::{Rng, RngCore};

const GRAVITY: f64 = 9.8;
const MASS_CART: f64 = 1.0;
const MASS_POLE: f64 = 0.1;
const TOTAL_MASS: f64 = MASS_POLE + MASS_CART;
const HALF_POLE_LENGTH: f64 = 0.5;
const POLE_MASS_LENGTH: f64 = MASS_POLE * HALF_POLE_LENGTH;
const FORCE_MAG: f64 = 10.0;
const TAU: f64 = 0.02;
const THETA_THRESHOLD_RADIANS: f64 = 12.0 * 2.0 * std::f64::consts::PI / 360.0;
const X_THRESHOLD: f64 = 2.4;
const RESET_BOUND: f64 = 0.05;

/// A CartPole-v1 reduced to its arithmetic: state, step count, time limit.
pub struct PhysicsFloor {
    pub state: [f64; 4],
    pub elapsed: usize,
    pub max_steps: usize,
}

impl PhysicsFloor {
    /// A v1-like floor (500-step limit), reset from `rng`.
    pub fn v1(rng: &mut dyn RngCore) -> Self {
        let mut floor = Self { state: [0.0; 4], elapsed: 0, max_steps: 500 };
        floor.reset(rng);
        floor
    }

    /// Draws each component uniformly from `[-0.05, 0.05)`, as `CartPole::reset` does.
    #[inline]
    pub fn reset(&mut self, rng: &mut dyn RngCore) {
        self.state = std::array::from_fn(|_| rng.random_range(-RESET_BOUND..RESET_BOUND));
        self.elapsed = 0;
    }

    /// One step; resets on termination or truncation. Returns the `f32` observation and
    /// whether the episode ended.
    #[inline]
    pub fn step(&mut self, action: usize, rng: &mut dyn RngCore) -> ([f32; 4], bool) {
        let [x, x_dot, theta, theta_dot] = self.state;
        let force = if action == 1 { FORCE_MAG } else { -FORCE_MAG };
        let costheta = theta.cos();
        let sintheta = theta.sin();
        let temp = (force + POLE_MASS_LENGTH * (theta_dot * theta_dot) * sintheta) / TOTAL_MASS;
        let thetaacc = (GRAVITY * sintheta - costheta * temp)
            / (HALF_POLE_LENGTH * (4.0 / 3.0 - MASS_POLE * (costheta * costheta) / TOTAL_MASS));
        let xacc = temp - POLE_MASS_LENGTH * thetaacc * costheta / TOTAL_MASS;
        let next = [
            x + TAU * x_dot,
            x_dot + TAU * xacc,
            theta + TAU * theta_dot,
            theta_dot + TAU * thetaacc,
        ];
        self.state = next;
        self.elapsed += 1;
        #[allow(clippy::manual_range_contains)]
        let terminated = next[0] < -X_THRESHOLD
            || next[0] > X_THRESHOLD
            || next[2] < -THETA_THRESHOLD_RADIANS
            || next[2] > THETA_THRESHOLD_RADIANS;
        let done = terminated || self.elapsed >= self.max_steps;
        if done {
            self.reset(rng);
        }
        (next.map(|v| v as f32), done)
    }
}
