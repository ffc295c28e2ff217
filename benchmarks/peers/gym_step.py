"""Gymnasium CartPole-v1 steps per second: the peer of deepq's `cartpole_v1_step`.

Random actions (a seeded table of 1024, cycled, as deepq's side), a reset when an episode ends.
Two measurements, printed as JSON lines (ns per step, median/min/max over repeats):

- `gym_make_step`: `gym.make("CartPole-v1")`, the environment users step, with its wrappers
  (TimeLimit, OrderEnforcing, PassiveEnvChecker). deepq's `CartPole::step` includes the time
  limit and the episode-state checks, so this is the like-for-like peer used for the ratio.
- `gym_unwrapped_step`: `env.unwrapped.step`, the bare `CartPoleEnv` (no time limit; reset only
  on termination), for reference.

Usage: python gym_step.py [--repeats 7] [--steps 200000]
"""

import argparse
import json
import time

import gymnasium as gym
import numpy as np


def stats(work, unit, times):
    times = sorted(times)
    print(json.dumps({"work": work, "unit": unit, "median": float(np.median(times)),
                      "min": times[0], "max": times[-1], "repeats": len(times)}), flush=True)


def time_steps(step, reset, actions, steps):
    start = time.perf_counter()
    for i in range(steps):
        _, _, terminated, truncated, _ = step(actions[i & 1023])
        if terminated or truncated:
            reset()
    return (time.perf_counter() - start) * 1e9 / steps


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=200_000)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    # Python ints, as an agent's policy would return (numpy ints are slower to check).
    actions = [int(a) for a in rng.integers(0, 2, 1024)]

    env = gym.make("CartPole-v1")
    env.reset(seed=0)
    time_steps(env.step, env.reset, actions, args.steps // 10)  # warm-up
    stats("gym_make_step", "ns",
          [time_steps(env.step, env.reset, actions, args.steps) for _ in range(args.repeats)])

    raw = gym.make("CartPole-v1").unwrapped
    raw.reset(seed=0)
    time_steps(raw.step, raw.reset, actions, args.steps // 10)
    stats("gym_unwrapped_step", "ns",
          [time_steps(raw.step, raw.reset, actions, args.steps) for _ in range(args.repeats)])


if __name__ == "__main__":
    main()
