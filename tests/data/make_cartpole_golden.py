#!/usr/bin/env python3
"""Write golden CartPole trajectories from Gymnasium for tests/cartpole_parity.rs.

Run by hand, never by the build:

    python3 -m venv /tmp/gymvenv
    /tmp/gymvenv/bin/pip install -r tests/data/requirements-cartpole.txt
    /tmp/gymvenv/bin/python tests/data/make_cartpole_golden.py > tests/data/cartpole_golden.txt

Every f64 is written as the 16 hex digits of its IEEE-754 bit pattern and every f32 as 8, so
the Rust test can demand bit equality. Format (one record per line, space separated):

    episode <name> <max_episode_steps> <sutton_barto 0|1>
    init <x> <x_dot> <theta> <theta_dot>                  (f64 bits: the state after reset)
    step <action> <x> <x_dot> <theta> <theta_dot> <obs0> <obs1> <obs2> <obs3> <reward> <terminated 0|1> <truncated 0|1>
    end

The state after each step is `env.unwrapped.state` (f64); obs is the returned observation (f32);
reward is written as a decimal (it is always -1, 0 or 1).
"""

import math
import platform
import struct
import sys

import gymnasium as gym
import numpy as np


def f64hex(v):
    return struct.pack(">d", float(v)).hex()


def f32hex(v):
    return struct.pack(">f", float(np.float32(v))).hex()


def make(max_steps, sutton_barto):
    return gym.make(
        "CartPole-v1", max_episode_steps=max_steps, sutton_barto_reward=sutton_barto
    )


def run(out, name, max_steps, sutton_barto, seed, init_state, actions):
    """Reset with `seed`, optionally overwrite the state, then take `actions` until the end.

    `actions` is a callable (step index, observation) -> action. Returns the number of steps.
    """
    env = make(max_steps, sutton_barto)
    obs, _ = env.reset(seed=seed)
    if init_state is not None:
        env.unwrapped.state = np.array(init_state, dtype=np.float64)
    state = env.unwrapped.state
    out.append(f"episode {name} {max_steps} {int(sutton_barto)}")
    out.append("init " + " ".join(f64hex(v) for v in state))
    obs = np.array(state, dtype=np.float32)
    n = 0
    while True:
        a = int(actions(n, obs))
        obs, reward, terminated, truncated, _ = env.step(a)
        s = env.unwrapped.state
        out.append(
            "step {} {} {} {} {} {}".format(
                a,
                " ".join(f64hex(v) for v in s),
                " ".join(f32hex(v) for v in obs),
                repr(float(reward)),
                int(terminated),
                int(truncated),
            )
        )
        n += 1
        if terminated or truncated:
            break
    out.append("end")
    env.close()
    return n


def main():
    out = []
    rng = np.random.default_rng(20261121)

    # 1. Random initial states (Gymnasium's own reset) and uniformly random actions, v0 and v1.
    for i in range(150):
        max_steps = 200 if i % 2 == 0 else 500
        acts = rng.integers(0, 2, size=1000)
        run(out, f"random-{i}", max_steps, False, 1000 + i, None, lambda n, o: acts[n])

    # 2. Long episodes that reach truncation: a noisy balancing controller on v0 and v1.
    for i in range(30):
        max_steps = 200 if i % 2 == 0 else 500
        noise = rng.random(1000)

        def controller(n, o, noise=noise):
            a = 1 if o[2] + 0.5 * o[3] + 0.01 * o[0] + 0.05 * o[1] > 0 else 0
            return 1 - a if noise[n] < 0.1 else a

        run(out, f"long-{i}", max_steps, False, 5000 + i, None, controller)

    # 3. Sutton-Barto reward (0 per step, -1 on termination), random actions.
    for i in range(20):
        acts = rng.integers(0, 2, size=1000)
        run(out, f"sutton-{i}", 500, True, 7000 + i, None, lambda n, o: acts[n])

    # 4. Termination and truncation on the same step: find a terminating episode's length k,
    #    then replay it with max_episode_steps = k.
    for i in range(5):
        acts = rng.integers(0, 2, size=1000)
        probe = []
        k = run(probe, "probe", 1000, False, 9000 + i, None, lambda n, o: acts[n])
        run(out, f"both-{i}", k, False, 9000 + i, None, lambda n, o: acts[n])

    # 5. Single steps from states exactly on the thresholds and one ulp beyond (strict
    #    inequalities: on the threshold is not terminated, beyond it is).
    theta_t = 12 * 2 * math.pi / 360
    x_t = 2.4
    edge_states = []
    for sign in (1.0, -1.0):
        xt = sign * x_t
        tt = sign * theta_t
        beyond_x = math.nextafter(xt, sign * math.inf)
        beyond_t = math.nextafter(tt, sign * math.inf)
        within_x = math.nextafter(xt, 0.0)
        within_t = math.nextafter(tt, 0.0)
        for x in (xt, beyond_x, within_x):
            edge_states.append((x, 0.0, 0.0, 0.0))
        for th in (tt, beyond_t, within_t):
            edge_states.append((0.0, 0.0, th, 0.0))
        # Reaching the threshold through the integrator: x + tau * x_dot lands on it.
        edge_states.append((xt - 0.02 * sign * 1.0, sign * 1.0, 0.0, 0.0))
        edge_states.append((0.0, 0.0, tt - 0.02 * sign * 0.5, sign * 0.5))
    for j, st in enumerate(edge_states):
        for a in (0, 1):
            run(out, f"edge-{j}-a{a}", 200, False, 0, st, lambda n, o, a=a: a)

    # 6. Single steps from random states across the whole non-terminal box (physics coverage).
    for j in range(2000):
        st = (
            rng.uniform(-2.4, 2.4),
            rng.uniform(-3.0, 3.0),
            rng.uniform(-theta_t, theta_t),
            rng.uniform(-3.5, 3.5),
        )
        a = int(rng.integers(0, 2))
        run(out, f"box-{j}", 1, False, 0, st, lambda n, o, a=a: a)

    steps = sum(1 for line in out if line.startswith("step "))
    episodes = sum(1 for line in out if line.startswith("episode "))
    header = [
        "# Golden CartPole trajectories written by tests/data/make_cartpole_golden.py",
        f"# gymnasium {gym.__version__}, numpy {np.__version__}, "
        f"python {platform.python_version()}, {platform.machine()}",
        f"# {episodes} episodes, {steps} steps",
    ]
    sys.stdout.write("\n".join(header + out) + "\n")


if __name__ == "__main__":
    main()
