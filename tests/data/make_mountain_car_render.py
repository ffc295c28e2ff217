#!/usr/bin/env python3
"""Golden frames for tests/mountain_car_render.rs: Gymnasium's own MountainCar-v0 rgb_array
render of a few states.

Provenance: written for and run with Python 3.11.7, gymnasium==1.4.0, pygame==2.6.1
(SDL 2.28.4), numpy==2.4.6 (tests/data/requirements-mountain-car.txt); the versions are also
written into the output's header.

Usage (from the crate root):
    /tmp/gymvenv/bin/python tests/data/make_mountain_car_render.py > tests/data/mountain_car_render.txt

Output format (text, '#' lines are comments):
    state <position> <velocity>                  starts a 600x400 frame (decimals that
                                                 round-trip to the exact f64)
    <row> <count>x<rrggbb> <count>x<rrggbb> ...  run-length encoded row, top row = 0;
                                                 rows that are all white are left out
"""

import math
import os
import sys

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import pygame  # noqa: E402

STATES = [
    (-0.5, 0.0),
    (-1.2, 0.0),  # the left wall
    (-0.9, 0.01),
    (-math.pi / 6, 0.0),  # the valley floor: cos(3 x) is 6e-17, pygame's no-rotation case
    (-0.3, -0.02),
    (0.0, 0.0),
    (0.3, 0.05),
    (0.5, 0.0),  # at the flag
    (0.6, 0.0),  # the right edge
]


def main():
    env = gym.make("MountainCar-v0", render_mode="rgb_array")
    env.reset(seed=0)
    out = sys.stdout
    out.write(
        "# Gymnasium MountainCar-v0 rgb_array frames, made by "
        "tests/data/make_mountain_car_render.py\n"
    )
    out.write(
        f"# gymnasium {gym.__version__}, pygame {pygame.version.ver} "
        f"(SDL {'.'.join(map(str, pygame.get_sdl_version()))}), numpy {np.__version__}\n"
    )
    for state in STATES:
        env.unwrapped.state = np.array(state, dtype=np.float64)
        frame = env.render()
        assert frame.shape == (400, 600, 3) and frame.dtype == np.uint8
        out.write("state " + " ".join(repr(float(v)) for v in state) + "\n")
        for row_index, row in enumerate(frame):
            runs = []
            for pixel in row:
                color = "%02x%02x%02x" % tuple(int(c) for c in pixel)
                if runs and runs[-1][1] == color:
                    runs[-1][0] += 1
                else:
                    runs.append([1, color])
            if runs == [[600, "ffffff"]]:
                continue
            out.write(f"{row_index} " + " ".join(f"{n}x{c}" for n, c in runs) + "\n")
    env.close()


if __name__ == "__main__":
    main()
