//! Vertex AI: the cloudml-hypertune metrics file, and the `AIP_*` output directories.
//!
//! Vertex AI reads a custom container's tuning metric from the file that Google's Python
//! package `cloudml-hypertune` (0.1.0.dev6) writes; this is that file, written the way
//! `HyperTune.report_hyperparameter_tuning_metric` writes it:
//! - the path is `$CLOUD_ML_HP_METRIC_FILE`, else `/tmp/hypertune/output.metrics` (its parent
//!   created);
//! - one JSON object per line, keys sorted, Python's `json.dumps` spacing (`", "`, `": "`) and
//!   ASCII escapes: `checkpoint_path` (a string, `""` when none), the metric tag
//!   (`episode_reward`, its value as a string: Python's `str(float(v))` of the `f32`'s shortest
//!   decimal, so `"200.0"`, `"194.5"`), `global_step` (a string: the episode), `timestamp` (a
//!   number, Unix seconds) and `trial` (a string: `$CLOUD_ML_TRIAL_ID`, else `"0"`);
//! - the last 100 reports are kept and the file is rewritten whole on each report (atomically
//!   here: a temporary file and a rename, so a reader never sees half a file).
//!
//! Katib's `File` metrics collector with `format: JSON` reads the same lines: it takes metric
//! values only as strings (numbers are skipped) and the `timestamp` key as a Unix time.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The metrics file when `CLOUD_ML_HP_METRIC_FILE` is not set.
pub const DEFAULT_METRIC_FILE: &str = "/tmp/hypertune/output.metrics";
/// Reports kept in the file (the Python package's `_MAX_NUM_METRIC_ENTRIES_TO_PRESERVE`).
pub const MAX_ENTRIES: usize = 100;
/// The metric tag of the tutorial's tuning job.
pub const METRIC_TAG: &str = "episode_reward";

/// The cloudml-hypertune metrics file of one trial.
#[derive(Debug, Clone, PartialEq)]
pub struct HypertuneFile {
    path: PathBuf,
    trial: String,
    entries: VecDeque<String>,
}

impl HypertuneFile {
    /// The file `env` names (`CLOUD_ML_HP_METRIC_FILE`, `CLOUD_ML_TRIAL_ID`), with no reports.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Self {
        let path = env("CLOUD_ML_HP_METRIC_FILE").unwrap_or_else(|| DEFAULT_METRIC_FILE.into());
        let trial = env("CLOUD_ML_TRIAL_ID").unwrap_or_else(|| "0".into());
        Self::new(PathBuf::from(path), trial)
    }

    /// A file at `path` for trial `trial`, with no reports.
    pub fn new(path: PathBuf, trial: String) -> Self {
        Self { path, trial, entries: VecDeque::new() }
    }

    /// Where the file is written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lines reported so far (the last [`MAX_ENTRIES`]), for a checkpoint.
    pub fn entries(&self) -> Vec<String> {
        self.entries.iter().cloned().collect()
    }

    /// Replaces the reports by those of a checkpoint (the file is rewritten on the next
    /// [`write`](HypertuneFile::write)).
    pub fn restore(&mut self, entries: Vec<String>) {
        self.entries = entries.into_iter().collect();
        while self.entries.len() > MAX_ENTRIES {
            self.entries.pop_front();
        }
    }

    /// Adds a report of `value` at `global_step` (0 when `None`) without writing the file.
    pub fn push(&mut self, value: f32, global_step: usize, checkpoint_path: &str) {
        let timestamp =
            SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        let line = report_line(timestamp, &self.trial, value, global_step, checkpoint_path);
        self.entries.push_back(line);
        if self.entries.len() > MAX_ENTRIES {
            self.entries.pop_front();
        }
    }

    /// Rewrites the whole file with the reports kept, creating its parent directory.
    ///
    /// # Errors
    /// An I/O error of the directory, the temporary file or the rename.
    pub fn write(&self) -> std::io::Result<()> {
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent)?;
        }
        let mut text = String::new();
        for line in &self.entries {
            text.push_str(line);
            text.push('\n');
        }
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".tmp");
        let tmp = self.path.with_file_name(name);
        let mut file = fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, &self.path)
    }
}

/// One report as `json.dumps(body, sort_keys=True)` writes it.
pub fn report_line(
    timestamp: f64,
    trial: &str,
    value: f32,
    global_step: usize,
    checkpoint_path: &str,
) -> String {
    // The value as the Python package converts it: str(float(v)), v the f32's shortest decimal.
    let value: f64 = value.to_string().parse().unwrap_or(f64::NAN);
    let mut fields = [
        ("checkpoint_path", py_str(checkpoint_path)),
        (METRIC_TAG, py_str(&py_float(value))),
        ("global_step", py_str(&global_step.to_string())),
        ("timestamp", py_float(timestamp)),
        ("trial", py_str(trial)),
    ];
    fields.sort_by(|a, b| a.0.cmp(b.0));
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{}: {v}", py_str(k))).collect();
    format!("{{{}}}", body.join(", "))
}

/// Python's `repr(float)`: the shortest round-trip digits, `.0` on integral values, exponent
/// form below 1e-4 and from 1e16 (`1e-05`, `1e+16`), `nan`/`inf` as Python spells them.
pub fn py_float(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into(); // json.dumps writes NaN
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let a = x.abs();
    if x != 0.0 && !(1e-4..1e16).contains(&a) {
        let e = format!("{x:e}"); // "1.5e-5"
        let (mantissa, exponent) = e.split_once('e').expect("exponent form");
        let exponent: i32 = exponent.parse().expect("exponent");
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    let s = format!("{x}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

/// A JSON string as Python's `json.dumps` writes it (`ensure_ascii`: every non-ASCII character
/// as `\uXXXX`, astral ones as surrogate pairs).
pub fn py_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A Vertex AI output URI as a local path: `gs://bucket/path` is where Vertex mounts Cloud
/// Storage with Cloud Storage FUSE, `/gcs/bucket/path`; anything else is a path already.
pub fn local_path(uri: &str) -> PathBuf {
    match uri.strip_prefix("gs://") {
        Some(rest) => Path::new("/gcs").join(rest.trim_end_matches('/')),
        None => PathBuf::from(uri),
    }
}

/// Where a job writes: the job directory (weights, metrics, config, GIF, plot), its checkpoints
/// and its TensorBoard event files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobDirs {
    /// Outputs other than checkpoints and event files.
    pub job: PathBuf,
    /// `checkpoint-*.ckpt`.
    pub checkpoints: PathBuf,
    /// `events.out.tfevents.*`.
    pub tensorboard: PathBuf,
}

impl JobDirs {
    /// The distinct directories, the job directory first.
    pub fn distinct(&self) -> Vec<&Path> {
        let mut dirs: Vec<&Path> = Vec::with_capacity(3);
        for d in [&self.job, &self.checkpoints, &self.tensorboard] {
            if !dirs.contains(&d.as_path()) {
                dirs.push(d);
            }
        }
        dirs
    }

    /// Everything in `dir`.
    pub fn all_in(dir: &Path) -> Self {
        Self { job: dir.into(), checkpoints: dir.into(), tensorboard: dir.into() }
    }

    /// The directories of a run: `--job-dir` for all three when it is given; else Vertex AI's
    /// `AIP_MODEL_DIR`, `AIP_CHECKPOINT_DIR` and `AIP_TENSORBOARD_LOG_DIR` (mapped to `/gcs/...`
    /// by [`local_path`]) where they are set, each missing one falling back to the job
    /// directory, which falls back to `default`.
    pub fn resolve(
        job_dir_flag: Option<&Path>,
        default: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Self {
        if let Some(dir) = job_dir_flag {
            return Self::all_in(dir);
        }
        let from = |var: &str| env(var).filter(|v| !v.is_empty()).map(|v| local_path(&v));
        let job = from("AIP_MODEL_DIR").unwrap_or_else(|| default.to_path_buf());
        Self {
            checkpoints: from("AIP_CHECKPOINT_DIR").unwrap_or_else(|| job.clone()),
            tensorboard: from("AIP_TENSORBOARD_LOG_DIR").unwrap_or_else(|| job.clone()),
            job,
        }
    }
}
