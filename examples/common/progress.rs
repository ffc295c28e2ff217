//! Progress of a long run, one way for every example: an indicatif progress bar when stdout is a
//! terminal, and the example's plain progress lines otherwise (a log, a pipe, a test), so that
//! logs and the programs that read them see what they always have.
//!
//! Shared by the trainer (`examples/trainer/job.rs`), `examples/hypertune.rs` and the learning
//! suite's runner `examples/task_suite.rs`, so not every item is used by each.
#![allow(dead_code)]

use std::io::{self, IsTerminal, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where progress goes: a bar on the terminal, or plain lines.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar over `total` `unit`s (`"episodes"`, `"trials"`) if stdout is a terminal, else
    /// plain lines.
    pub fn for_stdout(total: u64, unit: &str) -> Self {
        Self::new(total, unit, std::io::stdout().is_terminal())
    }

    /// A bar over `total` `unit`s drawn on stdout if `bar`, else plain lines.
    pub fn new(total: u64, unit: &str, bar: bool) -> Self {
        if !bar {
            return Self::lines();
        }
        let template = format!(
            "[{{elapsed_precise}}] {{bar:30.cyan/blue}} {{pos}}/{{len}} {unit} {{wide_msg}}"
        );
        let style = ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stdout())
            .with_style(style);
        Self { bar: Some(bar) }
    }

    /// Plain lines, never a bar.
    pub fn lines() -> Self {
        Self { bar: None }
    }

    /// Whether a bar is drawn.
    pub fn is_bar(&self) -> bool {
        self.bar.is_some()
    }

    /// Moves the bar to `position` (nothing with plain lines).
    pub fn set_position(&self, position: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(position);
        }
    }

    /// Shows `message` beside the bar (nothing with plain lines).
    pub fn set_message(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(message.to_string());
        }
    }

    /// A progress line: written to `out` with plain lines, shown beside the bar otherwise.
    ///
    /// # Errors
    /// An I/O error of `out`.
    pub fn line(&self, out: &mut dyn Write, line: &str) -> io::Result<()> {
        match &self.bar {
            Some(bar) => {
                bar.set_message(line.trim().to_string());
                Ok(())
            }
            None => writeln!(out, "{line}"),
        }
    }

    /// A line written to `out` either way (a result, a message); above the bar when there is
    /// one.
    ///
    /// # Errors
    /// An I/O error of `out`.
    pub fn print(&self, out: &mut dyn Write, line: &str) -> io::Result<()> {
        match &self.bar {
            Some(bar) => bar.suspend(|| {
                writeln!(out, "{line}")?;
                out.flush()
            }),
            None => writeln!(out, "{line}"),
        }
    }

    /// Leaves the bar at its last state on the terminal (nothing with plain lines).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}
