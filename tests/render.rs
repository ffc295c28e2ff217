//! `CartPole::render` and `Frame`: Gymnasium's geometry, compared with Gymnasium's own frames.

use deepq::{CartPole, Frame};

const WHITE: [u8; 3] = [255, 255, 255];
const BLACK: [u8; 3] = [0, 0, 0];
const POLE: [u8; 3] = [202, 152, 101];
const AXLE: [u8; 3] = [129, 132, 203];

fn render(x: f64, theta: f64) -> Frame {
    let mut env = CartPole::v1();
    env.set_state([x, 0.0, theta, 0.0]).unwrap();
    env.render()
}

fn px(frame: &Frame, x: usize, y: usize) -> [u8; 3] {
    frame.pixel(x, y).unwrap()
}

/// The columns of row `y` that have `color`.
fn columns(frame: &Frame, y: usize, color: [u8; 3]) -> Vec<usize> {
    (0..frame.width).filter(|&x| px(frame, x, y) == color).collect()
}

#[test]
fn frame_is_600_by_400_rgb() {
    let frame = render(0.0, 0.0);
    assert_eq!((frame.width, frame.height), (600, 400));
    assert_eq!(frame.pixels.len(), 600 * 400 * 3);
    let ppm = frame.to_ppm();
    let header = b"P6\n600 400\n255\n";
    assert_eq!(&ppm[..header.len()], header);
    assert_eq!(&ppm[header.len()..], &frame.pixels[..]);
}

#[test]
fn background_is_white_and_track_is_black() {
    let frame = render(0.0, 0.0);
    for (x, y) in [(0, 0), (599, 0), (0, 399), (599, 399), (100, 200), (500, 350)] {
        assert_eq!(px(&frame, x, y), WHITE, "({x}, {y})");
    }
    // Gymnasium's track: hline at y = 100 from the bottom, i.e. row 299, across the screen.
    assert_eq!(columns(&frame, 299, BLACK).len(), 600);
    assert_eq!(columns(&frame, 298, BLACK).len(), 51, "only the cart on the row above");
}

#[test]
fn cart_is_black_at_the_centre_for_x_zero_and_moves_with_x() {
    // x = 0: cart centred at column 300, spanning 275..=325, rows 284..=314 (y 85..=115 up).
    let frame = render(0.0, 0.0);
    assert_eq!(columns(&frame, 310, BLACK), (275..=325).collect::<Vec<_>>());
    let rows: Vec<usize> = (0..400).filter(|&y| px(&frame, 280, y) == BLACK).collect();
    assert_eq!(rows, (284..=314).collect::<Vec<_>>());

    // x = 1: 125 pixels per metre to the right.
    let moved = render(1.0, 0.0);
    assert_eq!(columns(&moved, 310, BLACK), (400..=450).collect::<Vec<_>>());
    assert_eq!(px(&moved, 300, 310), WHITE);
}

#[test]
fn pole_is_upright_for_theta_zero_and_leans_right_for_positive_theta() {
    let upright = render(0.0, 0.0);
    // The pole's top row (one metre = 125 px above the pivot at y = 107.5, minus half its
    // width): pygame y = 227, row 172, columns 295..=305.
    let top = (0..400).find(|&y| !columns(&upright, y, POLE).is_empty()).unwrap();
    assert_eq!(top, 172);
    assert_eq!(columns(&upright, top, POLE), (295..=305).collect::<Vec<_>>());

    let tip_column = |frame: &Frame| {
        let top = (0..400).find(|&y| !columns(frame, y, POLE).is_empty()).unwrap();
        let cols = columns(frame, top, POLE);
        (cols[0] + cols[cols.len() - 1]) as f64 / 2.0
    };
    let right = render(0.0, 0.2);
    let left = render(0.0, -0.2);
    // The tip moves by about 120 sin(0.2) = 24 pixels.
    assert!(tip_column(&right) > 315.0, "{}", tip_column(&right));
    assert!(tip_column(&left) < 285.0, "{}", tip_column(&left));
}

#[test]
fn axle_is_drawn_at_the_pivot() {
    let frame = render(0.0, 0.3);
    // Centre int(107.5) = 107 up, row 292, radius 5.
    assert_eq!(px(&frame, 300, 292), AXLE);
    assert_eq!(columns(&frame, 292, AXLE), (295..=305).collect::<Vec<_>>());
}

#[test]
fn render_never_panics_far_off_screen() {
    for x in [-1e300, -1e6, -3.0, 3.0, 1e6, 1e300] {
        for theta in [-1e9, -3.0, 0.0, 3.0, 1e9] {
            let frame = render(x, theta);
            assert_eq!(frame.pixels.len(), 600 * 400 * 3);
        }
    }
    // Off screen to the right: only the track is left.
    let frame = render(10.0, 0.0);
    assert_eq!(frame.pixels.chunks_exact(3).filter(|p| *p != WHITE).count(), 600);
}

/// Gymnasium's own frames (`tests/data/make_cartpole_render.py`): (state, 600x400 RGB pixels).
fn gymnasium_frames() -> Vec<([f64; 4], Vec<u8>)> {
    let text = include_str!("data/cartpole_render.txt");
    let mut frames: Vec<([f64; 4], Vec<u8>)> = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap();
        if first == "state" {
            let v: Vec<f64> = words.map(|w| w.parse().unwrap()).collect();
            frames.push(([v[0], v[1], v[2], v[3]], WHITE.repeat(600 * 400)));
            continue;
        }
        let row: usize = first.parse().unwrap();
        let pixels = &mut frames.last_mut().unwrap().1;
        let mut x = 0;
        for run in words {
            let (count, hex) = run.split_once('x').unwrap();
            let color = u32::from_str_radix(hex, 16).unwrap().to_be_bytes();
            for _ in 0..count.parse::<usize>().unwrap() {
                pixels[3 * (row * 600 + x)..3 * (row * 600 + x + 1)].copy_from_slice(&color[1..]);
                x += 1;
            }
        }
        assert_eq!(x, 600, "row {row} has 600 pixels");
    }
    frames
}

/// Gymnasium outlines the pole and the axle with anti-aliased lines (`gfxdraw.aapolygon`,
/// `aacircle`), which `render` leaves out. Everywhere else the frames must be equal: every pixel
/// that differs must lie next to (within one pixel of) one of Gymnasium's blended edge pixels,
/// a color that is none of the scene's four.
#[test]
fn matches_gymnasium_except_anti_aliased_edges() {
    let frames = gymnasium_frames();
    assert_eq!(frames.len(), 6);
    for (state, expected) in frames {
        let mut env = CartPole::v1();
        env.set_state(state).unwrap();
        let frame = env.render();
        let gym = Frame { width: 600, height: 400, pixels: expected };
        let blended = |x: usize, y: usize| {
            gym.pixel(x, y).is_some_and(|p| ![WHITE, BLACK, POLE, AXLE].contains(&p))
        };
        let (mut differ, mut drawn) = (0, 0);
        for y in 0..400 {
            for x in 0..600 {
                let (ours, theirs) = (px(&frame, x, y), px(&gym, x, y));
                drawn += usize::from(ours != WHITE || theirs != WHITE);
                if ours != theirs {
                    differ += 1;
                    let near_edge = (x.saturating_sub(1)..=x + 1)
                        .any(|nx| (y.saturating_sub(1)..=y + 1).any(|ny| blended(nx, ny)));
                    assert!(near_edge, "{state:?}: ({x}, {y}) is {ours:?}, Gymnasium {theirs:?}");
                }
            }
        }
        // Measured: 8 (upright) to 210 (pole near horizontal) of 240000 pixels differ.
        assert!(differ * 1000 < 600 * 400, "{state:?}: {differ} pixels differ");
        assert!(differ * 10 < drawn, "{state:?}: {differ} of {drawn} drawn pixels differ");
    }
}
