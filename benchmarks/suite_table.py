"""Markdown tables from benchmarks/suite.sh's JSON lines (standard library only).

Usage: python3 benchmarks/suite_table.py target/suite/results.jsonl [--per-seed]

The summary has one row per task and learner ("deepq preset": `DqnConfig::for_task`'s preset) (CartPole-v0's continued training to 600 episodes
is its own row): the greedy evaluation's mean over the seeds and the worst seed's mean, the
median solve episode, environment steps, and whole-process wall and CPU seconds, and the value
diagnostics: the mean over seeds of Q(s0, a0) and of the discounted return from s0, and the
largest Q-value seen on any seed. `--per-seed` adds one table per task with every seed.
"""

import json
import statistics
import sys

# Tasks for which `DqnConfig::for_task` has a preset (examples/task_suite.rs uses it).
PRESETS = {"Acrobot-v1", "MountainCar-v0"}


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, digits=1):
    if x is None:
        return "-"
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}f}"


def rows(lines):
    """(task, learner, per-seed dicts) with uniform keys."""
    groups = {}
    for line in lines:
        if line.get("peer") == "sb3_zoo":
            key = (line["env"], "SB3 + RL Zoo")
            rec = dict(
                seed=line["seed"],
                solved_at=None,
                env_steps=line["env_steps"],
                wall=line["process_wall_seconds"],
                cpu=line["process_cpu_seconds"],
                mean=line["eval_mean"],
                min=line["eval_min"],
                q0=line["q0_mean"],
                g0=line["discounted_return_mean"],
                max_q=line["max_q"],
            )
            groups.setdefault(key, []).append(rec)
            continue
        base = dict(
            seed=line["seed"],
            solved_at=line["solved_at"],
            env_steps=line["env_steps"],
            wall=line["process_wall_seconds"],
            cpu=line["process_cpu_seconds"],
        )
        e = line["eval"]
        rec = dict(base, mean=e["mean"], min=e["min"], q0=e["q_start"],
                   g0=e["discounted_return"], max_q=e["max_q"])
        preset = line["task"] in PRESETS and line.get("config") != "default"
        learner = "deepq preset" if preset else "deepq default"
        groups.setdefault((line["task"], learner), []).append(rec)
        if "continued" in line:
            c = line["continued"]
            e = c["eval"]
            rec = dict(base, solved_at=line["solved_at"], env_steps=c["env_steps"],
                       mean=e["mean"], min=e["min"], q0=e["q_start"],
                       g0=e["discounted_return"], max_q=e["max_q"])
            groups.setdefault((line["task"] + " to 600 episodes", learner), []).append(rec)
    order = ["CartPole-v0", "CartPole-v0 to 600 episodes", "CartPole-v1", "Acrobot-v1",
             "MountainCar-v0"]
    return sorted(groups.items(), key=lambda kv: (order.index(kv[0][0]) if kv[0][0] in order
                                                  else 99, kv[0][1].startswith("SB3")))


def main():
    path = sys.argv[1]
    per_seed = "--per-seed" in sys.argv[2:]
    lines = [json.loads(l) for l in open(path) if l.strip()]
    groups = rows(lines)
    print("| task | learner | seeds | greedy mean | worst seed | solved at (median) "
          "| env steps (median) | wall s (median) | CPU s (median) | Q(s0) | discounted return "
          "| max Q (any seed) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (task, learner), recs in groups:
        means = [r["mean"] for r in recs]
        print(f"| {task} | {learner} | {len(recs)} | {fmt(statistics.mean(means))} "
              f"| {fmt(min(means))} | {fmt(median([r['solved_at'] for r in recs]), 0)} "
              f"| {fmt(median([r['env_steps'] for r in recs]), 0)} "
              f"| {fmt(median([r['wall'] for r in recs]), 2)} "
              f"| {fmt(median([r['cpu'] for r in recs]), 2)} "
              f"| {fmt(statistics.mean([r['q0'] for r in recs]))} "
              f"| {fmt(statistics.mean([r['g0'] for r in recs]))} "
              f"| {fmt(max(r['max_q'] for r in recs))} |")
    if not per_seed:
        return
    for (task, learner), recs in groups:
        print(f"\n{task}, {learner}\n")
        print("| seed | solved at | env steps | wall s | CPU s | greedy mean | worst episode "
              "| Q(s0) | discounted return | max Q |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in sorted(recs, key=lambda r: r["seed"]):
            print(f"| {r['seed']} | {fmt(r['solved_at'])} | {r['env_steps']} | {fmt(r['wall'], 2)} "
                  f"| {fmt(r['cpu'], 2)} | {fmt(r['mean'])} | {fmt(r['min'])} | {fmt(r['q0'])} "
                  f"| {fmt(r['g0'])} | {fmt(r['max_q'])} |")


if __name__ == "__main__":
    main()
