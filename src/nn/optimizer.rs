//! Gradient-descent optimizers with PyTorch's update rules and defaults.

use super::cpu::vectorized;
use crate::{Error, Result};

/// An optimizer and its hyperparameters: SGD (with optional momentum), RMSprop or Adam.
///
/// Each follows PyTorch's update rule (`torch.optim.SGD`, `RMSprop`, `Adam`, without weight
/// decay) and its defaults; the tests compare one step of each with PyTorch to a relative
/// 1e-5. Gradients may first be clipped to a global L2 norm with
/// [`MlpConfig::max_grad_norm`](crate::MlpConfig::max_grad_norm).
///
/// Differences from Keras, which the DQN tutorials used:
/// - **Adam**: Keras' default `epsilon` is `1e-7` (PyTorch `1e-8`); otherwise the Keras 3 rule
///   is the same as PyTorch's. (TF1-era Keras added `epsilon` to the bias-corrected `sqrt(v)`
///   scaled by `sqrt(1 - beta2^t)`, a negligible difference.)
/// - **RMSprop**: Keras' defaults are `lr = 1e-3`, `rho = 0.9`, `epsilon = 1e-7` (PyTorch
///   `lr = 1e-2`, `alpha = 0.99`, `eps = 1e-8`). Keras 2 put `epsilon` inside the square
///   root, `sqrt(v + eps)`; PyTorch and Keras 3 add it outside, `sqrt(v) + eps`, as here.
/// - **SGD with momentum**: Keras keeps `v = momentum * v - lr * g; p += v`, PyTorch keeps
///   `b = momentum * b + g; p -= lr * b` (the first step sets `b = g`). With a constant learning
///   rate the two give the same parameters.
///
/// # Examples
/// ```
/// use deepq::Optimizer;
///
/// let adam = Optimizer::adam(1e-3);
/// assert_eq!(adam, Optimizer::default());
/// assert_eq!(Optimizer::rmsprop(1e-2).learning_rate(), 1e-2);
/// assert!(Optimizer::sgd(-1.0).validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub enum Optimizer {
    /// Stochastic gradient descent, PyTorch's `SGD` (dampening 0).
    ///
    /// ```text
    /// b = g (first step), b = momentum * b + g (later steps)   [only if momentum > 0]
    /// d = g + momentum * b (nesterov) or b (otherwise), or g without momentum
    /// p = p - lr * d
    /// ```
    Sgd {
        /// Learning rate, `> 0`; PyTorch's default 1e-3 (torch 2.15); [`Optimizer::sgd`] takes
        /// it as its argument.
        lr: f32,
        /// Momentum in `[0, 1)`; PyTorch's default 0.
        momentum: f32,
        /// Nesterov momentum (needs `momentum > 0`); PyTorch's default `false`.
        nesterov: bool,
    },
    /// RMSprop, PyTorch's `RMSprop`.
    ///
    /// ```text
    /// v = alpha * v + (1 - alpha) * g^2
    /// c = alpha * c + (1 - alpha) * g;  v_hat = v - c^2   [centered; else v_hat = v]
    /// u = g / (sqrt(v_hat) + eps)
    /// b = momentum * b + u; u = b                          [only if momentum > 0]
    /// p = p - lr * u
    /// ```
    RmsProp {
        /// Learning rate, `> 0`; PyTorch's default 1e-2.
        lr: f32,
        /// Smoothing constant in `[0, 1)`; PyTorch's default 0.99 (Keras' `rho`, 0.9).
        alpha: f32,
        /// Added to the denominator, `> 0`; PyTorch's default 1e-8.
        eps: f32,
        /// Momentum in `[0, 1)`; PyTorch's default 0.
        momentum: f32,
        /// Normalise by the variance estimate instead of the raw second moment; default `false`.
        centered: bool,
    },
    /// Adam, PyTorch's `Adam` (not AMSGrad).
    ///
    /// ```text
    /// m = beta1 * m + (1 - beta1) * g
    /// v = beta2 * v + (1 - beta2) * g^2
    /// p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    /// ```
    Adam {
        /// Learning rate, `> 0`; PyTorch's default 1e-3.
        lr: f32,
        /// First-moment decay in `[0, 1)`; PyTorch's default 0.9.
        beta1: f32,
        /// Second-moment decay in `[0, 1)`; PyTorch's default 0.999.
        beta2: f32,
        /// Added to the denominator, `> 0`; PyTorch's default 1e-8 (Keras 1e-7).
        eps: f32,
    },
}

/// The optimizer field of [`MlpConfig`](crate::MlpConfig): the same type as [`Optimizer`].
pub type OptimizerConfig = Optimizer;

impl Default for Optimizer {
    /// Adam with PyTorch's defaults (learning rate 1e-3), the optimizer of the DQN tutorials.
    fn default() -> Self {
        Optimizer::adam(1e-3)
    }
}

impl Optimizer {
    /// Plain SGD with learning rate `lr` (no momentum).
    pub fn sgd(lr: f32) -> Self {
        Optimizer::Sgd { lr, momentum: 0.0, nesterov: false }
    }

    /// SGD with learning rate `lr` and (non-Nesterov) `momentum`.
    pub fn sgd_momentum(lr: f32, momentum: f32) -> Self {
        Optimizer::Sgd { lr, momentum, nesterov: false }
    }

    /// RMSprop with learning rate `lr` and PyTorch's other defaults (`alpha` 0.99, `eps` 1e-8,
    /// no momentum, not centered).
    pub fn rmsprop(lr: f32) -> Self {
        Optimizer::RmsProp { lr, alpha: 0.99, eps: 1e-8, momentum: 0.0, centered: false }
    }

    /// Adam with learning rate `lr` and PyTorch's other defaults (betas 0.9 and 0.999, `eps`
    /// 1e-8).
    pub fn adam(lr: f32) -> Self {
        Optimizer::Adam { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8 }
    }

    /// The same optimizer with learning rate `lr` (every other hyperparameter kept).
    pub fn with_learning_rate(self, lr: f32) -> Self {
        match self {
            Optimizer::Sgd { momentum, nesterov, .. } => Optimizer::Sgd { lr, momentum, nesterov },
            Optimizer::RmsProp { alpha, eps, momentum, centered, .. } => {
                Optimizer::RmsProp { lr, alpha, eps, momentum, centered }
            }
            Optimizer::Adam { beta1, beta2, eps, .. } => Optimizer::Adam { lr, beta1, beta2, eps },
        }
    }

    /// The learning rate.
    pub fn learning_rate(&self) -> f32 {
        match *self {
            Optimizer::Sgd { lr, .. }
            | Optimizer::RmsProp { lr, .. }
            | Optimizer::Adam { lr, .. } => lr,
        }
    }

    /// The name used in weights files: `sgd`, `rmsprop` or `adam`.
    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::Sgd { .. } => "sgd",
            Optimizer::RmsProp { .. } => "rmsprop",
            Optimizer::Adam { .. } => "adam",
        }
    }

    /// Checks every hyperparameter.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first field that breaks its rule (the field is
    /// prefixed with `optimizer.`).
    pub fn validate(&self) -> Result<()> {
        fn positive(field: &'static str, v: f32) -> Result<()> {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(invalid(field, v, "must be finite and > 0"))
            }
        }
        fn unit(field: &'static str, v: f32) -> Result<()> {
            if (0.0..1.0).contains(&v) {
                Ok(())
            } else {
                Err(invalid(field, v, "must be in [0, 1)"))
            }
        }
        match *self {
            Optimizer::Sgd { lr, momentum, nesterov } => {
                positive("optimizer.lr", lr)?;
                unit("optimizer.momentum", momentum)?;
                if nesterov && momentum == 0.0 {
                    return Err(invalid(
                        "optimizer.momentum",
                        momentum,
                        "nesterov momentum needs momentum > 0",
                    ));
                }
            }
            Optimizer::RmsProp { lr, alpha, eps, momentum, centered: _ } => {
                positive("optimizer.lr", lr)?;
                unit("optimizer.alpha", alpha)?;
                positive("optimizer.eps", eps)?;
                unit("optimizer.momentum", momentum)?;
            }
            Optimizer::Adam { lr, beta1, beta2, eps } => {
                positive("optimizer.lr", lr)?;
                unit("optimizer.beta1", beta1)?;
                unit("optimizer.beta2", beta2)?;
                positive("optimizer.eps", eps)?;
            }
        }
        Ok(())
    }
}

/// Flushes a subnormal optimizer moment to zero.
///
/// Moments decay geometrically once a gradient vanishes (a dead ReLU unit), and subnormal `f32`
/// arithmetic is up to 100 times slower on x86: measured here, it doubled the time of a
/// 4-256-256-2 update. A subnormal moment (below `f32::MIN_POSITIVE`, about 1.2e-38) moves a
/// parameter by less than `lr * 1e-30`, far below the resolution of `f32` parameters, so
/// flushing it changes no result that PyTorch (which keeps subnormals) would distinguish.
#[inline(always)]
fn flush(x: f32) -> f32 {
    if x.abs() < f32::MIN_POSITIVE { 0.0 } else { x }
}

fn invalid(field: &'static str, value: f32, rule: &'static str) -> Error {
    Error::InvalidConfig { field, value: value.to_string(), rule }
}

/// Whether an `f32` is NaN or infinite, as integer operations (so that an or-reduction of it
/// vectorises inside the update loops).
#[inline(always)]
fn non_finite(x: f32) -> bool {
    (x.to_bits() & 0x7f80_0000) == 0x7f80_0000
}

/// The running state of an [`Optimizer`] over a list of parameter tensors (flat slices).
///
/// A step is transactional: [`begin_step`](OptimizerState::begin_step), then
/// [`update`](OptimizerState::update) on every parameter, which writes the new parameter into a
/// separate buffer and the new moments into the `next_*` buffers and reports whether all of
/// them are finite; then [`commit`](OptimizerState::commit) (the new moments become current, in
/// O(1) by swapping) or [`abort`](OptimizerState::abort) (nothing changed). The arithmetic is
/// that of an in-place update; only where it is written differs.
#[derive(Debug, Clone)]
pub(crate) struct OptimizerState {
    /// Steps taken so far.
    pub(super) step: u64,
    /// First buffer per parameter: momentum (SGD), square average (RMSprop), `m` (Adam).
    pub(super) first: Vec<Vec<f32>>,
    /// Second buffer per parameter: momentum (RMSprop), `v` (Adam).
    pub(super) second: Vec<Vec<f32>>,
    /// Third buffer per parameter: gradient average (centered RMSprop).
    pub(super) third: Vec<Vec<f32>>,
    /// The buffers a step writes, the same shapes as the three above.
    next_first: Vec<Vec<f32>>,
    next_second: Vec<Vec<f32>>,
    next_third: Vec<Vec<f32>>,
    /// Adam's step size `lr / (1 - beta1^t)` and `1 / sqrt(1 - beta2^t)` for the current step.
    adam_scalars: (f32, f32),
}

impl OptimizerState {
    /// A fresh state for parameters of the given lengths.
    pub(crate) fn new(config: &Optimizer, sizes: &[usize]) -> Self {
        let zeros = || sizes.iter().map(|&n| vec![0.0; n]).collect::<Vec<_>>();
        let none = || sizes.iter().map(|_| Vec::new()).collect::<Vec<_>>();
        let (first, second, third) = match *config {
            Optimizer::Sgd { momentum, .. } => {
                (if momentum > 0.0 { zeros() } else { none() }, none(), none())
            }
            Optimizer::RmsProp { momentum, centered, .. } => (
                zeros(),
                if momentum > 0.0 { zeros() } else { none() },
                if centered { zeros() } else { none() },
            ),
            Optimizer::Adam { .. } => (zeros(), zeros(), none()),
        };
        OptimizerState {
            step: 0,
            next_first: first.clone(),
            next_second: second.clone(),
            next_third: third.clone(),
            first,
            second,
            third,
            adam_scalars: (0.0, 0.0),
        }
    }

    /// Starts a step: call once before [`update`](OptimizerState::update) on each parameter.
    pub(crate) fn begin_step(&mut self, config: &Optimizer) {
        self.step += 1;
        if let Optimizer::Adam { lr, beta1, beta2, .. } = *config {
            // Scalars as PyTorch computes them: in double precision.
            let t = self.step as f64;
            let bias1 = 1.0 - f64::from(beta1).powf(t);
            let bias2_sqrt = (1.0 - f64::from(beta2).powf(t)).sqrt();
            self.adam_scalars = ((f64::from(lr) / bias1) as f32, (1.0 / bias2_sqrt) as f32);
        }
    }

    /// Makes the moments written by this step's updates the current ones.
    pub(crate) fn commit(&mut self) {
        std::mem::swap(&mut self.first, &mut self.next_first);
        std::mem::swap(&mut self.second, &mut self.next_second);
        std::mem::swap(&mut self.third, &mut self.next_third);
    }

    /// Abandons the step: the state is as before [`begin_step`](OptimizerState::begin_step).
    pub(crate) fn abort(&mut self) {
        self.step -= 1;
    }

    /// The first non-finite moment this step wrote for parameter `k`: (buffer name, index,
    /// value). For error messages after `update` reported a non-finite value.
    pub(crate) fn first_non_finite_moment(&self, k: usize) -> Option<(&'static str, usize, f32)> {
        [("first moment", &self.next_first), ("second moment", &self.next_second)]
            .into_iter()
            .chain([("gradient average", &self.next_third)])
            .find_map(|(name, buffers)| {
                let b = &buffers[k];
                b.iter().position(|x| !x.is_finite()).map(|i| (name, i, b[i]))
            })
    }

    /// Computes parameter number `k`'s new values from its gradient into `out` (the moments
    /// into the `next_*` buffers); returns `true` if every value written is finite.
    ///
    /// # Panics
    /// If `param`, `grad` and `out` differ in length from the size given to `new` (an internal
    /// bug).
    pub(crate) fn update(
        &mut self,
        config: &Optimizer,
        k: usize,
        param: &[f32],
        grad: &[f32],
        out: &mut [f32],
    ) -> bool {
        update(self, config, k, param, grad, out)
    }
}

vectorized! {
    /// [`OptimizerState::update`]'s arithmetic, compiled for each vector extension level (the
    /// same bits on all: [`super::cpu`]).
    fn update(
        state: &mut OptimizerState,
        config: &Optimizer,
        k: usize,
        param: &[f32],
        grad: &[f32],
        out: &mut [f32],
    ) -> bool {
        assert!(
            param.len() == grad.len() && out.len() == grad.len(),
            "optimizer: parameter, gradient and output lengths differ"
        );
        let n = param.len();
        let mut bad = false;
        match *config {
            Optimizer::Sgd { lr, momentum, nesterov } => {
                if momentum == 0.0 {
                    for i in 0..n {
                        out[i] = param[i] - lr * grad[i];
                        bad |= non_finite(out[i]);
                    }
                    return !bad;
                }
                let (buf, next) = (&state.first[k], &mut state.next_first[k]);
                assert!(buf.len() == n && next.len() == n, "optimizer: state size differs");
                let first = state.step == 1;
                for i in 0..n {
                    let g = grad[i];
                    let b = flush(if first { g } else { momentum * buf[i] + g });
                    next[i] = b;
                    let d = if nesterov { g + momentum * b } else { b };
                    out[i] = param[i] - lr * d;
                    bad |= non_finite(out[i]) | non_finite(b);
                }
            }
            Optimizer::RmsProp { lr, alpha, eps, momentum, centered } => {
                let (sq, next_sq) = (&state.first[k], &mut state.next_first[k]);
                assert!(sq.len() == n && next_sq.len() == n, "optimizer: state size differs");
                for i in 0..n {
                    let g = grad[i];
                    let s = flush(alpha * sq[i] + (1.0 - alpha) * g * g);
                    next_sq[i] = s;
                    bad |= non_finite(s);
                    let avg = if centered {
                        let c = flush(state.third[k][i] + (1.0 - alpha) * (g - state.third[k][i]));
                        state.next_third[k][i] = c;
                        bad |= non_finite(c);
                        // The variance estimate s - c^2 is >= 0 in exact arithmetic; flushing
                        // a subnormal s to 0 (where PyTorch keeps it) can leave it below c^2 by
                        // a subnormal amount, so it is taken as at least 0.
                        (s - c * c).max(0.0).sqrt() + eps
                    } else {
                        s.sqrt() + eps
                    };
                    if momentum > 0.0 {
                        let b = flush(momentum * state.second[k][i] + g / avg);
                        state.next_second[k][i] = b;
                        bad |= non_finite(b);
                        out[i] = param[i] - lr * b;
                    } else {
                        out[i] = param[i] - lr * g / avg;
                    }
                    bad |= non_finite(out[i]);
                }
            }
            Optimizer::Adam { lr: _, beta1, beta2, eps } => {
                let (step_size, inv_bias2_sqrt) = state.adam_scalars;
                let (m, v) = (&state.first[k], &state.second[k]);
                let (next_m, next_v) = (&mut state.next_first[k], &mut state.next_second[k]);
                assert!(
                    m.len() == n && v.len() == n && next_m.len() == n && next_v.len() == n,
                    "optimizer: state size differs"
                );
                // Indexed over slices of one length (no iterator chain), so that it vectorises.
                let (m, v, grad, param) = (&m[..n], &v[..n], &grad[..n], &param[..n]);
                let (next_m, next_v, out) = (&mut next_m[..n], &mut next_v[..n], &mut out[..n]);
                for i in 0..n {
                    let g = grad[i];
                    let mi = flush(m[i] + (1.0 - beta1) * (g - m[i]));
                    let vi = flush(beta2 * v[i] + (1.0 - beta2) * g * g);
                    next_m[i] = mi;
                    next_v[i] = vi;
                    let denom = vi.sqrt() * inv_bias2_sqrt + eps;
                    out[i] = param[i] - step_size * mi / denom;
                    bad |= non_finite(out[i]) | non_finite(vi) | non_finite(mi);
                }
            }
        }
        !bad
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn defaults_are_pytorch_defaults() {
        assert_eq!(
            Optimizer::default(),
            Optimizer::Adam { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 }
        );
        assert_eq!(
            Optimizer::rmsprop(0.01),
            Optimizer::RmsProp { lr: 0.01, alpha: 0.99, eps: 1e-8, momentum: 0.0, centered: false }
        );
    }

    #[test]
    fn validation_names_the_field() {
        let err = Optimizer::Adam { lr: 1e-3, beta1: 1.0, beta2: 0.999, eps: 1e-8 }.validate();
        assert!(matches!(err, Err(Error::InvalidConfig { field: "optimizer.beta1", .. })));
        let err = Optimizer::Sgd { lr: 0.1, momentum: 0.0, nesterov: true }.validate();
        assert!(matches!(err, Err(Error::InvalidConfig { field: "optimizer.momentum", .. })));
        assert!(Optimizer::sgd(f32::NAN).validate().is_err());
        assert!(Optimizer::rmsprop(0.01).validate().is_ok());
    }

    #[test]
    fn first_adam_step_moves_by_lr_times_sign() {
        // After one step m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps).
        let config = Optimizer::adam(0.1);
        let mut state = OptimizerState::new(&config, &[2]);
        let mut p = [0.0f32; 2];
        state.begin_step(&config);
        assert!(state.update(&config, 0, &[1.0, -1.0], &[0.5, -3.0], &mut p));
        state.commit();
        assert_relative_eq!(p[0], 0.9, max_relative = 1e-6);
        assert_relative_eq!(p[1], -0.9, max_relative = 1e-6);
    }
}
