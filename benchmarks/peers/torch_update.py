"""PyTorch DQN update and single forward: the peer of deepq's `dqn_update` and `forward_one`.

The same two networks as `benches/nn.rs` and `examples/bench_report.rs`: 4-24-24-2 at batch 32
and 4-256-256-2 at batch 64, ReLU, He-uniform weights and zero biases. One update is what
deepq's `QNetwork::train_step` does: forward, the masked MSE on the taken actions
(`((y - Q(s, a))**2).mean()`), backward, one Adam(1e-3) step; batches are cycled from a pool of
64. The forward is the Q-values of one observation under `torch.no_grad()` (action selection).
torch runs on one thread, as deepq does.

Prints JSON lines: us per update and ns per forward, median/min/max over repeats.

Usage: python torch_update.py [--repeats 7]
"""

import argparse
import json
import math
import time

import numpy as np
import torch
from torch import nn

SIZES = [("4-24-24-2/b32", 4, 24, 2, 32, 2_000), ("4-256-256-2/b64", 4, 256, 2, 64, 500)]
BATCHES = 64
FORWARDS = 20_000


def stats(work, unit, times):
    times = sorted(times)
    print(json.dumps({"work": work, "unit": unit, "median": float(np.median(times)),
                      "min": times[0], "max": times[-1], "repeats": len(times)}), flush=True)


def mlp(sizes):
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        linear = nn.Linear(fan_in, fan_out)
        bound = math.sqrt(6.0 / fan_in)
        nn.init.uniform_(linear.weight, -bound, bound)
        nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)

    for name, n_in, hidden, n_out, batch, updates in SIZES:
        net = mlp([n_in, hidden, hidden, n_out])
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        pool = [(torch.rand(batch, n_in, generator=gen) * 4 - 2,
                 torch.randint(0, n_out, (batch, 1), generator=gen),
                 torch.rand(batch, generator=gen) * 2) for _ in range(BATCHES)]

        def run(n):
            start = time.perf_counter()
            for i in range(n):
                states, actions, targets = pool[i % BATCHES]
                q = net(states).gather(1, actions).squeeze(1)
                loss = ((targets - q) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            return (time.perf_counter() - start) * 1e6 / n

        run(max(updates // 10, 50))  # warm-up
        stats(f"torch_update/{name}", "us", [run(updates) for _ in range(args.repeats)])

        state = torch.rand(n_in, generator=gen) * 2 - 1

        def forward(n):
            start = time.perf_counter()
            with torch.no_grad():
                for _ in range(n):
                    q = net(state)
                    int(q.argmax())
            return (time.perf_counter() - start) * 1e9 / n

        forward(FORWARDS // 10)
        arch = name.split("/")[0]
        stats(f"torch_forward_one/{arch}", "ns", [forward(FORWARDS) for _ in range(args.repeats)])


if __name__ == "__main__":
    main()
