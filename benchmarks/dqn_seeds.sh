#!/usr/bin/env bash
# Trains the default DQN on CartPole-v0 and CartPole-v1 for seeds 0..=9, one run at a time (one
# core), and prints a table per environment: solved-at episode, env steps, wall seconds and the
# 100-episode greedy evaluation, with the median and the worst of each column.
#
#   bash benchmarks/dqn_seeds.sh            # v0 and v1, seeds 0..=9
#   bash benchmarks/dqn_seeds.sh v0 0 4     # v0 only, seeds 0..=4
set -euo pipefail
cd "$(dirname "$0")/.."

envs=${1:-"v0 v1"}
first=${2:-0}
last=${3:-9}
cargo build --release --quiet --example dqn_cartpole
bin=target/release/examples/dqn_cartpole

field() { # field NAME JSON
    sed -E "s/.*\"$1\": ([^,}]*).*/\1/" <<<"$2" | tr -d '"'
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

for env in $envs; do
    rows=()
    echo
    echo "CartPole-$env, DqnConfig::default(), seeds $first..=$last"
    printf '| %4s | %9s | %9s | %8s | %9s | %8s |\n' seed solved_at env_steps wall_s eval_mean eval_min
    printf '|-----:|----------:|----------:|---------:|----------:|---------:|\n'
    tmp=$(mktemp)
    for seed in $(seq "$first" "$last"); do
        out=$(cd "$(mktemp -d)" && "$OLDPWD/$bin" --seed "$seed" --env "$env" --json)
        json=$(tail -n 1 <<<"$out")
        min=$(grep -oE 'min [0-9.]+' <<<"$out" | awk '{print $2}')
        solved=$(field solved_at_episode "$json")
        steps=$(field env_steps "$json")
        wall=$(field wall_seconds "$json")
        mean=$(field eval_mean "$json")
        printf '| %4s | %9s | %9s | %8.2f | %9.1f | %8s |\n' "$seed" "$solved" "$steps" "$wall" "$mean" "$min"
        echo "$solved $steps $wall $mean $min" >>"$tmp"
    done
    unsolved=$(awk '$1 == "null"' "$tmp" | wc -l)
    med_solved=$(awk '$1 != "null" {print $1}' "$tmp" | median)
    worst_solved=$(awk '$1 != "null" {print $1}' "$tmp" | sort -g | tail -1)
    printf '| %4s | %9s | %9s | %8.2f | %9.1f | %8s |\n' median "$med_solved" \
        "$(awk '{print $2}' "$tmp" | median)" "$(awk '{print $3}' "$tmp" | median)" \
        "$(awk '{print $4}' "$tmp" | median)" "$(awk '{print $5}' "$tmp" | median)"
    printf '| %4s | %9s | %9s | %8.2f | %9.1f | %8s |\n' worst "$worst_solved" \
        "$(awk '{print $2}' "$tmp" | sort -g | tail -1)" "$(awk '{print $3}' "$tmp" | sort -g | tail -1)" \
        "$(awk '{print $4}' "$tmp" | sort -g | head -1)" "$(awk '{print $5}' "$tmp" | sort -g | head -1)"
    echo "unsolved runs: $unsolved"
    rm -f "$tmp"
done
