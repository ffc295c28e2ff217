//! The trainer example's flags and one short job end to end: every output file, the TensorBoard
//! scalars read back against `metrics.csv`, the weights, the GIF, and determinism under a seed.
#![cfg(feature = "safetensors")]

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

#[path = "common/plot_files.rs"]
mod plot_files;

use std::path::{Path, PathBuf};

use clap::Parser;
use clap::error::ErrorKind;
use deepq::{DqnConfig, Exploration, Mlp, QNetwork, read_scalars};

use args::{Game, Preset, TrainerArgs};

fn parse(flags: &[&str]) -> Result<TrainerArgs, clap::Error> {
    TrainerArgs::try_parse_from(std::iter::once("trainer").chain(flags.iter().copied()))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("deepq-trainer-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn defaults_keep_the_preset() {
    let args = parse(&[]).unwrap();
    assert_eq!(
        (args.game, args.preset, args.episodes, args.seed),
        (Game::CartPoleV0, Preset::Default, 300, 0)
    );
    assert_eq!((args.print_rate, args.eval_rate), (10, 10));
    assert_eq!(args.dqn_config().unwrap(), DqnConfig::default().with_seed(0));
    let tutorial = parse(&["--preset", "tutorial", "--seed", "7"]).unwrap();
    assert_eq!(tutorial.dqn_config().unwrap(), DqnConfig::tutorial().with_seed(7));
}

#[test]
fn flags_given_override_the_preset() {
    let args = parse(&[
        "--game=CartPole-v1",
        "--learning_rate=0.01",
        "--hidden_neurons=20",
        "--gamma=0.9",
        "--memory_size=1000",
        "--memory_batch_size=32",
        "--preset=tutorial",
    ])
    .unwrap();
    let config = args.dqn_config().unwrap();
    let expected = DqnConfig {
        hidden: vec![20, 20],
        gamma: 0.9,
        memory_size: 1000,
        batch_size: 32,
        ..DqnConfig::tutorial().with_learning_rate(0.01)
    };
    assert_eq!(config, expected);
    assert_eq!(args.game, Game::CartPoleV1);
}

#[test]
fn explore_decay_makes_the_schedule_multiplicative() {
    // Whatever the default schedule is, the flag keeps its start and its end (or floor).
    let default = parse(&["--explore_decay", "0.995"]).unwrap().dqn_config().unwrap();
    let expected = match DqnConfig::default().exploration {
        Exploration::Linear { start, end, .. } => {
            Exploration::Multiplicative { start, floor: end, decay: 0.995 }
        }
        Exploration::Multiplicative { start, floor, .. } => {
            Exploration::Multiplicative { start, floor, decay: 0.995 }
        }
    };
    assert_eq!(default.exploration, expected);
    let tutorial =
        parse(&["--preset", "tutorial", "--explore_decay", "0.9"]).unwrap().dqn_config().unwrap();
    assert_eq!(
        tutorial.exploration,
        Exploration::Multiplicative { start: 1.0, floor: 0.0, decay: 0.9 }
    );
}

#[test]
fn bad_flags_and_values_are_errors() {
    for (flags, kind) in [
        (&["--learning-rate", "0.1"][..], ErrorKind::UnknownArgument),
        (&["--frobnicate"][..], ErrorKind::UnknownArgument),
        (&["--game", "Pong-v0"][..], ErrorKind::InvalidValue),
        (&["--preset", "fast"][..], ErrorKind::InvalidValue),
        (&["--episodes", "0"][..], ErrorKind::ValueValidation),
        (&["--episodes", "ten"][..], ErrorKind::ValueValidation),
        (&["--learning_rate=-0.1"][..], ErrorKind::ValueValidation),
        (&["--learning_rate", "NaN"][..], ErrorKind::ValueValidation),
        (&["--gamma", "1.5"][..], ErrorKind::ValueValidation),
        (&["--explore_decay", "0"][..], ErrorKind::ValueValidation),
        (&["--hidden_neurons", "0"][..], ErrorKind::ValueValidation),
        (&["--memory_batch_size", "0"][..], ErrorKind::ValueValidation),
        (&["--eval_rate", "0"][..], ErrorKind::ValueValidation),
        (&["--seed", "-1"][..], ErrorKind::UnknownArgument),
    ] {
        let err = parse(flags).expect_err(&format!("{flags:?} was accepted"));
        assert_eq!(err.kind(), kind, "{flags:?}: {err}");
    }
    let err = parse(&["--memory_size", "32", "--memory_batch_size", "64"])
        .unwrap()
        .dqn_config()
        .unwrap_err();
    assert!(err.starts_with("invalid value for --memory_batch_size:"), "{err}");
    assert!(err.contains("memory_size"), "{err}");
}

fn try_job(
    dir: &Path,
    outputs: job::Outputs,
    extra: &[&str],
) -> Result<(job::JobResult, Vec<u8>), job::JobError> {
    let mut flags = vec![
        "--episodes=12",
        "--eval_rate=5",
        "--hidden_neurons=16",
        "--memory_batch_size=8",
        "--seed=3",
        "--job-dir",
        dir.to_str().unwrap(),
    ];
    // A flag in `extra` replaces the one of the same name above.
    let name = |f: &str| f.split('=').next().unwrap_or_default().to_string();
    flags.retain(|f| !extra.iter().any(|e| name(e) == name(f)));
    flags.extend_from_slice(extra);
    let args = parse(&flags).unwrap();
    let mut config = args.dqn_config().unwrap();
    config.learning_starts = 50; // learn within the few episodes of the test
    let mut out = Vec::new();
    let result = job::run(&args, &config, outputs, &mut out)?;
    Ok((result, out))
}

fn run_job(dir: &Path, outputs: job::Outputs) -> job::JobResult {
    let (result, out) = try_job(dir, outputs, &[]).unwrap();
    let out = String::from_utf8(out).unwrap();
    let rewards: Vec<&str> = out.lines().filter(|l| l.starts_with("episode_reward=")).collect();
    assert_eq!(rewards.len(), 2, "{out}");
    assert_eq!(out.lines().filter(|l| l.starts_with("final_episode_reward=")).count(), 1);
    assert_eq!(out.lines().filter(|l| l.starts_with("episode ")).count(), 1, "{out}");
    result
}

#[test]
fn a_job_writes_every_output() {
    let dir = temp_dir("job");
    let result = run_job(&dir, job::Outputs::ALL);
    let names: Vec<&str> = result.files.iter().map(|(n, _)| n.as_str()).collect();
    for name in [
        "config.json",
        job::CURVE_SVG,
        job::CURVE_PNG,
        "metrics.csv",
        "model.safetensors",
        "recording.gif",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let events: Vec<&&str> =
        names.iter().filter(|n| n.starts_with("events.out.tfevents.")).collect();
    assert_eq!(events.len(), 1, "{names:?}");

    // The scalars read back from the event file match metrics.csv.
    let metrics = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let rows: Vec<Vec<&str>> = metrics.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 12);
    let scalars = read_scalars(dir.join(events[0])).unwrap();
    let series = |tag: &str| -> Vec<(i64, f32)> {
        scalars.iter().filter(|s| s.tag == tag).map(|s| (s.step, s.value)).collect()
    };
    let column = |i: usize| -> Vec<(i64, f32)> {
        rows.iter()
            .filter(|r| !r[i].is_empty())
            .map(|r| (r[0].parse().unwrap(), r[i].parse().unwrap()))
            .collect()
    };
    // Stable-Baselines3's tags, written by deepq::TensorBoardLogger, step = episode.
    assert_eq!(series("rollout/ep_rew_mean"), column(5));
    assert_eq!(series("rollout/ep_len_mean"), column(8));
    assert_eq!(series("rollout/exploration_rate"), column(3));
    assert_eq!(series("train/loss"), column(4));
    assert!(!series("train/loss").is_empty());
    assert_eq!(series("train/mean_q"), column(9));
    assert_eq!(series("train/learning_rate"), column(10));
    assert_eq!(series("train/n_updates"), column(11));
    assert_eq!(series("time/fps").len(), 12);
    assert_eq!(series("eval/mean_reward"), column(7));
    assert_eq!(series("eval/mean_ep_length"), column(12));
    assert_eq!(series("episode_reward"), column(7));
    let header = metrics.lines().next().unwrap();
    assert_eq!(header, job::METRICS_HEADER);
    assert_eq!(series("episode_reward").iter().map(|s| s.0).collect::<Vec<_>>(), [5, 10]);
    assert_eq!(series("eval/final_mean_reward"), [(12, result.final_eval.mean)]);

    let net = Mlp::load(dir.join("model.safetensors")).unwrap();
    assert_eq!((net.input_dim(), net.output_dim()), (4, 2));
    let gif = std::fs::read(dir.join("recording.gif")).unwrap();
    assert!(gif.starts_with(b"GIF89a"));
    assert_eq!(u16::from_le_bytes([gif[6], gif[7]]), 600);
    assert_eq!(u16::from_le_bytes([gif[8], gif[9]]), 400);
    check_learning_curve(&dir, "CartPole-v0");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["flags"]["hidden_neurons"], 16);
    assert_eq!(config["dqn"]["hidden"], serde_json::json!([16, 16]));
    assert_eq!(config["dqn"]["batch_size"], 8);
    std::fs::remove_dir_all(&dir).ok();
}

/// The learning curve of a job in `dir` on `game`: an SVG that names the game and every series,
/// and a PNG of the charts' size in which every series' colour is drawn.
fn check_learning_curve(dir: &Path, game: &str) {
    let svg = std::fs::read_to_string(dir.join(job::CURVE_SVG)).unwrap();
    plot_files::check_svg(
        &svg,
        &[
            &format!("DQN on {game}: preset default"),
            "episode return",
            "mean of the last 100 episodes",
            "greedy evaluation (episode_reward)",
            "solved threshold (",
            ">\nepisode\n<",
            ">\nreturn\n<",
        ],
    );
    let (width, height, pixels) =
        plot_files::decode_png(&std::fs::read(dir.join(job::CURVE_PNG)).unwrap());
    assert_eq!((width, height), (plot::WIDTH, plot::HEIGHT));
    // The series' colours (job::learning_curve's), each at least in its legend entry.
    for rgb in [(156, 195, 230), (31, 78, 153), (230, 126, 34), (34, 160, 34)] {
        assert!(plot_files::count_colour(&pixels, rgb) > 20, "{game}: no {rgb:?} in the PNG");
    }
}

#[test]
fn the_plots_are_the_runs_own_files() {
    let dir = temp_dir("plots");
    run_job(&dir, job::Outputs::ALL);
    let png = std::fs::read(dir.join(job::CURVE_PNG)).unwrap();
    // A job-dir with a previous run's plots is refused, naming them ...
    let err = try_job(&dir, job::Outputs::ALL, &[]).expect_err("a previous run is refused");
    for name in [job::CURVE_SVG, job::CURVE_PNG] {
        assert!(err.to_string().contains(name), "{name} not listed: {err}");
    }
    // ... a replacing run that fails puts them back ...
    let err = try_job(&dir, job::Outputs::ALL, &["--overwrite", "--keep_best", "--eval_rate=100"])
        .unwrap_err();
    assert!(err.to_string().contains("no evaluation ran"), "{err}");
    assert!(std::fs::read(dir.join(job::CURVE_PNG)).unwrap() == png, "the PNG is back");
    assert!(!dir.join(job::REPLACED_DIR).exists());
    // ... and a resumed run draws the whole run, the restored episodes and its own.
    try_job(&dir, job::Outputs::ALL, &["--resume", "--episodes=15"]).unwrap();
    let resumed = std::fs::read(dir.join(job::CURVE_PNG)).unwrap();
    assert!(resumed != png, "the resumed run's curve is redrawn");
    plot_files::decode_png(&resumed);
    let svg = std::fs::read_to_string(dir.join(job::CURVE_SVG)).unwrap();
    assert!(svg.contains(">\n15\n<") || svg.contains(">\n14\n<"), "the x axis reaches 15");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_job_is_deterministic_and_never_destroys_a_previous_run() {
    let (a, b) = (temp_dir("det-a"), temp_dir("det-b"));
    let light = job::Outputs { gif: false, plot: false };
    let ra = run_job(&a, light);
    let rb = run_job(&b, light);
    assert_eq!(ra.final_eval, rb.final_eval);
    let read = |d: &PathBuf, f: &str| std::fs::read(d.join(f)).unwrap();
    assert!(read(&a, "metrics.csv") == read(&b, "metrics.csv"), "metrics.csv differ");
    // The weights, not the file bytes: the safetensors header's metadata order may vary.
    let load = |d: &PathBuf| Mlp::load(d.join("model.safetensors")).unwrap();
    assert!(load(&a).parameters() == load(&b).parameters(), "weights differ");
    // A second run into the same directory is refused and changes nothing (issue 12, D5)...
    let snapshot = |d: &PathBuf| -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| {
                (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
            })
            .collect();
        files.sort();
        files
    };
    let before = snapshot(&a);
    let err = try_job(&a, light, &[]).expect_err("a job-dir with a previous run is refused");
    assert!(err.downcast_ref::<job::UsageError>().is_some(), "{err}");
    assert!(err.to_string().contains("--overwrite"), "{err}");
    assert!(snapshot(&a) == before, "the previous run's files are untouched");
    // ... and with --overwrite it replaces the previous run: one event file, no lock left.
    try_job(&a, light, &["--overwrite"]).unwrap();
    let names: Vec<String> = snapshot(&a).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.iter().filter(|n| n.starts_with("events.")).count(), 1, "{names:?}");
    assert!(!names.iter().any(|n| n == job::LOCK_FILE || n.ends_with(".tmp")), "{names:?}");
    // A job-dir another run holds is refused.
    std::fs::write(a.join(job::LOCK_FILE), "1\n").unwrap();
    let err = try_job(&a, light, &["--overwrite"]).expect_err("locked");
    assert!(err.to_string().contains("another run"), "{err}");
    std::fs::remove_file(a.join(job::LOCK_FILE)).unwrap();
    // A config the library refuses (a memory too large to allocate) fails before the
    // job-dir is touched.
    let before = snapshot(&a);
    let args = parse(&[
        "--memory_size=18446744073709551615",
        "--overwrite",
        "--job-dir",
        a.to_str().unwrap(),
    ])
    .unwrap();
    let err = job::run(&args, &args.dqn_config().unwrap(), light, &mut Vec::new()).err().unwrap();
    assert!(
        matches!(err.downcast_ref::<deepq::Error>(), Some(deepq::Error::InvalidConfig { .. })),
        "{err}"
    );
    assert!(snapshot(&a) == before, "a refused config changes nothing");
    std::fs::remove_dir_all(&a).ok();
    std::fs::remove_dir_all(&b).ok();
}

#[test]
fn gif_frames_keep_their_colours() {
    // Two 600x400 CartPole frames: a GIF with a 4-colour table, the second frame a sub-rectangle.
    let mut env = deepq::CartPole::v0();
    env.set_state([0.0, 0.0, 0.0, 0.0]).unwrap();
    let first = env.render();
    env.set_state([0.5, 0.0, 0.1, 0.0]).unwrap();
    let second = env.render();
    let dir = temp_dir("gif");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("two.gif");
    job::write_gif(&path, &[first, second], 2).unwrap();
    let gif = std::fs::read(&path).unwrap();
    // Logical screen descriptor: global colour table flag set, 2^(1+1) = 4 entries.
    assert_eq!(gif[10] & 0x87, 0x81, "flags {:08b}", gif[10]);
    let palette = &gif[13..13 + 12];
    for colour in [[255, 255, 255], [0, 0, 0], [202, 152, 101], [129, 132, 203]] {
        assert!(palette.chunks(3).any(|c| c == colour), "{colour:?} not in {palette:?}");
    }
    assert!(job::write_gif(&path, &[], 2).is_err());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn gif_frames_decode_back_to_the_rendered_frames() {
    // A pole falling while the cart drifts: each frame after the first is stored as the
    // rectangle that changed; compositing them must give back every frame exactly.
    let mut env = deepq::CartPole::v1();
    let mut frames = Vec::new();
    for i in 0..12 {
        let t = f64::from(i);
        env.set_state([-1.0 + 0.07 * t, 0.0, -0.2 + 0.005 * t * t, 0.0]).unwrap();
        frames.push(env.render());
    }
    frames.push(frames[11].clone()); // an unchanged frame
    let dir = temp_dir("gif-roundtrip");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fall.gif");
    job::write_gif(&path, &frames, 2).unwrap();

    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::Indexed);
    let mut decoder = options.read_info(std::fs::File::open(&path).unwrap()).unwrap();
    let palette = decoder.global_palette().unwrap().to_vec();
    let (w, h) = (600, 400);
    let mut canvas = vec![0u8; w * h];
    let mut decoded = 0;
    while let Some(frame) = decoder.read_next_frame().unwrap() {
        assert_eq!(frame.delay, 2, "50 fps");
        let (left, top) = (usize::from(frame.left), usize::from(frame.top));
        let width = usize::from(frame.width);
        for (row, line) in frame.buffer.chunks(width).enumerate() {
            let start = (top + row) * w + left;
            canvas[start..start + width].copy_from_slice(line);
        }
        let rgb: Vec<u8> = canvas
            .iter()
            .flat_map(|&i| palette[3 * usize::from(i)..3 * usize::from(i) + 3].to_vec())
            .collect();
        assert!(rgb == frames[decoded].pixels, "frame {decoded} differs after decoding");
        decoded += 1;
    }
    assert_eq!(decoded, frames.len());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn every_built_in_game_is_accepted_and_an_unknown_one_lists_them() {
    for (id, game) in [
        ("CartPole-v0", Game::CartPoleV0),
        ("CartPole-v1", Game::CartPoleV1),
        ("Acrobot-v1", Game::AcrobotV1),
        ("MountainCar-v0", Game::MountainCarV0),
    ] {
        assert_eq!(parse(&["--game", id]).unwrap().game, game);
        assert_eq!(game.id(), id);
    }
    let err = parse(&["--game", "LunarLander-v3"]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidValue);
    let message = err.to_string();
    for id in ["CartPole-v0", "CartPole-v1", "Acrobot-v1", "MountainCar-v0"] {
        assert!(message.contains(id), "{message}");
    }
}

#[test]
fn a_job_on_each_new_game_records_its_own_gif() {
    for (game, obs, width, fps) in [("Acrobot-v1", 6, 500, 15), ("MountainCar-v0", 2, 600, 30)] {
        let dir = temp_dir(game);
        let args = parse(&[
            "--game",
            game,
            "--episodes=2",
            "--eval_rate=2",
            "--hidden_neurons=8",
            "--memory_batch_size=8",
            "--job-dir",
            dir.to_str().unwrap(),
        ])
        .unwrap();
        let mut config = args.dqn_config().unwrap();
        config.learning_starts = 50;
        let mut out = Vec::new();
        job::run(&args, &config, job::Outputs::ALL, &mut out).unwrap();
        let net = Mlp::load(dir.join("model.safetensors")).unwrap();
        assert_eq!((net.input_dim(), net.output_dim()), (obs, 3), "{game}");
        let gif = std::fs::read(dir.join("recording.gif")).unwrap();
        assert_eq!(u16::from_le_bytes([gif[6], gif[7]]), width, "{game}");
        assert_eq!(args.game.render_fps(), fps);
        check_learning_curve(&dir, game);
        let svg = std::fs::read_to_string(dir.join(job::CURVE_SVG)).unwrap();
        assert!(svg.contains(">\n-100\n<"), "{game}: negative returns on the axis");
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn a_config_file_is_the_base_that_flags_override() {
    let dir = temp_dir("config-file");
    std::fs::create_dir_all(&dir).unwrap();
    // A bare DqnConfig, partial: the rest is DqnConfig::default()'s.
    let file = dir.join("dqn.json");
    std::fs::write(&file, r#"{ "gamma": 0.97, "hidden": [32, 16], "n_step": 1 }"#).unwrap();
    let args = parse(&["--config", file.to_str().unwrap(), "--gamma=0.9", "--seed=4"]).unwrap();
    let expected =
        DqnConfig::default().with_hidden(vec![32, 16]).with_n_step(1).with_gamma(0.9).with_seed(4);
    assert_eq!(args.dqn_config().unwrap(), expected);
    // --config and --preset are exclusive; a file that is not a DqnConfig is refused, naming it.
    let err = parse(&["--config", file.to_str().unwrap(), "--preset", "tutorial"]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ArgumentConflict);
    for (text, what) in [("{ \"gama\": 0.9 }", "not a DqnConfig"), ("[1,", "not JSON")] {
        std::fs::write(&file, text).unwrap();
        let err = parse(&["--config", file.to_str().unwrap()]).unwrap().dqn_config().unwrap_err();
        assert!(err.contains(what) && err.contains("dqn.json"), "{err}");
    }
    let missing = dir.join("missing.json");
    let err = parse(&["--config", missing.to_str().unwrap()]).unwrap().dqn_config().unwrap_err();
    assert!(err.contains("cannot read"), "{err}");
    // A config the library refuses is named by the file it came from.
    std::fs::write(&file, r#"{ "gamma": 1.5 }"#).unwrap();
    let err = parse(&["--config", file.to_str().unwrap()]).unwrap().dqn_config();
    assert!(err.is_err());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_jobs_config_json_reruns_the_job() {
    let (a, b) = (temp_dir("rerun-a"), temp_dir("rerun-b"));
    let light = job::Outputs { gif: false, plot: false };
    let (first, _) = try_job(&a, light, &["--preset=tutorial", "--learning_rate=0.01"]).unwrap();
    // config.json holds the resolved DqnConfig as the serde feature writes it ...
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("config.json")).unwrap()).unwrap();
    let dqn: DqnConfig = serde_json::from_value(written["dqn"].clone()).unwrap();
    let args = parse(&[
        "--preset=tutorial",
        "--learning_rate=0.01",
        "--hidden_neurons=16",
        "--memory_batch_size=8",
        "--seed=3",
    ])
    .unwrap();
    let mut resolved = args.dqn_config().unwrap();
    resolved.learning_starts = 50;
    assert_eq!(dqn, resolved);
    assert_eq!(written["flags"]["preset"], "tutorial");
    assert_eq!(written["flags"]["job-dir"], a.display().to_string());
    // ... and --config reads it back: the same config, so the same run.
    let config = a.join("config.json");
    let rerun = parse(&[
        "--config",
        config.to_str().unwrap(),
        "--seed=3",
        "--job-dir",
        b.to_str().unwrap(),
        "--episodes=12",
        "--eval_rate=5",
    ])
    .unwrap();
    let second = job::run(&rerun, &rerun.dqn_config().unwrap(), light, &mut Vec::new()).unwrap();
    assert_eq!(first.final_eval, second.final_eval);
    let read = |d: &PathBuf, f: &str| std::fs::read(d.join(f)).unwrap();
    assert!(read(&a, "model.safetensors") == read(&b, "model.safetensors"));
    std::fs::remove_dir_all(&a).ok();
    std::fs::remove_dir_all(&b).ok();
}

#[test]
fn keep_best_writes_the_best_evaluations_weights_and_reports_it_last() {
    let dir = temp_dir("keep-best");
    let light = job::Outputs { gif: false, plot: false };
    let (result, out) =
        try_job(&dir, light, &["--keep_best", "--episodes=30", "--eval_rate=3"]).unwrap();
    let out = String::from_utf8(out).unwrap();
    let rewards: Vec<f32> = out
        .lines()
        .filter_map(|l| l.strip_prefix("episode_reward="))
        .map(|v| v.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(rewards.len(), 11, "{out}");
    let periodic = &rewards[..10];
    let best = periodic.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    // The best is the first evaluation that reached the maximum, and the last report is it.
    let episode = 3 * (periodic.iter().position(|&r| r == best).unwrap() + 1);
    assert_eq!(result.best, Some((episode, best)));
    assert_eq!(rewards[10], best);
    let last = out.lines().rfind(|l| l.starts_with("episode_reward=")).unwrap();
    assert!(
        last.contains(&format!("episode {episode}")) && last.contains("best.safetensors"),
        "{last}"
    );
    let kept = Mlp::load(dir.join(job::BEST_FILE)).unwrap();
    assert_eq!((kept.input_dim(), kept.output_dim()), (4, 2));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn overwrite_keeps_the_previous_run_until_the_new_one_has_succeeded() {
    let dir = temp_dir("overwrite-aside");
    let light = job::Outputs { gif: false, plot: false };
    try_job(&dir, light, &[]).unwrap();
    let snapshot = || -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| {
                let bytes = if e.file_type().unwrap().is_file() {
                    std::fs::read(e.path()).unwrap()
                } else {
                    Vec::new()
                };
                (e.file_name().to_string_lossy().into_owned(), bytes)
            })
            .collect();
        files.sort();
        files
    };
    let before = snapshot();
    // A replacing run that fails at its end (--keep_best with no evaluation) puts the previous
    // run's files back as they were.
    let err = try_job(&dir, light, &["--overwrite", "--keep_best", "--eval_rate=100"]).unwrap_err();
    assert!(err.to_string().contains("no evaluation ran"), "{err}");
    assert!(snapshot() == before, "the previous run is back, byte for byte");
    // A replacing run that succeeds leaves only its own files.
    try_job(&dir, light, &["--overwrite", "--learning_rate=0.002"]).unwrap();
    let after = snapshot();
    assert!(
        !after.iter().any(|(n, _)| n == job::REPLACED_DIR),
        "{:?}",
        after.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert!(after != before);
    // A .replaced/ left by a killed --overwrite run holds the last complete run: the next
    // --overwrite keeps it while it runs and removes the killed run's partial files.
    let aside = dir.join(job::REPLACED_DIR);
    std::fs::create_dir(&aside).unwrap();
    std::fs::write(aside.join("model.safetensors"), b"complete run").unwrap();
    std::fs::write(dir.join("metrics.csv"), b"partial").unwrap();
    let err = try_job(&dir, light, &["--overwrite", "--keep_best", "--eval_rate=100"]).unwrap_err();
    assert!(err.to_string().contains("no evaluation ran"), "{err}");
    assert_eq!(std::fs::read(dir.join("model.safetensors")).unwrap(), b"complete run");
    assert!(!aside.exists());
    std::fs::remove_dir_all(&dir).ok();
}
