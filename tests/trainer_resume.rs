//! The trainer as a preemptible cloud trial (issue 13): killed with SIGKILL at points drawn from
//! a seeded RNG and started again with `--resume` each time, a run ends with a
//! `model.safetensors` byte-identical to the uninterrupted run's, the same `metrics.csv`, every
//! episode's TensorBoard scalars once, and the same hypertune reports.
//!
//! The trainer runs in a child process: this test binary itself, re-run with only the ignored
//! `child_trainer` test and the job's flags in `DEEPQ_RESUME_CHILD`. Linux only: a killed run's
//! lock is recognised as stale through `/proc`.
#![cfg(all(feature = "safetensors", target_os = "linux"))]

#[path = "../examples/trainer/args.rs"]
mod args;
#[path = "../examples/common/atomic_write.rs"]
mod atomic_write;
#[path = "../examples/trainer/job.rs"]
mod job;
#[path = "../examples/common/plot.rs"]
mod plot;
#[path = "../examples/common/progress.rs"]
mod progress;
#[path = "../examples/trainer/vertex.rs"]
mod vertex;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use args::TrainerArgs;

const CHILD_VAR: &str = "DEEPQ_RESUME_CHILD";

/// The job of every run here: default config, CartPole-v0, evaluations every 5 episodes and
/// checkpoints every 7 (so that some reports have a checkpoint and some do not), the best kept.
fn flags(dir: &Path) -> Vec<String> {
    [
        "--episodes=90",
        "--eval_rate=5",
        "--checkpoint_every=7",
        "--keep_best",
        "--print_rate=0",
        "--seed=11",
        "--resume",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(["--job-dir".to_string(), dir.display().to_string()])
    .collect()
}

#[test]
#[ignore = "the child process of the kill test, which runs it with DEEPQ_RESUME_CHILD set"]
fn child_trainer() {
    let Ok(argv) = std::env::var(CHILD_VAR) else { return };
    let argv: Vec<String> = serde_json::from_str(&argv).unwrap();
    let mut args =
        TrainerArgs::try_parse_from(std::iter::once("trainer".to_string()).chain(argv)).unwrap();
    let env = |name: &str| std::env::var(name).ok();
    args.hypertune = Some(vertex::HypertuneFile::from_env(&env));
    let config = args.dqn_config().unwrap();
    let outputs = job::Outputs { gif: false, plot: false };
    job::run(&args, &config, outputs, &mut std::io::stdout()).unwrap();
}

/// Starts the trainer on `dir`; its hypertune file is `dir.metrics`.
fn spawn(dir: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_trainer", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, serde_json::to_string(&flags(dir)).unwrap())
        .env("CLOUD_ML_HP_METRIC_FILE", metrics_file(dir))
        .env("CLOUD_ML_TRIAL_ID", "5")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn metrics_file(dir: &Path) -> PathBuf {
    dir.with_extension("metrics")
}

fn run_to_end(dir: &Path) -> Duration {
    let start = Instant::now();
    let out = spawn(dir).wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    start.elapsed()
}

/// `(tag, step, value)` of every scalar of the run's event file, `time/fps` (wall-clock) left
/// out.
fn scalars(dir: &Path) -> Vec<(String, i64, f32)> {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("events.out.tfevents."))
        .collect();
    assert_eq!(files.len(), 1, "one event file: {files:?}");
    deepq::read_scalars(&files[0])
        .unwrap()
        .into_iter()
        .filter(|s| s.tag != "time/fps")
        .map(|s| (s.tag, s.step, s.value))
        .collect()
}

/// The hypertune reports without their timestamps, the job directory replaced by `DIR`.
fn reports(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(metrics_file(dir)).unwrap();
    text.lines()
        .map(|line| {
            let (head, tail) = line.split_once("\"timestamp\": ").unwrap();
            let tail = &tail[tail.find(',').unwrap()..];
            format!("{head}{tail}").replace(&dir.display().to_string(), "DIR")
        })
        .collect()
}

#[test]
fn a_trial_killed_at_random_points_and_resumed_ends_as_the_uninterrupted_one() {
    let root = std::env::temp_dir().join(format!("deepq-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let straight = root.join("straight");
    let full = run_to_end(&straight);

    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let mut all_kills = 0;
    for case in 0..3 {
        let dir = root.join(format!("killed-{case}"));
        let mut kills = Vec::new();
        // Kill at a point drawn uniformly over the length of a whole run, then resume; until
        // an attempt outlives its kill point (at most 8 kills), then one more run to the end.
        for _ in 0..8 {
            let at = full.mul_f64(rng.random_range(0.0..1.0));
            let mut child = spawn(&dir);
            std::thread::sleep(at);
            let finished = child.try_wait().unwrap().is_some();
            child.kill().unwrap();
            child.wait().unwrap();
            if finished {
                break;
            }
            kills.push(at);
        }
        run_to_end(&dir);
        all_kills += kills.len();
        let kept = |d: &Path, name: &str| std::fs::read(d.join(name)).unwrap();
        assert!(
            kept(&dir, "model.safetensors") == kept(&straight, "model.safetensors"),
            "case {case}: weights differ after kills at {kills:?}"
        );
        assert!(kept(&dir, "best.safetensors") == kept(&straight, "best.safetensors"));
        assert_eq!(
            String::from_utf8(kept(&dir, "metrics.csv")).unwrap(),
            String::from_utf8(kept(&straight, "metrics.csv")).unwrap(),
            "case {case}: kills at {kills:?}"
        );
        assert_eq!(scalars(&dir), scalars(&straight), "case {case}: kills at {kills:?}");
        assert_eq!(reports(&dir), reports(&straight), "case {case}: kills at {kills:?}");
        // Every episode once: rows 1..=90, and per tag each step once.
        let csv = String::from_utf8(kept(&dir, "metrics.csv")).unwrap();
        let episodes: Vec<usize> =
            csv.lines().skip(1).map(|l| l.split(',').next().unwrap().parse().unwrap()).collect();
        assert_eq!(episodes, (1..=90).collect::<Vec<_>>());
        let mut seen = std::collections::HashSet::new();
        for (tag, step, _) in scalars(&dir) {
            assert!(seen.insert((tag.clone(), step)), "{tag} at step {step} twice");
        }
    }
    // The test is only a test if runs were killed (each kill point is a uniform draw over the
    // length of a whole run, so an attempt rarely outlives its first one).
    assert!(all_kills >= 3, "only {all_kills} kills");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn resume_falls_back_past_a_damaged_checkpoint_and_starts_over_without_one() {
    let root = std::env::temp_dir().join(format!("deepq-resume-fallback-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let straight = root.join("straight");
    let damaged = root.join("damaged");
    run_to_end(&straight);
    // A run killed after its checkpoint at episode 42 (or a later one) whose newest checkpoint is cut
    // short (a crash of the disk, not of the atomic write): the one before takes over.
    std::fs::create_dir_all(&root).unwrap();
    let mut child = spawn(&damaged);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !damaged.join(job::checkpoint_name(42)).exists() {
        assert!(Instant::now() < deadline, "no checkpoint at episode 42");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let newest = job::list_checkpoints(&damaged).unwrap()[0].1.clone();
    let bytes = std::fs::read(&newest).unwrap();
    std::fs::write(&newest, &bytes[..bytes.len() / 2]).unwrap();

    let out = spawn(&damaged).wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("cannot be resumed"), "{stdout}");
    assert!(stdout.contains("trying the one before"), "{stdout}");
    assert!(stdout.contains("resuming from"), "{stdout}");
    let weights = |d: &Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert!(weights(&damaged) == weights(&straight));

    // With no checkpoint at all, --resume says so and starts from scratch.
    let fresh = root.join("fresh");
    let out = spawn(&fresh).wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("no checkpoint to resume"), "{stdout}");
    assert!(weights(&fresh) == weights(&straight));
    std::fs::remove_dir_all(&root).unwrap();
}
