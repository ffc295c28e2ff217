//! Drawing [`CartPole`] as an RGB [`Frame`], with Gymnasium's `CartPoleEnv.render` geometry.
//!
//! Gymnasium draws with pygame's `gfxdraw` on a 600x400 surface whose y axis points up from the
//! bottom row, then flips the surface vertically. This module draws the same shapes in the same
//! order (cart, pole, axle, track) with the same integer rules as `gfxdraw.filled_polygon`
//! (vertices truncated to integers, scanlines in 16.16 fixed point) and `gfxdraw.filled_circle`
//! (midpoint circle), without the anti-aliased outlines (`aapolygon`, `aacircle`) that Gymnasium
//! adds on the shapes' edges.

use super::CartPole;
use super::cartpole::{HALF_POLE_LENGTH, X_THRESHOLD};

/// Width of a rendered CartPole frame, pixels (Gymnasium's `screen_width`).
const SCREEN_WIDTH: usize = 600;
/// Height of a rendered CartPole frame, pixels (Gymnasium's `screen_height`).
const SCREEN_HEIGHT: usize = 400;
/// Pole width, pixels.
const POLE_WIDTH: f64 = 10.0;
/// Cart width, pixels.
const CART_WIDTH: f64 = 50.0;
/// Cart height, pixels.
const CART_HEIGHT: f64 = 30.0;
/// Height of the cart's centre line and of the track above the bottom edge, pixels
/// (Gymnasium's `carty`, commented "TOP OF CART" there but the cart spans `carty ± 15`).
const CART_Y: f64 = 100.0;

const WHITE: [u8; 3] = [255, 255, 255];
const BLACK: [u8; 3] = [0, 0, 0];
const POLE_COLOR: [u8; 3] = [202, 152, 101];
const AXLE_COLOR: [u8; 3] = [129, 132, 203];

/// An RGB image: `height` rows of `width` pixels, top row first, 3 bytes (red, green, blue) per
/// pixel.
///
/// `pixels.len() == width * height * 3`, and the pixel at column `x`, row `y` (from the top)
/// starts at byte `3 * (y * width + x)`. [`CartPole::render`] makes one; encoders (GIF, PNG)
/// take the bytes as they are, and [`to_ppm`](Frame::to_ppm) saves them with no encoder.
///
/// # Examples
/// ```
/// use deepq::Frame;
///
/// let mut frame = Frame::new(4, 2, [255, 255, 255]);
/// frame.pixels[3 * (1 * 4 + 2)] = 0; // red channel of x = 2 on the bottom row
/// assert_eq!(frame.pixel(2, 1), Some([0, 255, 255]));
/// assert_eq!(frame.pixel(4, 0), None);
/// assert!(frame.to_ppm().starts_with(b"P6\n4 2\n255\n"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Pixels per row.
    pub width: usize,
    /// Number of rows.
    pub height: usize,
    /// RGB bytes, row-major, top row first: `width * height * 3` of them.
    pub pixels: Vec<u8>,
}

impl Frame {
    /// A `width` x `height` frame filled with one color.
    pub fn new(width: usize, height: usize, color: [u8; 3]) -> Self {
        let pixels = color.iter().copied().cycle().take(width * height * 3).collect();
        Self { width, height, pixels }
    }

    /// The color at column `x`, row `y` (row 0 is the top), or `None` outside the frame.
    pub fn pixel(&self, x: usize, y: usize) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = 3 * (y * self.width + x);
        self.pixels.get(i..i + 3).map(|p| [p[0], p[1], p[2]])
    }

    /// The frame as a binary PPM (`P6`) file: a short text header, then the RGB bytes.
    ///
    /// Any image viewer or converter reads PPM; no encoder is needed to write it.
    pub fn to_ppm(&self) -> Vec<u8> {
        let mut out = format!("P6\n{} {}\n255\n", self.width, self.height).into_bytes();
        out.extend_from_slice(&self.pixels);
        out
    }
}

impl CartPole {
    /// Draws the current state as Gymnasium's `render_mode="rgb_array"` does: a 600x400 RGB
    /// [`Frame`].
    ///
    /// The geometry is Gymnasium's: the visible track spans `x` in `[-2.4, 2.4]` across the
    /// 600-pixel width (125 pixels per metre); the black 50x30 cart is centred at
    /// `300 + 125 x` and 100 pixels above the bottom edge, on a black track line; the
    /// 10-pixel-wide brown pole (RGB 202, 152, 101), one metre (125 pixels) long from its pivot
    /// 7.5 pixels above the cart's centre, leans right for positive `theta`; a blue-grey axle
    /// (RGB 129, 132, 203) of radius 5 marks the pivot; the background is white. Parts outside
    /// the screen are clipped. Only `x` and `theta` of [`state`](CartPole::state) are used, so
    /// before the first reset the cart stands upright in the centre.
    ///
    /// Gymnasium also anti-aliases the outlines of the pole and the axle; this does not, so
    /// about one pixel along those edges differs (see `tests/render.rs`).
    ///
    /// # Examples
    /// ```
    /// use deepq::CartPole;
    ///
    /// # fn main() -> deepq::Result<()> {
    /// let mut env = CartPole::v1();
    /// env.set_state([0.0, 0.0, 0.1, 0.0])?;
    /// let frame = env.render();
    /// assert_eq!((frame.width, frame.height, frame.pixels.len()), (600, 400, 600 * 400 * 3));
    /// assert_eq!(frame.pixel(280, 305), Some([0, 0, 0])); // the cart
    /// assert_eq!(frame.pixel(300, 292), Some([129, 132, 203])); // the axle
    /// assert_eq!(frame.pixel(5, 5), Some([255, 255, 255])); // the sky
    /// # Ok(())
    /// # }
    /// ```
    pub fn render(&self) -> Frame {
        let [x, _, theta, _] = self.state();
        let mut canvas = Canvas { frame: Frame::new(SCREEN_WIDTH, SCREEN_HEIGHT, WHITE) };

        let world_width = X_THRESHOLD * 2.0;
        let scale = SCREEN_WIDTH as f64 / world_width;
        let pole_len = scale * (2.0 * HALF_POLE_LENGTH);
        let axle_offset = CART_HEIGHT / 4.0;
        let cart_x = x * scale + SCREEN_WIDTH as f64 / 2.0;

        let (l, r, t, b) =
            (-CART_WIDTH / 2.0, CART_WIDTH / 2.0, CART_HEIGHT / 2.0, -CART_HEIGHT / 2.0);
        let cart = [(l, b), (l, t), (r, t), (r, b)].map(|(px, py)| (px + cart_x, py + CART_Y));
        canvas.fill_polygon(&cart, BLACK);

        let (l, r, t, b) =
            (-POLE_WIDTH / 2.0, POLE_WIDTH / 2.0, pole_len - POLE_WIDTH / 2.0, -POLE_WIDTH / 2.0);
        // pygame's Vector2.rotate_rad(-theta): counter-clockwise by -theta, so clockwise (to the
        // right, with y up) for positive theta.
        let (sin, cos) = (-theta).sin_cos();
        let pole = [(l, b), (l, t), (r, t), (r, b)].map(|(px, py)| {
            (px * cos - py * sin + cart_x, px * sin + py * cos + CART_Y + axle_offset)
        });
        canvas.fill_polygon(&pole, POLE_COLOR);

        canvas.fill_circle(
            to_pixel(cart_x),
            to_pixel(CART_Y + axle_offset),
            to_pixel(POLE_WIDTH / 2.0),
            AXLE_COLOR,
        );

        canvas.hline(0, SCREEN_WIDTH as i64, CART_Y as i64, BLACK);
        canvas.frame
    }
}

/// A coordinate as pygame passes it to `gfxdraw`: truncated toward zero, then kept within the
/// 16-bit range that SDL_gfx draws in (far outside the screen either way).
pub(crate) fn to_pixel(v: f64) -> i64 {
    (v as i64).clamp(i16::MIN as i64, i16::MAX as i64)
}

/// A frame addressed as pygame's surface before Gymnasium's vertical flip: `y = 0` is the
/// bottom row. Writes outside the frame are clipped.
pub(crate) struct Canvas {
    pub(crate) frame: Frame,
}

impl Canvas {
    /// Paints the pixels `x1..=x2` of the row `y` (y up).
    pub(crate) fn hline(&mut self, x1: i64, x2: i64, y: i64, color: [u8; 3]) {
        let (w, h) = (self.frame.width as i64, self.frame.height as i64);
        let (x1, x2) = (x1.min(x2).max(0), x1.max(x2).min(w - 1));
        if y < 0 || y >= h || x1 > x2 {
            return;
        }
        let row = (h - 1 - y) as usize;
        let start = 3 * (row * self.frame.width + x1 as usize);
        let end = 3 * (row * self.frame.width + x2 as usize + 1);
        for pixel in self.frame.pixels[start..end].chunks_exact_mut(3) {
            pixel.copy_from_slice(&color);
        }
    }

    /// Fills a polygon with `gfxdraw.filled_polygon`'s rule: vertices truncated to integers;
    /// on each scanline, the crossings with the edges (half-open in y, except on the last
    /// scanline) are computed in 16.16 fixed point, sorted, and the spans between pairs are
    /// painted, rounding the left end up and the right end down.
    pub(crate) fn fill_polygon(&mut self, vertices: &[(f64, f64)], color: [u8; 3]) {
        let v: Vec<(i64, i64)> =
            vertices.iter().map(|&(x, y)| (to_pixel(x), to_pixel(y))).collect();
        let Some(min_y) = v.iter().map(|p| p.1).min() else { return };
        let max_y = v.iter().map(|p| p.1).max().unwrap_or(min_y);
        let mut crossings = Vec::with_capacity(v.len());
        let h = self.frame.height as i64;
        for y in min_y.max(0)..=max_y.min(h - 1) {
            crossings.clear();
            for i in 0..v.len() {
                let (a, b) = (v[(i + v.len() - 1) % v.len()], v[i]);
                let ((x1, y1), (x2, y2)) = match a.1.cmp(&b.1) {
                    std::cmp::Ordering::Less => (a, b),
                    std::cmp::Ordering::Greater => (b, a),
                    std::cmp::Ordering::Equal => continue,
                };
                if (y >= y1 && y < y2) || (y == max_y && y > y1 && y <= y2) {
                    crossings.push((65536 * (y - y1)) / (y2 - y1) * (x2 - x1) + 65536 * x1);
                }
            }
            crossings.sort_unstable();
            for pair in crossings.chunks_exact(2) {
                let round = |fixed: i64| (fixed >> 16) + ((fixed & 32768) >> 15);
                self.hline(round(pair[0] + 1), round(pair[1] - 1), y, color);
            }
        }
    }

    /// Fills a disc with `gfxdraw.filled_circle`'s midpoint rule.
    pub(crate) fn fill_circle(&mut self, cx: i64, cy: i64, radius: i64, color: [u8; 3]) {
        if radius < 0 {
            return;
        }
        if radius == 0 {
            self.hline(cx, cx, cy, color);
            return;
        }
        let (mut dx, mut dy) = (0i64, radius);
        let (mut prev_dx, mut prev_dy) = (-1i64, -1i64);
        let (mut df, mut d_e, mut d_se) = (1 - radius, 3i64, 5 - 2 * radius);
        while dx <= dy {
            if prev_dy != dy {
                if dy > 0 {
                    self.hline(cx - dx, cx + dx, cy + dy, color);
                    self.hline(cx - dx, cx + dx, cy - dy, color);
                } else {
                    self.hline(cx - dx, cx + dx, cy, color);
                }
                prev_dy = dy;
            }
            if prev_dx != dx {
                if dx != dy {
                    if dx > 0 {
                        self.hline(cx - dy, cx + dy, cy - dx, color);
                        self.hline(cx - dy, cx + dy, cy + dx, color);
                    } else {
                        self.hline(cx - dy, cx + dy, cy, color);
                    }
                }
                prev_dx = dx;
            }
            if df < 0 {
                df += d_e;
                d_e += 2;
                d_se += 2;
            } else {
                df += d_se;
                d_e += 2;
                d_se += 4;
                dy -= 1;
            }
            dx += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canvas(w: usize, h: usize) -> Canvas {
        Canvas { frame: Frame::new(w, h, WHITE) }
    }

    fn painted(c: &Canvas) -> usize {
        c.frame.pixels.chunks_exact(3).filter(|p| *p != WHITE).count()
    }

    #[test]
    fn axis_aligned_rectangle_includes_both_edges() {
        let mut c = canvas(20, 20);
        c.fill_polygon(&[(2.0, 3.0), (2.0, 7.0), (10.0, 7.0), (10.0, 3.0)], BLACK);
        // Columns 2..=10, rows 3..=7 (y up): 9 x 5 pixels.
        assert_eq!(painted(&c), 45);
        assert_eq!(c.frame.pixel(2, 19 - 3), Some(BLACK));
        assert_eq!(c.frame.pixel(10, 19 - 7), Some(BLACK));
        assert_eq!(c.frame.pixel(11, 19 - 7), Some(WHITE));
        assert_eq!(c.frame.pixel(2, 19 - 8), Some(WHITE));
    }

    #[test]
    fn triangle_is_filled_between_its_edges() {
        let mut c = canvas(20, 20);
        c.fill_polygon(&[(0.0, 0.0), (10.0, 10.0), (10.0, 0.0)], BLACK);
        // Row y holds columns y..=10 of the right triangle below the diagonal.
        for y in 0..=10 {
            for x in 0..20 {
                let inside = x >= y && x <= 10;
                assert_eq!(c.frame.pixel(x, 19 - y) == Some(BLACK), inside, "x {x} y {y}");
            }
        }
    }

    #[test]
    fn circle_of_radius_5_is_symmetric_and_round() {
        // pygame-ce 2.5.8's gfxdraw.filled_circle(surface, 10, 10, 5) paints these same pixels:
        // rows of 1, 7, 9, 11, 11, 11, 11, 11, 9, 7, 1 (it is not symmetric about the diagonal).
        let mut c = canvas(21, 21);
        c.fill_circle(10, 10, 5, BLACK);
        let black = |x: usize, y: usize| c.frame.pixel(x, 20 - y) == Some(BLACK);
        for (x, y) in [(10, 10), (5, 10), (15, 10), (10, 5), (10, 15)] {
            assert!(black(x, y), "({x}, {y})");
        }
        let rows: Vec<usize> = (0..=20)
            .map(|y| (0..=20).filter(|&x| black(x, y)).count())
            .filter(|&n| n > 0)
            .collect();
        assert_eq!(rows, [1, 7, 9, 11, 11, 11, 11, 11, 9, 7, 1]);
        for (x, y) in [(4, 10), (16, 10), (6, 6), (14, 14)] {
            assert!(!black(x, y), "({x}, {y})");
        }
        for x in 0..=20 {
            for y in 0..=20 {
                assert_eq!(black(x, y), black(20 - x, y), "mirror x at ({x}, {y})");
                assert_eq!(black(x, y), black(x, 20 - y), "mirror y at ({x}, {y})");
            }
        }
    }

    #[test]
    fn shapes_off_screen_are_clipped() {
        let mut c = canvas(10, 10);
        c.fill_polygon(&[(-50.0, -50.0), (-50.0, 50.0), (5.0, 50.0), (5.0, -50.0)], BLACK);
        assert_eq!(painted(&c), 60); // columns 0..=5 of every row
        c.fill_circle(-100, -100, 5, BLACK);
        c.fill_polygon(&[(1e300, 0.0), (1e300, 5.0), (-1e300, 5.0)], BLACK);
        c.hline(-5, 100, 100, BLACK);
        assert!(painted(&c) >= 60);
    }
}
