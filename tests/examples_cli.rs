//! Every example's command line, run as the built binary: `--help` prints its usage and exits 0,
//! a flag it does not have or a bad value is a clap error with exit status 2, and the JSON line
//! and the plot of the examples that print or draw one read back (on runs of a few episodes).
//!
//! The binaries are built here, once, with `cargo build --examples` in this test's profile:
//! `cargo test` builds the examples before running any test, but `cargo test --test
//! examples_cli` does not, and an example binary has no `CARGO_BIN_EXE_` variable.
#![cfg(feature = "safetensors")]

#[path = "common/plot_files.rs"]
mod plot_files;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Every example (`examples/*.rs`).
const EXAMPLES: [&str; 11] = [
    "bench_report",
    "custom_env",
    "dqn_cartpole",
    "dqn_cartpole_vec",
    "hypertune",
    "print_default_config",
    "render_frame",
    "supervised_baseline",
    "task_suite",
    "trainer",
    "write_events",
];

/// The directory of the example binaries of this test binary's profile, after building them.
fn examples_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // This binary is `<target>/<profile>/deps/examples_cli-<hash>`; the examples go to
        // `<target>/<profile>/examples/`.
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe.parent().and_then(Path::parent).expect("<target>/<profile>");
        let profile = profile_dir.file_name().and_then(|n| n.to_str()).expect("a profile name");
        let mut build = Command::new(env!("CARGO"));
        build.args(["build", "--quiet", "--examples", "--manifest-path"]);
        build.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"));
        match profile {
            "debug" => {}
            "release" => {
                build.arg("--release");
            }
            other => {
                build.args(["--profile", other]);
            }
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "cargo build --examples failed: {status}");
        let dir = profile_dir.join("examples");
        for name in EXAMPLES {
            let bin = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
            assert!(bin.is_file(), "{} was not built", bin.display());
        }
        dir
    })
}

/// Runs example `name` with `args` in the directory `cwd` (a temporary one by default).
fn run_in(cwd: &Path, name: &str, args: &[&str]) -> Output {
    let bin = examples_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    Command::new(&bin)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("{} does not run: {e}", bin.display()))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("deepq-examples-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_list_is_every_example_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            let stem = path.file_stem()?.to_str()?.to_string();
            // examples/zz_*.rs are ignored scratch files (.gitignore).
            (path.extension()? == "rs" && !stem.starts_with("zz_")).then_some(stem)
        })
        .collect();
    files.sort();
    assert_eq!(files, EXAMPLES, "EXAMPLES must list every examples/*.rs");
}

#[test]
fn every_example_prints_its_usage_with_help() {
    let dir = temp_dir("help");
    for name in EXAMPLES {
        let out = run_in(&dir, name, &["--help"]);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{name} --help: {stdout}{}", text(&out.stderr));
        assert!(stdout.contains(&format!("Usage: {name}")), "{name} --help: {stdout}");
        assert!(stdout.contains("-h, --help"), "{name} --help: {stdout}");
    }
    // --help runs nothing: no file appears.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "--help wrote files");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_flag_an_example_does_not_have_is_a_usage_error() {
    let dir = temp_dir("bogus");
    for name in EXAMPLES {
        let out = run_in(&dir, name, &["--no-such-flag"]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name} --no-such-flag: {stderr}");
        assert!(stderr.contains("unexpected argument '--no-such-flag'"), "{name}: {stderr}");
        assert!(stderr.contains(&format!("Usage: {name}")), "{name}: {stderr}");
        assert!(out.stdout.is_empty(), "{name} ran: {}", text(&out.stdout));
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_values_are_usage_errors() {
    let dir = temp_dir("bad-values");
    for (name, args, says) in [
        ("dqn_cartpole", &["--env", "v2"][..], "invalid value 'v2' for '--env"),
        ("dqn_cartpole", &["--seed", "one"][..], "invalid value 'one' for '--seed"),
        ("supervised_baseline", &["--runs", "0"][..], "--runs"),
        ("task_suite", &[][..], "--task <TASK>"),
        ("task_suite", &["--task", "Pong-v5"][..], "MountainCar-v0"),
        ("bench_report", &["--only", "step,walk"][..], "invalid value 'walk' for '--only"),
        ("bench_report", &["--repeats", "0"][..], "--repeats"),
        ("trainer", &["--episodes", "0"][..], "--episodes"),
        ("hypertune", &["--search", "bayes"][..], "--search"),
        ("print_default_config", &["--task"][..], "--task"),
        ("render_frame", &["a.ppm", "b.ppm"][..], "unexpected argument 'b.ppm'"),
    ] {
        let out = run_in(&dir, name, args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name} {args:?}: {stderr}");
        assert!(stderr.contains(says), "{name} {args:?}: {stderr}");
    }
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "a refused run wrote files");
    std::fs::remove_dir_all(&dir).ok();
}

/// The last line of `out`'s stdout as a JSON object, and the line itself.
fn last_json_line(out: &Output) -> (serde_json::Map<String, serde_json::Value>, String) {
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let line = stdout.lines().last().expect("a line").to_string();
    let value: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    match value {
        serde_json::Value::Object(map) => (map, line),
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn dqn_cartpole_prints_its_results_as_a_json_line() {
    let dir = temp_dir("dqn-json");
    let out = run_in(&dir, "dqn_cartpole", &["--episodes", "3", "--env", "v1", "--json"]);
    let (object, line) = last_json_line(&out);
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    let mut expected = [
        "seed",
        "env",
        "solved",
        "solved_at_episode",
        "episodes",
        "env_steps",
        "eval_mean",
        "eval_median",
        "eval_sd",
        "q_start",
        "discounted_return",
        "max_q",
        "wall_seconds",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected, "{line}");
    assert_eq!(object["env"], "CartPole-v1");
    assert_eq!((object["episodes"].as_u64(), object["seed"].as_u64()), (Some(3), Some(0)));
    assert_eq!((&object["solved"], &object["solved_at_episode"]), (&false.into(), &().into()));
    assert!(object["eval_mean"].as_f64().unwrap() >= 1.0, "{line}");
    // The keys in the documented order, with the spacing benchmarks/dqn_seeds.sh reads.
    assert!(line.starts_with(r#"{"seed": 0, "env": "CartPole-v1", "solved": false, "#), "{line}");
    assert!(line.contains(r#", "wall_seconds": "#) && line.ends_with('}'), "{line}");
    assert!(dir.join("dqn_cartpole.safetensors").is_file());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn supervised_baseline_draws_its_scores_next_to_random_play() {
    let dir = temp_dir("baseline");
    let plot = dir.join("scores.png");
    let out = run_in(
        &dir,
        "supervised_baseline",
        &[
            "--runs",
            "1",
            "--games",
            "300",
            "--seed",
            "4",
            "--json",
            "--plot",
            plot.to_str().unwrap(),
        ],
    );
    let (object, line) = last_json_line(&out);
    assert_eq!((object["run"].as_u64(), object["seed"].as_u64()), (Some(1), Some(4)), "{line}");
    assert_eq!(object["games"].as_u64(), Some(300));
    for key in ["accepted_games", "pairs", "mean", "median", "sd", "random_mean", "play_seconds"] {
        assert!(object[key].is_number(), "{key} in {line}");
    }
    let (width, height, pixels) = plot_files::decode_png(&std::fs::read(&plot).unwrap());
    assert_eq!((width, height), (960, 540));
    // Both histograms' bars (the example's colours) are drawn, beyond their legend entries.
    for rgb in [(160, 160, 160), (31, 78, 153)] {
        assert!(plot_files::count_colour(&pixels, rgb) > 1000, "no bars of {rgb:?}");
    }
    // The plot and nothing else beside it (its temporary file renamed).
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["scores.png"]);
    // A plot path that cannot be written is a usage error before anything runs.
    let missing = dir.join("missing").join("scores.png");
    for path in [dir.to_str().unwrap(), missing.to_str().unwrap()] {
        let out = run_in(&dir, "supervised_baseline", &["--plot", path]);
        assert_eq!(out.status.code(), Some(2), "--plot {path}");
        assert!(text(&out.stderr).contains(&format!("--plot {path}")), "{}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "--plot {path} ran: {}", text(&out.stdout));
    }
    std::fs::remove_dir_all(&dir).ok();
}
