"""Stable-Baselines3 DQN with the RL Zoo's tuned hyperparameters on the Gymnasium classic-control
ids CartPole-v1, CartPole-v0, Acrobot-v1 and MountainCar-v0: the peer of deepq's Zoo runs.

Hyperparameters: rl-baselines3-zoo (https://github.com/DLR-RM/rl-baselines3-zoo),
`hyperparams/dqn.yml`, checked against commit ce95481b041fe5314c1b2f1a53940d169b9253fc:

- CartPole-v1: n_timesteps 5e4, MlpPolicy, learning_rate 2.3e-3, batch_size 64,
  buffer_size 100000, learning_starts 1000, gamma 0.99, target_update_interval 10,
  train_freq 256, gradient_steps 128, exploration_fraction 0.16, exploration_final_eps 0.04,
  policy_kwargs net_arch [256, 256].
- CartPole-v0: the Zoo has no DQN entry for it; this script uses CartPole-v1's Zoo
  hyperparameters (above, including n_timesteps 5e4) on the v0 env (200-step time limit,
  solved at 195).
- Acrobot-v1: n_timesteps 1e5, MlpPolicy, learning_rate 6.3e-4, batch_size 128,
  buffer_size 50000, learning_starts 0, gamma 0.99, target_update_interval 250, train_freq 4,
  gradient_steps -1 (as many gradient steps as env steps collected in the rollout),
  exploration_fraction 0.12, exploration_final_eps 0.1, net_arch [256, 256].
- MountainCar-v0: n_timesteps 1.2e5, MlpPolicy, learning_rate 4e-3, batch_size 128,
  buffer_size 10000, learning_starts 1000, gamma 0.98, target_update_interval 600,
  train_freq 16, gradient_steps 8, exploration_fraction 0.2, exploration_final_eps 0.07,
  net_arch [256, 256].

SB3's defaults fill the rest (Huber loss, max_grad_norm 10, Adam, exploration_initial_eps 1.0,
tau 1.0, one env). Unlike the Zoo's train.py the training env is a bare `gym.make(id)` (no
Monitor wrapper, no eval callback); this changes nothing in the learning. CPU, torch on one
thread (`torch.set_num_threads(1)`).

For each seed prints ONE JSON line:

- peer: "sb3_zoo"; env: the id; seed; env_steps: the `total_timesteps` of `model.learn`.
- wall_seconds: wall time (time.perf_counter) of `model.learn` only, not imports or model
  construction; cpu_seconds: process CPU time (time.process_time) of `model.learn` only.
- eval_mean / eval_min: mean and worst undiscounted return of `--eval-episodes` deterministic
  episodes (`model.predict(obs, deterministic=True)`) on a fresh env, reset with
  seed + 10_000 for the first episode (later resets continue that env's RNG).
- q0_mean: mean over the eval episodes of max_a Q(s0, a) from `model.q_net` at each episode's
  first observation.
- discounted_return_mean: mean over the eval episodes of sum_t gamma^t r_{t+1}, gamma the Zoo's
  gamma for the env (0.99, or 0.98 for MountainCar-v0); comparable to q0_mean.
- max_q: the largest max_a Q(s, a) over every state visited in the eval episodes (including
  the first, excluding the final observation).
- versions: stable_baselines3, torch, gymnasium, numpy.

The eval loop is written here (not `evaluate_policy`) to get the Q values.

Usage:
    benchmarks/peers/.venv/bin/python benchmarks/peers/sb3_zoo.py --env CartPole-v1 \
        [--seeds 0 1] [--eval-episodes 100] [--timesteps N]

--timesteps defaults to the Zoo's n_timesteps for the env.
"""

import argparse
import json
import time

import gymnasium as gym
import numpy as np
import stable_baselines3
import torch
from stable_baselines3 import DQN

_CARTPOLE = dict(
    n_timesteps=50_000,
    learning_rate=2.3e-3,
    batch_size=64,
    buffer_size=100_000,
    learning_starts=1_000,
    gamma=0.99,
    target_update_interval=10,
    train_freq=256,
    gradient_steps=128,
    exploration_fraction=0.16,
    exploration_final_eps=0.04,
    policy_kwargs=dict(net_arch=[256, 256]),
)

ZOO = {
    "CartPole-v1": _CARTPOLE,
    # No Zoo entry for CartPole-v0: CartPole-v1's hyperparameters on the v0 env.
    "CartPole-v0": _CARTPOLE,
    "Acrobot-v1": dict(
        n_timesteps=100_000,
        learning_rate=6.3e-4,
        batch_size=128,
        buffer_size=50_000,
        learning_starts=0,
        gamma=0.99,
        target_update_interval=250,
        train_freq=4,
        gradient_steps=-1,
        exploration_fraction=0.12,
        exploration_final_eps=0.1,
        policy_kwargs=dict(net_arch=[256, 256]),
    ),
    "MountainCar-v0": dict(
        n_timesteps=120_000,
        learning_rate=4e-3,
        batch_size=128,
        buffer_size=10_000,
        learning_starts=1_000,
        gamma=0.98,
        target_update_interval=600,
        train_freq=16,
        gradient_steps=8,
        exploration_fraction=0.2,
        exploration_final_eps=0.07,
        policy_kwargs=dict(net_arch=[256, 256]),
    ),
}
EVAL_SEED_OFFSET = 10_000


def max_q(model, obs):
    with torch.no_grad():
        q = model.q_net(torch.as_tensor(obs[None], dtype=torch.float32, device=model.device))
    return float(q.max())


def evaluate(model, env_id, seed, episodes, gamma):
    env = gym.make(env_id)
    returns, discounted, q0s = [], [], []
    q_max = -float("inf")
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + EVAL_SEED_OFFSET if episode == 0 else None)
        q = max_q(model, obs)
        q0s.append(q)
        q_max = max(q_max, q)
        ret, disc, discount = 0.0, 0.0, 1.0
        done = False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(int(action))
            ret += float(reward)
            disc += discount * float(reward)
            discount *= gamma
            done = terminated or truncated
            if not done:
                q_max = max(q_max, max_q(model, obs))
        returns.append(ret)
        discounted.append(disc)
    env.close()
    return dict(
        eval_mean=float(np.mean(returns)),
        eval_min=float(np.min(returns)),
        q0_mean=float(np.mean(q0s)),
        discounted_return_mean=float(np.mean(discounted)),
        max_q=q_max,
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--env", required=True, choices=sorted(ZOO))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--eval-episodes", type=int, default=100)
    parser.add_argument("--timesteps", type=int, default=None,
                        help="default: the Zoo's n_timesteps for --env")
    args = parser.parse_args()
    torch.set_num_threads(1)
    hyper = dict(ZOO[args.env])
    n_timesteps = hyper.pop("n_timesteps")
    timesteps = args.timesteps if args.timesteps is not None else n_timesteps
    versions = {
        "stable_baselines3": stable_baselines3.__version__,
        "torch": torch.__version__,
        "gymnasium": gym.__version__,
        "numpy": np.__version__,
    }
    for seed in args.seeds:
        env = gym.make(args.env)
        model = DQN("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **hyper)
        start_wall = time.perf_counter()
        start_cpu = time.process_time()
        model.learn(total_timesteps=timesteps)
        cpu = time.process_time() - start_cpu
        wall = time.perf_counter() - start_wall
        env.close()
        result = evaluate(model, args.env, seed, args.eval_episodes, hyper["gamma"])
        print(json.dumps({"peer": "sb3_zoo", "env": args.env, "seed": seed,
                          "env_steps": timesteps, "wall_seconds": round(wall, 4),
                          "cpu_seconds": round(cpu, 4), **result,
                          "eval_episodes": args.eval_episodes, "versions": versions}),
              flush=True)


if __name__ == "__main__":
    main()
