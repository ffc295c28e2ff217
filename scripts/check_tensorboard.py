#!/usr/bin/env python3
"""Read a deepq event directory with TensorBoard's own reader and check the scalars.

Provenance: written for and run with Python 3.11.7, tensorboard==2.21.0
(EventAccumulator from tensorboard.backend.event_processing.event_accumulator),
protobuf 7.36.2, numpy 2.4.6.

Setup:
    python3 -m venv /tmp/tbvenv
    /tmp/tbvenv/bin/pip install tensorboard==2.21.0

Usage:
    cargo run --example write_events -- /tmp/tbcheck/run1
    /tmp/tbvenv/bin/python scripts/check_tensorboard.py /tmp/tbcheck/run1

    cargo run --release --example trainer -- --job-dir /tmp/job
    /tmp/tbvenv/bin/python scripts/check_tensorboard.py /tmp/job

Prints every scalar series that TensorBoard reads from the directory. When the directory holds
`expected.csv` (tag,step,value,f32 bits in hex; written by the `write_events` example), every
scalar must match it exactly: the same tags, the same steps in the same order, and the same f32
bits. When it holds `metrics.csv` (a trainer job directory), the trainer's series must match the
CSV's columns bit for bit, step = episode (the map is TRAINER_SERIES below: Stable-Baselines3's
tags as deepq::TensorBoardLogger writes them, and episode_reward = eval where present; time/fps
is wall-clock and not compared). Exits with status 1 on any mismatch.
"""

import csv
import os
import struct
import sys

from tensorboard.backend.event_processing import event_accumulator


def f32_bits(value):
    return struct.unpack("<I", struct.pack("<f", value))[0]


# Trainer tag -> metrics.csv column.
TRAINER_SERIES = {
    "rollout/ep_rew_mean": "trailing_mean",
    "rollout/ep_len_mean": "ep_len_mean",
    "rollout/exploration_rate": "epsilon",
    "train/loss": "loss",
    "train/mean_q": "mean_q",
    "train/learning_rate": "learning_rate",
    "train/n_updates": "n_updates",
    "eval/mean_reward": "eval",
    "eval/mean_ep_length": "eval_length",
    "episode_reward": "eval",
}


def check_trainer_metrics(path, read):
    """Compares the trainer's scalars with its metrics.csv; returns the failures."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    failures = []
    total = 0
    for tag, column in TRAINER_SERIES.items():
        want = [(int(r["episode"]), f32_bits(float(r[column]))) for r in rows if r[column] != ""]
        got = read.get(tag, [])
        if not want:
            failures.append(f"{tag}: metrics.csv has no {column} values")
        elif got != want:
            failures.append(f"{tag}: {len(got)} scalars read differ from the {len(want)} {column} values of {path}")
        total += len(want)
    if not failures:
        print(f"OK: {total} scalars in {len(TRAINER_SERIES)} tags match {path} bit for bit")
    return failures


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} LOGDIR")
    logdir = sys.argv[1]
    acc = event_accumulator.EventAccumulator(
        logdir, size_guidance={event_accumulator.SCALARS: 0}  # 0: keep every event
    )
    acc.Reload()
    print(f"file_version: {acc.file_version!r}")
    tags = sorted(acc.Tags()["scalars"])
    read = {}
    for tag in tags:
        events = acc.Scalars(tag)
        read[tag] = [(e.step, f32_bits(e.value)) for e in events]
        shown = ", ".join(f"{e.step}:{e.value:g}" for e in events[:8])
        more = " ..." if len(events) > 8 else ""
        print(f"{tag}: {len(events)} scalars, wall_time {events[0].wall_time:.3f}..{events[-1].wall_time:.3f}: {shown}{more}")

    failures = []
    # EventAccumulator parses the first event's "brain.Event:2" into the float 2.0.
    if acc.file_version != 2.0:
        failures.append(f"file_version is {acc.file_version!r}, expected 2.0 ('brain.Event:2')")
    expected_path = os.path.join(logdir, "expected.csv")
    if os.path.exists(expected_path):
        expected = {}
        with open(expected_path, newline="") as f:
            for row in csv.DictReader(f):
                expected.setdefault(row["tag"], []).append((int(row["step"]), int(row["bits"], 16)))
        if sorted(expected) != tags:
            failures.append(f"tags {tags} != expected {sorted(expected)}")
        for tag, want in expected.items():
            got = read.get(tag, [])
            if got != want:
                failures.append(f"{tag}: read {got} != expected {want}")
        total = sum(len(v) for v in expected.values())
        if not failures:
            print(f"OK: {total} scalars in {len(expected)} tags match {expected_path} bit for bit")
    elif os.path.exists(os.path.join(logdir, "metrics.csv")):
        failures += check_trainer_metrics(os.path.join(logdir, "metrics.csv"), read)
    else:
        print("no expected.csv or metrics.csv: printed only")

    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
