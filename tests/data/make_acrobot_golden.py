#!/usr/bin/env python3
"""Write golden Acrobot-v1 resets and trajectories from Gymnasium for tests/acrobot_parity.rs.

Run by hand, never by the build (from the crate root):

    python3 -m venv /tmp/gymvenv
    /tmp/gymvenv/bin/pip install -r tests/data/requirements-acrobot.txt
    /tmp/gymvenv/bin/python tests/data/make_acrobot_golden.py > tests/data/acrobot_golden.txt

Every f64 is written as the 16 hex digits of its IEEE-754 bit pattern, every f32 as 8 and
every u64 as 16, so that the Rust test can demand bit equality. Format (one record per line,
space separated; '#' lines are comments):

    episode <name> <max_episode_steps>
    start32 <theta1> <theta2> <dtheta1> <dtheta2>      f32 bits: a float32 start state, as
                                                       Gymnasium's reset leaves env.unwrapped.state
    raw <u0> <u1> <u2> <u3>                            (optional, after start32) the four 64-bit
                                                       outputs of numpy's PCG64 that the reset
                                                       turned into that start state
    start64 <theta1> <theta2> <dtheta1> <dtheta2>      f64 bits: a float64 state set with
                                                       env.unwrapped.state = np.array(...)
    obs <o0> .. <o5>                                   f32 bits: _get_ob() of the start state
    step <action> <4 x f64 state> <6 x f32 obs> <reward> <terminated 0|1> <truncated 0|1>
    end
    trig <set> <block> <count> <hash>                  see below

The state after each step is env.unwrapped.state (f64), obs the observation step returned (f32),
reward a decimal (-1.0 or 0.0). Episodes run through gym.make("Acrobot-v1",
max_episode_steps=...), so truncation is Gymnasium's TimeLimit.

The `trig` records pin numpy's own float32 np.cos and np.sin, which compute the first
observation of every episode (Gymnasium's start state is float32). The inputs of each set are
f32 bit patterns (non-finite ones skipped), taken in order in blocks of `count`:
    dense:   every f32 in [0.05, 0.1] (the upper half of the reset range)
    reset:   every 997th f32 bit pattern of [-0.1, 0.1] (both signs)
    negative: every 3rd f32 in [-0.1, -0.05]
    all:     every 4099th of the 2^32 bit patterns (finite ones: the whole range)
For a block with inputs x_0 .. x_{n-1}, v_j = bits(np.cos(x_j)) + 2^32 bits(np.sin(x_j)) and
hash = sum_j v_j * 0x100000001b3^j mod 2^64 (written in hex): any single differing bit changes it.
"""

import contextlib
import io
import math
import platform
import struct
import sys

import gymnasium as gym
import numpy as np

TRIG_BLOCK = 1 << 16
HASH_P = np.uint64(0x100000001B3)


def f64hex(v):
    return struct.pack(">d", float(v)).hex()


def f32hex(v):
    return struct.pack(">f", float(np.float32(v))).hex()


def f32bits(v):
    return struct.unpack(">I", struct.pack(">f", float(v)))[0]


def simd_info():
    """np.show_runtime()'s SIMD extensions, as one line."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        np.show_runtime()
    text = buf.getvalue()
    start = text.find("'simd_extensions'")
    if start < 0:
        return "unknown"
    end = text.find("}}", start)
    return " ".join(text[start : end + 1].split())


class Recorder:
    def __init__(self):
        self.out = []
        self.envs = {}
        self.counts = {"episodes": 0, "steps": 0, "terminated": 0, "truncated": 0, "both": 0}

    def run(self, name, max_steps, start, policy, steps=None, raw=None):
        """Start an episode at `start` (float32 array: a reset; float64: a set state), then take
        `policy(n, obs)` actions until the episode ends or `steps` steps were taken."""
        if max_steps not in self.envs:
            self.envs[max_steps] = gym.make("Acrobot-v1", max_episode_steps=max_steps)
        env = self.envs[max_steps]
        env.reset(seed=0)  # restarts the TimeLimit count; the state is overwritten next
        env.unwrapped.state = start
        obs = env.unwrapped._get_ob()
        self.out.append(f"episode {name} {max_steps}")
        if start.dtype == np.float32:
            self.out.append("start32 " + " ".join(f32hex(v) for v in start))
            if raw is not None:
                self.out.append("raw " + " ".join("%016x" % int(r) for r in raw))
        else:
            assert start.dtype == np.float64
            self.out.append("start64 " + " ".join(f64hex(v) for v in start))
        self.out.append("obs " + " ".join(f32hex(v) for v in obs))
        self.counts["episodes"] += 1
        n = 0
        while steps is None or n < steps:
            a = int(policy(n, obs))
            obs, reward, terminated, truncated, _ = env.step(a)
            s = env.unwrapped.state
            assert s.dtype == np.float64 and obs.dtype == np.float32
            self.out.append(
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
                self.counts["terminated"] += int(terminated)
                self.counts["truncated"] += int(truncated)
                self.counts["both"] += int(terminated and truncated)
                break
        self.counts["steps"] += n
        self.out.append("end")
        return n


RESET_ENV = gym.make("Acrobot-v1")


def gymnasium_reset(seed):
    """Gymnasium's own reset with `seed`: its float32 start state and the raw draws behind it."""
    RESET_ENV.reset(seed=seed)
    start = np.array(RESET_ENV.unwrapped.state)
    raw = np.random.PCG64(seed).random_raw(4)
    # numpy's Generator.uniform(-0.1, 0.1): low + (high - low) * ((raw >> 11) * 2^-53).
    again = np.array(
        [-0.1 + 0.2 * (float(int(r) >> 11) * (1.0 / 9007199254740992.0)) for r in raw]
    ).astype(np.float32)
    assert start.dtype == np.float32 and np.array_equal(start.view(np.uint32), again.view(np.uint32))
    return start, raw


def trig_sets():
    def f32_range(lo, hi):
        return np.arange(f32bits(lo), f32bits(hi) + 1, dtype=np.uint64)

    dense = f32_range(np.float32(0.05), np.float32(0.1))
    top = f32bits(np.float32(0.1))
    reset = np.concatenate(
        [np.arange(0, top + 1, 997, dtype=np.uint64), np.arange(0, top + 1, 997, dtype=np.uint64) | (1 << 31)]
    )
    negative = f32_range(np.float32(0.05), np.float32(0.1))[::3] | np.uint64(1 << 31)
    every = np.arange(0, 1 << 32, 4099, dtype=np.uint64)
    sets = []
    for name, bits in [("dense", dense), ("reset", reset), ("negative", negative), ("all", every)]:
        bits = bits.astype(np.uint32)
        x = bits.view(np.float32)
        sets.append((name, x[np.isfinite(x)]))
    return sets


def trig_records(out):
    total = 0
    for name, x in trig_sets():
        for b, start in enumerate(range(0, len(x), TRIG_BLOCK)):
            xs = x[start : start + TRIG_BLOCK]
            c = np.cos(xs).view(np.uint32).astype(np.uint64)
            s = np.sin(xs).view(np.uint32).astype(np.uint64)
            # The array kernel is the scalar one (Gymnasium calls cos on numpy scalars).
            for j in range(0, len(xs), 4093):
                assert np.cos(xs[j]).view(np.uint32) == c[j] and np.sin(xs[j]).view(np.uint32) == s[j]
            v = c + (s << np.uint64(32))
            w = np.cumprod(np.full(len(xs), HASH_P, dtype=np.uint64), dtype=np.uint64)
            w = np.concatenate([np.array([1], dtype=np.uint64), w[:-1]])
            h = int(np.sum(v * w, dtype=np.uint64))
            out.append(f"trig {name} {b} {len(xs)} {h:016x}")
            total += len(xs)
    return total


def main():
    rec = Recorder()
    rng = np.random.default_rng(20261201)
    uniform_action = lambda n, o: rng.integers(0, 3)  # noqa: E731

    # 1. Gymnasium's own resets (seeded), each followed by 0 to 3 random actions.
    for i in range(20000):
        start, raw = gymnasium_reset(100000 + i)
        rec.run(f"reset-{i}", 500, start, uniform_action, steps=int(rng.integers(0, 4)), raw=raw)

    # 2. Float32 start states on the edges of the reset range and inside it.
    edge_values = [0.0, -0.0, 0.1, -0.1, 0.05, -0.05, 1e-30, -1e-45, 0.099999994, -0.099999994]
    for j in range(40):
        start = np.array([edge_values[(j + k * 3) % len(edge_values)] for k in range(4)], dtype=np.float32)
        rec.run(f"edge32-{j}", 500, start, uniform_action, steps=3)

    # 3. Random actions for whole episodes of varied lengths (time limits of 5 to 200 steps),
    #    and full 500-step episodes, which random actions rarely end early.
    for i in range(40):
        start, raw = gymnasium_reset(200000 + i)
        rec.run(f"random-{i}", int(rng.integers(5, 201)), start, uniform_action, raw=raw)
    for i in range(12):
        start, raw = gymnasium_reset(300000 + i)
        rec.run(f"long-{i}", 500, start, uniform_action, raw=raw)

    # 4. Episodes that terminate: pump energy with the torque in the direction of dtheta2
    #    (torque along dtheta1 does not reach the goal), with 10% random actions.
    def pump():
        noise, random_actions = rng.random(500), rng.integers(0, 3, size=500)

        def policy(n, o):
            return random_actions[n] if noise[n] < 0.1 else (2 if o[5] > 0 else 0)

        return policy

    for i in range(60):
        start, raw = gymnasium_reset(400000 + i)
        rec.run(f"pump-{i}", 500, start, pump(), raw=raw)

    # 5. Terminated and truncated on the same step: a pumping episode replayed with its length
    #    as the time limit.
    for i in range(5):
        start, raw = gymnasium_reset(500000 + i)
        policy = pump()
        probe = Recorder()
        k = probe.run("probe", 500, start, policy, raw=raw)
        assert probe.counts["terminated"] == 1
        rec.run(f"both-{i}", k, start, policy, raw=raw)

    # 6. Float64 states across the whole box: angles in [-pi, pi], velocities up to 1.5 times the
    #    bounds (so `bound` clips), and some far beyond (so `wrap` takes several turns).
    for j in range(3000):
        vel_scale = 1.5 if j % 5 else 6.0
        start = np.array(
            [
                rng.uniform(-math.pi, math.pi),
                rng.uniform(-math.pi, math.pi),
                rng.uniform(-vel_scale * 4 * math.pi, vel_scale * 4 * math.pi),
                rng.uniform(-vel_scale * 9 * math.pi, vel_scale * 9 * math.pi),
            ],
            dtype=np.float64,
        )
        rec.run(f"box-{j}", 500, start, uniform_action, steps=int(rng.integers(1, 3)))

    # 7. Float64 edge states: angles on and one ulp beyond +-pi, velocities on the bounds,
    #    the goal reached or nearly reached.
    pi = math.pi
    edges64 = [
        (pi, 0.0, 0.0, 0.0),
        (-pi, 0.0, 0.0, 0.0),
        (math.nextafter(pi, 4.0), math.nextafter(-pi, -4.0), 0.0, 0.0),
        (0.0, pi, 4 * pi, 9 * pi),
        (0.0, 0.0, -4 * pi, -9 * pi),
        (pi, pi, 0.0, 0.0),
        (pi / 2, pi / 2, 0.0, 0.0),
        (2.0, 0.3, 1.0, -1.0),
        (0.0, 0.0, 0.0, 0.0),
        (-0.0, -0.0, -0.0, -0.0),
        (3.0, 3.0, 100.0, -100.0),
    ]
    for j, st in enumerate(edges64):
        for a in range(3):
            rec.run(f"edge64-{j}-a{a}", 500, np.array(st, dtype=np.float64), lambda n, o, a=a: a, steps=2)

    trig = []
    trig_inputs = trig_records(trig)

    c = rec.counts
    header = [
        "# Golden Acrobot-v1 resets and trajectories written by tests/data/make_acrobot_golden.py",
        f"# gymnasium {gym.__version__}, numpy {np.__version__}, python {platform.python_version()}, "
        f"{platform.machine()}, {' '.join(platform.libc_ver())}",
        f"# numpy {simd_info()}",
        f"# {c['episodes']} episodes, {c['steps']} steps, {c['terminated']} terminated, "
        f"{c['truncated']} truncated ({c['both']} both); {trig_inputs} float32 cos/sin inputs in "
        f"{len(trig)} trig blocks",
    ]
    sys.stdout.write("\n".join(header + rec.out + trig) + "\n")


if __name__ == "__main__":
    main()
