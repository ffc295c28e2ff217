//! Writing a file so that a crash never leaves it half-written, and reading one that is a file.

#[cfg(feature = "safetensors")]
use std::ffi::OsString;
use std::fs;
#[cfg(feature = "safetensors")]
use std::io::Write;
use std::path::Path;
#[cfg(feature = "safetensors")]
use std::path::PathBuf;

use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically: into a temporary file beside `path` (same directory,
/// so the rename cannot cross file systems), synced to disk, renamed over `path`, and the
/// directory synced (on Unix) so that the rename itself is durable. A crash or an error at any
/// point leaves either the previous file or the new one, never a mix; the temporary file is
/// removed on error.
///
/// # Errors
/// [`Error::Io`] if `path` has no file name or a step fails.
#[cfg(feature = "safetensors")]
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let file_name = path.file_name().ok_or_else(|| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
    })?;
    let mut tmp_name = OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp: PathBuf = path.with_file_name(tmp_name);
    let io = |source| Error::Io { path: tmp.clone(), source };
    let written = (|| {
        let mut file = fs::File::create(&tmp).map_err(io)?;
        file.write_all(bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
        fs::rename(&tmp, path).map_err(|source| Error::Io { path: path.to_path_buf(), source })
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
        return written;
    }
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if let Ok(d) = fs::File::open(dir) {
            // Best effort: some file systems do not sync directories.
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Reads the whole of `path`, which must be a regular file: a device such as `/dev/zero` (which
/// would be read until memory runs out) or a FIFO (whose `open` blocks until a writer comes) is
/// refused with [`Error::Io`] (`InvalidInput`) after a `stat`, before it is opened.
///
/// # Errors
/// [`Error::Io`] if the path is not a regular file or cannot be read.
pub(crate) fn read_regular_file(path: &Path) -> Result<Vec<u8>> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let meta = fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a device, a FIFO or a directory)",
        )));
    }
    fs::read(path).map_err(io)
}
