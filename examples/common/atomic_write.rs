//! Writing a file so that a crash never leaves half of it: a temporary file beside it, synced,
//! then renamed over it.
//!
//! Shared by the trainer's job (`examples/trainer/job.rs`: its config, checkpoints and plots)
//! and `examples/supervised_baseline.rs` (its plot).
#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Writes `bytes` to `path` through a temporary file beside it (its name with `.tmp` added, so
/// that `learning_curve.svg` and `learning_curve.png` have temporary files of their own) and a
/// rename, so that a crash never leaves a half-written file.
///
/// # Errors
/// An I/O error of the temporary file or of the rename (a `path` without a file name is
/// `InvalidInput`).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let Some(name) = path.file_name() else {
        let message = format!("{} is not a file name", path.display());
        return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
    };
    let mut tmp_name = name.to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let mut file = File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, path)
}
