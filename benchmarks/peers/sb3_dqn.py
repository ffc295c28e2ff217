"""Stable-Baselines3 DQN on CartPole-v1 with the RL Zoo's hyperparameters: the peer of deepq's
`sb3_zoo_v1_50k`.

rl-baselines3-zoo, `hyperparams/dqn.yml`, CartPole-v1: n_timesteps 5e4, MlpPolicy,
learning_rate 2.3e-3, batch_size 64, buffer_size 100000, learning_starts 1000, gamma 0.99,
target_update_interval 10, train_freq 256, gradient_steps 128, exploration_fraction 0.16,
exploration_final_eps 0.04, policy_kwargs net_arch [256, 256]. SB3's defaults fill the rest
(Huber loss, max_grad_norm 10, Adam). CPU, torch on one thread.

Prints one JSON line per seed: the wall seconds of `model.learn(50_000)` (not the imports or
model construction) and the mean return of `--eval-episodes` deterministic episodes on a fresh
CartPole-v1.

Usage: python sb3_dqn.py [--seeds 0 1 2] [--eval-episodes 100]
"""

import argparse
import json
import time

import gymnasium as gym
import torch
from stable_baselines3 import DQN
from stable_baselines3.common.evaluation import evaluate_policy

ZOO = dict(
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
N_TIMESTEPS = 50_000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--eval-episodes", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for seed in args.seeds:
        env = gym.make("CartPole-v1")
        model = DQN("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **ZOO)
        start = time.perf_counter()
        model.learn(total_timesteps=N_TIMESTEPS)
        wall = time.perf_counter() - start
        eval_env = gym.make("CartPole-v1")
        eval_env.reset(seed=10_000 + seed)
        mean, _ = evaluate_policy(model, eval_env, n_eval_episodes=args.eval_episodes,
                                  deterministic=True)
        print(json.dumps({"work": "sb3_dqn_v1_50k", "seed": seed, "env_steps": N_TIMESTEPS,
                          "wall_seconds": round(wall, 4), "eval_mean": float(mean),
                          "eval_episodes": args.eval_episodes}), flush=True)


if __name__ == "__main__":
    main()
