//! Drawing [`Acrobot`] as an RGB [`Frame`], with Gymnasium's `AcrobotEnv.render` geometry.
//!
//! Gymnasium draws on a 500x500 pygame surface whose y axis points up from the bottom row, then
//! flips it vertically: the goal line with `pygame.draw.line`, then for each link a
//! `gfxdraw.filled_polygon` rotated with `pygame.math.Vector2.rotate_rad` and a
//! `gfxdraw.filled_circle` at its pivot. This module draws the same shapes in the same order
//! with the integer rules of [`Canvas`], computes the vertices as Gymnasium does (including
//! `rotate_rad`'s exact quarter turns, and the `float32` arithmetic that numpy applies to a
//! `float32` start state), and leaves out the anti-aliased outlines (`aapolygon`, `aacircle`).

use std::f64::consts::PI;

use super::acrobot::{Acrobot, LINK_LENGTH_1, LINK_LENGTH_2};
use super::numpy_trig;
use super::render::{Canvas, Frame, to_pixel};

/// Width and height of a rendered Acrobot frame, pixels (Gymnasium's `SCREEN_DIM`).
const SCREEN_DIM: usize = 500;
const WHITE: [u8; 3] = [255, 255, 255];
const BLACK: [u8; 3] = [0, 0, 0];
const LINK_COLOR: [u8; 3] = [0, 204, 204];
const JOINT_COLOR: [u8; 3] = [204, 204, 0];
/// `pygame.math.Vector2`'s default `epsilon`, used by `rotate_rad` to detect quarter turns.
const VECTOR_EPSILON: f64 = 1e-6;

impl Acrobot {
    /// Draws the current state as Gymnasium's `render_mode="rgb_array"` does: a 500x500 RGB
    /// [`Frame`].
    ///
    /// The geometry is Gymnasium's: the pivot is the centre of the frame; 2.2 m (the two links
    /// and 0.2 m) span half the width, so `500 / 4.4` pixels per metre; the links are cyan
    /// (RGB 0, 204, 204) bars 0.2 m wide, the first from the pivot at the angle `theta1` from
    /// straight down, the second from its end at `theta1 + theta2`; yellow (RGB 204, 204, 0)
    /// discs of radius 0.1 m mark the pivot and the middle joint; a black horizontal line 1 m
    /// above the pivot marks the goal height; the background is white. Before the first reset
    /// the state is zero: both links hang straight down.
    ///
    /// Gymnasium also anti-aliases the outlines of the links and the joints; this does not, so
    /// about one pixel along those edges differs (see `tests/acrobot_render.rs`).
    ///
    /// # Examples
    /// ```
    /// use deepq::Acrobot;
    ///
    /// # fn main() -> deepq::Result<()> {
    /// let mut env = Acrobot::v1();
    /// env.set_state([0.0, 0.0, 0.0, 0.0])?; // hanging straight down
    /// let frame = env.render();
    /// assert_eq!((frame.width, frame.height), (500, 500));
    /// assert_eq!(frame.pixel(250, 249), Some([204, 204, 0])); // the pivot
    /// assert_eq!(frame.pixel(250, 300), Some([0, 204, 204])); // the first link, below it
    /// assert_eq!(frame.pixel(10, 136), Some([0, 0, 0])); // the goal line
    /// assert_eq!(frame.pixel(250, 100), Some([255, 255, 255]));
    /// # Ok(())
    /// # }
    /// ```
    pub fn render(&self) -> Frame {
        let mut canvas = Canvas { frame: Frame::new(SCREEN_DIM, SCREEN_DIM, WHITE) };
        let bound = LINK_LENGTH_1 + LINK_LENGTH_2 + 0.2;
        let scale = SCREEN_DIM as f64 / (bound * 2.0);
        let offset = SCREEN_DIM as f64 / 2.0;

        let s = self.state();
        // p1 = [-l1 cos(theta1) scale, l1 sin(theta1) scale] and the two link angles. For the
        // float32 start state numpy computes all of it in float32 (Python floats are weak).
        let (p1, thetas) = if self.is_float32() {
            let (t1, t2) = (s[0] as f32, s[1] as f32);
            let scale32 = scale as f32;
            let l1 = LINK_LENGTH_1 as f32;
            let p1 = [-l1 * numpy_trig::cos(t1) * scale32, l1 * numpy_trig::sin(t1) * scale32];
            let half_pi = (PI / 2.0) as f32;
            (p1.map(f64::from), [f64::from(t1 - half_pi), f64::from(t1 + t2 - half_pi)])
        } else {
            let p1 = [-LINK_LENGTH_1 * s[0].cos() * scale, LINK_LENGTH_1 * s[0].sin() * scale];
            (p1, [s[0] - PI / 2.0, s[0] + s[1] - PI / 2.0])
        };
        // Gymnasium's `xys = np.array([[0, 0], p1])[:, ::-1]`: each point is (y, x) swapped.
        let pivots = [(0.0, 0.0), (p1[1], p1[0])];
        let link_lengths = [LINK_LENGTH_1 * scale, LINK_LENGTH_2 * scale];

        // The goal line, `pygame.draw.line` from (-2.2 scale + offset, scale + offset) to
        // (2.2 scale + offset, scale + offset): pygame truncates both ends to integers.
        let line_y = to_pixel(scale + offset);
        canvas.hline(
            to_pixel(-2.2 * scale + offset),
            to_pixel(2.2 * scale + offset),
            line_y,
            BLACK,
        );

        for ((px, py), (theta, length)) in
            pivots.into_iter().zip(thetas.into_iter().zip(link_lengths))
        {
            let (x, y) = (px + offset, py + offset);
            let (l, r, t, b) = (0.0, length, 0.1 * scale, -0.1 * scale);
            let corners = [(l, b), (l, t), (r, t), (r, b)].map(|corner| {
                let (cx, cy) = rotate_rad(corner, theta);
                (cx + x, cy + y)
            });
            canvas.fill_polygon(&corners, LINK_COLOR);
            canvas.fill_circle(to_pixel(x), to_pixel(y), to_pixel(0.1 * scale), JOINT_COLOR);
        }
        canvas.frame
    }
}

/// `pygame.math.Vector2(v).rotate_rad(angle)`: counter-clockwise by `angle`, with the angle
/// first reduced to `[0, 2 pi)` by `fmod`, and exact swaps for quarter turns (within
/// [`VECTOR_EPSILON`]).
fn rotate_rad((x, y): (f64, f64), angle: f64) -> (f64, f64) {
    const TWO_PI: f64 = 2.0 * PI;
    const HALF_PI: f64 = PI / 2.0;
    let mut angle = angle % TWO_PI;
    if angle < 0.0 {
        angle += TWO_PI;
    }
    if (angle + VECTOR_EPSILON) % HALF_PI < 2.0 * VECTOR_EPSILON {
        // pygame's switch on `(int)((angle + epsilon) / M_PI_2)`, 0 to 4.
        match ((angle + VECTOR_EPSILON) / HALF_PI) as i64 {
            1 => (-y, x),
            2 => (-x, -y),
            3 => (y, -x),
            _ => (x, y),
        }
    } else {
        let (sin, cos) = (angle.sin(), angle.cos());
        (cos * x - sin * y, sin * x + cos * y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotate_rad_is_exact_on_quarter_turns_and_counter_clockwise() {
        assert_eq!(rotate_rad((1.0, 2.0), 0.0), (1.0, 2.0));
        assert_eq!(rotate_rad((1.0, 2.0), PI / 2.0), (-2.0, 1.0));
        assert_eq!(rotate_rad((1.0, 2.0), -PI / 2.0), (2.0, -1.0));
        assert_eq!(rotate_rad((1.0, 2.0), PI), (-1.0, -2.0));
        assert_eq!(rotate_rad((1.0, 2.0), 2.0 * PI), (1.0, 2.0));
        let (x, y) = rotate_rad((1.0, 0.0), 0.3);
        assert!((x - 0.3f64.cos()).abs() < 1e-15 && (y - 0.3f64.sin()).abs() < 1e-15);
    }
}
