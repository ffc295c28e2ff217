#!/usr/bin/env python3
"""Golden frames for tests/render.rs: Gymnasium's own CartPole rgb_array render of a few states.

Provenance: written for and run with Python 3.11.7, gymnasium==1.4.0, pygame-ce==2.5.8
(SDL 2.32.10), numpy==2.4.6 (`pip install "gymnasium[classic-control]==1.4.0"`).

Usage (from the crate root):
    /tmp/tbvenv/bin/python tests/data/make_cartpole_render.py > tests/data/cartpole_render.txt

Output format (text, '#' lines are comments):
    state <x> <x_dot> <theta> <theta_dot>      starts a 600x400 frame
    <row> <count>x<rrggbb> <count>x<rrggbb> ...  run-length encoded row, top row = 0;
                                                 rows that are all white are left out
"""

import os
import sys

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import pygame  # noqa: E402

STATES = [
    (0.0, 0.0, 0.0, 0.0),
    (1.0, 0.0, 0.1, 0.0),
    (-1.5, 0.0, -0.2, 0.0),
    (2.3, 0.0, 0.05, 0.0),
    (-2.4, 0.0, 1.2, 0.0),
    (0.37, 0.0, -0.7, 0.0),
]


def main():
    env = gym.make("CartPole-v1", render_mode="rgb_array")
    env.reset(seed=0)
    out = sys.stdout
    out.write("# Gymnasium CartPole-v1 rgb_array frames, made by tests/data/make_cartpole_render.py\n")
    out.write(f"# gymnasium {gym.__version__}, pygame-ce {pygame.version.ver}, numpy {np.__version__}\n")
    for state in STATES:
        env.unwrapped.state = np.array(state, dtype=np.float64)
        frame = env.render()
        assert frame.shape == (400, 600, 3) and frame.dtype == np.uint8
        out.write("state " + " ".join(repr(v) for v in state) + "\n")
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
