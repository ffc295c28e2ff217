//! The crate's one error type.

use std::fmt;
use std::path::PathBuf;

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

    /// An observation (or next observation) whose length is not the expected dimension.
    #[error("wrong length of {what}: expected {expected} values, got {actual}")]
    ObservationLength {
        /// Which observation, for example `"next_observation"`.
        what: &'static str,
        /// The expected length (the memory's or environment's `observation_dim`).
        expected: usize,
        /// The length that was given.
        actual: usize,
    },

    /// A batch size of 0, or larger than the number of transitions a memory holds.
    #[error(
        "invalid batch size {batch_size}: the memory holds {len} transitions and a batch \
         must have at least 1 and at most that many"
    )]
    InvalidBatchSize {
        /// The batch size that was asked for.
        batch_size: usize,
        /// The number of transitions stored.
        len: usize,
    },

    /// An index that does not name a stored item (a memory slot or a sum-tree leaf).
    #[error("index {index} out of range: valid indices are 0..{len}")]
    InvalidIndex {
        /// The index that was given.
        index: usize,
        /// The number of valid indices.
        len: usize,
    },

    /// Two inputs that must have the same length do not.
    #[error("length mismatch: {what}: {left} vs {right}")]
    LengthMismatch {
        /// The two inputs, for example `"indices vs td_errors"`.
        what: &'static str,
        /// The length of the first input.
        left: usize,
        /// The length of the second input.
        right: usize,
    },

    /// A priority that is negative or not finite.
    #[error("invalid priority {priority} at index {index}: must be finite and non-negative")]
    InvalidPriority {
        /// The index (leaf or memory slot) it was meant for.
        index: usize,
        /// The rejected priority.
        priority: f64,
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

    /// Reading or writing a file failed.
    #[error("i/o error on {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// An agent and an environment disagree on the size of the observation or the number of
    /// actions (checked by [`train`](crate::train), [`evaluate`](crate::evaluate) and
    /// [`Trainer`](crate::Trainer) before anything runs).
    #[error("the agent's {what} is {agent} but the environment's is {env}")]
    DimensionMismatch {
        /// `"observation_dim"` or `"num_actions"`.
        what: &'static str,
        /// The agent's value.
        agent: usize,
        /// The environment's value.
        env: usize,
    },

    /// An episode ran for the most steps allowed without terminating or being truncated: the
    /// environment may never end. Wrap it in [`TimeLimit`](crate::TimeLimit) or raise the cap.
    #[error(
        "episode {episode} ran {max_steps} steps without ending: wrap the environment in \
         TimeLimit or raise max_episode_steps"
    )]
    EpisodeTooLong {
        /// The episode (from 1: of training, or of the evaluation).
        episode: usize,
        /// The cap that was reached.
        max_steps: usize,
    },

    /// A checkpoint file (or buffer) is truncated, corrupt, or does not describe a run deepq can
    /// resume.
    #[error("invalid checkpoint {origin}: {reason}")]
    InvalidCheckpoint {
        /// The path of the file, or `<bytes>` for an in-memory buffer.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The operation is not available for this type (for example checkpointing a custom
    /// memory that does not implement [`Memory::save_state`](crate::Memory::save_state)).
    #[error("unsupported: {what}")]
    Unsupported {
        /// What was asked for.
        what: String,
    },

    /// A sub-environment of a [`VecEnv`](crate::VecEnv) refused a call or failed in it: `source`
    /// is the sub-environment's own error (or the vector environment's check that stands for
    /// it, such as [`Error::InvalidAction`] for its action or [`Error::EpisodeEnded`] for a step
    /// after its episode ended).
    #[error("sub-environment {index}: {source}")]
    SubEnv {
        /// The sub-environment's index, from 0.
        index: usize,
        /// What went wrong there.
        #[source]
        source: Box<Error>,
    },

    /// A sub-environment of a [`ThreadedVecEnv`](crate::ThreadedVecEnv) panicked in its worker
    /// thread. Its state is unknown, so the vector environment is unusable from then on: every
    /// later call returns this error again.
    #[error(
        "sub-environment {index} panicked: {message}; the vector environment cannot be used any \
         more"
    )]
    SubEnvPanicked {
        /// The sub-environment's index, from 0.
        index: usize,
        /// The panic's message (or a note that it had none that could be read).
        message: String,
    },

    /// A worker thread of a [`ThreadedVecEnv`](crate::ThreadedVecEnv) could not be started, or
    /// was lost (its channel closed) without a sub-environment's panic to report. The vector
    /// environment is unusable from then on.
    #[error("worker thread {worker} of the vector environment failed: {message}")]
    WorkerFailed {
        /// The worker's index, from 0.
        worker: usize,
        /// What happened.
        message: String,
    },

    /// A TensorBoard event file is truncated or corrupt (found by
    /// [`read_scalars`](crate::read_scalars)).
    #[error("invalid event file {} at byte {offset}: {reason}", path.display())]
    InvalidEventFile {
        /// The file.
        path: PathBuf,
        /// The byte offset of the offending record (or of its data).
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

impl Error {
    /// An [`Error::InvalidConfig`] for `field` holding `value`, which breaks `rule`.
    pub(crate) fn invalid_config(
        field: &'static str,
        value: impl ToString,
        rule: &'static str,
    ) -> Error {
        Error::InvalidConfig { field, value: value.to_string(), rule }
    }
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
