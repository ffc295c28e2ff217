"""Turns the JSON lines of both sides of `benchmarks/compare.sh` into one Markdown table:
work, deepq, peer, ratio, target.

Timed micro-benchmarks: median over repeats with [min-max]. Training runs: median over seeds
with [min-max]. Ratios are peer / deepq (how many times faster deepq is), from the medians;
the floor row is deepq / floor (how far deepq's step is above its bare arithmetic).

Usage: python report_table.py results.jsonl
"""

import json
import statistics
import sys


def load(path):
    rows = []
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            rows.append(json.loads(line))
    return rows


def timed(rows, work):
    for r in rows:
        if r.get("work") == work and "median" in r:
            return r
    return None


def fmt_timed(r, digits=1):
    if r is None:
        return "n/a"
    return f"{r['median']:.{digits}f} {r['unit']} [{r['min']:.{digits}f}-{r['max']:.{digits}f}]"


def runs(rows, work):
    return [r for r in rows if r.get("work") == work]


def spread(values, digits=2, unit=""):
    if not values:
        return "n/a"
    med = statistics.median(values)
    return f"{med:.{digits}f}{unit} [{min(values):.{digits}f}-{max(values):.{digits}f}]"


def ratio(peer, deepq):
    if peer is None or deepq is None or deepq == 0:
        return None
    return peer / deepq


def fmt_ratio(x):
    return "n/a" if x is None else (f"{x:.0f}x" if x >= 10 else f"{x:.2f}x")


def verdict(x, target, higher_is_better=True):
    if x is None:
        return f"{target}: n/a"
    ok = x >= float(target.strip(">=<x ")) if higher_is_better else x <= float(target.strip(">=<x "))
    return f"{target}: {'met' if ok else 'MISSED'}"


def main():
    rows = load(sys.argv[1])
    table = [("work", "deepq", "peer", "ratio", "target")]

    step, floor = timed(rows, "cartpole_v1_step"), timed(rows, "cartpole_physics_floor")
    gym, raw = timed(rows, "gym_make_step"), timed(rows, "gym_unwrapped_step")
    r = ratio(gym and gym["median"], step and step["median"])
    table.append(("CartPole-v1 step, auto reset (peer: Gymnasium `gym.make`)",
                  fmt_timed(step), fmt_timed(gym, 0), fmt_ratio(r), verdict(r, ">= 400x")))
    r = ratio(raw and raw["median"], step and step["median"])
    table.append(("CartPole-v1 step (peer: Gymnasium `env.unwrapped`, no wrappers)",
                  fmt_timed(step), fmt_timed(raw, 0), fmt_ratio(r), "reference"))
    r = ratio(step and step["median"], floor and floor["median"])
    table.append(("CartPole-v1 step vs its bare f64 physics (peer: the floor; ratio deepq/floor)",
                  fmt_timed(step), fmt_timed(floor), fmt_ratio(r),
                  verdict(r, "<= 1.1x", higher_is_better=False)))

    for arch, target in (("4-24-24-2/b32", ">= 100x"), ("4-256-256-2/b64", "none")):
        d, p = timed(rows, f"dqn_update/{arch}"), timed(rows, f"torch_update/{arch}")
        r = ratio(p and p["median"], d and d["median"])
        table.append((f"DQN update {arch.replace('/b', ', batch ')} (peer: PyTorch, 1 thread)",
                      fmt_timed(d, 2), fmt_timed(p, 1), fmt_ratio(r),
                      verdict(r, target) if target != "none" else "none"))
    for arch in ("4-24-24-2", "4-256-256-2"):
        d, p = timed(rows, f"forward_one/{arch}"), timed(rows, f"torch_forward_one/{arch}")
        r = ratio(p and p["median"], d and d["median"])
        table.append((f"Q-values of one observation, {arch} (peer: PyTorch `no_grad`)",
                      fmt_timed(d, 0), fmt_timed(p, 0), fmt_ratio(r), "none"))

    ds, ps = runs(rows, "solve_v0"), runs(rows, "torch_solve_v0")
    dw, pw = [r["wall_seconds"] for r in ds], [r["wall_seconds"] for r in ps]
    r = ratio(statistics.median(pw) if pw else None, statistics.median(dw) if dw else None)
    table.append((f"Solve CartPole-v0, default config, wall (peer: PyTorch DQN, same algorithm; "
                  f"{len(ds)} / {len(ps)} seeds)",
                  spread(dw, 2, " s"), spread(pw, 1, " s"), fmt_ratio(r), verdict(r, ">= 50x")))
    de = [r["episodes"] for r in ds]
    pe = [r["episodes"] for r in ps]
    table.append(("  episodes played (solved at; 300 = not solved)",
                  f"{spread(de, 0)} ({sum(r['solved'] for r in ds)}/{len(ds)} solved)",
                  f"{spread(pe, 0)} ({sum(r['solved'] for r in ps)}/{len(ps)} solved)",
                  "", "same algorithm, not the same random streams"))

    ds, ps = runs(rows, "sb3_zoo_v1_50k"), runs(rows, "sb3_dqn_v1_50k")
    dw, pw = [r["wall_seconds"] for r in ds], [r["wall_seconds"] for r in ps]
    r = ratio(statistics.median(pw) if pw else None, statistics.median(dw) if dw else None)
    table.append((f"RL Zoo CartPole-v1 DQN, 50k steps, wall (peer: Stable-Baselines3; "
                  f"{len(ds)} / {len(ps)} seeds)",
                  spread(dw, 2, " s"), spread(pw, 1, " s"), fmt_ratio(r), "none"))
    n_eval = ps[0]["eval_episodes"] if ps else (ds[0]["eval_episodes"] if ds else 0)
    table.append((f"  final greedy evaluation, mean return (deepq 100 episodes, SB3 {n_eval})",
                  spread([r["eval_mean"] for r in ds], 1),
                  spread([r["eval_mean"] for r in ps], 1), "", "500 is the maximum"))

    widths = [max(len(row[i]) for row in table) for i in range(5)]
    for k, row in enumerate(table):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
        if k == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


if __name__ == "__main__":
    main()
