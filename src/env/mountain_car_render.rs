//! Drawing [`MountainCar`] as an RGB [`Frame`], with Gymnasium's `MountainCarEnv.render`
//! geometry, and the two drawing primitives it needs besides [`Canvas`]'s own: a vertical line
//! (`gfxdraw.vline`) and pygame's anti-aliased polyline (`pygame.draw.aalines`).
//!
//! Gymnasium draws on a 600x400 pygame surface whose y axis points up from the bottom row, then
//! flips it vertically; [`Canvas`] is addressed the same way. In Gymnasium's order: the track
//! (100 points of `sin(3 x)` joined by `aalines`), the car body (`gfxdraw.filled_polygon`), two
//! wheels (`gfxdraw.filled_circle`), the flag pole (`gfxdraw.vline`) and the flag
//! (`gfxdraw.filled_polygon`). The anti-aliased outlines that Gymnasium adds to the body, the
//! wheels and the flag (`gfxdraw.aapolygon`, `aacircle`) are left out, as in CartPole's render.
//!
//! The track is pygame 2.6.1's `draw_aaline` ported line by line: Xiaolin Wu's algorithm in
//! `float` (f32) arithmetic, each pixel blended over what is already drawn with
//! `(u8)(brightness * color + (1 - brightness) * background)`, so that the track's grey levels
//! are pygame's own.

use std::f64::consts::{FRAC_PI_2, TAU};

use super::MountainCar;
use super::mountain_car::{GOAL_POSITION, MAX_POSITION, MIN_POSITION};
use super::render::{Canvas, Frame, to_pixel};

/// Width of a rendered MountainCar frame, pixels (Gymnasium's `screen_width`).
const SCREEN_WIDTH: usize = 600;
/// Height of a rendered MountainCar frame, pixels (Gymnasium's `screen_height`).
const SCREEN_HEIGHT: usize = 400;
/// Car width, pixels.
const CAR_WIDTH: f64 = 40.0;
/// Car height, pixels.
const CAR_HEIGHT: f64 = 20.0;
/// Height of the car's underside above the track, pixels.
const CLEARANCE: f64 = 10.0;
/// Points of the track polyline (`np.linspace(min_position, max_position, 100)`).
const TRACK_POINTS: usize = 100;
/// Height of the flag pole, pixels.
const FLAG_POLE: i64 = 50;
/// pygame's `Vector2` epsilon, below which a rotation counts as a multiple of 90 degrees.
const VECTOR_EPSILON: f64 = 1e-6;

const WHITE: [u8; 3] = [255, 255, 255];
const BLACK: [u8; 3] = [0, 0, 0];
const WHEEL_COLOR: [u8; 3] = [128, 128, 128];
const FLAG_COLOR: [u8; 3] = [204, 204, 0];

/// The track's height at `x`, in world units: Gymnasium's `_height`,
/// `np.sin(3 * xs) * 0.45 + 0.55`.
fn height(x: f64) -> f64 {
    (3.0 * x).sin() * 0.45 + 0.55
}

impl MountainCar {
    /// Draws the current state as Gymnasium's `render_mode="rgb_array"` does: a 600x400 RGB
    /// [`Frame`].
    ///
    /// The geometry is Gymnasium's: the world's `x` in `[-1.2, 0.6]` spans the 600-pixel
    /// width (`scale = 600 / 1.8`, about 333 pixels per unit) and a point of the track is drawn
    /// `scale * (0.45 sin(3 x) + 0.55)` pixels above the bottom edge; the track is a black
    /// anti-aliased line through 100 evenly spaced points; the black 40x20 car stands 10 pixels
    /// above the track at the car's position, rotated by `cos(3 x)` radians (Gymnasium's choice:
    /// the angle is the cosine, not the slope); two grey wheels (RGB 128, 128, 128) of radius 8
    /// sit 10 pixels either side of its centre line; a black 50-pixel pole at `x = 0.5` carries
    /// a yellow flag (RGB 204, 204, 0); the background is white. Only the position of
    /// [`state`](MountainCar::state) is used, so before the first reset the car stands at 0.
    ///
    /// Gymnasium also anti-aliases the outlines of the car, the wheels and the flag; this does
    /// not, so about one pixel along those edges differs (see `tests/mountain_car_render.rs`).
    /// The track is pygame's own anti-aliased line, pixel for pixel. Coordinates beyond the
    /// 16-bit range pygame draws in (positions beyond about ±100) are clamped to it, where
    /// Gymnasium wraps them or fails.
    ///
    /// # Examples
    /// ```
    /// use deepq::MountainCar;
    ///
    /// # fn main() -> deepq::Result<()> {
    /// let mut env = MountainCar::v0();
    /// env.set_state([-0.5, 0.0])?;
    /// let frame = env.render();
    /// assert_eq!((frame.width, frame.height, frame.pixels.len()), (600, 400, 600 * 400 * 3));
    /// assert_eq!(frame.pixel(233, 345), Some([0, 0, 0])); // the car
    /// assert_eq!(frame.pixel(570, 23), Some([204, 204, 0])); // the flag
    /// assert_eq!(frame.pixel(5, 5), Some([255, 255, 255])); // the sky
    /// # Ok(())
    /// # }
    /// ```
    pub fn render(&self) -> Frame {
        let pos = self.state()[0];
        let mut canvas = Canvas { frame: Frame::new(SCREEN_WIDTH, SCREEN_HEIGHT, WHITE) };

        let world_width = MAX_POSITION - MIN_POSITION;
        let scale = SCREEN_WIDTH as f64 / world_width;

        // np.linspace(min, max, 100): i * step + min, the last point exactly max.
        let step = (MAX_POSITION - MIN_POSITION) / (TRACK_POINTS - 1) as f64;
        let track: Vec<(f32, f32)> = (0..TRACK_POINTS)
            .map(|i| {
                let x = if i == TRACK_POINTS - 1 {
                    MAX_POSITION
                } else {
                    i as f64 * step + MIN_POSITION
                };
                // pygame reads each coordinate as a C float.
                (((x - MIN_POSITION) * scale) as f32, (height(x) * scale) as f32)
            })
            .collect();
        aalines(&mut canvas, &track, BLACK);

        let angle = (3.0 * pos).cos();
        let car_x = (pos - MIN_POSITION) * scale;
        let lift = height(pos) * scale;
        let (l, r, t, b) = (-CAR_WIDTH / 2.0, CAR_WIDTH / 2.0, CAR_HEIGHT, 0.0);
        let body = [(l, b), (l, t), (r, t), (r, b)].map(|corner| {
            let (x, y) = rotate_rad(corner, angle);
            (x + car_x, y + CLEARANCE + lift)
        });
        canvas.fill_polygon(&body, BLACK);

        let radius = (CAR_HEIGHT / 2.5) as i64;
        for offset in [CAR_WIDTH / 4.0, -CAR_WIDTH / 4.0] {
            let (x, y) = rotate_rad((offset, 0.0), angle);
            canvas.fill_circle(
                to_pixel(x + car_x),
                to_pixel(y + CLEARANCE + lift),
                radius,
                WHEEL_COLOR,
            );
        }

        let flag_x = to_pixel((GOAL_POSITION - MIN_POSITION) * scale);
        let flag_y1 = to_pixel(height(GOAL_POSITION) * scale);
        let flag_y2 = flag_y1 + FLAG_POLE;
        vline(&mut canvas, flag_x, flag_y1, flag_y2, BLACK);
        let flag = [(flag_x, flag_y2), (flag_x, flag_y2 - 10), (flag_x + 25, flag_y2 - 5)]
            .map(|(x, y)| (x as f64, y as f64));
        canvas.fill_polygon(&flag, FLAG_COLOR);

        canvas.frame
    }
}

/// pygame's `Vector2(point).rotate_rad(angle)`: the angle reduced with `fmod` into
/// `[0, 2 pi)`, multiples of 90 degrees (within pygame's epsilon) special-cased, otherwise the
/// rotation matrix of `sin` and `cos` of the reduced angle.
fn rotate_rad((x, y): (f64, f64), angle: f64) -> (f64, f64) {
    let mut angle = angle % TAU;
    if angle < 0.0 {
        angle += TAU;
    }
    if (angle + VECTOR_EPSILON) % FRAC_PI_2 < 2.0 * VECTOR_EPSILON {
        return match ((angle + VECTOR_EPSILON) / FRAC_PI_2) as i32 {
            1 => (-y, x),
            2 => (-x, -y),
            3 => (y, -x),
            _ => (x, y), // 0 or 4: no rotation
        };
    }
    let (sin, cos) = (angle.sin(), angle.cos());
    (cos * x - sin * y, sin * x + cos * y)
}

/// `gfxdraw.vline`: the pixels `y1..=y2` (either order) of column `x`, clipped to the frame.
fn vline(canvas: &mut Canvas, x: i64, y1: i64, y2: i64, color: [u8; 3]) {
    let h = canvas.frame.height as i64;
    for y in y1.min(y2).max(0)..=y1.max(y2).min(h - 1) {
        canvas.hline(x, x, y, color);
    }
}

/// `pygame.draw.aalines(surface, color, False, points)`: [`aaline`] between each pair of
/// consecutive points, in order (later segments blend over earlier ones where they meet).
fn aalines(canvas: &mut Canvas, points: &[(f32, f32)], color: [u8; 3]) {
    for pair in points.windows(2) {
        aaline(canvas, color, pair[0], pair[1]);
    }
}

/// Blends `color` with `brightness` over the pixel at `(x, y)` (y up), as pygame 2.6.1's
/// `get_antialiased_color` and `set_at` do: per channel, in C `float`,
/// `(Uint8)(brightness * color + (1 - brightness) * background)`. Pixels outside the frame are
/// left alone.
fn blend(canvas: &mut Canvas, x: i32, y: i32, color: [u8; 3], brightness: f32) {
    let (w, h) = (canvas.frame.width as i64, canvas.frame.height as i64);
    let (x, y) = (i64::from(x), i64::from(y));
    if x < 0 || x >= w || y < 0 || y >= h {
        return;
    }
    let Some(background) = canvas.frame.pixel(x as usize, (h - 1 - y) as usize) else { return };
    let mixed: [u8; 3] = std::array::from_fn(|i| {
        let value =
            brightness * f32::from(color[i]) + (1.0 - brightness) * f32::from(background[i]);
        // C's float-to-Uint8 conversion as x86-64 compiles it: truncate to int, keep the low byte.
        value as i32 as u8
    });
    canvas.hline(x, x, y, mixed);
}

/// pygame 2.6.1's `draw_aaline` with `blend = 1` (`src_c/draw.c`), operation for operation in
/// `f32` as the C code computes it: Xiaolin Wu's line, clipped one pixel beyond the frame,
/// shifted one pixel down so that `(int)` rounds down, each end drawn as a one-pixel-wide cap
/// weighted by its coverage.
fn aaline(canvas: &mut Canvas, color: [u8; 3], from: (f32, f32), to: (f32, f32)) {
    let ((mut from_x, mut from_y), (mut to_x, mut to_y)) = (from, to);
    let mut dx = to_x - from_x;
    let mut dy = to_y - from_y;

    // A single point: one pixel at full brightness (C compares in double).
    if f64::from(dx.abs()) < 0.0001 && f64::from(dy.abs()) < 0.0001 {
        let x = (f64::from(from_x) + 0.5).floor() as i32;
        let y = (f64::from(from_y) + 0.5).floor() as i32;
        blend(canvas, x, y, color, 1.0);
        return;
    }

    let mut clip_left = 0.0f32 - 1.0;
    let mut clip_right = clip_left + canvas.frame.width as f32 + 1.0;
    let mut clip_top = 0.0f32 - 1.0;
    let mut clip_bottom = clip_top + canvas.frame.height as f32 + 1.0;

    let steep = dx.abs() < dy.abs();
    if steep {
        std::mem::swap(&mut from_x, &mut from_y);
        std::mem::swap(&mut to_x, &mut to_y);
        std::mem::swap(&mut dx, &mut dy);
        std::mem::swap(&mut clip_left, &mut clip_top);
        std::mem::swap(&mut clip_right, &mut clip_bottom);
    }
    if dx < 0.0 {
        std::mem::swap(&mut from_x, &mut to_x);
        std::mem::swap(&mut from_y, &mut to_y);
        dx = -dx;
        dy = -dy;
    }
    if to_x <= clip_left || from_x >= clip_right {
        return;
    }

    let gradient = dy / dx;
    if from_x < clip_left {
        from_y += gradient * (clip_left - from_x);
        from_x = clip_left;
    }
    if to_x > clip_right {
        to_y += gradient * (clip_right - to_x);
        to_x = clip_right;
    }
    if gradient > 0.0 {
        if to_y <= clip_top || from_y >= clip_bottom {
            return;
        }
        if from_y < clip_top {
            from_x += (clip_top - from_y) / gradient;
            from_y = clip_top;
        }
        if to_y > clip_bottom {
            to_x += (clip_bottom - to_y) / gradient;
            to_y = clip_bottom;
        }
    } else {
        if from_y <= clip_top || to_y >= clip_bottom {
            return;
        }
        if to_y < clip_top {
            to_x += (clip_top - to_y) / gradient;
            to_y = clip_top;
        }
        if from_y > clip_bottom {
            from_x += (clip_bottom - from_y) / gradient;
            from_y = clip_bottom;
        }
    }
    from_y += 1.0;
    to_y += 1.0;

    // Swapped back to (x, y) for a steep line.
    let plot = |canvas: &mut Canvas, major: i32, minor: i32, brightness: f32| {
        if steep {
            blend(canvas, minor, major, color, brightness);
        } else {
            blend(canvas, major, minor, color, brightness);
        }
    };

    // First endpoint.
    let mut x_pixel_start = from_x as i32;
    let mut intersect_y = from_y + gradient * (x_pixel_start as f32 - from_x);
    if to_x > clip_left + 1.0 {
        let y_endpoint = intersect_y;
        let x_gap = (1 + x_pixel_start) as f32 - from_x;
        let brightness = y_endpoint - (y_endpoint as i32) as f32;
        let minor = y_endpoint as i32;
        if (minor as f32) < y_endpoint {
            plot(canvas, x_pixel_start, minor, brightness * x_gap);
        }
        plot(canvas, x_pixel_start, minor - 1, (1.0 - brightness) * x_gap);
        intersect_y += gradient;
        x_pixel_start += 1;
    }
    // Second endpoint.
    let x_pixel_end = f64::from(to_x).ceil() as i32;
    if from_x < clip_right - 1.0 {
        let y_endpoint = to_y + gradient * (x_pixel_end as f32 - to_x);
        let x_gap = (1 - x_pixel_end) as f32 + to_x;
        let brightness = y_endpoint - (y_endpoint as i32) as f32;
        let minor = y_endpoint as i32;
        if (minor as f32) < y_endpoint {
            plot(canvas, x_pixel_end, minor, brightness * x_gap);
        }
        plot(canvas, x_pixel_end, minor - 1, (1.0 - brightness) * x_gap);
    }
    // The pixels in between.
    for major in x_pixel_start..x_pixel_end {
        let minor = intersect_y as i32;
        let brightness = 1.0 - intersect_y + minor as f32;
        plot(canvas, major, minor - 1, brightness);
        if (minor as f32) < intersect_y {
            plot(canvas, major, minor, 1.0 - brightness);
        }
        intersect_y += gradient;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canvas(w: usize, h: usize) -> Canvas {
        Canvas { frame: Frame::new(w, h, WHITE) }
    }

    /// The pixel at (x, y), y up.
    fn at(c: &Canvas, x: usize, y: usize) -> [u8; 3] {
        c.frame.pixel(x, c.frame.height - 1 - y).unwrap()
    }

    #[test]
    fn vline_is_inclusive_and_clipped() {
        let mut c = canvas(10, 10);
        vline(&mut c, 3, 7, 2, BLACK);
        let rows: Vec<usize> = (0..10).filter(|&y| at(&c, 3, y) == BLACK).collect();
        assert_eq!(rows, (2..=7).collect::<Vec<_>>());
        vline(&mut c, 5, -100, 100, BLACK);
        vline(&mut c, 50, 0, 5, BLACK);
        assert_eq!((0..10).filter(|&y| at(&c, 5, y) == BLACK).count(), 10);
    }

    #[test]
    fn horizontal_aaline_on_a_pixel_centre_row_is_solid() {
        // y = 4.0 exactly: brightness 1 on row 4 (pygame shifts by one and draws one higher).
        let mut c = canvas(20, 10);
        aaline(&mut c, BLACK, (2.0, 4.0), (12.0, 4.0));
        for x in 3..12 {
            assert_eq!(at(&c, x, 4), BLACK, "x {x}");
            assert_eq!(at(&c, x, 5), WHITE, "x {x}");
        }
    }

    #[test]
    fn aaline_between_rows_splits_the_brightness() {
        let mut c = canvas(20, 10);
        aaline(&mut c, BLACK, (2.0, 4.5), (12.0, 4.5));
        // Half on row 4, half on row 5: 255 * 0.5 = 127.5, truncated.
        assert_eq!(at(&c, 6, 4), [127, 127, 127]);
        assert_eq!(at(&c, 6, 5), [127, 127, 127]);
    }

    #[test]
    fn steep_and_off_screen_lines_do_not_panic() {
        let mut c = canvas(20, 10);
        aaline(&mut c, BLACK, (5.0, -50.0), (6.0, 50.0));
        aaline(&mut c, BLACK, (-1e30, 3.0), (1e30, 3.5));
        aaline(&mut c, BLACK, (3.0, 3.0), (3.00001, 3.0));
        aalines(&mut c, &[(0.0, 0.0), (19.0, 9.0), (0.0, 9.0)], BLACK);
        assert!(c.frame.pixels.iter().any(|&v| v != 255));
    }

    #[test]
    fn rotation_matches_pygame_special_cases() {
        assert_eq!(rotate_rad((1.0, 2.0), 0.0), (1.0, 2.0));
        assert_eq!(rotate_rad((1.0, 2.0), -1e-9), (1.0, 2.0));
        let (x, y) = rotate_rad((1.0, 0.0), 0.5);
        assert_eq!((x, y), (0.5f64.cos(), 0.5f64.sin()));
        // A negative angle is reduced into [0, 2 pi) first, as pygame does.
        let (x, y) = rotate_rad((1.0, 0.0), -0.5);
        assert_eq!((x, y), ((TAU - 0.5).cos(), (TAU - 0.5).sin()));
    }
}
