//! [`Mlp`]: a multilayer perceptron with hand-written backprop, and its [`MlpConfig`].

use std::fmt;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewD};
use ndarray_rand::RandomExt;
use ndarray_rand::rand_distr::Uniform;
use rand::{Rng, RngCore};

use super::activation::{softmax_backward_in_place, softmax_in_place};
use super::cpu::vectorized;
use super::gemm::{gemm_nn, gemm_tn};
use super::loss::{OutputPenalty, masked_loss, softmax_cross_entropy};
use super::optimizer::OptimizerState;
use super::{Activation, Loss, Optimizer, Output, QNetwork, TrainStats};
use crate::{Error, Result};

/// How the weights of a new [`Mlp`] are drawn (biases start at zero, except with
/// [`Init::TorchDefault`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub enum Init {
    /// He (Kaiming) uniform, `U(-sqrt(6 / fan_in), sqrt(6 / fan_in))`, suited to ReLU (the
    /// default).
    #[default]
    HeUniform,
    /// Glorot (Xavier) uniform, `U(-sqrt(6 / (fan_in + fan_out)), ...)`, Keras' default.
    GlorotUniform,
    /// PyTorch's `nn.Linear` default (and so Stable-Baselines3's and CleanRL's): weights and
    /// biases both `U(-1 / sqrt(fan_in), 1 / sqrt(fan_in))` (`kaiming_uniform_` with
    /// `a = sqrt(5)`). Per layer the weights are drawn first, row by row, then the biases, as
    /// PyTorch does; the values differ from PyTorch's, whose generator is not ChaCha.
    TorchDefault,
}

impl Init {
    /// The bound `b` of the uniform `U(-b, b)` for a layer.
    pub fn bound(self, fan_in: usize, fan_out: usize) -> f32 {
        match self {
            Init::HeUniform => (6.0 / fan_in as f32).sqrt(),
            Init::GlorotUniform => (6.0 / (fan_in + fan_out) as f32).sqrt(),
            Init::TorchDefault => 1.0 / (fan_in as f32).sqrt(),
        }
    }

    /// The name used in weights files: `he_uniform`, `glorot_uniform` or `torch_default`.
    pub fn name(self) -> &'static str {
        match self {
            Init::HeUniform => "he_uniform",
            Init::GlorotUniform => "glorot_uniform",
            Init::TorchDefault => "torch_default",
        }
    }

    /// The init called `name` (as written by [`name`](Init::name)).
    pub fn from_name(name: &str) -> Option<Init> {
        match name {
            "he_uniform" => Some(Init::HeUniform),
            "glorot_uniform" => Some(Init::GlorotUniform),
            "torch_default" => Some(Init::TorchDefault),
            _ => None,
        }
    }
}

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The architecture and training settings of an [`Mlp`].
///
/// The default is the CartPole network of the DQN tutorials: 4 inputs, two hidden layers of 24
/// ReLU units, 2 linear outputs, masked MSE and Adam at 1e-3.
///
/// # Examples
/// ```
/// use deepq::{Activation, Loss, MlpConfig, Optimizer};
///
/// let config = MlpConfig::new(8, vec![64, 64], 4)
///     .with_activation(Activation::Tanh)
///     .with_loss(Loss::Huber)
///     .with_optimizer(Optimizer::rmsprop(1e-3))
///     .with_max_grad_norm(Some(10.0));
/// assert!(config.validate().is_ok());
/// assert!(MlpConfig { dropout: 1.0, ..MlpConfig::default() }.validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct MlpConfig {
    /// Length of an input row (the observation size); at least 1. Default 4.
    pub input_dim: usize,
    /// Units of each hidden layer, first to last; each at least 1, may be empty (a linear
    /// model). Default `[24, 24]`.
    pub hidden: Vec<usize>,
    /// Width of the output (the number of actions or classes); at least 1. Default 2.
    pub output_dim: usize,
    /// Nonlinearity after every hidden layer. Default [`Activation::Relu`].
    pub activation: Activation,
    /// Transform of the last layer. Default [`Output::Identity`].
    pub output: Output,
    /// Probability of dropping a hidden unit during training (inverted dropout: kept units are
    /// scaled by `1 / (1 - dropout)`, so prediction needs no rescaling); in `[0, 1)`. Dropout
    /// needs an RNG: it is active in [`Mlp::train_classifier_step`] and
    /// [`Mlp::train_step_with_rng`]. [`QNetwork::train_step`] has no RNG and rejects a network
    /// with dropout: Q-networks use 0, the default.
    pub dropout: f32,
    /// Weight initialisation. Default [`Init::HeUniform`].
    pub init: Init,
    /// The loss of [`QNetwork::train_step`]. Default [`Loss::MaskedMse`].
    pub loss: Loss,
    /// The optimizer of every training step. Default Adam with learning rate 1e-3.
    pub optimizer: Optimizer,
    /// Clip the gradients to this global L2 norm before each update, as PyTorch's
    /// `clip_grad_norm_` (Stable-Baselines3's `max_grad_norm`, 10 for DQN); finite and `> 0`.
    /// Default `None` (no clipping).
    pub max_grad_norm: Option<f32>,
}

impl Default for MlpConfig {
    fn default() -> Self {
        MlpConfig {
            input_dim: 4,
            hidden: vec![24, 24],
            output_dim: 2,
            activation: Activation::Relu,
            output: Output::Identity,
            dropout: 0.0,
            init: Init::HeUniform,
            loss: Loss::MaskedMse,
            optimizer: Optimizer::default(),
            max_grad_norm: None,
        }
    }
}

impl MlpConfig {
    /// A network of the given sizes with every other setting at its default.
    pub fn new(input_dim: usize, hidden: Vec<usize>, output_dim: usize) -> Self {
        MlpConfig { input_dim, hidden, output_dim, ..MlpConfig::default() }
    }

    /// Sets the hidden activation (default [`Activation::Relu`]).
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Sets the output transform (default [`Output::Identity`]).
    pub fn with_output(mut self, output: Output) -> Self {
        self.output = output;
        self
    }

    /// Sets the dropout probability of hidden units (default 0).
    pub fn with_dropout(mut self, dropout: f32) -> Self {
        self.dropout = dropout;
        self
    }

    /// Sets the weight initialisation (default [`Init::HeUniform`]).
    pub fn with_init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// Sets the Q-learning loss (default [`Loss::MaskedMse`]).
    pub fn with_loss(mut self, loss: Loss) -> Self {
        self.loss = loss;
        self
    }

    /// Sets the optimizer (default Adam with learning rate 1e-3).
    pub fn with_optimizer(mut self, optimizer: Optimizer) -> Self {
        self.optimizer = optimizer;
        self
    }

    /// Sets the gradient-norm clipping (default `None`).
    pub fn with_max_grad_norm(mut self, max_grad_norm: Option<f32>) -> Self {
        self.max_grad_norm = max_grad_norm;
        self
    }

    /// The width of every layer's input and output: `[(input_dim, h0), (h0, h1), ...,
    /// (h_last, output_dim)]`.
    pub fn layer_sizes(&self) -> Vec<(usize, usize)> {
        let mut widths = Vec::with_capacity(self.hidden.len() + 2);
        widths.push(self.input_dim);
        widths.extend_from_slice(&self.hidden);
        widths.push(self.output_dim);
        widths.windows(2).map(|w| (w[0], w[1])).collect()
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first field that breaks its rule.
    pub fn validate(&self) -> Result<()> {
        if self.input_dim == 0 {
            return Err(Error::InvalidConfig {
                field: "input_dim",
                value: "0".into(),
                rule: "must be at least 1",
            });
        }
        if self.output_dim == 0 {
            return Err(Error::InvalidConfig {
                field: "output_dim",
                value: "0".into(),
                rule: "must be at least 1",
            });
        }
        if self.hidden.contains(&0) {
            return Err(Error::InvalidConfig {
                field: "hidden",
                value: format!("{:?}", self.hidden),
                rule: "every hidden layer needs at least 1 unit",
            });
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::InvalidConfig {
                field: "dropout",
                value: self.dropout.to_string(),
                rule: "must be in [0, 1)",
            });
        }
        if let Some(norm) = self.max_grad_norm
            && !(norm.is_finite() && norm > 0.0)
        {
            return Err(Error::InvalidConfig {
                field: "max_grad_norm",
                value: norm.to_string(),
                rule: "must be finite and > 0",
            });
        }
        self.optimizer.validate()
    }
}

/// Preallocated buffers of the batched and single-observation paths.
#[derive(Debug, Clone, Default)]
struct Workspace {
    /// Batch size the batched buffers are sized for.
    batch: usize,
    /// Per layer `[batch, out]`: activations (after dropout for hidden layers; Q-values,
    /// probabilities or logits for the last).
    acts: Vec<Array2<f32>>,
    /// Per layer `[batch, out]`: the gradient of the loss with respect to the layer's
    /// pre-activation.
    deltas: Vec<Array2<f32>>,
    /// Per hidden layer `[batch, out]`: the dropout factors (0 or `1 / (1 - p)`), when used.
    masks: Vec<Array2<f32>>,
    /// Per layer: the gradient of each weight `[out, in]` and bias `[out]`.
    grad_w: Vec<Array2<f32>>,
    grad_b: Vec<Array1<f32>>,
    /// Per layer: where an optimizer step writes the new weights and biases, swapped with the
    /// current ones once all are finite.
    next_w: Vec<Array2<f32>>,
    next_b: Vec<Array1<f32>>,
    /// Copies of the targets and weights of the current step, and its TD errors.
    targets: Vec<f32>,
    weights: Vec<f32>,
    td: Vec<f32>,
    /// Per layer: the activations of the single-observation path, and a copy of its input.
    single: Vec<Vec<f32>>,
    single_input: Vec<f32>,
    /// The penalty on outputs outside bounds of the Q-learning steps, if set.
    penalty: Option<OutputPenalty>,
}

/// What a training step fits.
#[derive(Clone, Copy)]
enum Target<'a> {
    /// The masked Q-learning loss; targets and weights are in the workspace.
    Q { actions: &'a [usize], weighted: bool },
    /// Softmax cross-entropy against class indices.
    Labels(&'a [usize]),
}

/// A multilayer perceptron on ndarray with hand-written backprop.
///
/// Layer `l` computes `a_l = f(a_{l-1} W_l^T + b_l)` with `W_l` of shape `[out, in]` (PyTorch's
/// `nn.Linear` layout), `f` the hidden [`Activation`] and, for the last layer, the [`Output`]
/// transform. The optimizer and its state live inside the network, so one call is one training
/// step. Every buffer of the forward and backward passes is preallocated and reused (resized
/// when the batch size changes).
///
/// The same type serves as the Q-network of a DQN agent (through [`QNetwork`]) and as a
/// classifier ([`train_classifier_step`](Mlp::train_classifier_step) and
/// [`forward`](Mlp::forward)).
///
/// # Examples
/// ```
/// use deepq::{Mlp, MlpConfig, Output};
/// use ndarray::array;
/// use rand::SeedableRng;
/// use rand_chacha::ChaCha8Rng;
///
/// # fn main() -> deepq::Result<()> {
/// let mut rng = ChaCha8Rng::seed_from_u64(7);
/// let config = MlpConfig::new(2, vec![16], 2).with_output(Output::Softmax);
/// let mut classifier = Mlp::new(config, &mut rng)?;
/// let x = array![[0.0f32, 1.0], [1.0, 0.0], [0.9, 0.1], [0.1, 0.8]];
/// let labels = [0, 1, 1, 0];
/// let first = classifier.train_classifier_step(x.view(), &labels, &mut rng)?;
/// let mut last = first;
/// for _ in 0..200 {
///     last = classifier.train_classifier_step(x.view(), &labels, &mut rng)?;
/// }
/// assert!(last < first);
/// let probabilities = classifier.forward(x.view())?;
/// assert!(probabilities[[0, 0]] > 0.5 && probabilities[[1, 1]] > 0.5);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Mlp {
    pub(super) config: MlpConfig,
    pub(super) weights: Vec<Array2<f32>>,
    pub(super) biases: Vec<Array1<f32>>,
    pub(super) state: OptimizerState,
    /// Each layer's weights transposed, `[in, out]` row-major: the right operand of the forward
    /// product (kept equal to `weights` by every method that changes them).
    transposed: Vec<Vec<f32>>,
    ws: Workspace,
}

impl Mlp {
    /// A network with weights drawn from `rng` according to `config.init` (and zero biases but
    /// for [`Init::TorchDefault`]).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if the config breaks a rule of [`MlpConfig::validate`].
    pub fn new(config: MlpConfig, rng: &mut dyn RngCore) -> Result<Mlp> {
        config.validate()?;
        check_allocation(&config)?;
        let mut layers = Vec::with_capacity(config.hidden.len() + 1);
        for (fan_in, fan_out) in config.layer_sizes() {
            let bound = config.init.bound(fan_in, fan_out);
            let dist = Uniform::new(-bound, bound).map_err(|_| Error::InvalidConfig {
                field: "init",
                value: bound.to_string(),
                rule: "the uniform bound must be finite and > 0",
            })?;
            let w = Array2::random_using((fan_out, fan_in), dist, rng);
            let b = match config.init {
                Init::TorchDefault => Array1::random_using(fan_out, dist, rng),
                Init::HeUniform | Init::GlorotUniform => Array1::zeros(fan_out),
            };
            layers.push((w, b));
        }
        Mlp::with_parameters(config, layers)
    }

    /// A network with the given weights `[out, in]` and biases `[out]`, one pair per layer.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a bad config, [`Error::ShapeMismatch`] if the number of
    /// layers or a shape does not match the config, [`Error::NonFinite`] for a non-finite
    /// parameter.
    pub fn with_parameters(
        config: MlpConfig,
        layers: Vec<(Array2<f32>, Array1<f32>)>,
    ) -> Result<Mlp> {
        config.validate()?;
        check_allocation(&config)?;
        let sizes = config.layer_sizes();
        if layers.len() != sizes.len() {
            return Err(Error::ShapeMismatch {
                what: "layers".into(),
                expected: format!("{} layers", sizes.len()),
                got: format!("{} layers", layers.len()),
            });
        }
        let mut weights = Vec::with_capacity(sizes.len());
        let mut biases = Vec::with_capacity(sizes.len());
        for (l, ((w, b), &(fan_in, fan_out))) in layers.into_iter().zip(&sizes).enumerate() {
            if w.dim() != (fan_out, fan_in) {
                return Err(Error::ShapeMismatch {
                    what: format!("layers.{l}.weight"),
                    expected: format!("[{fan_out}, {fan_in}]"),
                    got: format!("{:?}", w.shape()),
                });
            }
            if b.len() != fan_out {
                return Err(Error::ShapeMismatch {
                    what: format!("layers.{l}.bias"),
                    expected: format!("[{fan_out}]"),
                    got: format!("{:?}", b.shape()),
                });
            }
            let w_bad = w.iter().find(|x| !x.is_finite()).map(|&x| ("weight", x));
            if let Some((name, x)) =
                w_bad.or_else(|| b.iter().find(|x| !x.is_finite()).map(|&x| ("bias", x)))
            {
                return Err(Error::NonFinite {
                    what: format!("layers.{l}.{name}"),
                    value: f64::from(x),
                });
            }
            // Standard layout, so that the optimizer can work on flat slices.
            weights.push(w.as_standard_layout().into_owned());
            biases.push(b.as_standard_layout().into_owned());
        }
        let param_sizes: Vec<usize> = sizes.iter().flat_map(|&(i, o)| [i * o, o]).collect();
        let state = OptimizerState::new(&config.optimizer, &param_sizes);
        let ws = Workspace {
            grad_w: sizes.iter().map(|&(i, o)| Array2::zeros((o, i))).collect(),
            grad_b: sizes.iter().map(|&(_, o)| Array1::zeros(o)).collect(),
            next_w: sizes.iter().map(|&(i, o)| Array2::zeros((o, i))).collect(),
            next_b: sizes.iter().map(|&(_, o)| Array1::zeros(o)).collect(),
            single: sizes.iter().map(|&(_, o)| vec![0.0; o]).collect(),
            single_input: Vec::with_capacity(config.input_dim),
            ..Workspace::default()
        };
        let mut net = Mlp { config, weights, biases, state, transposed: Vec::new(), ws };
        net.refresh_transposed();
        Ok(net)
    }

    /// Rewrites [`transposed`](Mlp::transposed) from the weights; called by every method that
    /// changes them.
    fn refresh_transposed(&mut self) {
        self.transposed.resize_with(self.weights.len(), Vec::new);
        for (w, t) in self.weights.iter().zip(&mut self.transposed) {
            let (out, inp) = w.dim();
            let w = w.as_slice().expect("weights are contiguous");
            t.resize(out * inp, 0.0);
            transpose(w, out, inp, t);
        }
    }

    /// The configuration the network was built from.
    pub fn config(&self) -> &MlpConfig {
        &self.config
    }

    /// The width of the output (actions or classes).
    pub fn output_dim(&self) -> usize {
        self.config.output_dim
    }

    /// The number of linear layers (hidden layers + 1).
    pub fn num_layers(&self) -> usize {
        self.weights.len()
    }

    /// The weight `[out, in]` and bias `[out]` of layer `l`, or `None` past the last layer.
    pub fn layer(&self, l: usize) -> Option<(ArrayView2<'_, f32>, ArrayView1<'_, f32>)> {
        Some((self.weights.get(l)?.view(), self.biases.get(l)?.view()))
    }

    /// The total number of parameters (weights and biases).
    pub fn num_parameters(&self) -> usize {
        self.weights.iter().map(|w| w.len()).sum::<usize>()
            + self.biases.iter().map(|b| b.len()).sum::<usize>()
    }

    /// The outputs of a batch with dropout off: Q-values or logits for [`Output::Identity`],
    /// class probabilities for [`Output::Softmax`]. Allocates its result and temporaries; use
    /// [`QNetwork::q_values_one`] for a single observation in a loop.
    ///
    /// # Shapes
    /// `x`: `[batch, input_dim]` -> `[batch, output_dim]`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `x` does not have `input_dim` columns.
    pub fn forward(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        self.check_width(x)?;
        let n = self.weights.len();
        let x = x.as_standard_layout();
        let xs = x.as_slice().expect("standard layout");
        let mut current: Option<Array2<f32>> = None;
        for l in 0..n {
            let (out, inp) = self.weights[l].dim();
            let mut z = Array2::zeros((x.nrows(), out));
            let zs = z.as_slice_mut().expect("a new array is contiguous");
            let input = current.as_ref().map_or(xs, |a| a.as_slice().expect("contiguous"));
            // z = input · wᵀ, before the bias.
            gemm_nn(x.nrows(), inp, out, input, &self.transposed[l], zs);
            self.finish_layer(l, &mut z);
            current = Some(z);
        }
        Ok(current.expect("an Mlp has at least one layer"))
    }

    /// One step of softmax cross-entropy on class indices (`labels[i]` is the class of row `i`),
    /// with dropout drawn from `rng`; returns the mean loss before the update. The logits are
    /// the outputs before the [`Output`] transform, so this works with either output.
    ///
    /// # Shapes
    /// `x`: `[batch, input_dim]`; `labels`: `[batch]`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] on inconsistent shapes, [`Error::InvalidLabel`] for a label
    /// `>= output_dim`, [`Error::NonFinite`] for a non-finite input,
    /// [`Error::InvalidArgument`] for an empty batch.
    pub fn train_classifier_step(
        &mut self,
        x: ArrayView2<'_, f32>,
        labels: &[usize],
        rng: &mut dyn RngCore,
    ) -> Result<f32> {
        self.check_batch(x, labels.len(), "labels")?;
        if let Some(&label) = labels.iter().find(|&&c| c >= self.config.output_dim) {
            return Err(Error::InvalidLabel { label, num_classes: self.config.output_dim });
        }
        let loss = self.compute_gradients(x, Target::Labels(labels), Some(rng));
        self.apply_gradients(loss)?;
        Ok(loss)
    }

    /// [`QNetwork::train_step`] with dropout drawn from `rng` (for a network with
    /// `dropout > 0`; with dropout 0 it is the same step and `rng` is not used).
    ///
    /// # Errors
    /// As [`QNetwork::train_step`].
    pub fn train_step_with_rng(
        &mut self,
        states: ArrayView2<'_, f32>,
        actions: &[usize],
        targets: ArrayView1<'_, f32>,
        weights: Option<ArrayView1<'_, f32>>,
        rng: &mut dyn RngCore,
    ) -> Result<TrainStats> {
        self.q_step(states, actions, targets, weights, Some(rng))
    }

    fn q_step(
        &mut self,
        states: ArrayView2<'_, f32>,
        actions: &[usize],
        targets: ArrayView1<'_, f32>,
        weights: Option<ArrayView1<'_, f32>>,
        rng: Option<&mut dyn RngCore>,
    ) -> Result<TrainStats> {
        self.prepare_q(states, actions, targets, weights)?;
        let target = Target::Q { actions, weighted: weights.is_some() };
        let loss = self.compute_gradients(states, target, rng);
        self.apply_gradients(loss)?;
        Ok(TrainStats { loss, td_errors: Array1::from(self.ws.td.clone()) })
    }

    /// Validates a Q-learning batch and copies targets and weights into the workspace.
    fn prepare_q(
        &mut self,
        states: ArrayView2<'_, f32>,
        actions: &[usize],
        targets: ArrayView1<'_, f32>,
        weights: Option<ArrayView1<'_, f32>>,
    ) -> Result<()> {
        let batch = states.nrows();
        self.check_batch(states, actions.len(), "actions")?;
        check_len("targets", batch, targets.len())?;
        let num_actions = self.config.output_dim;
        if let Some(&action) = actions.iter().find(|&&a| a >= num_actions) {
            return Err(Error::InvalidAction { action, num_actions });
        }
        self.ws.targets.clear();
        for (i, &y) in targets.iter().enumerate() {
            if !y.is_finite() {
                return Err(Error::NonFinite {
                    what: format!("targets[{i}]"),
                    value: f64::from(y),
                });
            }
            self.ws.targets.push(y);
        }
        self.ws.weights.clear();
        if let Some(weights) = weights {
            check_len("weights", batch, weights.len())?;
            for (i, &w) in weights.iter().enumerate() {
                if !w.is_finite() {
                    return Err(Error::NonFinite {
                        what: format!("weights[{i}]"),
                        value: f64::from(w),
                    });
                }
                if w < 0.0 {
                    return Err(Error::InvalidArgument {
                        what: "weights",
                        value: w.to_string(),
                        rule: "sample weights must be >= 0",
                    });
                }
                self.ws.weights.push(w);
            }
        }
        Ok(())
    }

    fn check_width(&self, x: ArrayView2<'_, f32>) -> Result<()> {
        if x.ncols() != self.config.input_dim {
            return Err(Error::ShapeMismatch {
                what: "states".into(),
                expected: format!("[batch, {}]", self.config.input_dim),
                got: format!("{:?}", x.shape()),
            });
        }
        Ok(())
    }

    /// Checks the width of `x`, a non-empty batch, finite inputs and the length of a per-row
    /// companion slice.
    fn check_batch(&self, x: ArrayView2<'_, f32>, rows: usize, what: &str) -> Result<()> {
        self.check_width(x)?;
        if x.nrows() == 0 {
            return Err(Error::InvalidArgument {
                what: "states",
                value: format!("{:?}", x.shape()),
                rule: "a batch needs at least one row",
            });
        }
        check_len(what, x.nrows(), rows)?;
        if !x.iter().all(|v| v.is_finite())
            && let Some(((i, j), &v)) = x.indexed_iter().find(|(_, v)| !v.is_finite())
        {
            return Err(Error::NonFinite {
                what: format!("states[{i}, {j}]"),
                value: f64::from(v),
            });
        }
        Ok(())
    }

    /// Adds the bias and applies the activation of layer `l` to its pre-activations `z`.
    fn finish_layer(&self, l: usize, z: &mut Array2<f32>) {
        let b = self.biases[l].as_slice().expect("biases are contiguous");
        let z = z.as_slice_mut().expect("layer buffers are contiguous");
        if l + 1 < self.weights.len() {
            add_bias_activate(z, b, Some(self.config.activation));
        } else {
            add_bias_activate(z, b, None);
            if self.config.output == Output::Softmax {
                for row in z.chunks_exact_mut(b.len()) {
                    softmax_in_place(row);
                }
            }
        }
    }

    /// Sizes the batched buffers for `batch` rows (a no-op when they already are).
    fn ensure_batch(&mut self, batch: usize, dropout: bool) {
        if self.ws.batch != batch || self.ws.acts.len() != self.weights.len() {
            let widths: Vec<usize> = self.weights.iter().map(|w| w.nrows()).collect();
            self.ws.acts = widths.iter().map(|&o| Array2::zeros((batch, o))).collect();
            self.ws.deltas = widths.iter().map(|&o| Array2::zeros((batch, o))).collect();
            self.ws.masks.clear();
            self.ws.batch = batch;
        }
        if dropout && self.ws.masks.is_empty() {
            let hidden = &self.config.hidden;
            self.ws.masks = hidden.iter().map(|&o| Array2::zeros((batch, o))).collect();
        }
        if self.ws.td.len() != batch {
            self.ws.td.resize(batch, 0.0);
        }
    }

    /// Forward and backward passes: leaves the gradients in the workspace and returns the loss.
    /// Inputs must have been validated.
    fn compute_gradients(
        &mut self,
        x: ArrayView2<'_, f32>,
        target: Target<'_>,
        rng: Option<&mut dyn RngCore>,
    ) -> f32 {
        gradients(self, x, target, rng)
    }

    /// Clips the gradients in the workspace (if configured) and takes one optimizer step.
    fn apply_gradients(&mut self, loss: f32) -> Result<()> {
        // A divergent step changes nothing: the loss is checked first, then every new parameter
        // and moment is written beside the current ones and kept only if all are finite.
        let step = self.state.step + 1;
        if !loss.is_finite() {
            return Err(Error::NonFinite {
                what: format!("the loss of optimizer step {step} (nothing was updated)"),
                value: f64::from(loss),
            });
        }
        let ws = &mut self.ws;
        if let Some(max_norm) = self.config.max_grad_norm {
            // torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when below 1.
            let weights = ws.grad_w.iter().map(|g| g.as_slice().expect("contiguous"));
            let biases = ws.grad_b.iter().map(|g| g.as_slice().expect("contiguous"));
            let sum = weights.chain(biases).fold(0.0f64, sum_of_squares);
            let norm = sum.sqrt() as f32;
            let coef = max_norm / (norm + 1e-6);
            if coef < 1.0 {
                ws.grad_w.iter_mut().for_each(|g| g.mapv_inplace(|v| v * coef));
                ws.grad_b.iter_mut().for_each(|g| g.mapv_inplace(|v| v * coef));
            }
        }
        let optimizer = self.config.optimizer;
        self.state.begin_step(&optimizer);
        let mut bad = None;
        for l in 0..self.weights.len() {
            let w = self.weights[l].as_slice().expect("contiguous");
            let gw = ws.grad_w[l].as_slice().expect("contiguous");
            let next_w = ws.next_w[l].as_slice_mut().expect("contiguous");
            if !self.state.update(&optimizer, 2 * l, w, gw, next_w) && bad.is_none() {
                bad = Some(2 * l);
            }
            let b = self.biases[l].as_slice().expect("contiguous");
            let gb = ws.grad_b[l].as_slice().expect("contiguous");
            let next_b = ws.next_b[l].as_slice_mut().expect("contiguous");
            if !self.state.update(&optimizer, 2 * l + 1, b, gb, next_b) && bad.is_none() {
                bad = Some(2 * l + 1);
            }
        }
        if let Some(k) = bad {
            self.state.abort();
            let (l, kind) = (k / 2, if k % 2 == 0 { "weight" } else { "bias" });
            let gradients =
                if k % 2 == 0 { &ws.grad_w[l].as_slice() } else { &ws.grad_b[l].as_slice() };
            let new = if k % 2 == 0 { ws.next_w[l].as_slice() } else { ws.next_b[l].as_slice() };
            let (gradients, new) = (gradients.expect("contiguous"), new.expect("contiguous"));
            let (what, value) = if let Some(i) = gradients.iter().position(|g| !g.is_finite()) {
                (format!("layers.{l}.{kind}'s gradient[{i}]"), gradients[i])
            } else if let Some((name, i, v)) = self.state.first_non_finite_moment(k) {
                (format!("layers.{l}.{kind}'s optimizer {name}[{i}]"), v)
            } else {
                let i = new.iter().position(|x| !x.is_finite()).unwrap_or(0);
                (format!("layers.{l}.{kind}[{i}]"), new.get(i).copied().unwrap_or(f32::NAN))
            };
            return Err(Error::NonFinite {
                what: format!("{what} at optimizer step {step} (the step was not applied)"),
                value: f64::from(value),
            });
        }
        self.state.commit();
        std::mem::swap(&mut self.weights, &mut ws.next_w);
        std::mem::swap(&mut self.biases, &mut ws.next_b);
        self.refresh_transposed();
        Ok(())
    }

    /// The forward pass of one observation `input` (of `input_dim` values), layer by layer into
    /// `single` (one buffer per layer, of its width): the arithmetic of
    /// [`QNetwork::q_values_one`], shared with [`Policy`](crate::Policy) so that both choose the
    /// same action.
    pub(crate) fn single_forward(&self, input: &[f32], single: &mut [Vec<f32>]) {
        single_forward(self, input, single)
    }

    /// The widths of the layers' outputs, for [`single_forward`](Mlp::single_forward) buffers.
    pub(crate) fn layer_widths(&self) -> Vec<usize> {
        self.weights.iter().map(|w| w.nrows()).collect()
    }

    /// Mutable access to every parameter, in the order of [`QNetwork::parameters`].
    fn parameters_mut(&mut self) -> impl Iterator<Item = &mut [f32]> {
        self.weights.iter_mut().zip(self.biases.iter_mut()).flat_map(|(w, b)| {
            [w.as_slice_mut().expect("contiguous"), b.as_slice_mut().expect("contiguous")]
        })
    }
}

/// How many copies of the parameters a network keeps at most: the parameters, their gradients,
/// the buffer a step writes them into, and up to three optimizer moments, each twice (current
/// and next).
const PARAMETER_COPIES: usize = 9;

vectorized! {
    /// `t = wᵀ` for `w` of `rows` by `cols` (row-major): contiguous writes, strided reads (the
    /// matrices of a Q-network fit in the L1 cache).
    fn transpose(w: &[f32], rows: usize, cols: usize, t: &mut [f32]) {
        assert!(w.len() == rows * cols && t.len() == rows * cols, "transpose shapes");
        for (i, row) in t.chunks_exact_mut(rows).enumerate() {
            for (o, v) in row.iter_mut().enumerate() {
                // SAFETY: o < rows and i < cols, so o * cols + i < rows * cols == w.len().
                *v = unsafe { *w.get_unchecked(o * cols + i) };
            }
        }
    }
}

vectorized! {
    /// [`Mlp::compute_gradients`], compiled for each vector extension level ([`super::cpu`]).
    fn gradients(
        net: &mut Mlp,
        x: ArrayView2<'_, f32>,
        target: Target<'_>,
        rng: Option<&mut dyn RngCore>,
    ) -> f32 {
        let p = net.config.dropout;
        let dropout = p > 0.0 && rng.is_some();
        net.ensure_batch(x.nrows(), dropout);
        let n = net.weights.len();
        let classify = matches!(target, Target::Labels(_));
        let mut rng = rng;

        // Forward, keeping every activation.
        let batch = x.nrows();
        let x = x.as_standard_layout();
        let xs = x.as_slice().expect("standard layout");
        let ws = &mut net.ws;
        for l in 0..n {
            let (before, rest) = ws.acts.split_at_mut(l);
            let z = &mut rest[0];
            let (out, inp) = net.weights[l].dim();
            let zs = z.as_slice_mut().expect("layer buffers are contiguous");
            let input = if l == 0 { xs } else { before[l - 1].as_slice().expect("contiguous") };
            gemm_nn(batch, inp, out, input, &net.transposed[l], zs);
            let b = net.biases[l].as_slice().expect("biases are contiguous");
            let zs = z.as_slice_mut().expect("layer buffers are contiguous");
            if l + 1 < n {
                add_bias_activate(zs, b, Some(net.config.activation));
                if dropout && let Some(rng) = rng.as_deref_mut() {
                    let scale = 1.0 / (1.0 - p);
                    let mask = ws.masks[l].as_slice_mut().expect("contiguous");
                    for (v, m) in zs.iter_mut().zip(mask) {
                        *m = if rng.random::<f32>() < p { 0.0 } else { scale };
                        *v *= *m;
                    }
                }
            } else {
                add_bias_activate(zs, b, None);
                if !classify && net.config.output == Output::Softmax {
                    for row in zs.chunks_exact_mut(b.len()) {
                        softmax_in_place(row);
                    }
                }
            }
        }

        // The loss and its gradient with respect to the last pre-activation.
        let width = net.config.output_dim;
        let out = ws.acts[n - 1].as_slice().expect("contiguous");
        let grad = ws.deltas[n - 1].as_slice_mut().expect("contiguous");
        let loss = match target {
            Target::Labels(labels) => softmax_cross_entropy(out, width, labels, grad),
            Target::Q { actions, weighted } => {
                let weights = if weighted { Some(&ws.weights[..]) } else { None };
                let loss = masked_loss(
                    net.config.loss,
                    out,
                    width,
                    actions,
                    &ws.targets,
                    weights,
                    ws.penalty,
                    grad,
                    &mut ws.td,
                );
                if net.config.output == Output::Softmax {
                    for (p, g) in out.chunks_exact(width).zip(grad.chunks_exact_mut(width)) {
                        softmax_backward_in_place(p, g);
                    }
                }
                loss
            }
        };

        // Backward.
        let activation = net.config.activation;
        for l in (0..n).rev() {
            let (lower, upper) = ws.deltas.split_at_mut(l);
            let delta = &upper[0];
            let (out, inp) = net.weights[l].dim();
            let ds = delta.as_slice().expect("contiguous");
            let input = if l == 0 { xs } else { ws.acts[l - 1].as_slice().expect("contiguous") };
            // dW = deltaᵀ · input: [out, batch] x [batch, in].
            let gw = ws.grad_w[l].as_slice_mut().expect("contiguous");
            gemm_tn(batch, out, inp, ds, input, gw);
            let gb = ws.grad_b[l].as_slice_mut().expect("contiguous");
            gb.fill(0.0);
            for row in delta.as_slice().expect("contiguous").chunks_exact(gb.len()) {
                for (g, &d) in gb.iter_mut().zip(row) {
                    *g += d;
                }
            }
            if l > 0 {
                let prev = &mut lower[l - 1];
                let d = prev.as_slice_mut().expect("contiguous");
                // d input = delta · W: [batch, out] x [out, in].
                let w = net.weights[l].as_slice().expect("contiguous");
                gemm_nn(batch, out, inp, ds, w, d);
                let a = ws.acts[l - 1].as_slice().expect("contiguous");
                if dropout {
                    let mask = ws.masks[l - 1].as_slice().expect("contiguous");
                    for ((d, &a), &m) in d.iter_mut().zip(a).zip(mask) {
                        *d = if m == 0.0 {
                            0.0
                        } else {
                            *d * m * activation.derivative_from_output(a / m)
                        };
                    }
                } else {
                    match activation {
                        Activation::Relu => {
                            for (d, &a) in d.iter_mut().zip(a) {
                                *d = if a > 0.0 { *d } else { 0.0 };
                            }
                        }
                        Activation::Tanh => {
                            for (d, &a) in d.iter_mut().zip(a) {
                                *d *= 1.0 - a * a;
                            }
                        }
                    }
                }
            }
        }
        loss
    }
}

vectorized! {
    /// [`Mlp::single_forward`], compiled for each vector extension level ([`super::cpu`]).
    fn single_forward(net: &Mlp, input: &[f32], single: &mut [Vec<f32>]) {
        let n = net.weights.len();
        for l in 0..n {
            let (before, rest) = single.split_at_mut(l);
            let current = &mut rest[0];
            let input: &[f32] = if l == 0 { input } else { &before[l - 1] };
            let w = net.weights[l].as_slice().expect("contiguous");
            let b = net.biases[l].as_slice().expect("contiguous");
            for ((c, row), &b) in current.iter_mut().zip(w.chunks_exact(input.len())).zip(b) {
                *c = b + dot(row, input);
            }
            if l + 1 < n {
                let activation = net.config.activation;
                current.iter_mut().for_each(|v| *v = activation.apply(*v));
            } else if net.config.output == Output::Softmax {
                softmax_in_place(current);
            }
        }
    }
}

/// Refuses a configuration whose buffers cannot be allocated, before anything is: the parameter
/// count is computed with checked arithmetic, and the memory for every copy of the parameters
/// is reserved once (and released) as a probe, so that a size that validates but cannot be
/// had is an error naming `hidden` and the bytes, not a panic or an abort in the allocator.
fn check_allocation(config: &MlpConfig) -> Result<()> {
    let too_large = |detail: String| Error::InvalidConfig {
        field: "hidden",
        value: format!("{:?} ({detail})", config.hidden),
        rule: "the network's buffers could not be allocated",
    };
    let mut params = 0usize;
    for (fan_in, fan_out) in config.layer_sizes() {
        params = fan_in
            .checked_mul(fan_out)
            .and_then(|w| w.checked_add(fan_out))
            .and_then(|layer| params.checked_add(layer))
            .ok_or_else(|| too_large("the parameter count overflows usize".into()))?;
    }
    let values =
        params.checked_mul(PARAMETER_COPIES).filter(|&v| v <= isize::MAX as usize / 4).ok_or_else(
            || too_large(format!("{params} parameters, more bytes than can be addressed")),
        )?;
    let mut probe: Vec<f32> = Vec::new();
    probe.try_reserve_exact(values).map_err(|_| {
        too_large(format!(
            "{params} parameters, {} bytes with gradients and optimizer state",
            4 * values
        ))
    })?;
    Ok(())
}

/// The dot product of two equally long slices, with eight independent accumulators so that
/// the compiler vectorises it.
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8.remainder().iter().zip(b8.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a8.zip(b8) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let half = [acc[0] + acc[4], acc[1] + acc[5], acc[2] + acc[6], acc[3] + acc[7]];
    (half[0] + half[2]) + (half[1] + half[3]) + tail
}

fn check_len(what: &str, expected: usize, got: usize) -> Result<()> {
    if expected != got {
        return Err(Error::ShapeMismatch {
            what: what.to_string(),
            expected: format!("length {expected} (the batch size)"),
            got: format!("length {got}"),
        });
    }
    Ok(())
}

/// Adds `b` to every row of `z` (row-major, rows of `b.len()`) and applies `activation`.
#[inline]
fn add_bias_activate(z: &mut [f32], b: &[f32], activation: Option<Activation>) {
    let width = b.len();
    match activation {
        None => {
            for row in z.chunks_exact_mut(width) {
                for (v, &b) in row.iter_mut().zip(b) {
                    *v += b;
                }
            }
        }
        Some(Activation::Relu) => {
            for row in z.chunks_exact_mut(width) {
                for (v, &b) in row.iter_mut().zip(b) {
                    *v = (*v + b).max(0.0);
                }
            }
        }
        Some(Activation::Tanh) => {
            for row in z.chunks_exact_mut(width) {
                for (v, &b) in row.iter_mut().zip(b) {
                    *v = (*v + b).tanh();
                }
            }
        }
    }
}

impl QNetwork for Mlp {
    fn input_dim(&self) -> usize {
        self.config.input_dim
    }

    fn num_actions(&self) -> usize {
        self.config.output_dim
    }

    fn q_values(&self, states: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        self.forward(states)
    }

    fn q_values_one(&mut self, state: ArrayView1<'_, f32>, out: &mut [f32]) -> Result<()> {
        if state.len() != self.config.input_dim {
            return Err(Error::ShapeMismatch {
                what: "state".into(),
                expected: format!("length {}", self.config.input_dim),
                got: format!("length {}", state.len()),
            });
        }
        if out.len() != self.config.output_dim {
            return Err(Error::ShapeMismatch {
                what: "out".into(),
                expected: format!("length {}", self.config.output_dim),
                got: format!("length {}", out.len()),
            });
        }
        // Taken out of the workspace for the call (moving a Vec does not allocate).
        let mut input = std::mem::take(&mut self.ws.single_input);
        let mut single = std::mem::take(&mut self.ws.single);
        input.clear();
        input.extend(state.iter());
        self.single_forward(&input, &mut single);
        out.copy_from_slice(single.last().expect("an Mlp has at least one layer"));
        self.ws.single_input = input;
        self.ws.single = single;
        Ok(())
    }

    fn train_step(
        &mut self,
        states: ArrayView2<'_, f32>,
        actions: &[usize],
        targets: ArrayView1<'_, f32>,
        weights: Option<ArrayView1<'_, f32>>,
    ) -> Result<TrainStats> {
        if self.config.dropout > 0.0 {
            return Err(Error::InvalidConfig {
                field: "dropout",
                value: self.config.dropout.to_string(),
                rule: "QNetwork::train_step has no rng, so a Q-network needs dropout 0 \
                       (or call Mlp::train_step_with_rng)",
            });
        }
        self.q_step(states, actions, targets, weights, None)
    }

    fn update_from(&mut self, source: &dyn QNetwork, tau: f32) -> Result<()> {
        if !(tau > 0.0 && tau <= 1.0) {
            return Err(Error::InvalidArgument {
                what: "tau",
                value: tau.to_string(),
                rule: "must be in (0, 1]",
            });
        }
        let theirs = source.parameters();
        let ours = self.parameters();
        if theirs.len() != ours.len() {
            return Err(Error::ShapeMismatch {
                what: "parameters of the source network".into(),
                expected: format!("{} tensors", ours.len()),
                got: format!("{} tensors", theirs.len()),
            });
        }
        for (k, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            if a.shape() != b.shape() {
                return Err(Error::ShapeMismatch {
                    what: format!("parameter {k} of the source network"),
                    expected: format!("{:?}", a.shape()),
                    got: format!("{:?}", b.shape()),
                });
            }
        }
        drop(ours);
        for (dst, src) in self.parameters_mut().zip(&theirs) {
            // A contiguous source is read as a slice: iterating an `ArrayViewD` element by
            // element goes through its dynamic-rank indexing, several times slower.
            let owned;
            let src = match src.as_slice() {
                Some(slice) => slice,
                None => {
                    owned = src.iter().copied().collect::<Vec<f32>>();
                    &owned[..]
                }
            };
            if tau == 1.0 {
                dst.copy_from_slice(src);
            } else {
                // Stable-Baselines3's polyak_update: target.mul_(1 - tau).add_(source, tau).
                for (d, &s) in dst.iter_mut().zip(src) {
                    *d = *d * (1.0 - tau) + tau * s;
                }
            }
        }
        self.refresh_transposed();
        Ok(())
    }

    fn set_learning_rate(&mut self, lr: f32) -> Result<()> {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::InvalidArgument {
                what: "lr",
                value: lr.to_string(),
                rule: "must be finite and > 0",
            });
        }
        self.config.optimizer = self.config.optimizer.with_learning_rate(lr);
        Ok(())
    }

    fn set_output_penalty(&mut self, penalty: Option<OutputPenalty>) -> Result<()> {
        if let Some(p) = &penalty {
            p.validate()?;
        }
        self.ws.penalty = penalty;
        Ok(())
    }

    fn parameters(&self) -> Vec<ArrayViewD<'_, f32>> {
        self.weights
            .iter()
            .zip(&self.biases)
            .flat_map(|(w, b)| [w.view().into_dyn(), b.view().into_dyn()])
            .collect()
    }
}

vectorized! {
    /// `sum` plus the sum of squares of `xs`, in f64 (as PyTorch's double-precision reference
    /// would). Element `i` goes to accumulator `i % 8` and the eight are added in a fixed tree,
    /// so the order, and with it every bit, is the same at every vector width; eight chains
    /// instead of one make it eight times shorter.
    fn sum_of_squares(sum: f64, xs: &[f32]) -> f64 {
        let mut acc = [0.0f64; 8];
        let chunks = xs.chunks_exact(8);
        for (a, &x) in acc.iter_mut().zip(chunks.remainder()) {
            *a = f64::from(x) * f64::from(x);
        }
        for chunk in chunks {
            for (a, &x) in acc.iter_mut().zip(chunk) {
                *a += f64::from(x) * f64::from(x);
            }
        }
        let half = [acc[0] + acc[4], acc[1] + acc[5], acc[2] + acc[6], acc[3] + acc[7]];
        sum + ((half[0] + half[2]) + (half[1] + half[3]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array;
    use ndarray_rand::rand_distr::StandardNormal;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    // Finite-difference gradient checks of the whole network, by central differences on every
    // parameter. Step H = 1e-2. Truncation error: zero for ReLU with the masked MSE and Huber
    // losses (for a fixed ReLU pattern and Huber branch, the loss is quadratic in each single
    // parameter, where central differences are exact), about H^2/6 * |f'''| ~ 1e-5 for tanh,
    // softmax and cross-entropy. Rounding error: the f32 forward pass carries a relative error of
    // a few 1e-7 on a loss of order 1..10, divided by 2H, hence ~1e-4. Tolerance: 5e-4 + 1e-3 *
    // |g|, two orders of magnitude below the error of a real mistake on gradients of order 0.1..1
    // (a missing factor 2 or 1/batch, a transposed weight, a wrong derivative). Parameters whose
    // perturbation flips a ReLU or changes the Huber branch are skipped (and counted).
    const H: f32 = 1e-2;

    #[derive(Clone, Copy, Debug)]
    enum Kind {
        Q { weighted: bool },
        Labels,
    }

    struct Problem {
        x: Array2<f32>,
        actions: Vec<usize>,
        targets: Array1<f32>,
        weights: Array1<f32>,
    }

    fn problem(net: &Mlp, seed: u64) -> Problem {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let batch = 5;
        let x = Array::random_using((batch, net.config.input_dim), StandardNormal, &mut rng);
        let actions: Vec<usize> =
            (0..batch).map(|_| rng.random_range(0..net.config.output_dim)).collect();
        // TD errors away from the Huber kink at |d| = 1: the target is Q(s, a) plus an offset.
        let q = net.forward(x.view()).unwrap();
        let offsets = [0.4f32, -0.6, 2.0, -1.7, 0.2];
        let targets = Array1::from_iter((0..batch).map(|i| q[[i, actions[i]]] + offsets[i]));
        let weights = Array1::from(vec![0.5f32, 1.5, 1.0, 0.25, 2.0]);
        Problem { x, actions, targets, weights }
    }

    fn evaluate(net: &mut Mlp, p: &Problem, kind: Kind, dropout_seed: Option<u64>) -> f32 {
        net.refresh_transposed(); // `param_mut` changes weights behind the network's back
        let mut rng = dropout_seed.map(ChaCha8Rng::seed_from_u64);
        let rng = rng.as_mut().map(|r| r as &mut dyn RngCore);
        match kind {
            Kind::Q { weighted } => {
                let w = weighted.then(|| p.weights.view());
                net.prepare_q(p.x.view(), &p.actions, p.targets.view(), w).unwrap();
                let target = Target::Q { actions: &p.actions, weighted };
                net.compute_gradients(p.x.view(), target, rng)
            }
            Kind::Labels => net.compute_gradients(p.x.view(), Target::Labels(&p.actions), rng),
        }
    }

    /// The ReLU pattern of the hidden layers and the Huber branches: what must not change
    /// between the evaluations of one difference quotient.
    fn regime(net: &Mlp) -> Vec<bool> {
        let n = net.weights.len();
        let mut r: Vec<bool> = net.ws.acts[..n - 1].iter().flatten().map(|&a| a > 0.0).collect();
        r.extend(net.ws.td.iter().map(|d| d.abs() < 1.0));
        r
    }

    /// Element `i` of parameter `k` (in the order of `QNetwork::parameters`).
    fn param_mut(net: &mut Mlp, k: usize, i: usize) -> &mut f32 {
        let l = k / 2;
        if k.is_multiple_of(2) {
            &mut net.weights[l].as_slice_mut().unwrap()[i]
        } else {
            &mut net.biases[l][i]
        }
    }

    fn check(config: MlpConfig, kind: Kind, dropout_seed: Option<u64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let mut net = Mlp::new(config.clone(), &mut rng).unwrap();
        // Non-zero biases, so that their gradients are exercised from a generic point.
        for b in &mut net.biases {
            b.mapv_inplace(|_| rng.random_range(-0.3..0.3));
        }
        let p = problem(&net, 7);
        evaluate(&mut net, &p, kind, dropout_seed);
        let grads: Vec<Array1<f32>> = net
            .ws
            .grad_w
            .iter()
            .zip(&net.ws.grad_b)
            .flat_map(|(w, b)| [Array1::from_iter(w.iter().copied()), b.clone()])
            .collect();
        let base = regime(&net);
        let (mut checked, mut skipped, mut max_grad) = (0, 0, 0.0f32);
        for (k, grad) in grads.iter().enumerate() {
            for i in 0..grad.len() {
                let original = *param_mut(&mut net, k, i);
                *param_mut(&mut net, k, i) = original + H;
                let plus = evaluate(&mut net, &p, kind, dropout_seed);
                let same_plus = regime(&net) == base;
                *param_mut(&mut net, k, i) = original - H;
                let minus = evaluate(&mut net, &p, kind, dropout_seed);
                let same_minus = regime(&net) == base;
                *param_mut(&mut net, k, i) = original;
                if !(same_plus && same_minus) {
                    skipped += 1;
                    continue;
                }
                let fd = (plus - minus) / (2.0 * H);
                let g = grad[i];
                max_grad = max_grad.max(g.abs());
                assert!(
                    (g - fd).abs() <= 5e-4 + 1e-3 * g.abs(),
                    "{config:?} {kind:?}: parameter {k}[{i}]: backprop {g} vs difference {fd}"
                );
                checked += 1;
            }
        }
        assert!(skipped * 10 <= checked, "too many parameters skipped: {skipped} of {checked}");
        assert!(max_grad > 0.05, "gradients too small to test anything: {max_grad}");
    }

    fn config(activation: Activation, output: Output, loss: Loss) -> MlpConfig {
        MlpConfig::new(3, vec![6, 5], 4)
            .with_activation(activation)
            .with_output(output)
            .with_loss(loss)
            .with_optimizer(Optimizer::sgd(0.1))
    }

    /// Training steps give the same bits with every kernel this processor runs (the baseline's
    /// software fused multiply-add, AVX2, AVX-512): the guarantee of `super::cpu`, checked on
    /// the whole step (forward, loss, backward, clipping, Adam, transposes).
    #[test]
    fn every_vector_level_trains_to_the_same_bits() {
        use crate::nn::cpu::{levels, with_level};
        for (activation, loss) in
            [(Activation::Relu, Loss::MaskedMse), (Activation::Tanh, Loss::Huber)]
        {
            let config = MlpConfig::new(4, vec![64, 37], 3)
                .with_activation(activation)
                .with_loss(loss)
                .with_max_grad_norm(Some(0.5));
            let run = || {
                let mut rng = ChaCha8Rng::seed_from_u64(9);
                let mut net = Mlp::new(config.clone(), &mut rng).unwrap();
                let states = Array::random_using((33, 4), StandardNormal, &mut rng);
                let actions: Vec<usize> = (0..33).map(|i| i % 3).collect();
                let targets = Array::random_using(33, StandardNormal, &mut rng);
                for _ in 0..5 {
                    net.train_step(states.view(), &actions, targets.view(), None).unwrap();
                }
                let q = net.forward(states.view()).unwrap();
                let mut one = vec![0.0; 3];
                net.q_values_one(states.row(0), &mut one).unwrap();
                let bits =
                    |xs: &mut dyn Iterator<Item = f32>| xs.map(f32::to_bits).collect::<Vec<_>>();
                let params = net.parameters();
                let mut all = params.iter().flat_map(|p| p.iter().copied()).chain(q).chain(one);
                bits(&mut all)
            };
            let results: Vec<_> = levels().into_iter().map(|l| (l, with_level(l, run))).collect();
            for (level, bits) in &results[1..] {
                assert!(
                    bits == &results[0].1,
                    "{level:?} differs from the baseline ({activation:?})"
                );
            }
        }
    }

    #[test]
    fn gradients_relu_masked_mse() {
        check(
            config(Activation::Relu, Output::Identity, Loss::MaskedMse),
            Kind::Q { weighted: false },
            None,
        );
    }

    #[test]
    fn gradients_relu_keras_mse_weighted() {
        let c = config(Activation::Relu, Output::Identity, Loss::KerasMaskedMse);
        check(c, Kind::Q { weighted: true }, None);
    }

    #[test]
    fn gradients_tanh_huber_weighted() {
        check(
            config(Activation::Tanh, Output::Identity, Loss::Huber),
            Kind::Q { weighted: true },
            None,
        );
    }

    #[test]
    fn gradients_relu_huber() {
        check(
            config(Activation::Relu, Output::Identity, Loss::Huber),
            Kind::Q { weighted: false },
            None,
        );
    }

    #[test]
    fn gradients_through_softmax_output() {
        check(
            config(Activation::Tanh, Output::Softmax, Loss::MaskedMse),
            Kind::Q { weighted: true },
            None,
        );
    }

    #[test]
    fn gradients_cross_entropy() {
        check(config(Activation::Relu, Output::Identity, Loss::MaskedMse), Kind::Labels, None);
        check(config(Activation::Tanh, Output::Softmax, Loss::MaskedMse), Kind::Labels, None);
    }

    #[test]
    fn gradients_with_dropout() {
        let c = config(Activation::Tanh, Output::Identity, Loss::MaskedMse).with_dropout(0.3);
        check(c.clone(), Kind::Labels, Some(3));
        check(
            c.with_activation(Activation::Relu).with_loss(Loss::Huber),
            Kind::Q { weighted: true },
            Some(4),
        );
    }

    #[test]
    fn gradients_of_a_linear_model() {
        let c = MlpConfig::new(3, vec![], 2).with_loss(Loss::MaskedMse);
        check(c, Kind::Q { weighted: false }, None);
    }

    #[test]
    fn untaken_actions_get_exactly_zero_gradient() {
        for loss in [Loss::MaskedMse, Loss::KerasMaskedMse, Loss::Huber] {
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let mut net =
                Mlp::new(config(Activation::Relu, Output::Identity, loss), &mut rng).unwrap();
            let mut p = problem(&net, 3);
            p.actions = vec![1, 3, 1, 1, 3];
            evaluate(&mut net, &p, Kind::Q { weighted: true }, None);
            let n = net.weights.len();
            let delta = &net.ws.deltas[n - 1];
            for (i, &a) in p.actions.iter().enumerate() {
                for j in 0..4 {
                    if j != a {
                        assert_eq!(delta[[i, j]], 0.0, "{loss}: sample {i} action {j}");
                    }
                }
            }
            // Output units 0 and 2 were never taken: their weights and biases get no gradient.
            for j in [0, 2] {
                assert!(net.ws.grad_w[n - 1].row(j).iter().all(|&g| g == 0.0));
                assert_eq!(net.ws.grad_b[n - 1][j], 0.0);
            }
            assert!(net.ws.grad_w[n - 1].row(1).iter().any(|&g| g != 0.0));
        }
    }

    #[test]
    fn dropout_masks_are_inverted_and_seeded() {
        let c = config(Activation::Relu, Output::Identity, Loss::MaskedMse).with_dropout(0.5);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut net = Mlp::new(c, &mut rng).unwrap();
        let p = problem(&net, 1);
        evaluate(&mut net, &p, Kind::Labels, Some(9));
        let masks = net.ws.masks.clone();
        assert!(masks.iter().flatten().all(|&m| m == 0.0 || m == 2.0));
        assert!(masks.iter().flatten().any(|&m| m == 0.0));
        evaluate(&mut net, &p, Kind::Labels, Some(9));
        assert_eq!(masks, net.ws.masks);
    }

    #[test]
    fn workspace_follows_batch_size_changes() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut net = Mlp::new(MlpConfig::default(), &mut rng).unwrap();
        for batch in [3, 7, 3, 1] {
            let x = Array::random_using((batch, 4), StandardNormal, &mut rng);
            let actions = vec![0; batch];
            let targets = Array1::zeros(batch);
            let stats = net.train_step(x.view(), &actions, targets.view(), None).unwrap();
            assert_eq!(stats.td_errors.len(), batch);
        }
    }
}
