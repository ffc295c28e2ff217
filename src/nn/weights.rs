//! Weights files.
