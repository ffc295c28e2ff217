//! One JSON object per line, as the examples print their results: serde_json with the spacing
//! of Python's `json.dumps` (`", "` between items, `": "` after a key), so that a line reads as
//! the examples' lines always have and the shell scripts that pick a field out of one with
//! `sed` (`benchmarks/dqn_seeds.sh`) keep working. Keys come in the order of the struct's fields.
//!
//! Shared by `examples/dqn_cartpole.rs`, `examples/supervised_baseline.rs`,
//! `examples/task_suite.rs` and `examples/bench_report.rs`.
#![allow(dead_code)]

use std::io;

use serde::Serialize;
use serde_json::ser::{Formatter, Serializer};

/// serde_json's compact output (the trait's default methods) with a space after every `,`
/// and `:`.
struct Spaced;

impl Formatter for Spaced {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

/// `value` as one line of JSON (no newline). Non-finite floats are `null`, as serde_json
/// writes them.
///
/// # Errors
/// serde_json's, for a value that is not representable (a map with non-string keys).
pub fn json_line<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut bytes = Vec::new();
    value.serialize(&mut Serializer::with_formatter(&mut bytes, Spaced))?;
    String::from_utf8(bytes).map_err(serde::ser::Error::custom)
}

/// `x` rounded to `decimals` decimal places (a time printed as `{x:.3}` was).
pub fn rounded(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}
