//! The crate's one error type.

use std::fmt;

/// Everything that can go wrong in deepq, as one enum.
///
/// Bad input from a user (a configuration, an action, a file, the output of a custom
/// environment) is reported with one of these variants, never with a panic. Each message names
/// the offending field or value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An action index outside `0..num_actions`.
    #[error(
        "invalid action {action}: the environment has {num_actions} actions (0..{num_actions})"
    )]
    InvalidAction {
        /// The action that was given.
        action: usize,
        /// The number of actions of the environment.
        num_actions: usize,
    },

    /// `step` was called before the first `reset`.
    #[error("step called before reset: call reset to start an episode")]
    StepBeforeReset,

    /// `step` was called after the episode had ended.
    #[error(
        "step called after the episode ended ({}): call reset to start a new one",
        if *.truncated { "truncated" } else { "terminated" }
    )]
    EpisodeEnded {
        /// Whether the episode ended by truncation (time limit) rather than termination.
        truncated: bool,
    },

    /// A configuration field holds a value that breaks one of its rules.
    #[error("invalid config: {field} = {value}: {rule}")]
    InvalidConfig {
        /// The field, as named in the config struct.
        field: &'static str,
        /// The rejected value, formatted.
        value: String,
        /// The rule it breaks.
        rule: &'static str,
    },

    /// A value that must be finite was NaN or infinite.
    #[error("non-finite value in {what}: {value}")]
    NonFinite {
        /// Where the value was found.
        what: String,
        /// The value.
        value: f64,
    },

    /// An array has the wrong shape or length for the network or call it was given to.
    #[error("shape mismatch in {what}: expected {expected}, got {got}")]
    ShapeMismatch {
        /// The array or parameter, named as in the call or the weights file.
        what: String,
        /// The expected shape or length, formatted.
        expected: String,
        /// The shape or length that was given, formatted.
        got: String,
    },

    /// An argument of a call holds a value that breaks one of its rules.
    #[error("invalid argument: {what} = {value}: {rule}")]
    InvalidArgument {
        /// The argument, as named in the call.
        what: &'static str,
        /// The rejected value, formatted.
        value: String,
        /// The rule it breaks.
        rule: &'static str,
    },

    /// A class label outside `0..num_classes`.
    #[error("invalid label {label}: the classifier has {num_classes} classes (0..{num_classes})")]
    InvalidLabel {
        /// The label that was given.
        label: usize,
        /// The number of classes (the output size of the network).
        num_classes: usize,
    },

    /// Reading or writing a file failed.
    #[error("i/o error on {}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A weights file (or buffer) is missing a piece, truncated, corrupt, or does not describe a
    /// network deepq can rebuild.
    #[error("invalid weights file {origin}: {reason}")]
    InvalidWeights {
        /// The path of the file, or `<bytes>` for an in-memory buffer.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },

    /// An environment broke a rule of the [`Env`](crate::Env) contract, found by
    /// [`check_env`](crate::check_env).
    #[error("env check failed: {rule}: {detail}")]
    EnvCheck {
        /// The rule that was broken.
        rule: EnvRule,
        /// What was observed, with the offending values.
        detail: String,
    },
}

/// A shorthand for `std::result::Result<T, deepq::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

/// The rules of the [`Env`](crate::Env) contract that [`check_env`](crate::check_env) verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EnvRule {
    /// `observation_dim()` and `num_actions()` are at least 1.
    NonEmptySpaces,
    /// Every observation has `observation_dim()` values.
    ObservationLength,
    /// Every observation value is finite.
    FiniteObservation,
    /// Two resets with equally seeded RNGs give the same observation.
    DeterministicReset,
    /// The same seed and the same actions give the same episode.
    DeterministicEpisode,
    /// An action `>= num_actions()` is rejected with an error.
    InvalidActionRejected,
    /// A valid action in a running episode is accepted.
    ValidActionAccepted,
    /// Every reward is finite.
    FiniteReward,
    /// Episodes end (terminated or truncated) within the checker's step budget.
    EpisodeEnds,
    /// A step after the episode ended is rejected with an error.
    StepAfterEndRejected,
}

impl fmt::Display for EnvRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            EnvRule::NonEmptySpaces => "spaces must be non-empty",
            EnvRule::ObservationLength => "observation length must equal observation_dim()",
            EnvRule::FiniteObservation => "observation values must be finite",
            EnvRule::DeterministicReset => "reset must be deterministic under equal seeds",
            EnvRule::DeterministicEpisode => {
                "episodes must be reproducible from the seed and the actions"
            }
            EnvRule::InvalidActionRejected => "an action >= num_actions() must be rejected",
            EnvRule::ValidActionAccepted => "a valid action in a running episode must be accepted",
            EnvRule::FiniteReward => "rewards must be finite",
            EnvRule::EpisodeEnds => "episodes must end",
            EnvRule::StepAfterEndRejected => "a step after the episode ended must be rejected",
        };
        f.write_str(name)
    }
}
