"""A PyTorch DQN with deepq's default algorithm and hyperparameters, solving CartPole-v0: the
peer of deepq's `solve_v0`.

It never hard-codes deepq's hyperparameters: it reads the JSON object printed by
`cargo run --release --example print_default_config` (from `--config FILE` or standard input)
and implements, for whatever it says, what `DqnAgent` does:

- network: MLP with the given hidden sizes and activation, He-uniform weights, zero biases;
- optimizer: Adam, RMSprop or SGD with the given parameters, the learning rate optionally
  decayed linearly over gradient steps;
- acting: epsilon-greedy, epsilon from the schedule (linear over environment steps, or
  multiplicative once learning has started);
- memory: uniform (with or without replacement) or proportional prioritized replay on a sum
  tree (priority `(|td| + eps)^alpha`, new transitions at the largest stored priority,
  stratified sampling, importance weights `(p_min / p_i)^beta` normalised by the batch maximum,
  beta annealed to 1 over `beta_steps` sample calls); each transition keeps the number of
  environment steps `k` it spans;
- n-step returns (`n_step` = n in 1..=100; 1 stores each step as it comes): a window holds the
  last steps of the episode not yet stored. A step whose observation is not bitwise the previous
  step's next observation (a new episode without the old one ending) first stores every held
  step as truncated at that previous next observation. The step is appended; if it ends the
  episode, every held step is stored, oldest first, with reward `sum_k gamma^k r_{j+k}` over the
  remaining rewards, this step's next observation, terminated and truncated flags, and `k` = the
  count of those rewards, and the window is emptied; otherwise, once the window holds n steps,
  the oldest is stored with the n-step sum, this step's next observation, not terminated, and
  `k = n`, and dropped. Sums accumulate in float32 from 0, left to right, the powers of gamma by
  repeated float32 multiplication (as deepq's `NStepWindow`);
- learning starts once the memory holds a batch and `learning_starts` steps were taken; then
  every `train_frequency` steps (or episodes), `gradient_steps` updates:
  `y = r + gamma^k * (1 - terminated) * max_a Q_target(s', a)` (`gamma^1` is gamma itself;
  Double DQN: the target network values the online network's argmax), the masked loss on
  `Q(s, a)` (masked MSE `d^2`, Keras' `d^2 / num_actions` or Huber with delta 1), weighted by
  the importance weights, averaged over the batch, gradients clipped to `max_grad_norm`, one
  optimizer step, then a Polyak target update; a hard target copy every `every` environment
  steps once learning has started;
- `value_bounds` clips the bootstrap value `max_a Q_target(s', a)` (never the reward or the
  network's outputs) before it enters `y`: `"none"` not at all; `"observed_rewards"` to
  `[min(0, r_min) / (1 - gamma), max(0, r_max) / (1 - gamma)]` (float32), `r_min` and `r_max`
  the smallest and largest per-step reward observed so far (updated after each step is stored;
  no clipping before the first reward or with gamma = 1); `{"kind": "fixed", "min": a,
  "max": b}` to `[a, b]`;
- a time-limit truncation bootstraps (only termination cuts the return), unless
  `truncation_as_termination`.

A value of `n_step` or `value_bounds` it does not implement is refused with an error (a config
without those keys means `n_step` 1 and `value_bounds` "none").

The task is Gymnasium's `CartPole-v0` (200-step limit), solved at the first episode where the
mean return of the last 100 episodes reaches 195 (never before 100 episodes), at most 300
episodes as deepq's example. torch runs on one thread. The wall time covers the training loop
only (not imports or environment creation), as on deepq's side.

Prints one JSON line per seed: seed, solved, solved_at_episode, episodes, env_steps,
wall_seconds.

Usage: cargo run --release --example print_default_config | python torch_dqn.py --seeds 0 1 2
"""

import argparse
import json
import math
import sys
import time

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class SumTree:
    """A binary sum tree (with a max tree beside it, as deepq's) over `capacity` leaves, in
    numpy arrays; batch lookups and updates are vectorised level by level."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.base = 1
        while self.base < capacity:
            self.base *= 2
        self.sums = np.zeros(2 * self.base)
        self.maxes = np.zeros(2 * self.base)

    def total(self):
        return self.sums[1]

    def max(self):
        return self.maxes[1]

    def update(self, slots, priorities):
        nodes = self.base + np.asarray(slots)
        self.sums[nodes] = priorities  # the last of repeated slots wins, as in a loop
        self.maxes[nodes] = priorities
        nodes = np.unique(nodes // 2)
        while nodes[0] >= 1:
            left = 2 * nodes
            self.sums[nodes] = self.sums[left] + self.sums[left + 1]
            self.maxes[nodes] = np.maximum(self.maxes[left], self.maxes[left + 1])
            if nodes[0] == 1:
                break
            nodes = np.unique(nodes // 2)

    def find_prefix_sum(self, values):
        nodes = np.ones(len(values), dtype=np.int64)
        values = np.maximum(values, 0.0)
        while nodes[0] < self.base:
            left = 2 * nodes
            left_sum = self.sums[left]
            go_left = (values < left_sum) | (self.sums[left + 1] <= 0.0)
            values = np.where(go_left, values, values - left_sum)
            nodes = np.where(go_left, left, left + 1)
        return nodes - self.base


class Memory:
    """Replay memory in preallocated numpy arrays: uniform or proportional prioritized."""

    def __init__(self, config, obs_dim, rng):
        self.capacity = config["memory_size"]
        self.rng = rng
        self.replacement = config["sample_with_replacement"]
        self.states = np.zeros((self.capacity, obs_dim), dtype=np.float32)
        self.next_states = np.zeros((self.capacity, obs_dim), dtype=np.float32)
        self.actions = np.zeros(self.capacity, dtype=np.int64)
        self.rewards = np.zeros(self.capacity, dtype=np.float32)
        self.terminated = np.zeros(self.capacity, dtype=np.float32)
        # Stored as deepq's memory does; only `terminated` enters the Bellman target.
        self.truncated = np.zeros(self.capacity, dtype=np.float32)
        # The environment steps each transition spans (its n-step return's length).
        self.steps = np.ones(self.capacity, dtype=np.int64)
        self.len = 0
        self.next = 0
        self.per = config["prioritized"]
        if self.per is not None:
            self.tree = SumTree(self.capacity)
            self.beta = self.per["beta_start"]
            self.calls = 0

    def push(self, s, a, r, s2, terminated, truncated=False, steps=1):
        slot = self.next
        self.states[slot], self.actions[slot], self.rewards[slot] = s, a, r
        self.next_states[slot], self.terminated[slot] = s2, float(terminated)
        self.truncated[slot], self.steps[slot] = float(truncated), steps
        if self.per is not None:
            priority = 1.0 if self.len == 0 else self.tree.max()
        self.next = (self.next + 1) % self.capacity
        self.len = min(self.len + 1, self.capacity)
        if self.per is not None:
            self.tree.update([slot], [priority])

    def sample(self, batch_size):
        if self.per is None:
            if self.replacement:
                idx = self.rng.integers(0, self.len, batch_size)
            else:
                idx = self.rng.choice(self.len, batch_size, replace=False)
            weights = None
        else:
            segment = self.tree.total() / batch_size
            values = segment * (np.arange(batch_size) + self.rng.random(batch_size))
            idx = self.tree.find_prefix_sum(values)
            p = self.tree.sums[self.tree.base + idx]
            weights = torch.from_numpy((p.min() / p) ** self.beta).float()
            if self.per["beta_steps"] > 0:
                self.calls += 1
                start = self.per["beta_start"]
                steps = self.per["beta_steps"]
                self.beta = 1.0 if self.calls >= steps else start + (1 - start) * self.calls / steps
        return (idx, torch.from_numpy(self.states[idx]), torch.from_numpy(self.actions[idx]),
                torch.from_numpy(self.rewards[idx]), torch.from_numpy(self.next_states[idx]),
                torch.from_numpy(self.terminated[idx]), weights, self.steps[idx])

    def update_priorities(self, idx, td):
        alpha, eps = self.per["alpha"], self.per["epsilon"]
        self.tree.update(idx, (np.abs(td.astype(np.float64)) + eps) ** alpha)


MAX_N_STEP = 100


def discount_powers(gamma, n):
    """`gamma^0, ..., gamma^n` in float32, each the previous times gamma (deepq's
    `discount_powers`)."""
    gamma = np.float32(gamma)
    powers = np.empty(n + 1, dtype=np.float32)
    p = np.float32(1.0)
    for k in range(n + 1):
        powers[k] = p
        p = np.float32(p * gamma)
    return powers


class NStepWindow:
    """The steps of the current episode not yet stored, as deepq's `NStepWindow`: at most
    `n - 1` between calls, oldest first."""

    def __init__(self, n, gamma):
        self.n = n
        self.powers = discount_powers(gamma, n)
        self.held = []  # (observation, action, reward) of the steps not yet stored
        self.last_next = None  # the next observation of the newest step

    def sum_from(self, first):
        """`sum_k gamma^k r_k` over the held rewards from the `first`-th oldest on, in float32,
        from 0.0, left to right."""
        total = np.float32(0.0)
        for k, (_, _, r) in enumerate(self.held[first:]):
            total = np.float32(total + np.float32(self.powers[k] * r))
        return total

    def check_sums(self):
        """Every sum finite before anything is stored (deepq errors on a non-finite one)."""
        for first in range(len(self.held)):
            total = self.sum_from(first)
            if not np.isfinite(total):
                raise ValueError(f"the {len(self.held) - first}-step return is {total}")

    def emit_all(self, next_obs, terminated, truncated, memory):
        """Stores every held step, oldest first, bootstrapping from `next_obs`; empties."""
        self.check_sums()
        held = len(self.held)
        for first in range(held):
            s, a, _ = self.held[first]
            memory.push(s, a, self.sum_from(first), next_obs, terminated, truncated,
                        held - first)
        self.held = []

    def push(self, s, a, r, s2, terminated, truncated, memory):
        """Adds one step (`terminated` already the agent's effective one) and stores the n-step
        transitions it completes."""
        s = np.array(s, dtype=np.float32)
        s2 = np.array(s2, dtype=np.float32)
        if self.held and self.last_next.tobytes() != s.tobytes():
            # A new episode without the old one ending: the old one was truncated there.
            self.emit_all(self.last_next, False, True, memory)
        self.held.append((s, a, np.float32(r)))
        self.last_next = s2
        if terminated or truncated:
            self.emit_all(s2, terminated, truncated, memory)
        elif len(self.held) == self.n:
            total = self.sum_from(0)
            if not np.isfinite(total):
                raise ValueError(f"the {self.n}-step return is {total}")
            s0, a0, _ = self.held.pop(0)
            memory.push(s0, a0, total, s2, False, False, self.n)


def from_deepq_json(c):
    """deepq's serde JSON of a `DqnConfig` (what `print_default_config` prints: enums by variant
    name, externally tagged) -> the dict this script reads (lower-case names and kinds)."""

    def variant(v):
        if isinstance(v, str):
            return v, {}
        ((name, fields),) = v.items()
        return name, fields

    names = {"Relu": "relu", "Tanh": "tanh", "HeUniform": "he_uniform",
             "GlorotUniform": "glorot_uniform", "TorchDefault": "torch_default",
             "MaskedMse": "masked_mse", "KerasMaskedMse": "keras_masked_mse", "Huber": "huber"}
    out = dict(c)
    for key in ("activation", "init", "loss"):
        out[key] = names[c[key]]
    name, fields = variant(c["optimizer"])
    out["optimizer"] = {"name": {"Adam": "adam", "RmsProp": "rmsprop", "Sgd": "sgd"}[name],
                        **fields}
    name, fields = variant(c["exploration"])
    out["exploration"] = {"kind": name.lower(), **fields}
    name, every = variant(c["train_frequency"])
    out["train_frequency"] = {"unit": name.lower(), "every": every}
    name, fields = variant(c["target_update"])
    out["target_update"] = {"kind": name.lower(), **fields}
    name, fields = variant(c["value_bounds"])
    out["value_bounds"] = ({"kind": "fixed", **fields} if name == "Fixed"
                           else {"None": "none", "ObservedRewards": "observed_rewards"}[name])
    out.setdefault("value_penalty", 0.0)
    return out


def parse_n_step(config):
    n = config.get("n_step", 1)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_N_STEP:
        raise ValueError(f"n_step {n!r}: must be an integer in 1..={MAX_N_STEP}")
    return n


def parse_value_bounds(config):
    """`("none",)`, `("observed_rewards",)` or `("fixed", min, max)` in float32."""
    v = config.get("value_bounds", "none")
    if v in ("none", "observed_rewards"):
        return (v,)
    if isinstance(v, dict) and v.get("kind") == "fixed" and set(v) == {"kind", "min", "max"}:
        lo, hi = v["min"], v["max"]
        if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (lo, hi)):
            with np.errstate(over="ignore"):
                lo, hi = np.float32(lo), np.float32(hi)
            if np.isfinite(lo) and np.isfinite(hi) and lo <= hi:
                return ("fixed", lo, hi)
    raise ValueError(f"value_bounds {v!r}: implemented are \"none\", \"observed_rewards\" "
                     "and {\"kind\": \"fixed\", \"min\": a, \"max\": b} with finite "
                     "a <= b")


def make_net(config, obs_dim, n_actions):
    act = {"relu": nn.ReLU, "tanh": nn.Tanh}[config["activation"]]
    sizes = [obs_dim] + config["hidden"] + [n_actions]
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        linear = nn.Linear(fan_in, fan_out)  # "torch_default": keep nn.Linear's own init
        if config["init"] in ("he_uniform", "glorot_uniform"):
            if config["init"] == "he_uniform":
                bound = math.sqrt(6.0 / fan_in)
            else:
                bound = math.sqrt(6.0 / (fan_in + fan_out))
            nn.init.uniform_(linear.weight, -bound, bound)
            nn.init.zeros_(linear.bias)
        elif config["init"] != "torch_default":
            raise ValueError(f"init {config['init']!r}")
        layers.append(linear)
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def make_optimizer(config, params):
    o = config["optimizer"]
    if o["name"] == "adam":
        return torch.optim.Adam(params, lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"])
    if o["name"] == "rmsprop":
        return torch.optim.RMSprop(params, lr=o["lr"], alpha=o["alpha"], eps=o["eps"],
                                   momentum=o["momentum"], centered=o["centered"])
    if o["name"] == "sgd":
        return torch.optim.SGD(params, lr=o["lr"], momentum=o["momentum"],
                               nesterov=o["nesterov"])
    raise ValueError(f"optimizer {o['name']!r}")


def per_sample_loss(name, d, n_actions):
    if name == "masked_mse":
        return d * d
    if name == "keras_masked_mse":
        return d * d / n_actions
    if name == "huber":
        return F.smooth_l1_loss(d, torch.zeros_like(d), reduction="none", beta=1.0)
    raise ValueError(f"loss {name!r}")


class Agent:
    def __init__(self, config, obs_dim, n_actions, rng):
        self.c = config
        self.n_actions = n_actions
        self.rng = rng
        self.online = make_net(config, obs_dim, n_actions)
        kind = config["target_update"]["kind"]
        self.target = None if kind == "none" else make_net(config, obs_dim, n_actions)
        if self.target is not None:
            self.target.load_state_dict(self.online.state_dict())
            self.target.requires_grad_(False)
        self.opt = make_optimizer(config, self.online.parameters())
        self.memory = Memory(config, obs_dim, rng)
        self.n_step = parse_n_step(config)
        self.value_bounds = parse_value_bounds(config)
        self.window = NStepWindow(self.n_step, config["gamma"])
        self.discounts = discount_powers(config["gamma"], self.n_step)
        # The smallest and largest reward observed (+inf and -inf before the first).
        self.reward_range = (np.float32(np.inf), np.float32(-np.inf))
        e = config["exploration"]
        self.epsilon = e["start"]
        self.env_steps = 0
        self.episodes = 0
        self.gradient_steps = 0

    def act(self, obs):
        if self.epsilon > 0 and self.rng.random() < self.epsilon:
            return int(self.rng.integers(0, self.n_actions))
        with torch.no_grad():
            return int(self.online(torch.from_numpy(obs)).argmax())

    def learning_started(self):
        return (self.memory.len >= max(self.c["batch_size"], 1)
                and self.env_steps >= self.c["learning_starts"])

    def observe(self, s, a, r, s2, terminated, truncated):
        term = terminated or (self.c["truncation_as_termination"] and truncated)
        if self.n_step == 1:
            self.memory.push(s, a, r, s2, term, truncated)
        else:
            if not math.isfinite(r):
                raise ValueError(f"transition reward {r}")
            self.window.push(s, a, r, s2, term, truncated, self.memory)
        r = np.float32(r)
        self.reward_range = (min(self.reward_range[0], r), max(self.reward_range[1], r))
        self.env_steps += 1
        if terminated or truncated:
            self.episodes += 1
        e = self.c["exploration"]
        if e["kind"] == "linear":
            progress = 1.0 if e["steps"] == 0 else min(self.env_steps / e["steps"], 1.0)
            self.epsilon = e["start"] + (e["end"] - e["start"]) * progress
        elif self.learning_started():
            self.epsilon = max(e["floor"], self.epsilon * e["decay"])

    def learn(self, episode_ended):
        if not self.learning_started():
            return
        f = self.c["train_frequency"]
        if f["unit"] == "steps":
            due = self.env_steps % f["every"] == 0
        else:
            due = episode_ended and self.episodes % f["every"] == 0
        if due:
            for _ in range(self.c["gradient_steps"]):
                self.gradient_step()
        t = self.c["target_update"]
        if t["kind"] == "hard" and self.env_steps % t["every"] == 0:
            self.target.load_state_dict(self.online.state_dict())

    def bootstrap_bounds(self):
        """The range the bootstrap values are clipped to, or None when unbounded."""
        if self.value_bounds[0] == "fixed":
            return self.value_bounds[1], self.value_bounds[2]
        if self.value_bounds[0] == "observed_rewards":
            r_min, r_max = self.reward_range
            horizon = np.float32(1.0) - np.float32(self.c["gamma"])
            if r_min > r_max or horizon <= 0:
                return None
            return (np.float32(min(r_min, np.float32(0.0)) / horizon),
                    np.float32(max(r_max, np.float32(0.0)) / horizon))
        return None

    def gradient_step(self):
        c = self.c
        decay = c.get("learning_rate_decay")
        if decay is not None:
            # Linear from the optimizer's rate to `end` over `steps` gradient steps.
            start = c["optimizer"]["lr"]
            progress = min(self.gradient_steps / decay["steps"], 1.0)
            for group in self.opt.param_groups:
                group["lr"] = start + (decay["end"] - start) * progress
        idx, s, a, r, s2, term, w, steps = self.memory.sample(c["batch_size"])
        with torch.no_grad():
            evaluator = self.target if self.target is not None else self.online
            next_q = evaluator(s2)
            if c["double_dqn"] and self.target is not None:
                best = self.online(s2).argmax(1, keepdim=True)
                next_value = next_q.gather(1, best).squeeze(1)
            else:
                next_value = next_q.max(1).values
            bounds = self.bootstrap_bounds()
            if bounds is not None:
                next_value = torch.clamp(next_value, float(bounds[0]), float(bounds[1]))
            # y = r + gamma^k * (1 - terminated) * max_a Q_target(s', a), k the steps spanned
            if self.n_step == 1:
                discount = c["gamma"]
            else:
                discount = torch.from_numpy(self.discounts[steps])
            y = r + discount * (1.0 - term) * next_value
        q_all = self.online(s)
        q = q_all.gather(1, a.unsqueeze(1)).squeeze(1)
        d = y - q
        per_sample = per_sample_loss(c["loss"], d, self.n_actions)
        loss = (per_sample * w).mean() if w is not None else per_sample.mean()
        if c["value_penalty"] > 0 and bounds is not None:
            # Every action's Q outside the bootstrap bounds: value_penalty * excess^2, summed
            # over actions, averaged over the batch, not importance-weighted (as deepq).
            excess = (torch.relu(q_all - float(bounds[1]))
                      - torch.relu(float(bounds[0]) - q_all))
            loss = loss + c["value_penalty"] * (excess * excess).sum(1).mean()
        self.opt.zero_grad()
        loss.backward()
        if c["max_grad_norm"] is not None:
            nn.utils.clip_grad_norm_(self.online.parameters(), c["max_grad_norm"])
        self.opt.step()
        if w is not None:
            self.memory.update_priorities(idx, d.detach().numpy())
        self.gradient_steps += 1
        t = c["target_update"]
        if t["kind"] == "polyak":
            tau = t["tau"]
            with torch.no_grad():
                tp = list(self.target.parameters())
                torch._foreach_mul_(tp, 1.0 - tau)
                torch._foreach_add_(tp, list(self.online.parameters()), alpha=tau)


def solve(config, seed, episodes, window=100, threshold=195.0):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    env = gym.make("CartPole-v0")
    agent = Agent(config, env.observation_space.shape[0], env.action_space.n, rng)
    returns = []
    solved_at = None
    start = time.perf_counter()
    obs, _ = env.reset(seed=seed)
    for episode in range(1, episodes + 1):
        if episode > 1:
            obs, _ = env.reset()
        total = 0.0
        while True:
            action = agent.act(obs)
            obs2, reward, terminated, truncated, _ = env.step(action)
            agent.observe(obs, action, reward, obs2, terminated, truncated)
            agent.learn(terminated or truncated)
            total += reward
            if terminated or truncated:
                break
            obs = obs2
        returns.append(total)
        if len(returns) >= window and np.mean(returns[-window:]) >= threshold:
            solved_at = episode
            break
    wall = time.perf_counter() - start
    return {"work": "torch_solve_v0", "seed": seed, "solved": solved_at is not None,
            "solved_at_episode": solved_at, "episodes": len(returns),
            "env_steps": agent.env_steps, "gradient_steps": agent.gradient_steps,
            "wall_seconds": round(wall, 4)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", help="JSON file from print_default_config (default: stdin)")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--episodes", type=int, default=300)
    args = parser.parse_args()
    text = open(args.config).read() if args.config else sys.stdin.read()
    config = from_deepq_json(json.loads(text))
    torch.set_num_threads(1)
    for seed in args.seeds:
        print(json.dumps(solve(config, seed, args.episodes)), flush=True)


if __name__ == "__main__":
    main()
