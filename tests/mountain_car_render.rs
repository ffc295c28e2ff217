//! `MountainCar::render`: Gymnasium's geometry, compared with Gymnasium's own frames.

use deepq::{Frame, MountainCar};

const WHITE: [u8; 3] = [255, 255, 255];
const BLACK: [u8; 3] = [0, 0, 0];
const WHEEL: [u8; 3] = [128, 128, 128];
const FLAG: [u8; 3] = [204, 204, 0];

fn render(position: f64) -> Frame {
    let mut env = MountainCar::v0();
    env.set_state([position, 0.0]).unwrap();
    env.render()
}

fn px(frame: &Frame, x: usize, y: usize) -> [u8; 3] {
    frame.pixel(x, y).unwrap()
}

fn count(frame: &Frame, color: [u8; 3]) -> usize {
    frame.pixels.chunks_exact(3).filter(|p| *p == color).count()
}

/// The centre of the pixels of `color`, as (column, row).
fn centroid(frame: &Frame, color: [u8; 3]) -> (f64, f64) {
    let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
    for y in 0..frame.height {
        for x in 0..frame.width {
            if px(frame, x, y) == color {
                (sx, sy, n) = (sx + x as f64, sy + y as f64, n + 1.0);
            }
        }
    }
    (sx / n, sy / n)
}

#[test]
fn frame_is_600_by_400_rgb_on_white() {
    let frame = render(-0.5);
    assert_eq!((frame.width, frame.height, frame.pixels.len()), (600, 400, 600 * 400 * 3));
    for (x, y) in [(0, 0), (599, 0), (300, 50), (100, 399)] {
        assert_eq!(px(&frame, x, y), WHITE, "({x}, {y})");
    }
}

#[test]
fn flag_stands_at_the_goal_with_a_fifty_pixel_pole() {
    let frame = render(-0.5);
    // flagx = int(1.7 * 600 / 1.8) = 566; flagy1 = int(height(0.5) * scale) = 332, so the
    // pole spans pygame y 332..=382, rows 17..=67; the flag, drawn after it, covers its top
    // ten pixels (y 372..=382, rows 17..=27).
    let column: Vec<[u8; 3]> = (0..400).map(|y| px(&frame, 566, y)).collect();
    assert!(column[..17].iter().all(|&c| c == WHITE));
    assert!(column[17..=27].iter().all(|&c| c == FLAG));
    assert!(column[28..=67].iter().all(|&c| c == BLACK));
    assert_eq!(column[68], WHITE);
    // The flag: a yellow triangle 25 pixels wide and 10 high, to the right of the pole's top.
    let (cx, cy) = centroid(&frame, FLAG);
    assert!((570.0..580.0).contains(&cx) && (20.0..25.0).contains(&cy), "({cx}, {cy})");
}

#[test]
fn car_follows_the_track_and_has_two_grey_wheels() {
    // pos -0.5: x = 0.7 * 600 / 1.8 = 233.3; the track is at (0.45 sin(-1.5) + 0.55) * 333.3
    // = 33.7 pixels, the body 10 pixels above it (pygame y 44..=63, rows 336..=355), nearly
    // level (rotated by cos(-1.5) = 0.07 rad).
    let low = render(-0.5);
    assert_eq!(px(&low, 233, 345), BLACK);
    assert_eq!(px(&low, 233, 330), WHITE);
    let (wx, wy) = centroid(&low, WHEEL);
    assert!((wx - 233.0).abs() < 2.0, "wheels centred under the car: {wx}");
    assert!((wy - 356.0).abs() < 2.0, "wheels at the body's underside: {wy}");
    // Two discs of radius int(20 / 2.5) = 8, of 210 pixels each (gfxdraw's midpoint rule),
    // drawn after the body.
    assert_eq!(count(&low, WHEEL), 2 * 210);

    // Higher up the right hill the car is higher in the frame (smaller row) and further right.
    let high = render(0.3);
    let (hx, hy) = centroid(&high, WHEEL);
    assert!(hy < wy - 100.0 && hx > wx + 200.0, "({hx}, {hy}) vs ({wx}, {wy})");
}

#[test]
fn render_never_panics_far_off_screen() {
    for position in [-1e300, -1e6, -3.0, -1.2, 0.6, 2.0, 1e6, 1e300] {
        let frame = render(position);
        assert_eq!(frame.pixels.len(), 600 * 400 * 3);
    }
    // Before any reset the car stands at position 0.
    assert_eq!(MountainCar::v0().render(), render(0.0));
}

/// Gymnasium's own frames (`tests/data/make_mountain_car_render.py`): (state, RGB pixels).
fn gymnasium_frames() -> Vec<([f64; 2], Vec<u8>)> {
    let text = include_str!("data/mountain_car_render.txt");
    let mut frames: Vec<([f64; 2], Vec<u8>)> = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap();
        if first == "state" {
            let v: Vec<f64> = words.map(|w| w.parse().unwrap()).collect();
            frames.push(([v[0], v[1]], WHITE.repeat(600 * 400)));
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

/// Gymnasium outlines the car body, the wheels and the flag with anti-aliased lines
/// (`gfxdraw.aapolygon`, `aacircle`), which `render` leaves out; the track is pygame's own
/// anti-aliased line, reproduced exactly. So: away from the car and the flag (the track, the
/// sky) the frames must be identical pixel for pixel, and every pixel that differs must lie next
/// to (within one pixel of) one of Gymnasium's blended outline pixels, a color that is none of
/// the scene's four, near the car or the flag.
#[test]
fn matches_gymnasium_except_anti_aliased_outlines() {
    let frames = gymnasium_frames();
    assert_eq!(frames.len(), 9);
    let (mut total_differ, mut total_drawn) = (0, 0);
    for (state, expected) in frames {
        let mut env = MountainCar::v0();
        env.set_state(state).unwrap();
        let frame = env.render();
        let gym = Frame { width: 600, height: 400, pixels: expected };
        let blended = |x: usize, y: usize| {
            gym.pixel(x, y).is_some_and(|p| ![WHITE, BLACK, WHEEL, FLAG].contains(&p))
        };
        // The car (40x20, rotated, with wheels) lies within 42 pixels of its reference point (corners up to 28 pixels
        // from it, lifted by the 10-pixel clearance, and the outline one more);
        // the flag within its 26x51 box at column 566, rows 16..=66.
        let scale = 600.0 / (0.6 - -1.2);
        let car_x = (state[0] + 1.2) * scale;
        let car_row = 399.0 - ((3.0 * state[0]).sin() * 0.45 + 0.55) * scale;
        let near_car = |x: usize, y: usize| {
            (x as f64 - car_x).abs() <= 42.0 && (y as f64 - car_row).abs() <= 42.0
        };
        let near_flag = |x: usize, y: usize| (565..=592).contains(&x) && (15..=67).contains(&y);

        let (mut differ, mut drawn) = (0, 0);
        for y in 0..400 {
            for x in 0..600 {
                let (ours, theirs) = (px(&frame, x, y), px(&gym, x, y));
                drawn += usize::from(ours != WHITE || theirs != WHITE);
                if ours == theirs {
                    continue;
                }
                differ += 1;
                assert!(
                    near_car(x, y) || near_flag(x, y),
                    "{state:?}: ({x}, {y}) is {ours:?}, Gymnasium {theirs:?}: the track and the \
                     sky must be identical"
                );
                let near_edge = (x.saturating_sub(1)..=x + 1)
                    .any(|nx| (y.saturating_sub(1)..=y + 1).any(|ny| blended(nx, ny)));
                assert!(near_edge, "{state:?}: ({x}, {y}) is {ours:?}, Gymnasium {theirs:?}");
            }
        }
        println!(
            "{state:?}: {differ} of 240000 pixels differ ({:.3}% equal), {differ} of {drawn} drawn",
            100.0 * (240000 - differ) as f64 / 240000.0
        );
        assert!(differ * 1000 < 600 * 400, "{state:?}: {differ} pixels differ");
        assert!(differ * 5 < drawn, "{state:?}: {differ} of {drawn} drawn pixels differ");
        total_differ += differ;
        total_drawn += drawn;
    }
    println!("all frames: {total_differ} of {} pixels differ, {total_drawn} drawn", 9 * 240000);
}
