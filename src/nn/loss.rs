//! Losses: the masked Bellman losses of a Q-network and softmax cross-entropy of a classifier.

use std::fmt;

/// The loss a Q-network minimises on the Bellman targets of a batch.
///
/// All three are *masked* losses, the formulation of the Keras DQN tutorials: the network output
/// is multiplied by a one-hot mask of the taken action and compared with `mask * target`. Only the
/// Q-value of the taken action enters the loss, so the Q-values of the other actions receive a
/// gradient of exactly zero.
///
/// With the TD error `d_i = y_i - Q(s_i, a_i)`, per-sample weights `w_i` (1 when none are given;
/// prioritized replay passes its importance weights) and batch size `B`, the loss is
///
/// ```text
/// L = (1 / B) * sum_i w_i * l(d_i)
/// ```
///
/// where `l` is, per variant:
///
/// | variant | `l(d)` | reference |
/// |---|---|---|
/// | [`MaskedMse`](Loss::MaskedMse) | `d^2` | PyTorch `F.mse_loss(q_taken, y)` |
/// | [`KerasMaskedMse`](Loss::KerasMaskedMse) | `d^2 / num_actions` | Keras `mse`, masked |
/// | [`Huber`](Loss::Huber) | `d^2 / 2` if `abs(d) < 1`, else `abs(d) - 1/2` | SB3 smooth L1 |
///
/// (Keras `mse`, masked: `loss='mse'` on the outputs `Q * mask` against `mask * y`. SB3 smooth
/// L1: Stable-Baselines3's DQN loss, PyTorch's `F.smooth_l1_loss` with delta 1.)
///
/// Keras' MSE averages over the last axis (the actions) as well as over the batch; with the mask
/// the `num_actions - 1` untaken entries contribute zero, so the tutorial's loss, and its
/// gradient, is [`MaskedMse`](Loss::MaskedMse) divided by `num_actions`.
/// [`KerasMaskedMse`](Loss::KerasMaskedMse) reproduces it exactly; with Adam or RMSprop the
/// constant factor hardly matters (they are nearly scale-invariant), with SGD it divides the
/// effective learning rate by `num_actions`.
///
/// # Examples
/// ```
/// use deepq::Loss;
///
/// assert_eq!(Loss::MaskedMse.per_sample(3.0, 2), 9.0);
/// assert_eq!(Loss::KerasMaskedMse.per_sample(3.0, 2), 4.5);
/// assert_eq!(Loss::Huber.per_sample(3.0, 2), 2.5);
/// assert_eq!(Loss::Huber.per_sample(0.5, 2), 0.125);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub enum Loss {
    /// Squared TD error of the taken action, averaged over the batch (the default).
    #[default]
    MaskedMse,
    /// [`MaskedMse`](Loss::MaskedMse) divided by the number of actions: exactly Keras' `mse` on
    /// the masked outputs, as in the tutorials.
    KerasMaskedMse,
    /// Huber loss with delta 1 on the TD error of the taken action (Stable-Baselines3's DQN loss,
    /// PyTorch's `smooth_l1_loss`), averaged over the batch.
    Huber,
}

impl Loss {
    /// The loss `l(d)` of one sample with TD error `d = target - Q(s, a)`, before the batch mean
    /// and the sample weight.
    #[inline]
    pub fn per_sample(self, td_error: f32, num_actions: usize) -> f32 {
        let d = td_error;
        match self {
            Loss::MaskedMse => d * d,
            Loss::KerasMaskedMse => d * d / num_actions as f32,
            Loss::Huber => {
                if d.abs() < 1.0 {
                    0.5 * d * d
                } else {
                    d.abs() - 0.5
                }
            }
        }
    }

    /// The derivative of [`per_sample`](Loss::per_sample) with respect to `Q(s, a)` (note the
    /// sign: `d = target - Q`).
    #[inline]
    pub(crate) fn per_sample_grad(self, td_error: f32, num_actions: usize) -> f32 {
        let d = td_error;
        match self {
            Loss::MaskedMse => -2.0 * d,
            Loss::KerasMaskedMse => -2.0 * d / num_actions as f32,
            Loss::Huber => -d.clamp(-1.0, 1.0),
        }
    }

    /// The name used in weights files: `masked_mse`, `keras_masked_mse` or `huber`.
    pub fn name(self) -> &'static str {
        match self {
            Loss::MaskedMse => "masked_mse",
            Loss::KerasMaskedMse => "keras_masked_mse",
            Loss::Huber => "huber",
        }
    }

    /// The loss called `name` (as written by [`name`](Loss::name)).
    pub fn from_name(name: &str) -> Option<Loss> {
        match name {
            "masked_mse" => Some(Loss::MaskedMse),
            "keras_masked_mse" => Some(Loss::KerasMaskedMse),
            "huber" => Some(Loss::Huber),
            _ => None,
        }
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A penalty on Q-values outside `[low, high]`, for every action of every state in a batch:
/// `weight * (q - high)^2` above, `weight * (low - q)^2` below, averaged over the batch like the
/// loss (and not weighted by prioritized replay's importance weights). See
/// [`QNetwork::set_output_penalty`](crate::QNetwork::set_output_penalty) and
/// [`DqnConfig::value_penalty`](crate::DqnConfig::value_penalty).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutputPenalty {
    /// Values below this are penalised (may be `-inf`: no lower bound).
    pub low: f32,
    /// Values above this are penalised (may be `inf`: no upper bound).
    pub high: f32,
    /// The factor of the squared excess, finite and `>= 0`.
    pub weight: f32,
}

impl OutputPenalty {
    /// Checks `low <= high` (neither NaN) and a finite `weight >= 0`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) naming the broken rule.
    pub fn validate(&self) -> crate::Result<()> {
        if self.low.is_nan() || self.high.is_nan() || self.low > self.high {
            return Err(crate::Error::InvalidArgument {
                what: "output penalty bounds",
                value: format!("[{}, {}]", self.low, self.high),
                rule: "low <= high, neither NaN",
            });
        }
        if !(self.weight.is_finite() && self.weight >= 0.0) {
            return Err(crate::Error::InvalidArgument {
                what: "output penalty weight",
                value: self.weight.to_string(),
                rule: "must be finite and >= 0",
            });
        }
        Ok(())
    }
}

/// The masked loss of a batch of outputs `q` (`[batch, num_actions]`, row-major).
///
/// Writes `dL/dq` into `grad` (every untaken entry exactly 0 unless `penalty` reaches it) and
/// `target - Q(s, a)` into `td`, and returns the loss, the penalty included. Inputs must have
/// been validated by the caller.
#[allow(clippy::too_many_arguments)]
pub(crate) fn masked_loss(
    loss: Loss,
    q: &[f32],
    num_actions: usize,
    actions: &[usize],
    targets: &[f32],
    weights: Option<&[f32]>,
    penalty: Option<OutputPenalty>,
    grad: &mut [f32],
    td: &mut [f32],
) -> f32 {
    let batch = actions.len();
    debug_assert_eq!(q.len(), batch * num_actions);
    grad.fill(0.0);
    let inv_batch = 1.0 / batch as f32;
    let mut total = 0.0f64;
    for i in 0..batch {
        let a = actions[i];
        let idx = i * num_actions + a;
        let d = targets[i] - q[idx];
        td[i] = d;
        let w = weights.map_or(1.0, |w| w[i]);
        total += f64::from(w * loss.per_sample(d, num_actions));
        grad[idx] = w * inv_batch * loss.per_sample_grad(d, num_actions);
    }
    if let Some(OutputPenalty { low, high, weight }) = penalty
        && weight > 0.0
    {
        for (&v, g) in q.iter().zip(grad.iter_mut()) {
            let excess = if v > high {
                v - high
            } else if v < low {
                v - low
            } else {
                continue;
            };
            total += f64::from(weight * excess * excess);
            *g += weight * inv_batch * 2.0 * excess;
        }
    }
    (total / batch as f64) as f32
}

/// Softmax cross-entropy of `logits` (`[batch, num_classes]`, row-major) against class indices.
///
/// Writes `dL/dlogits = (softmax(logits) - onehot(label)) / batch` into `grad` and returns the
/// mean over the batch of `-log softmax(logits)[label]`, computed stably with log-sum-exp.
pub(crate) fn softmax_cross_entropy(
    logits: &[f32],
    num_classes: usize,
    labels: &[usize],
    grad: &mut [f32],
) -> f32 {
    let batch = labels.len();
    debug_assert_eq!(logits.len(), batch * num_classes);
    let inv_batch = 1.0 / batch as f32;
    let mut total = 0.0f64;
    for ((z, g), &label) in
        logits.chunks_exact(num_classes).zip(grad.chunks_exact_mut(num_classes)).zip(labels)
    {
        let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0f32;
        for (g, &z) in g.iter_mut().zip(z) {
            *g = (z - max).exp();
            sum += *g;
        }
        let log_sum_exp = max + sum.ln();
        total += f64::from(log_sum_exp - z[label]);
        let scale = inv_batch / sum;
        for g in g.iter_mut() {
            *g *= scale;
        }
        g[label] -= inv_batch;
    }
    (total / batch as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    // Gradient checks by central differences in f64 on the f32 functions. With h = 1e-3 the
    // truncation error is O(h^2) ~ 1e-6 (zero for the quadratic losses), the f32 rounding error
    // of a difference quotient is about eps * |L| / h ~ 1e-4 for losses of order 1: a tolerance
    // of 1e-3 separates both from any real mistake (a wrong factor of 2 or of num_actions).
    const H: f32 = 1e-3;
    const TOL: f32 = 1e-3;

    fn check_masked(loss: Loss, weights: Option<&[f32]>, penalty: Option<OutputPenalty>) {
        let num_actions = 3;
        // TD errors kept away from the Huber kink at |d| = 1.
        let q = [0.5f32, -0.2, 1.1, 0.3, 0.9, -0.7];
        let actions = [2usize, 0];
        let targets = [3.0f32, 0.1];
        let eval = |q: &[f32]| {
            let mut g = [0.0; 6];
            let mut td = [0.0; 2];
            masked_loss(loss, q, num_actions, &actions, &targets, weights, penalty, &mut g, &mut td)
        };
        let mut grad = [0.0; 6];
        let mut td = [0.0; 2];
        masked_loss(
            loss,
            &q,
            num_actions,
            &actions,
            &targets,
            weights,
            penalty,
            &mut grad,
            &mut td,
        );
        assert_abs_diff_eq!(td[0], 3.0 - 1.1, epsilon = 1e-6);
        assert_abs_diff_eq!(td[1], 0.1 - 0.3, epsilon = 1e-6);
        for j in 0..q.len() {
            let (mut qp, mut qm) = (q, q);
            qp[j] += H;
            qm[j] -= H;
            let fd = (eval(&qp) - eval(&qm)) / (2.0 * H);
            assert_abs_diff_eq!(grad[j], fd, epsilon = TOL);
            let taken = j == 2 || j == num_actions;
            let penalised = penalty.is_some_and(|p| q[j] > p.high || q[j] < p.low);
            if !taken && !penalised {
                assert_eq!(grad[j], 0.0, "untaken action got gradient");
            }
        }
    }

    #[test]
    fn masked_losses_match_finite_differences() {
        for loss in [Loss::MaskedMse, Loss::KerasMaskedMse, Loss::Huber] {
            check_masked(loss, None, None);
            check_masked(loss, Some(&[0.25, 1.7]), None);
            // Above the bound: 1.1 (taken) and 0.9 (untaken); below: -0.7 (untaken).
            let penalty = OutputPenalty { low: -0.5, high: 0.8, weight: 1.5 };
            check_masked(loss, None, Some(penalty));
            check_masked(loss, Some(&[0.25, 1.7]), Some(penalty));
        }
    }

    #[test]
    fn the_output_penalty_reaches_every_action_outside_the_bounds_and_nothing_inside() {
        let q = [0.5f32, -0.2, 1.1, 0.3, 0.9, -0.7];
        let (actions, targets) = ([2usize, 0], [3.0f32, 0.1]);
        let (mut plain, mut td) = ([0.0; 6], [0.0; 2]);
        let base = masked_loss(
            Loss::MaskedMse,
            &q,
            3,
            &actions,
            &targets,
            None,
            None,
            &mut plain,
            &mut td,
        );
        let penalty = OutputPenalty { low: -0.5, high: 0.8, weight: 2.0 };
        let mut grad = [0.0; 6];
        let loss = masked_loss(
            Loss::MaskedMse,
            &q,
            3,
            &actions,
            &targets,
            None,
            Some(penalty),
            &mut grad,
            &mut td,
        );
        // 2 * (0.3^2 + 0.1^2 + 0.2^2) / 2 = 0.14 more.
        assert_abs_diff_eq!(loss - base, 0.14, epsilon = 1e-5);
        let expected_extra =
            [0.0, 0.0, 2.0 * 2.0 * 0.3 / 2.0, 0.0, 2.0 * 2.0 * 0.1 / 2.0, 2.0 * 2.0 * -0.2 / 2.0];
        for j in 0..6 {
            assert_abs_diff_eq!(grad[j] - plain[j], expected_extra[j], epsilon = 1e-5);
        }
        let off = OutputPenalty { weight: 0.0, ..penalty };
        let mut g0 = [0.0; 6];
        let l0 = masked_loss(
            Loss::MaskedMse,
            &q,
            3,
            &actions,
            &targets,
            None,
            Some(off),
            &mut g0,
            &mut td,
        );
        assert_eq!((l0, g0), (base, plain));
    }

    #[test]
    fn keras_scaling_is_mse_over_num_actions() {
        let q = [0.5f32, -0.2, 1.1, 0.3, 0.9, -0.7];
        let (mut g, mut td) = ([0.0; 6], [0.0; 2]);
        let mse =
            masked_loss(Loss::MaskedMse, &q, 3, &[2, 0], &[3.0, 0.1], None, None, &mut g, &mut td);
        let keras = masked_loss(
            Loss::KerasMaskedMse,
            &q,
            3,
            &[2, 0],
            &[3.0, 0.1],
            None,
            None,
            &mut g,
            &mut td,
        );
        assert_abs_diff_eq!(keras, mse / 3.0, epsilon = 1e-6);
        // Keras: mean over batch and actions of (mask * (y - q))^2.
        let keras_by_hand = ((3.0f32 - 1.1).powi(2) + (0.1f32 - 0.3).powi(2)) / 6.0;
        assert_abs_diff_eq!(keras, keras_by_hand, epsilon = 1e-6);
    }

    #[test]
    fn huber_matches_smooth_l1_on_both_sides_of_the_kink() {
        assert_eq!(Loss::Huber.per_sample(0.5, 2), 0.125);
        assert_eq!(Loss::Huber.per_sample(-2.0, 2), 1.5);
        assert_eq!(Loss::Huber.per_sample_grad(-2.0, 2), 1.0);
        assert_eq!(Loss::Huber.per_sample_grad(0.5, 2), -0.5);
    }

    #[test]
    fn cross_entropy_matches_finite_differences() {
        let z = [0.2f32, -1.0, 0.5, 1.5, 0.0, -0.3];
        let labels = [1usize, 0];
        let eval = |z: &[f32]| {
            let mut g = [0.0; 6];
            softmax_cross_entropy(z, 3, &labels, &mut g)
        };
        let mut grad = [0.0; 6];
        let loss = softmax_cross_entropy(&z, 3, &labels, &mut grad);
        let lse = |r: &[f32]| r.iter().map(|v| v.exp()).sum::<f32>().ln();
        let expected = ((lse(&z[..3]) - z[1]) + (lse(&z[3..]) - z[3])) / 2.0;
        assert_abs_diff_eq!(loss, expected, epsilon = 1e-6);
        for j in 0..z.len() {
            let (mut zp, mut zm) = (z, z);
            zp[j] += H;
            zm[j] -= H;
            assert_abs_diff_eq!(grad[j], (eval(&zp) - eval(&zm)) / (2.0 * H), epsilon = TOL);
        }
    }

    #[test]
    fn cross_entropy_is_stable_for_large_logits() {
        let mut g = [0.0; 2];
        let loss = softmax_cross_entropy(&[1000.0, -1000.0], 2, &[1], &mut g);
        assert_abs_diff_eq!(loss, 2000.0, epsilon = 1e-3);
        assert!(g.iter().all(|g| g.is_finite()));
    }
}
