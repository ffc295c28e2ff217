#!/usr/bin/env python3
"""Golden frames for tests/acrobot_render.rs: Gymnasium's own Acrobot-v1 rgb_array render.

Provenance: run with Python 3.11.7, gymnasium==1.4.0, numpy==2.4.6 and pygame==2.6.1
(SDL 2.28.4); see tests/data/requirements-acrobot.txt plus `pip install pygame==2.6.1`.

Usage (from the crate root):
    /tmp/gymvenv/bin/python tests/data/make_acrobot_render.py > tests/data/acrobot_render.txt

Output format (text, '#' lines are comments):
    state64 <theta1> <theta2> <dtheta1> <dtheta2>   f64 bits: env.unwrapped.state = float64 array
    state32 <theta1> <theta2> <dtheta1> <dtheta2>   f32 bits: the float32 state of a reset
        either starts a 500x500 frame;
    <row> <count>x<rrggbb> <count>x<rrggbb> ...      run-length encoded row, top row = 0;
                                                     rows that are all white are left out
"""

import math
import os
import struct
import sys

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import pygame  # noqa: E402

PI = math.pi
STATES64 = [
    (0.0, 0.0, 0.0, 0.0),  # hanging straight down (quarter-turn rotations)
    (PI, 0.0, 0.0, 0.0),  # upright, above the goal line
    (PI / 2, 0.0, 0.0, 0.0),  # horizontal
    (-PI / 2, -PI / 2, 0.0, 0.0),
    (1.0, -0.5, 0.0, 0.0),
    (-2.0, 1.5, 0.0, 0.0),
    (0.3, 2.8, 0.0, 0.0),
    (2.9, -2.4, 3.0, -7.0),
]
# Gymnasium's resets with these seeds. Its state is then float32, and numpy computes the link
# geometry in float32; for seeds 261 and 10713 (the first two of 0..200000) that moves a vertex
# across a pixel boundary compared with the same state in float64.
RESET_SEEDS = [0, 7, 261, 10713]


def main():
    env = gym.make("Acrobot-v1", render_mode="rgb_array")
    out = sys.stdout
    out.write("# Gymnasium Acrobot-v1 rgb_array frames, made by tests/data/make_acrobot_render.py\n")
    out.write(
        f"# gymnasium {gym.__version__}, pygame {pygame.version.ver} "
        f"(SDL {'.'.join(map(str, pygame.get_sdl_version()))}), numpy {np.__version__}\n"
    )
    states = [np.array(s, dtype=np.float64) for s in STATES64]
    for seed in RESET_SEEDS:
        env.reset(seed=seed)
        states.append(np.array(env.unwrapped.state))
    for state in states:
        env.reset(seed=0)
        env.unwrapped.state = state
        frame = env.render()
        assert frame.shape == (500, 500, 3) and frame.dtype == np.uint8
        if state.dtype == np.float32:
            bits = " ".join(struct.pack(">f", float(v)).hex() for v in state)
            out.write(f"state32 {bits}\n")
        else:
            bits = " ".join(struct.pack(">d", float(v)).hex() for v in state)
            out.write(f"state64 {bits}\n")
        for row_index, row in enumerate(frame):
            runs = []
            for pixel in row:
                color = "%02x%02x%02x" % tuple(int(c) for c in pixel)
                if runs and runs[-1][1] == color:
                    runs[-1][0] += 1
                else:
                    runs.append([1, color])
            if runs == [[500, "ffffff"]]:
                continue
            out.write(f"{row_index} " + " ".join(f"{n}x{c}" for n, c in runs) + "\n")
    env.close()


if __name__ == "__main__":
    main()
