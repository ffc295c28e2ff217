//! `Acrobot::render`: Gymnasium's geometry, compared with Gymnasium's own frames.

use std::f64::consts::PI;

use deepq::{Acrobot, Frame};

const WHITE: [u8; 3] = [255, 255, 255];
const BLACK: [u8; 3] = [0, 0, 0];
const LINK: [u8; 3] = [0, 204, 204];
const JOINT: [u8; 3] = [204, 204, 0];
const SIZE: usize = 500;

fn render(state: [f64; 4]) -> Frame {
    let mut env = Acrobot::v1();
    env.set_state(state).unwrap();
    env.render()
}

fn px(frame: &Frame, x: usize, y: usize) -> [u8; 3] {
    frame.pixel(x, y).unwrap()
}

/// The columns of row `y` that have `color`.
fn columns(frame: &Frame, y: usize, color: [u8; 3]) -> Vec<usize> {
    (0..frame.width).filter(|&x| px(frame, x, y) == color).collect()
}

/// The rows of column `x` that have `color`.
fn rows(frame: &Frame, x: usize, color: [u8; 3]) -> Vec<usize> {
    (0..frame.height).filter(|&y| px(frame, x, y) == color).collect()
}

#[test]
fn frame_is_500_by_500_rgb_on_white() {
    let frame = render([0.0; 4]);
    assert_eq!((frame.width, frame.height, frame.pixels.len()), (SIZE, SIZE, SIZE * SIZE * 3));
    for (x, y) in [(0, 0), (499, 0), (0, 499), (499, 499), (100, 200)] {
        assert_eq!(px(&frame, x, y), WHITE, "({x}, {y})");
    }
}

#[test]
fn goal_line_is_one_metre_above_the_pivot_across_the_frame() {
    // y = int(scale + 250) = int(363.6) = 363 up from the bottom: row 136.
    let frame = render([0.0; 4]);
    assert_eq!(columns(&frame, 136, BLACK).len(), SIZE);
    assert!(columns(&frame, 135, BLACK).is_empty() && columns(&frame, 137, BLACK).is_empty());
}

#[test]
fn hanging_links_point_straight_down_from_the_centre() {
    let frame = render([0.0; 4]);
    // Joints of radius int(0.1 scale) = 11 at the pivot (y = 250 up from the bottom: row 249)
    // and at the end of the first link (y = int(250 - 113.6) = 136: row 363).
    assert_eq!(px(&frame, 250, 249), JOINT);
    assert_eq!(columns(&frame, 249, JOINT), (239..=261).collect::<Vec<_>>());
    assert_eq!(columns(&frame, 363, JOINT), (239..=261).collect::<Vec<_>>());
    let link_rows = rows(&frame, 250, LINK);
    assert!(link_rows.iter().all(|&y| y > 249), "the links hang below the pivot");
    // The free end: y = 250 - 2 * 113.6 = 22.7, truncated to 22 (row 477).
    assert_eq!(link_rows.last(), Some(&477));
    // The links are 0.2 m wide: from x = 250 - 11.36 to 250 + 11.36, truncated.
    assert_eq!(columns(&frame, 300, LINK), (238..=261).collect::<Vec<_>>());
}

#[test]
fn upright_links_reach_above_the_goal_line() {
    let frame = render([PI, 0.0, 0.0, 0.0]);
    let top = (0..SIZE).find(|&y| !columns(&frame, y, LINK).is_empty()).unwrap();
    assert!(top < 136, "the free end ({top}) is above the goal line");
    // theta1 = pi/2: the first link points right (Gymnasium's x is sin(theta1)).
    let right = render([PI / 2.0, 0.0, 0.0, 0.0]);
    assert_eq!(px(&right, 350, 249), LINK);
    assert_eq!(px(&right, 150, 249), WHITE);
}

#[test]
fn render_never_panics_on_extreme_states() {
    for t in [-1e300, -1e9, -3.0, 0.0, 3.0, 1e9, 1e300] {
        let frame = render([t, -t, 0.0, 0.0]);
        assert_eq!(frame.pixels.len(), SIZE * SIZE * 3);
    }
    // Before any reset the state is zero: hanging down.
    assert_eq!(Acrobot::v1().render(), render([0.0; 4]));
}

/// Gymnasium's own frames (`tests/data/make_acrobot_render.py`): (state, float32 state or not,
/// 500x500 RGB pixels).
fn gymnasium_frames() -> Vec<([f64; 4], bool, Vec<u8>)> {
    let text = include_str!("data/acrobot_render.txt");
    let mut frames: Vec<([f64; 4], bool, Vec<u8>)> = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap();
        if first == "state64" || first == "state32" {
            let float32 = first == "state32";
            let v: Vec<f64> = words
                .map(|w| {
                    if float32 {
                        f64::from(f32::from_bits(u32::from_str_radix(w, 16).unwrap()))
                    } else {
                        f64::from_bits(u64::from_str_radix(w, 16).unwrap())
                    }
                })
                .collect();
            frames.push(([v[0], v[1], v[2], v[3]], float32, WHITE.repeat(SIZE * SIZE)));
            continue;
        }
        let row: usize = first.parse().unwrap();
        let pixels = &mut frames.last_mut().unwrap().2;
        let mut x = 0;
        for run in words {
            let (count, hex) = run.split_once('x').unwrap();
            let color = u32::from_str_radix(hex, 16).unwrap().to_be_bytes();
            for _ in 0..count.parse::<usize>().unwrap() {
                let i = 3 * (row * SIZE + x);
                pixels[i..i + 3].copy_from_slice(&color[1..]);
                x += 1;
            }
        }
        assert_eq!(x, SIZE, "row {row} has {SIZE} pixels");
    }
    frames
}

/// Gymnasium outlines the links and the joints with anti-aliased lines (`gfxdraw.aapolygon`,
/// `aacircle`), which `render` leaves out. Everywhere else the frames must be equal: every pixel
/// that differs must be one of Gymnasium's blended edge pixels, a color that is none of the
/// scene's four (so every pixel that Gymnasium paints in a solid color is ours too).
#[test]
fn matches_gymnasium_except_anti_aliased_edges() {
    let frames = gymnasium_frames();
    assert_eq!(frames.len(), 12);
    assert_eq!(frames.iter().filter(|f| f.1).count(), 4, "four float32 reset states");
    let (mut total_differ, mut total_drawn) = (0, 0);
    for (state, float32, expected) in frames {
        let mut env = Acrobot::v1();
        if float32 {
            env.reset_to(state.map(|v| v as f32)).unwrap();
        } else {
            env.set_state(state).unwrap();
        }
        let frame = env.render();
        let gym = Frame { width: SIZE, height: SIZE, pixels: expected };
        let blended = |x: usize, y: usize| {
            gym.pixel(x, y).is_some_and(|p| ![WHITE, BLACK, LINK, JOINT].contains(&p))
        };
        let (mut differ, mut drawn) = (0, 0);
        for y in 0..SIZE {
            for x in 0..SIZE {
                let (ours, theirs) = (px(&frame, x, y), px(&gym, x, y));
                drawn += usize::from(ours != WHITE || theirs != WHITE);
                if ours != theirs {
                    differ += 1;
                    assert!(
                        blended(x, y),
                        "{state:?}: ({x}, {y}) is {ours:?}, Gymnasium {theirs:?}, not an edge pixel"
                    );
                }
            }
        }
        println!("{state:?} (float32 {float32}): {differ} of {drawn} drawn pixels differ");
        // Measured: 88 (links along the axes) to 336 of 250000 pixels, 1.4% to 5.3% of the
        // drawn ones.
        assert!(differ * 500 < SIZE * SIZE, "{state:?}: {differ} pixels differ");
        assert!(differ * 10 < drawn, "{state:?}: {differ} of {drawn} drawn pixels differ");
        total_differ += differ;
        total_drawn += drawn;
    }
    println!("in all: {total_differ} of {total_drawn} drawn pixels differ");
}
