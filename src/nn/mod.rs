//! Neural networks: the [`QNetwork`] trait and [`Mlp`], a multilayer perceptron written by hand
//! on ndarray (forward, backprop, losses, optimizers and a safetensors weights file).

mod activation;
mod cpu;
mod gemm;
mod loss;
mod mlp;
mod optimizer;
#[cfg(feature = "safetensors")]
mod state;
#[cfg(feature = "safetensors")]
mod torch;
#[cfg(feature = "safetensors")]
mod weights;

pub use activation::{Activation, Output};
pub use loss::{Loss, OutputPenalty};
pub use mlp::{Init, Mlp, MlpConfig};
pub use optimizer::{Optimizer, OptimizerConfig};
#[cfg(feature = "safetensors")]
pub(crate) use weights::{config_from as mlp_config_from_metadata, metadata as mlp_metadata};

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewD};

use crate::Result;

/// What one training step of a [`QNetwork`] reports.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainStats {
    /// The loss of the batch before the update (see [`Loss`] for its exact scaling).
    pub loss: f32,
    /// Per-sample TD errors before the update, `target_i - Q(s_i, a_i)`; prioritized replay uses
    /// their magnitudes as new priorities.
    pub td_errors: Array1<f32>,
}

/// A trainable action-value function `Q(s, a)` over continuous observations and discrete
/// actions.
///
/// The trait is object-safe: an agent can hold a `Box<dyn QNetwork>` and a test can take
/// `&dyn QNetwork`. [`Mlp`] implements it; a target network is a clone of the online network
/// refreshed with [`update_from`](QNetwork::update_from).
///
/// # Examples
/// ```
/// use deepq::{Mlp, MlpConfig, QNetwork};
/// use ndarray::{array, Array1};
/// use rand::SeedableRng;
/// use rand_chacha::ChaCha8Rng;
///
/// # fn main() -> deepq::Result<()> {
/// let mut rng = ChaCha8Rng::seed_from_u64(0);
/// let mut online = Mlp::new(MlpConfig::new(4, vec![24, 24], 2), &mut rng)?;
/// let mut target = online.clone();
///
/// let states = array![[0.1f32, 0.0, -0.2, 0.3], [0.0, 0.5, 0.1, -0.1]];
/// // y = r + gamma * (1 - terminated) * max_a Q_target(s', a)
/// let targets = Array1::from(vec![1.0f32, 0.0]);
/// let stats = online.train_step(states.view(), &[0, 1], targets.view(), None)?;
/// assert_eq!(stats.td_errors.len(), 2);
///
/// target.update_from(&online, 1.0)?; // hard copy
/// assert_eq!(target.q_values(states.view())?, online.q_values(states.view())?);
/// # Ok(())
/// # }
/// ```
pub trait QNetwork {
    /// The length of an observation.
    fn input_dim(&self) -> usize;

    /// The number of actions, the width of the output.
    fn num_actions(&self) -> usize;

    /// The Q-values of a batch of observations.
    ///
    /// # Shapes
    /// `states`: `[batch, input_dim]` -> `[batch, num_actions]`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) on a wrong width.
    fn q_values(&self, states: ArrayView2<'_, f32>) -> Result<Array2<f32>>;

    /// The Q-values of one observation, written into `out`: the path of action selection, which
    /// runs on every environment step and does not allocate after the first call.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if `state` does not have
    /// `input_dim` values or `out` does not have `num_actions`.
    fn q_values_one(&mut self, state: ArrayView1<'_, f32>, out: &mut [f32]) -> Result<()>;

    /// One gradient step of the configured loss and optimizer on the Q-values of the taken
    /// actions only: row `i` moves `Q(states[i], actions[i])` towards `targets[i]`, with weight
    /// `weights[i]` (1 if `None`).
    ///
    /// # Shapes
    /// `states`: `[batch, input_dim]`; `actions`, `targets`, `weights`: `[batch]`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) on inconsistent shapes,
    /// [`Error::InvalidAction`](crate::Error::InvalidAction) for an action out of range,
    /// [`Error::NonFinite`](crate::Error::NonFinite) for a non-finite state, target or weight,
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for an empty batch or a
    /// negative weight. The call has no RNG, so [`Mlp`] returns
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) if configured with dropout (use
    /// [`Mlp::train_step_with_rng`] for that). On an error the network is unchanged.
    fn train_step(
        &mut self,
        states: ArrayView2<'_, f32>,
        actions: &[usize],
        targets: ArrayView1<'_, f32>,
        weights: Option<ArrayView1<'_, f32>>,
    ) -> Result<TrainStats>;

    /// Moves every parameter towards `source`'s: `self = tau * source + (1 - tau) * self`
    /// (Polyak averaging); `tau = 1` is a hard copy. Optimizer state is not copied.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) if `tau` is not in `(0, 1]`,
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the architectures differ.
    fn update_from(&mut self, source: &dyn QNetwork, tau: f32) -> Result<()>;

    /// Sets the learning rate of the optimizer from the next training step on (for a schedule);
    /// the optimizer's state (moments, step count) is kept.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) if `lr` is not finite and
    /// positive; the rate is then unchanged.
    fn set_learning_rate(&mut self, lr: f32) -> Result<()>;

    /// Adds `penalty` to the loss of the next training steps (`None` removes it): every output
    /// of every state in a batch that is outside `[low, high]` is pulled back by
    /// `weight * excess^2`, the taken action or not. [`DqnAgent`](crate::DqnAgent) sets it
    /// before each gradient step from its bootstrap bounds when
    /// [`DqnConfig::value_penalty`](crate::DqnConfig::value_penalty) is above 0.
    ///
    /// The provided implementation accepts `None` and refuses a penalty; [`Mlp`] implements it.
    ///
    /// # Errors
    /// [`Error::Unsupported`](crate::Error::Unsupported) if the network has no penalty,
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for bounds or a weight that
    /// [`OutputPenalty::validate`] refuses (the previous penalty is then kept).
    fn set_output_penalty(&mut self, penalty: Option<OutputPenalty>) -> Result<()> {
        match penalty {
            None => Ok(()),
            Some(_) => Err(crate::Error::Unsupported {
                what: "an output penalty on this QNetwork (implement set_output_penalty, or set \
                       DqnConfig::value_penalty to 0)"
                    .into(),
            }),
        }
    }

    /// Read access to every parameter tensor, in a fixed order (for [`Mlp`]: `layers.0.weight`
    /// `[out, in]`, `layers.0.bias` `[out]`, `layers.1.weight`, ...).
    fn parameters(&self) -> Vec<ArrayViewD<'_, f32>>;
}

/// The index of the largest value (the first one on ties; 0 for an empty slice).
pub(crate) fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}
