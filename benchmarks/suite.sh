#!/usr/bin/env bash
# The learning suite: deepq's default DQN on every built-in task, next to Stable-Baselines3's DQN
# with the RL Zoo's tuned hyperparameters, and one Markdown table of the results.
#
#   deepq: `examples/task_suite.rs` (its doc gives the protocol; `DqnConfig::for_task`) for
#          CartPole-v0 on seeds 0..=19, CartPole-v1 on seeds 0..=9, Acrobot-v1 and MountainCar-v0
#          on seeds 0..=4, one process at a time;
#   peer:  `benchmarks/peers/sb3_zoo.py` (Zoo hyperparameters, 100 greedy episodes) on seeds 0
#          and 1 of each task (CartPole-v0 with CartPole-v1's Zoo entry).
# Each run's wall and CPU seconds are those of its whole process (GNU time). The JSON lines go to
# target/suite/results.jsonl and the table to target/suite/table.md.
#
# Usage: benchmarks/suite.sh [--deepq-only | --peers-only | --table-only]
# Needs cargo, python3 and /usr/bin/time; the peers need benchmarks/peers/.venv (created from
# benchmarks/peers/requirements.txt when missing; torch from PyPI is large). About 15 minutes
# for deepq and an hour for the peers on one core. A tool for people, not part of .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

deepq=1 peers=1
for arg in "$@"; do
    case "$arg" in
        --deepq-only) peers=0 ;;
        --peers-only) deepq=0 ;;
        --table-only) deepq=0 peers=0 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

out=target/suite
mkdir -p "$out"
timed() { # file, command...: runs the command, prints its JSON line with wall and CPU seconds
    local times=$1
    shift
    /usr/bin/time -f '%e %U %S' -o "$times" "$@" | tail -n 1 | python3 -c '
import json, sys
line = json.loads(sys.stdin.read())
wall, user, system = (float(x) for x in open(sys.argv[1]).read().split()[-3:])
line["process_wall_seconds"] = wall
line["process_cpu_seconds"] = round(user + system, 2)
print(json.dumps(line))' "$times"
}

if [ "$deepq" = 1 ]; then
    cargo build --release --quiet --example task_suite
    : > "$out/deepq.jsonl"
    for task in CartPole-v0 CartPole-v1 Acrobot-v1 MountainCar-v0; do
        case "$task" in CartPole-v0) seeds=$(seq 0 19) ;; CartPole-v1) seeds=$(seq 0 9) ;; *) seeds=$(seq 0 4) ;; esac
        for seed in $seeds; do
            echo "== deepq $task seed $seed" >&2
            timed "$out/time.txt" target/release/examples/task_suite --task "$task" --seed "$seed" \
                | tee -a "$out/deepq.jsonl" >&2
        done
    done
fi

if [ "$peers" = 1 ]; then
    venv=benchmarks/peers/.venv
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --upgrade pip
        "$venv/bin/pip" install --quiet -r benchmarks/peers/requirements.txt
    fi
    : > "$out/peers.jsonl"
    for task in CartPole-v0 CartPole-v1 Acrobot-v1 MountainCar-v0; do
        for seed in 0 1; do
            echo "== sb3_zoo $task seed $seed" >&2
            timed "$out/time.txt" "$venv/bin/python" benchmarks/peers/sb3_zoo.py --env "$task" \
                --seeds "$seed" 2>>"$out/peers.stderr" | tee -a "$out/peers.jsonl" >&2
        done
    done
fi

cat "$out"/deepq.jsonl "$out"/peers.jsonl 2>/dev/null > "$out/results.jsonl" || true
python3 benchmarks/suite_table.py "$out/results.jsonl" | tee "$out/table.md"
