#!/usr/bin/env bash
# deepq against its peers (Gymnasium, PyTorch, Stable-Baselines3) on this machine, in one run.
#
# Builds deepq's side in release, creates benchmarks/peers/.venv from
# benchmarks/peers/requirements.txt if it is missing, then runs each topic on both sides back
# to back (deepq, then its peer) and prints one Markdown table: work, deepq, peer, ratio, target.
# Micro-benchmarks are medians over repeats with [min-max]; training runs are medians over
# seeds with [min-max]. The raw JSON lines are kept in target/compare/results.jsonl.
#
# Usage: benchmarks/compare.sh [--quick]
#   full (default): 7 repeats, time-to-solve on 10 seeds each side, SB3 on 3 seeds with a
#                   100-episode evaluation (about 15-25 minutes on 2 cores, mostly the peers);
#   --quick:        3 repeats, 3 seeds, SB3 on 1 seed with a 10-episode evaluation.
#
# Needs cargo and python3 (>= 3.10, with venv); pip downloads the peers on the first run
# (torch from PyPI is large). A tool for people, not part of .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

repeats=7 seeds=10 sb3_seeds=3 eval_episodes=100
for arg in "$@"; do
    case "$arg" in
        --quick) repeats=3 seeds=3 sb3_seeds=1 eval_episodes=10 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

venv=benchmarks/peers/.venv
out=target/compare
mkdir -p "$out"
results="$out/results.jsonl"
log="$out/stderr.log"
: > "$results"
: > "$log"

echo "== building deepq's side (release)" >&2
cargo build --release --quiet --example bench_report --example print_default_config
report=target/release/examples/bench_report

if [ ! -x "$venv/bin/python" ]; then
    echo "== creating $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet -r benchmarks/peers/requirements.txt
fi
py="$venv/bin/python"
peers=benchmarks/peers
seed_list=$(seq 0 $((seeds - 1)))
sb3_list=$(seq 0 $((sb3_seeds - 1)))

run() { # label, command...: runs the command, appends its JSON lines, logs its stderr
    local label=$1
    shift
    echo "== $label" >&2
    "$@" 2>>"$log" | tee -a "$results" >&2
}

run "deepq: CartPole step and physics floor" "$report" --only step --repeats "$repeats"
run "Gymnasium: CartPole step" "$py" "$peers/gym_step.py" --repeats "$repeats"
run "deepq: DQN update and forward" "$report" --only update --repeats "$repeats"
run "PyTorch: DQN update and forward" "$py" "$peers/torch_update.py" --repeats "$repeats"
run "deepq: solve CartPole-v0 ($seeds seeds)" "$report" --only solve --solve-seeds "$seeds"
target/release/examples/print_default_config > "$out/default_config.json"
# shellcheck disable=SC2086
run "PyTorch DQN: solve CartPole-v0 ($seeds seeds)" \
    "$py" "$peers/torch_dqn.py" --config "$out/default_config.json" --seeds $seed_list
run "deepq: RL Zoo CartPole-v1 DQN, 50k steps ($sb3_seeds seeds)" \
    "$report" --only sb3 --sb3-seeds "$sb3_seeds"
# shellcheck disable=SC2086
run "Stable-Baselines3: RL Zoo CartPole-v1 DQN, 50k steps ($sb3_seeds seeds)" \
    "$py" "$peers/sb3_dqn.py" --seeds $sb3_list --eval-episodes "$eval_episodes"

echo >&2
echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(lscpu | sed -n 's/^Model name: *//p'), \
$(nproc) cores; deepq $(git rev-parse --short HEAD 2>/dev/null || echo '?'); \
command: benchmarks/compare.sh $*"
echo
"$py" "$peers/report_table.py" "$results"
