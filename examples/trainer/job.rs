//! One training job: trains, evaluates and writes every output file into the job directory.
//!
//! Shared by `examples/trainer.rs` and `examples/hypertune.rs` (one job per trial).
#![allow(dead_code)]

use std::borrow::Cow;
use std::collections::HashMap;
use std::error::Error;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

use deepq::{
    DqnAgent, DqnConfig, Env, EpisodeStats, EvalConfig, EvalStats, Frame, Interval, LogStep,
    TensorBoardLogger, TrainConfig, Trainer,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::args::{GameEnv, TrainerArgs};
use crate::atomic_write::write_atomic;
use crate::plot::{Chart, Mark, Series};
use crate::progress::Progress;
use crate::vertex::JobDirs;

/// Errors of a job, sendable across the threads of a hyperparameter search.
pub type JobError = Box<dyn Error + Send + Sync>;

/// Greedy episodes of the final evaluation (reported as `final_episode_reward`).
pub const FINAL_EVAL_EPISODES: usize = 10;
/// Episodes in the trailing mean of the metrics and the learning curve.
const TRAILING_WINDOW: usize = 100;
/// Most frames in `recording.gif` (10 seconds at 50 fps).
const MAX_GIF_FRAMES: usize = 500;
/// The columns of `metrics.csv`, one row per episode.
pub const METRICS_HEADER: &str = "episode,return,length,epsilon,loss,trailing_mean,env_steps,eval,\
                                  ep_len_mean,mean_q,learning_rate,n_updates,eval_length";
/// ChaCha8 stream of the recorded episode's reset.
const RECORDING_STREAM: u64 = 2;
/// The learning curve, as a vector drawing and as an image.
pub const CURVE_SVG: &str = "learning_curve.svg";
/// See [`CURVE_SVG`].
pub const CURVE_PNG: &str = "learning_curve.png";

/// Which outputs a job writes besides the metrics, config, weights and event files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outputs {
    /// Write `recording.gif`.
    pub gif: bool,
    /// Write the learning curve, `learning_curve.svg` and `learning_curve.png`.
    pub plot: bool,
}

impl Outputs {
    /// Every output.
    pub const ALL: Outputs = Outputs { gif: true, plot: true };
}

/// What a job measured.
#[derive(Debug, Clone)]
pub struct JobResult {
    /// The return of the last periodic greedy evaluation episode (`episode_reward`).
    pub episode_reward: Option<f32>,
    /// With `--keep_best`: the episode and return of the best evaluation, whose weights are
    /// in `best.safetensors`.
    pub best: Option<(usize, f32)>,
    /// The final greedy evaluation over [`FINAL_EVAL_EPISODES`] episodes.
    pub final_eval: EvalStats,
    /// Mean return of the last 100 training episodes.
    pub trailing_mean: f32,
    /// Environment steps of training.
    pub env_steps: usize,
    /// Training and evaluation time, seconds (writing the GIF excluded).
    pub wall_seconds: f64,
    /// The files of the job directory with their sizes in bytes, by name.
    pub files: Vec<(String, u64)>,
}

/// The name of the checkpoint written after `episode` episodes.
pub fn checkpoint_name(episode: usize) -> String {
    format!("checkpoint-{episode:08}.ckpt")
}

/// The episode of a checkpoint's file name, if it is one.
fn checkpoint_episode(name: &str) -> Option<usize> {
    name.strip_prefix("checkpoint-")?.strip_suffix(".ckpt")?.parse().ok()
}

/// The checkpoints in `dir`, newest (most episodes) first.
pub fn list_checkpoints(dir: &Path) -> Result<Vec<(usize, std::path::PathBuf)>, JobError> {
    let mut found = Vec::new();
    if dir.is_dir() {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if let Some(episode) = checkpoint_episode(&entry.file_name().to_string_lossy()) {
                found.push((episode, entry.path()));
            }
        }
    }
    found.sort_by_key(|c| std::cmp::Reverse(c.0));
    Ok(found)
}

/// Checkpoints kept in the checkpoint directory (the newest and the one before, so that a
/// damaged newest one still leaves a run to resume).
const CHECKPOINTS_KEPT: usize = 2;

/// What the job adds to the trainer's checkpoint: where its other files stood.
#[derive(Debug, Clone, PartialEq)]
struct JobMark {
    /// Bytes of `metrics.csv`.
    metrics_len: u64,
    /// The event file's name and bytes.
    events_file: String,
    events_len: u64,
    /// The hypertune reports so far.
    hypertune: Vec<String>,
    /// The best evaluation so far: its episode and return.
    best: Option<(usize, f32)>,
}

fn write_checkpoint(
    path: &Path,
    trainer: &Trainer,
    config: &DqnConfig,
    mark: &JobMark,
) -> Result<(), JobError> {
    let mut dict = trainer.state_dict()?;
    dict.set("job.dqn_config", serde_json::to_string(config)?);
    dict.set("job.metrics_len", mark.metrics_len);
    dict.set("job.events_file", &mark.events_file);
    dict.set("job.events_len", mark.events_len);
    dict.set("job.hypertune", serde_json::to_string(&mark.hypertune)?);
    if let Some((episode, reward)) = mark.best {
        dict.set("job.best_episode", episode);
        dict.set("job.best_reward", reward);
    }
    Ok(write_atomic(path, &dict.to_bytes()?)?)
}

fn read_checkpoint(path: &Path) -> Result<(Trainer, DqnConfig, JobMark), JobError> {
    let bytes = fs::read(path)?;
    let dict = deepq::StateDict::from_bytes(&bytes)?;
    let trainer = Trainer::from_state_dict(&dict)?;
    let config: DqnConfig = serde_json::from_str(dict.get("job.dqn_config")?)?;
    let best = match dict.parse_option::<usize>("job.best_episode")? {
        Some(episode) => Some((episode, dict.parse("job.best_reward")?)),
        None => None,
    };
    let mark = JobMark {
        metrics_len: dict.parse("job.metrics_len")?,
        events_file: dict.get("job.events_file")?.to_string(),
        events_len: dict.parse("job.events_len")?,
        hypertune: serde_json::from_str(dict.get("job.hypertune")?)?,
        best,
    };
    Ok((trainer, config, mark))
}

/// A run restored from a checkpoint, its files cut back to where the checkpoint stood.
struct Restored {
    trainer: Trainer,
    mark: JobMark,
    /// `(return, trailing mean)` of every episode, from `metrics.csv`.
    curve: Vec<(f32, f32)>,
    /// `(episode, return)` of every evaluation, from `metrics.csv`.
    evals: Vec<(usize, f32)>,
    logger: TensorBoardLogger,
}

/// The newest checkpoint that loads, belongs to this config and whose files are intact, with
/// those files cut back to it; `None` when there is none (each one passed over is reported on
/// `out`).
fn restore(
    dirs: &JobDirs,
    config: &DqnConfig,
    out: &mut dyn Write,
) -> Result<Option<Restored>, JobError> {
    for (episode, path) in list_checkpoints(&dirs.checkpoints)? {
        let attempt = || -> Result<Restored, JobError> {
            let (trainer, saved, mark) = read_checkpoint(&path)?;
            if &saved != config {
                return Err(Box::new(UsageError(format!(
                    "{} was written by a run with another configuration; pass --overwrite to \
                     start over, or the flags of that run",
                    path.display()
                ))));
            }
            let metrics = dirs.job.join("metrics.csv");
            let text = fs::read(&metrics)?;
            let kept = usize::try_from(mark.metrics_len)?;
            if text.len() < kept {
                return Err(format!("metrics.csv is shorter than at episode {episode}").into());
            }
            let (curve, evals) = parse_metrics(std::str::from_utf8(&text[..kept])?)?;
            if curve.len() != episode {
                return Err(
                    format!("metrics.csv has {} episodes, not {episode}", curve.len()).into()
                );
            }
            let events = dirs.tensorboard.join(&mark.events_file);
            let writer = deepq::SummaryWriter::resume(&events, mark.events_len)?;
            let file = fs::OpenOptions::new().write(true).open(&metrics)?;
            file.set_len(mark.metrics_len)?;
            file.sync_all()?;
            let logger = TensorBoardLogger::new(writer).with_step(LogStep::Episode);
            Ok(Restored { trainer, mark, curve, evals, logger })
        };
        match attempt() {
            Ok(restored) => {
                writeln!(out, "resuming from {} (episode {episode})", path.display())?;
                return Ok(Some(restored));
            }
            Err(e) if e.downcast_ref::<UsageError>().is_some() => return Err(e),
            Err(e) => writeln!(
                out,
                "checkpoint {} cannot be resumed ({e}); trying the one before",
                path.display()
            )?,
        }
    }
    writeln!(
        out,
        "no checkpoint to resume in {}: starting from scratch",
        dirs.checkpoints.display()
    )?;
    Ok(None)
}

/// The `(return, trailing mean)` of each row of `metrics.csv` and the `(episode, return)` of
/// its evaluations.
#[allow(clippy::type_complexity)]
fn parse_metrics(text: &str) -> Result<(Vec<(f32, f32)>, Vec<(usize, f32)>), JobError> {
    let mut lines = text.lines();
    if lines.next() != Some(METRICS_HEADER) {
        return Err("metrics.csv does not start with its header".into());
    }
    let (mut curve, mut evals) = (Vec::new(), Vec::new());
    for (i, line) in lines.enumerate() {
        let cols: Vec<&str> = line.split(',').collect();
        if cols.len() != METRICS_HEADER.split(',').count() || cols[0] != (i + 1).to_string() {
            return Err(format!("metrics.csv row {} is malformed", i + 1).into());
        }
        curve.push((cols[1].parse()?, cols[5].parse()?));
        if !cols[7].is_empty() {
            evals.push((i + 1, cols[7].parse()?));
        }
    }
    Ok((curve, evals))
}

/// Runs the job that `args` describe with the resolved `config`, writing its files into
/// `args.job_dirs()` and its progress and `episode_reward=` lines to `out`.
///
/// Training runs in chunks of `args.checkpoint_interval()` episodes with a checkpoint after
/// each (the whole run, and where `metrics.csv`, the event file and the hypertune reports
/// stood), so that `--resume` after a kill at any moment continues exactly where the newest
/// checkpoint left off: the weights end byte-identical to an uninterrupted run's, and every
/// episode is in `metrics.csv` and the event file once.
///
/// # Errors
/// Errors of the library (a bad config, an environment error) and of file I/O.
pub fn run(
    args: &TrainerArgs,
    config: &DqnConfig,
    outputs: Outputs,
    out: &mut dyn Write,
) -> Result<JobResult, JobError> {
    let mut replaced = None;
    let result = run_in(args, config, outputs, out, &mut replaced);
    match (replaced, &result) {
        (Some(r), Ok(_)) => r.commit()?,
        (Some(r), Err(e)) => {
            if let Err(restoring) = r.restore() {
                return Err(format!(
                    "{e}; restoring the previous run's files failed too: {restoring}"
                )
                .into());
            }
        }
        (None, _) => {}
    }
    result
}

fn run_in(
    args: &TrainerArgs,
    config: &DqnConfig,
    outputs: Outputs,
    out: &mut dyn Write,
    replaced: &mut Option<Replaced>,
) -> Result<JobResult, JobError> {
    let dirs = args.job_dirs();
    let dir = &dirs.job;
    let mut env = args.game.make();
    let mut eval_env = args.game.make();
    // The run's RNGs come from `config.seed`: stream 0 trains, stream 1 draws the evaluation
    // episodes' resets (so evaluating more or less often never changes training).
    let train_config = TrainConfig::default()
        .with_episodes(args.episodes)
        .with_solve_window(TRAILING_WINDOW)
        .with_eval(
            EvalConfig::default()
                .with_episodes(1)
                .with_every(Interval::Episodes(args.eval_rate))
                .with_keep_best(args.keep_best),
        );
    // Everything that can refuse the config (validation, allocation) runs before the job
    // directory is touched.
    let fresh = Trainer::new(
        config.clone(),
        train_config.clone(),
        env.observation_dim(),
        env.num_actions(),
    )?;
    for d in dirs.distinct() {
        fs::create_dir_all(d)?;
    }
    let _lock = JobLock::acquire(dir, args.resume, out)?;
    let restored = if args.resume { restore(&dirs, config, out)? } else { None };
    let mut hypertune = args.hypertune.clone();
    let (mut trainer, mut logger, mut curve, mut evals, mut best, mut csv);
    match restored {
        Some(r) => {
            trainer = r.trainer;
            trainer.set_config(train_config.clone())?;
            logger = r.logger;
            (curve, evals, best) = (r.curve, r.evals, r.mark.best);
            if let Some(h) = hypertune.as_mut() {
                h.restore(r.mark.hypertune);
                h.write()?;
            }
            csv =
                BufWriter::new(fs::OpenOptions::new().append(true).open(dir.join("metrics.csv"))?);
        }
        None => {
            // `--resume` with nothing to resume replaces an unfinished run's files (a trial
            // killed before its first checkpoint) but never a finished one's.
            let unfinished = args.resume && !dir.join("model.safetensors").exists();
            *replaced = clear_previous_run(&dirs, args.overwrite || unfinished)?;
            trainer = fresh;
            // Stable-Baselines3's tags, step = episode (the tutorial's axis), plus
            // `episode_reward`.
            logger = TensorBoardLogger::new(deepq::SummaryWriter::create(&dirs.tensorboard)?)
                .with_step(LogStep::Episode);
            csv = BufWriter::new(File::create(dir.join("metrics.csv"))?);
            writeln!(csv, "{METRICS_HEADER}")?;
            csv.flush()?;
            (curve, evals, best) =
                (Vec::with_capacity(args.episodes.min(1 << 20)), Vec::new(), None);
            if let Some(h) = hypertune.as_mut() {
                h.restore(Vec::new());
            }
        }
    }
    let mut episode_reward = evals.last().map(|e| e.1);
    let every = args.checkpoint_interval();
    let start = Instant::now();
    let mut done = trainer.report().episodes();
    // A bar on a terminal (the trainer's `main` decides), else the progress lines.
    let progress = match args.print_rate {
        0 => Progress::lines(),
        _ => Progress::new(args.episodes as u64, "episodes", args.progress_bar),
    };
    progress.set_position(done as u64);
    while done < args.episodes {
        let next = done.checked_div(every).map_or(args.episodes, |k| (k + 1) * every);
        let next = next.min(args.episodes);
        trainer.set_config(train_config.clone().with_episodes(next))?;
        let mut pending = Vec::new();
        let mut failure: Option<JobError> = None;
        let mut observer = |s: &EpisodeStats| -> ControlFlow<()> {
            let mut step = || -> Result<(), JobError> {
                logger.log(s)?;
                let eval = s.evaluation.as_ref().map(|e| (e.stats.mean, e.stats.mean_length));
                if let Some((reward, _)) = eval {
                    progress.print(out, &format!("episode_reward={reward}"))?;
                    logger.writer().add_scalar("episode_reward", reward, s.episode as i64)?;
                    logger.writer().flush()?;
                    evals.push((s.episode, reward));
                    episode_reward = Some(reward);
                    pending.push((s.episode, reward));
                    if best.is_none_or(|(_, b)| reward > b) {
                        best = Some((s.episode, reward));
                    }
                }
                let opt = |v: Option<f32>| v.map_or(String::new(), |v| v.to_string());
                writeln!(
                    csv,
                    "{},{},{},{},{},{},{},{},{},{},{},{},{}",
                    s.episode,
                    s.episode_return,
                    s.length,
                    s.epsilon,
                    opt(s.loss),
                    s.trailing_mean,
                    s.env_steps,
                    opt(eval.map(|e| e.0)),
                    s.trailing_mean_length,
                    opt(s.mean_q),
                    opt(s.learning_rate),
                    s.gradient_steps,
                    opt(eval.map(|e| e.1)),
                )?;
                // A killed run leaves every finished episode's row readable.
                csv.flush()?;
                curve.push((s.episode_return, s.trailing_mean));
                progress.set_position(s.episode as u64);
                if args.print_rate > 0 && s.episode.is_multiple_of(args.print_rate) {
                    let loss = s.loss.map_or("-".to_string(), |l| format!("{l:.4}"));
                    let line = format!(
                        "episode {:4}/{}  return {:5.0}  mean(100) {:6.1}  epsilon {:.3}  loss \
                         {loss}  steps {}  {:.1} s",
                        s.episode,
                        args.episodes,
                        s.episode_return,
                        s.trailing_mean,
                        s.epsilon,
                        s.env_steps,
                        start.elapsed().as_secs_f64()
                    );
                    progress.line(out, &line)?;
                }
                Ok(())
            };
            match step() {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    failure.get_or_insert(e);
                    ControlFlow::Break(())
                }
            }
        };
        let report = trainer.train(&mut env, Some(&mut eval_env), &mut observer)?;
        if let Some(e) = failure {
            return Err(e);
        }
        debug_assert_eq!(report.episodes(), next);
        done = next;
        csv.flush()?;
        logger.writer().flush()?;
        // The reports of this chunk name the checkpoint written at their episode, if any; they
        // go into that checkpoint before the metrics file is rewritten, so a resumed run has
        // each report once.
        let checkpoint = (every > 0).then(|| dirs.checkpoints.join(checkpoint_name(next)));
        if let Some(h) = hypertune.as_mut() {
            for &(episode, reward) in &pending {
                let path = match &checkpoint {
                    Some(p) if episode == next => p.display().to_string(),
                    _ => String::new(),
                };
                h.push(reward, episode, &path);
            }
        }
        if let Some(path) = &checkpoint {
            let mark = JobMark {
                metrics_len: csv.get_ref().metadata()?.len(),
                events_file: file_name(logger.writer().path()),
                events_len: logger.writer().len(),
                hypertune: hypertune.as_ref().map_or_else(Vec::new, |h| h.entries()),
                best,
            };
            write_checkpoint(path, &trainer, config, &mark)?;
            for (_, old) in list_checkpoints(&dirs.checkpoints)?.iter().skip(CHECKPOINTS_KEPT) {
                fs::remove_file(old)?;
            }
        }
        if let Some(h) = &hypertune {
            h.write()?;
        }
    }
    progress.finish();
    csv.flush()?;

    let final_eval = trainer.evaluate(&mut eval_env, FINAL_EVAL_EPISODES)?;
    writeln!(out, "final_episode_reward={}", final_eval.mean)?;
    let events = logger.writer();
    events.add_scalar("eval/final_mean_reward", final_eval.mean, args.episodes as i64)?;
    logger.finish()?;
    let wall_seconds = start.elapsed().as_secs_f64();

    trainer.agent().network().save(dir.join("model.safetensors"))?;
    let mut best_report = None;
    if args.keep_best {
        let (policy, (episode, reward)) = match (trainer.best_policy(), best) {
            (Some(p), Some(b)) => (p, b),
            _ => {
                return Err(
                    "--keep_best: no evaluation ran (is --eval_rate above --episodes?)".into()
                );
            }
        };
        let path = dir.join(BEST_FILE);
        policy.save(&path)?;
        // The final report is the weights kept: the best evaluation's return, naming its file.
        writeln!(
            out,
            "episode_reward={reward} (the best greedy evaluation, episode {episode}, kept in {})",
            path.display()
        )?;
        if let Some(h) = hypertune.as_mut() {
            h.push(reward, args.episodes, &path.display().to_string());
            h.write()?;
        }
        best_report = Some((episode, reward));
    }
    write_config(&dir.join("config.json"), args, config)?;
    let agent = trainer.agent_mut();
    if outputs.plot {
        let chart = learning_curve(args, &env, &curve, &evals);
        write_atomic(&dir.join(CURVE_SVG), chart.to_svg()?.as_bytes())?;
        write_atomic(&dir.join(CURVE_PNG), &chart.to_png()?)?;
    }
    if outputs.gif {
        let frames = record_greedy_episode(agent, args, config.seed)?;
        let delay_cs = (100 + args.game.render_fps() / 2) / args.game.render_fps();
        write_gif(&dir.join("recording.gif"), &frames, delay_cs)?;
    }
    drop(logger);

    let mut files = Vec::new();
    for d in dirs.distinct() {
        for entry in fs::read_dir(d)? {
            let entry = entry?;
            if entry.file_type()?.is_file() && entry.file_name() != LOCK_FILE {
                let name = entry.path().strip_prefix(dir).map_or_else(
                    |_| entry.path().display().to_string(),
                    |p| p.display().to_string(),
                );
                files.push((name, entry.metadata()?.len()));
            }
        }
    }
    files.sort();
    Ok(JobResult {
        episode_reward,
        best: best_report,
        final_eval,
        trailing_mean: curve.last().map_or(0.0, |c| c.1),
        env_steps: agent.env_steps(),
        wall_seconds,
        files,
    })
}

/// The weights of the best evaluation, with `--keep_best`.
pub const BEST_FILE: &str = "best.safetensors";

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// A usage error of a job (exit status 2 in the trainer): the job directory holds a previous
/// run, or another run is using it.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for UsageError {}

/// The name of the lock file that marks a job directory in use.
pub const LOCK_FILE: &str = ".trainer.lock";

/// The lock of a job directory: created with `create_new` (so two runs cannot both hold it)
/// and removed when the job ends, however it ends but a kill. It holds `<pid>@<hostname>`, so
/// that the lock a killed run left is recognised: one of a process that no longer runs on
/// this host (checked in `/proc`; with `--resume` after waiting up to 5 s for it to finish
/// exiting), or of this very process id (a container restarted as PID 1 again), is stale and
/// taken over; with `--resume` (a cluster restarting its trial on another node), so is one of
/// another host.
struct JobLock(std::path::PathBuf);

impl JobLock {
    fn acquire(dir: &Path, resume: bool, out: &mut dyn Write) -> Result<JobLock, JobError> {
        let path = dir.join(LOCK_FILE);
        let me = format!("{}@{}", std::process::id(), host_name());
        for _ in 0..2 {
            match fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    writeln!(file, "{me}")?;
                    file.sync_all()?;
                    return Ok(JobLock(path));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = fs::read_to_string(&path).unwrap_or_default();
                    let holder = holder.trim();
                    let stale = match holder.split_once('@') {
                        Some((pid, host)) if host == host_name() => {
                            pid == std::process::id().to_string()
                                || (Path::new("/proc/self").exists()
                                    && !process_runs_after(pid, resume))
                        }
                        Some(_) => resume,
                        None => false,
                    };
                    if !stale {
                        return Err(Box::new(UsageError(format!(
                            "another run ({holder}) is using {} (its lock {} exists; remove it \
                             if no run is)",
                            dir.display(),
                            path.display()
                        ))));
                    }
                    writeln!(
                        out,
                        "taking over the lock a stopped run ({holder}) left in {}",
                        dir.display()
                    )?;
                    fs::remove_file(&path)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Box::new(UsageError(format!("cannot take the lock {}", path.display()))))
    }
}

/// Whether `/proc` shows process `pid` running (a zombie, killed but not yet reaped, does not
/// count).
fn process_runs(pid: &str) -> bool {
    match fs::read_to_string(Path::new("/proc").join(pid).join("stat")) {
        // `pid (comm) state ...`: the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// Whether process `pid` runs; with `resume`, after giving it up to 5 s to finish exiting (a
/// trial restarted the moment its predecessor was killed can find it still tearing down).
fn process_runs_after(pid: &str, resume: bool) -> bool {
    let deadline = Instant::now() + std::time::Duration::from_secs(if resume { 5 } else { 0 });
    loop {
        if !process_runs(pid) {
            return false;
        }
        if Instant::now() >= deadline {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// This machine's name, as the kernel has it (empty if unknown).
fn host_name() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

impl Drop for JobLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Whether `name` is one of the files a job writes.
fn is_job_output(name: &str) -> bool {
    name.starts_with("events.out.tfevents.")
        || checkpoint_episode(name).is_some()
        || [
            "metrics.csv",
            "model.safetensors",
            BEST_FILE,
            "config.json",
            "recording.gif",
            CURVE_SVG,
            CURVE_PNG,
        ]
        .contains(&name)
}

/// Where `--overwrite` keeps the previous run's files (in each job directory) until the new
/// run has written all of its own.
pub const REPLACED_DIR: &str = ".replaced";

/// The previous run's files, moved aside by `--overwrite`: deleted when the new run succeeds,
/// moved back when it fails.
pub struct Replaced(Vec<std::path::PathBuf>);

impl Replaced {
    /// The new run succeeded: the previous run's files go.
    fn commit(self) -> Result<(), JobError> {
        for aside in self.0 {
            if aside.exists() {
                fs::remove_dir_all(&aside)?;
            }
        }
        Ok(())
    }

    /// The new run failed: its files go and the previous run's come back.
    fn restore(self) -> Result<(), JobError> {
        for aside in self.0 {
            let Some(dir) = aside.parent() else { continue };
            for entry in fs::read_dir(dir)? {
                let entry = entry?;
                if entry.file_type()?.is_file()
                    && is_job_output(&entry.file_name().to_string_lossy())
                {
                    fs::remove_file(entry.path())?;
                }
            }
            for entry in fs::read_dir(&aside)? {
                let entry = entry?;
                fs::rename(entry.path(), dir.join(entry.file_name()))?;
            }
            fs::remove_dir(&aside)?;
        }
        Ok(())
    }
}

/// Job directories that hold a previous run's files are refused unless `overwrite`. With it,
/// the files are moved into `.replaced/` beside them (and back if the new run fails, so that a
/// failed run never costs the previous one), so that a directory never mixes two runs. A
/// `.replaced/` that a killed `--overwrite` run left holds the last complete run: it is kept,
/// and the killed run's partial files are removed instead.
fn clear_previous_run(dirs: &JobDirs, overwrite: bool) -> Result<Option<Replaced>, JobError> {
    let mut previous = Vec::new();
    let dir = &dirs.job;
    for d in dirs.distinct() {
        for entry in fs::read_dir(d)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type()?.is_file() && is_job_output(&name) {
                previous.push((name, entry.path()));
            }
        }
    }
    if previous.is_empty() {
        return Ok(None);
    }
    if !overwrite {
        let names: Vec<&str> = previous.iter().map(|(n, _)| n.as_str()).collect();
        return Err(Box::new(UsageError(format!(
            "{} holds a previous run ({}): pass --overwrite to replace it, or choose another \
             --job-dir",
            dir.display(),
            names.join(", ")
        ))));
    }
    // Per directory: its aside directory, and whether a killed --overwrite run left it.
    let mut asides: Vec<(std::path::PathBuf, bool)> = Vec::new();
    for (name, path) in previous {
        let aside = path.parent().unwrap_or(dir).join(REPLACED_DIR);
        let stale = match asides.iter().find(|(a, _)| a == &aside) {
            Some(&(_, stale)) => stale,
            None => {
                let stale = aside.exists();
                fs::create_dir_all(&aside)?;
                asides.push((aside.clone(), stale));
                stale
            }
        };
        if stale {
            fs::remove_file(&path)?;
        } else {
            fs::rename(&path, aside.join(&name))?;
        }
    }
    let asides = asides.into_iter().map(|(a, _)| a).collect();
    Ok(Some(Replaced(asides)))
}

/// Plays one greedy episode on a fresh environment and renders every state, the reset state
/// first, up to [`MAX_GIF_FRAMES`] frames.
fn record_greedy_episode(
    agent: &mut DqnAgent,
    args: &TrainerArgs,
    seed: u64,
) -> Result<Vec<Frame>, JobError> {
    use deepq::Agent;
    let mut env = args.game.make();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(RECORDING_STREAM);
    let mut observation = env.reset(&mut rng);
    let mut frames = vec![env.render()];
    while frames.len() < MAX_GIF_FRAMES {
        let step = env.step(agent.greedy_action(observation.view())?)?;
        frames.push(env.render());
        if step.terminated || step.truncated {
            break;
        }
        observation = step.observation;
    }
    Ok(frames)
}

/// Writes `frames` as a looping GIF, `delay_cs` centiseconds per frame (2 for CartPole's 50 fps). The palette is the frames' own colours (a
/// CartPole frame has four); after the first frame only the rectangle that changed is stored.
///
/// # Errors
/// More than 256 colours, frames larger than 65535 pixels, or an I/O error.
pub fn write_gif(path: &Path, frames: &[Frame], delay_cs: u16) -> Result<(), JobError> {
    let first = frames.first().ok_or("no frames to write")?;
    let (w, h) = (first.width, first.height);
    let mut index_of: HashMap<[u8; 3], u8> = HashMap::new();
    let mut palette = Vec::new();
    let mut indexed = Vec::with_capacity(frames.len());
    for frame in frames {
        if (frame.width, frame.height) != (w, h) {
            return Err("frames differ in size".into());
        }
        let mut pixels = Vec::with_capacity(w * h);
        for p in frame.pixels.chunks_exact(3) {
            let rgb = [p[0], p[1], p[2]];
            let i = match index_of.get(&rgb) {
                Some(&i) => i,
                None => {
                    let i = u8::try_from(index_of.len()).map_err(|_| "more than 256 colours")?;
                    index_of.insert(rgb, i);
                    palette.extend_from_slice(&rgb);
                    i
                }
            };
            pixels.push(i);
        }
        indexed.push(pixels);
    }
    // A GIF colour table has a power-of-two size, at least 2.
    let size = (palette.len() / 3).next_power_of_two().max(2);
    palette.resize(3 * size, 0);

    let (w16, h16) = (u16::try_from(w)?, u16::try_from(h)?);
    let tmp = path.with_extension("gif.tmp");
    let file = BufWriter::new(File::create(&tmp)?);
    let mut encoder = gif::Encoder::new(file, w16, h16, &palette)?;
    encoder.set_repeat(gif::Repeat::Infinite)?;
    let mut previous: Option<&Vec<u8>> = None;
    for pixels in &indexed {
        // Bounding box of the pixels that changed (the whole frame first).
        let (mut x0, mut y0, mut x1, mut y1) = (0, 0, w, h);
        if let Some(prev) = previous {
            (x0, y0, x1, y1) = (w, h, 0, 0);
            for y in 0..h {
                let (a, b) = (&prev[y * w..(y + 1) * w], &pixels[y * w..(y + 1) * w]);
                if let Some(first) = a.iter().zip(b).position(|(p, q)| p != q) {
                    let last = w - a.iter().zip(b).rev().position(|(p, q)| p != q).unwrap_or(0);
                    (x0, x1, y0, y1) = (x0.min(first), x1.max(last), y0.min(y), y + 1);
                }
            }
            if x0 >= x1 {
                (x0, y0, x1, y1) = (0, 0, 1, 1); // nothing changed: one unchanged pixel
            }
        }
        let mut buffer = Vec::with_capacity((x1 - x0) * (y1 - y0));
        for y in y0..y1 {
            buffer.extend_from_slice(&pixels[y * w + x0..y * w + x1]);
        }
        encoder.write_frame(&gif::Frame {
            left: x0 as u16,
            top: y0 as u16,
            width: (x1 - x0) as u16,
            height: (y1 - y0) as u16,
            delay: delay_cs,
            dispose: gif::DisposalMethod::Keep,
            buffer: Cow::Owned(buffer),
            ..gif::Frame::default()
        })?;
        previous = Some(pixels);
    }
    let mut file = encoder.into_inner()?;
    file.flush()?;
    file.get_ref().sync_all()?;
    drop(file);
    fs::rename(&tmp, path)?;
    Ok(())
}

/// An `f32` as the shortest decimal that reads back to it (`0.001`, not `0.0010000000474974513`).
pub fn decimal(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(f64::NAN)
}

/// Writes the flags and the resolved `DqnConfig` as JSON (`--config` reads the file back).
fn write_config(path: &Path, args: &TrainerArgs, c: &DqnConfig) -> Result<(), JobError> {
    let value = json!({
        "flags": args,
        "dqn": c,
        "final_eval_episodes": FINAL_EVAL_EPISODES,
        "trailing_window": TRAILING_WINDOW,
    });
    write_atomic(path, (serde_json::to_string_pretty(&value)? + "\n").as_bytes())?;
    Ok(())
}

/// The learning curve: every episode's return, the trailing mean, the evaluation returns and
/// the solve threshold, over the episodes.
fn learning_curve(
    args: &TrainerArgs,
    env: &GameEnv,
    curve: &[(f32, f32)],
    evals: &[(usize, f32)],
) -> Chart {
    // Returns range over [0, time limit] for tasks that pay per step (CartPole) and over
    // [-time limit, 0] for tasks that cost per step (Acrobot, MountainCar), with 5% to spare so
    // that the best (or worst) returns are not drawn on the frame.
    let limit = env.max_episode_steps() as f64;
    let values = curve.iter().map(|c| f64::from(c.0)).chain(evals.iter().map(|e| f64::from(e.1)));
    let y_range = if env.reward_threshold() < 0.0 {
        1.05 * values.fold(-limit, f64::min)..0.0
    } else {
        0.0..1.05 * values.fold(limit.max(1.0), f64::max)
    };
    let n = curve.len().max(2) as f64;
    let episodes = |v: &mut dyn Iterator<Item = f32>| -> Vec<(f64, f64)> {
        v.enumerate().map(|(i, r)| (i as f64 + 1.0, f64::from(r))).collect()
    };
    let threshold = f64::from(env.reward_threshold());
    let setup = match &args.config {
        Some(path) => format!("config {}", file_name(path)),
        None => format!("preset {}", args.preset.name()),
    };
    Chart {
        title: format!("DQN on {}: {setup}, seed {}", args.game.id(), args.seed),
        x_label: "episode".into(),
        y_label: "return".into(),
        // From episode 0 (before training), 2% to spare after the last.
        x_range: 0.0..1.02 * n,
        y_range,
        series: vec![
            Series {
                label: "episode return".into(),
                color: (156, 195, 230),
                mark: Mark::Line { width: 1 },
                points: episodes(&mut curve.iter().map(|c| c.0)),
            },
            Series {
                label: format!("mean of the last {TRAILING_WINDOW} episodes"),
                color: (31, 78, 153),
                mark: Mark::Line { width: 3 },
                points: episodes(&mut curve.iter().map(|c| c.1)),
            },
            Series {
                label: "greedy evaluation (episode_reward)".into(),
                color: (230, 126, 34),
                mark: Mark::Dots { radius: 4 },
                points: evals.iter().map(|&(e, r)| (e as f64, f64::from(r))).collect(),
            },
            Series {
                label: format!("solved threshold ({threshold})"),
                color: (34, 160, 34),
                mark: Mark::Dashed { width: 2 },
                points: vec![(0.0, threshold), (1.02 * n, threshold)],
            },
        ],
    }
}

/// The job directory's files and sizes, one per line.
pub fn describe_files(dir: &Path, files: &[(String, u64)]) -> String {
    let mut s = format!("files in {}:\n", dir.display());
    for (name, size) in files {
        let _ = writeln!(s, "  {size:>10}  {name}");
    }
    s
}
