#!/usr/bin/env python3
"""Write golden MountainCar trajectories from Gymnasium for tests/mountain_car_parity.rs.

Run by hand, never by the build:

    python3 -m venv /tmp/gymvenv
    /tmp/gymvenv/bin/pip install -r tests/data/requirements-mountain-car.txt
    /tmp/gymvenv/bin/python tests/data/make_mountain_car_golden.py > tests/data/mountain_car_golden.txt

Everything goes through `gym.make("MountainCar-v0", ...)`, so through Gymnasium's own step,
reset and `TimeLimit`. Every f64 is written as the 16 hex digits of its IEEE-754 bit pattern and
every f32 as 8, so the Rust test can demand bit equality. Format (one record per line, space
separated):

    episode <name> <max_episode_steps> <goal_velocity>
    reset <raw> <position> <velocity> <obs0> <obs1>
    init <position> <velocity>
    step <action> <position> <velocity> <obs0> <obs1> <reward> <terminated 0|1> <truncated 0|1>
    end

An episode starts with either `reset` or `init`:

- `reset`: Gymnasium's own `env.reset()`. `raw` is the 64-bit word (16 hex digits) that the
  environment's PCG64 generator handed to `np_random.uniform(-0.6, -0.4)` (read from a copy of
  the generator taken just before the reset); `position velocity` is `env.unwrapped.state` after
  the reset (f64 bits) and `obs0 obs1` the observation the reset returned (f32 bits). numpy
  computes `low + (high - low) * ((raw >> 11) * 2**-53)`; the script asserts that on every reset,
  and the Rust test feeds `raw` to `MountainCar::reset` and demands the same state.
- `init`: `env.unwrapped.state = np.array([position, velocity])` after a reset, to step from a
  chosen state (f64 bits).

The state after each step is `env.unwrapped.state` (f64; a velocity zeroed at the left wall is
the Python int 0, written as +0.0), obs is the returned observation (f32), reward is written as a
decimal (always -1.0). `goal_velocity` is written as a decimal.
"""

import copy
import math
import platform
import struct
import sys

import gymnasium as gym
import numpy as np

MIN_POSITION = -1.2
MAX_POSITION = 0.6
MAX_SPEED = 0.07
GOAL_POSITION = 0.5
FORCE = 0.001
GRAVITY = 0.0025


def f64hex(v):
    return struct.pack(">d", float(v)).hex()


def f32hex(v):
    return struct.pack(">f", float(np.float32(v))).hex()


ENVS = {}


def make(max_steps, goal_velocity):
    key = (max_steps, goal_velocity)
    if key not in ENVS:
        env = gym.make(
            "MountainCar-v0", max_episode_steps=max_steps, goal_velocity=goal_velocity
        )
        env.reset(seed=len(ENVS) + 1)
        ENVS[key] = env
    return ENVS[key]


def gym_reset(env):
    """Gymnasium's reset, and the raw 64-bit draw it consumed."""
    bit_generator = copy.deepcopy(env.unwrapped.np_random.bit_generator)
    raw = int(bit_generator.random_raw())
    obs, _ = env.reset()
    state = env.unwrapped.state
    expected = -0.6 + (-0.4 - -0.6) * ((raw >> 11) * (1.0 / 9007199254740992.0))
    assert float(state[0]) == expected and float(state[1]) == 0.0, (raw, state)
    return raw, state, obs


def run(out, name, actions, max_steps=200, goal_velocity=0.0, init=None):
    """Reset (Gymnasium's reset, recorded), optionally overwrite the state, then step.

    `actions` is a callable (step index, (position, velocity)) -> action, or None for no steps.
    Steps until the episode ends, or until `actions` returns None. Returns (steps, last info).
    """
    env = make(max_steps, goal_velocity)
    raw, state, obs = gym_reset(env)
    out.append(f"episode {name} {max_steps} {goal_velocity!r}")
    if init is None:
        out.append(
            "reset {:016x} {} {} {} {}".format(
                raw, f64hex(state[0]), f64hex(state[1]), f32hex(obs[0]), f32hex(obs[1])
            )
        )
    else:
        env.unwrapped.state = np.array(init, dtype=np.float64)
        out.append("init " + " ".join(f64hex(v) for v in env.unwrapped.state))
    n = 0
    last = None
    position, velocity = (float(v) for v in env.unwrapped.state)
    while actions is not None:
        a = actions(n, (position, velocity))
        if a is None:
            break
        a = int(a)
        obs, reward, terminated, truncated, _ = env.step(a)
        position, velocity = env.unwrapped.state
        position, velocity = float(position), float(velocity)
        out.append(
            "step {} {} {} {} {} {} {} {}".format(
                a,
                f64hex(position),
                f64hex(velocity),
                f32hex(obs[0]),
                f32hex(obs[1]),
                repr(float(reward)),
                int(terminated),
                int(truncated),
            )
        )
        n += 1
        last = (terminated, truncated)
        if terminated or truncated:
            break
    out.append("end")
    return n, last


def push_with_velocity(n, s):
    return 2 if s[1] >= 0 else 0


def increment(position, action):
    """Gymnasium's velocity increment, computed as its step computes it."""
    return (action - 1) * FORCE + math.cos(3 * position) * (-GRAVITY)


def main():
    out = []
    rng = np.random.default_rng(20261201)

    # 1. Resets: Gymnasium's reset (first observation recorded), then a few random steps.
    for i in range(20000):
        acts = rng.integers(0, 3, size=2)
        run(out, f"reset-{i}", lambda n, s, acts=acts: acts[n] if n < len(acts) else None)

    # 2. Uniformly random actions from a reset: these are truncated at 200 steps.
    for i in range(150):
        acts = rng.integers(0, 3, size=200)
        run(out, f"random-{i}", lambda n, s, acts=acts: acts[n])

    # 3. Episodes that terminate: push in the direction of the velocity, sometimes with noise
    #    (a random action with probability 0.1). Some of these touch the left wall.
    for i in range(150):
        noise = rng.random(200)
        noisy_acts = rng.integers(0, 3, size=200)

        def policy(n, s, i=i, noise=noise, noisy_acts=noisy_acts):
            if i % 3 == 2 and noise[n] < 0.1:
                return noisy_acts[n]
            return push_with_velocity(n, s)

        run(out, f"policy-{i}", policy)

    # 4. The left wall: pump energy for k steps, then push left every step.
    for i in range(60):
        k = int(rng.integers(20, 90))
        run(out, f"wall-{i}", lambda n, s, k=k: push_with_velocity(n, s) if n < k else 0)

    # 5. The speed limit: from high on the right hill, rolling down while pushing with the
    #    velocity; and from high on the left hill (outside the reset range) the same way.
    for i in range(60):
        if i % 2 == 0:
            init = (rng.uniform(0.25, 0.499), rng.uniform(-0.03, 0.0))
        else:
            init = (rng.uniform(-1.2, -1.0), rng.uniform(0.0, 0.03))
        run(out, f"speed-{i}", push_with_velocity, init=init)

    # 6. A non-zero goal velocity (Gymnasium's `goal_velocity` argument).
    for i in range(30):
        gv = [0.01, 0.03, 0.05][i % 3]
        run(out, f"goalvel-{i}", push_with_velocity, goal_velocity=gv)

    # 7. Termination and truncation on the same step: find a terminating episode's length k,
    #    then replay it (same initial state, same actions) with max_episode_steps = k.
    for i in range(10):
        probe = []
        k, last = run(probe, "probe", push_with_velocity, max_steps=1000)
        assert last == (True, False)
        init_line = next(line for line in probe if line.startswith("reset "))
        words = init_line.split()
        init = tuple(struct.unpack(">d", bytes.fromhex(w))[0] for w in words[2:4])
        run(out, f"both-{i}", push_with_velocity, max_steps=k, init=init)

    # 8. Single steps at the goal boundary: position exactly 0.5, one ulp below and above;
    #    velocity exactly 0 and -0.0; and starting velocities chosen so that the step lands
    #    on velocity exactly +0.0, or one ulp either side of -increment (a tiny velocity of
    #    either sign that leaves the position where it is).
    below = math.nextafter(GOAL_POSITION, 0.0)
    above = math.nextafter(GOAL_POSITION, 1.0)
    j = 0
    for p in (GOAL_POSITION, below, above):
        for a in (0, 1, 2):
            x = increment(p, a)
            for v in (0.0, -0.0, -x, math.nextafter(-x, math.inf), math.nextafter(-x, -math.inf)):
                run(out, f"goal-{j}", lambda n, s, a=a: a if n == 0 else None, init=(p, v))
                j += 1
    # Landing exactly on 0.5 (and one ulp below it) from below, with a positive velocity.
    for a in (0, 1, 2):
        for target in (GOAL_POSITION, below):
            for v_after in (0.01, 0.003, 1e-9):
                p = target - v_after
                v = v_after - increment(p, a)
                for _ in range(100):
                    landed = p + (v + increment(p, a))
                    if landed == target:
                        break
                    p = math.nextafter(p, math.inf if landed < target else -math.inf)
                assert p + (v + increment(p, a)) == target
                run(out, f"goal-{j}", lambda n, s, a=a: a if n == 0 else None, init=(p, v))
                j += 1

    # 9. Single steps at the walls and the speed limit.
    edge_states = [
        (MIN_POSITION, 0.0),
        (MIN_POSITION, -0.0),
        (MIN_POSITION, -0.01),
        (MIN_POSITION + 1e-3, -0.05),
        (math.nextafter(MIN_POSITION, 0.0), -1e-3),
        (-1.3, 0.05),  # outside the box, moving right: clipped to -1.2, velocity kept
        (-1.3, -0.05),
        (-5.0, 0.0),
        (MAX_POSITION, 0.0),
        (0.58, 0.05),  # clipped to 0.6
        (0.7, -0.01),
        (2.0, 0.0),
        (0.0, MAX_SPEED),
        (0.0, -MAX_SPEED),
        (0.0, 0.2),
        (0.0, -0.2),
        (-0.5, 1.0),
        (-0.5, -1.0),
    ]
    for a in (0, 1, 2):
        # Landing exactly on the left wall with a negative velocity (zeroed), and one ulp
        # inside it (kept).
        for target in (MIN_POSITION, math.nextafter(MIN_POSITION, 0.0)):
            for v_after in (-0.02, -1e-6):
                p = target - v_after
                v = v_after - increment(p, a)
                for _ in range(100):
                    landed = p + (v + increment(p, a))
                    if landed == target:
                        break
                    p = math.nextafter(p, math.inf if landed < target else -math.inf)
                assert p + (v + increment(p, a)) == target
                edge_states.append((p, v))
        # Velocities that land exactly on +-max_speed and one ulp beyond it.
        for p in (-0.5, 0.1, -1.0):
            x = increment(p, a)
            for v_after in (MAX_SPEED, -MAX_SPEED):
                v = v_after - x
                edge_states.append((p, v))
                edge_states.append((p, math.nextafter(v, math.copysign(math.inf, v_after))))
    for j, st in enumerate(edge_states):
        for a in (0, 1, 2):
            run(out, f"edge-{j}-a{a}", lambda n, s, a=a: a if n == 0 else None, init=st)

    # 10. Single steps from random states across the whole box, and a wider one.
    for j in range(10000):
        st = (rng.uniform(MIN_POSITION, MAX_POSITION), rng.uniform(-MAX_SPEED, MAX_SPEED))
        a = int(rng.integers(0, 3))
        run(out, f"box-{j}", lambda n, s, a=a: a if n == 0 else None, init=st)
    for j in range(1000):
        st = (rng.uniform(-2.0, 1.5), rng.uniform(-0.2, 0.2))
        a = int(rng.integers(0, 3))
        run(out, f"wide-{j}", lambda n, s, a=a: a if n == 0 else None, init=st)

    steps = sum(1 for line in out if line.startswith("step "))
    episodes = sum(1 for line in out if line.startswith("episode "))
    resets = sum(1 for line in out if line.startswith("reset "))
    header = [
        "# Golden MountainCar-v0 trajectories written by tests/data/make_mountain_car_golden.py",
        f"# gymnasium {gym.__version__}, numpy {np.__version__}, "
        f"python {platform.python_version()}, {platform.machine()}, {platform.libc_ver()[0]} "
        f"{platform.libc_ver()[1]}",
        f"# {episodes} episodes, {resets} resets, {steps} steps",
    ]
    sys.stdout.write("\n".join(header + out) + "\n")


if __name__ == "__main__":
    main()
