//! Hidden-layer activations and the output transform of an [`Mlp`](crate::Mlp).

use std::fmt;

/// The nonlinearity applied after every hidden layer.
///
/// # Examples
/// ```
/// use deepq::Activation;
///
/// assert_eq!(Activation::default(), Activation::Relu);
/// assert_eq!(Activation::Relu.apply(-1.5), 0.0);
/// assert!((Activation::Tanh.apply(0.5) - 0.5f32.tanh()).abs() < 1e-7);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub enum Activation {
    /// `max(0, x)` (the default). Its derivative at 0 is taken as 0, as in PyTorch.
    #[default]
    Relu,
    /// `tanh(x)`.
    Tanh,
}

impl Activation {
    /// The activation of one value.
    #[inline]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Relu => x.max(0.0),
            Activation::Tanh => x.tanh(),
        }
    }

    /// The derivative, written in terms of the activation's output `y = f(x)`:
    /// `1[y > 0]` for ReLU, `1 - y^2` for tanh.
    #[inline]
    pub(crate) fn derivative_from_output(self, y: f32) -> f32 {
        match self {
            Activation::Relu => {
                if y > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Tanh => 1.0 - y * y,
        }
    }

    /// The name used in weights files: `relu` or `tanh`.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
        }
    }

    /// The activation called `name` (as written by [`name`](Activation::name)).
    pub fn from_name(name: &str) -> Option<Activation> {
        match name {
            "relu" => Some(Activation::Relu),
            "tanh" => Some(Activation::Tanh),
            _ => None,
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the last layer of an [`Mlp`](crate::Mlp) outputs.
///
/// Q-networks use [`Identity`](Output::Identity) (Q-values are unbounded); classifiers may use
/// [`Softmax`](Output::Softmax) so that [`Mlp::forward`](crate::Mlp::forward) returns class
/// probabilities. Cross-entropy training works on the logits either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub enum Output {
    /// The affine output as it is (the default): Q-values or logits.
    #[default]
    Identity,
    /// A softmax over each row: class probabilities.
    Softmax,
}

impl Output {
    /// The name used in weights files: `identity` or `softmax`.
    pub fn name(self) -> &'static str {
        match self {
            Output::Identity => "identity",
            Output::Softmax => "softmax",
        }
    }

    /// The output called `name` (as written by [`name`](Output::name)).
    pub fn from_name(name: &str) -> Option<Output> {
        match name {
            "identity" => Some(Output::Identity),
            "softmax" => Some(Output::Softmax),
            _ => None,
        }
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Replaces `row` by its softmax, computed stably (the maximum is subtracted first).
#[inline]
pub(crate) fn softmax_in_place(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in row.iter_mut() {
        *v *= inv;
    }
}

/// Back-propagates through a softmax: given the output `p` and the gradient `g` with respect to
/// `p`, replaces `g` by the gradient with respect to the logits, `p * (g - sum(g * p))`.
#[inline]
pub(crate) fn softmax_backward_in_place(p: &[f32], g: &mut [f32]) {
    let dot: f32 = p.iter().zip(g.iter()).map(|(p, g)| p * g).sum();
    for (g, &p) in g.iter_mut().zip(p) {
        *g = p * (*g - dot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    #[test]
    fn derivative_from_output_matches_finite_differences() {
        // f64 central differences of the f32 functions, h = 1e-3: the truncation error is
        // O(h^2) ~ 1e-6 and the f32 rounding error eps/h ~ 1e-4, hence the 1e-3 tolerance.
        for act in [Activation::Relu, Activation::Tanh] {
            for &x in &[-2.0f32, -0.7, -0.1, 0.1, 0.3, 1.9] {
                let h = 1e-3;
                let fd = (act.apply(x + h) - act.apply(x - h)) / (2.0 * h);
                assert_abs_diff_eq!(act.derivative_from_output(act.apply(x)), fd, epsilon = 1e-3);
            }
        }
    }

    #[test]
    fn relu_derivative_at_zero_is_zero() {
        assert_eq!(Activation::Relu.derivative_from_output(0.0), 0.0);
    }

    #[test]
    fn softmax_is_stable_and_sums_to_one() {
        let mut row = [1000.0, 1001.0, 999.0];
        softmax_in_place(&mut row);
        assert!(row.iter().all(|p| p.is_finite()));
        assert_abs_diff_eq!(row.iter().sum::<f32>(), 1.0, epsilon = 1e-6);
        assert!(row[1] > row[0] && row[0] > row[2]);
    }

    #[test]
    fn softmax_backward_matches_finite_differences() {
        // d/dz_j of L = sum_k c_k softmax(z)_k.
        let c = [0.3f32, -1.2, 0.8, 2.0];
        let z = [0.1f32, -0.4, 0.7, 0.2];
        let loss = |z: &[f32]| {
            let mut p = z.to_vec();
            softmax_in_place(&mut p);
            p.iter().zip(&c).map(|(p, c)| p * c).sum::<f32>()
        };
        let mut p = z.to_vec();
        softmax_in_place(&mut p);
        let mut g = c.to_vec();
        softmax_backward_in_place(&p, &mut g);
        for j in 0..z.len() {
            let h = 1e-3;
            let (mut zp, mut zm) = (z.to_vec(), z.to_vec());
            zp[j] += h;
            zm[j] -= h;
            let fd = (loss(&zp) - loss(&zm)) / (2.0 * h);
            assert_abs_diff_eq!(g[j], fd, epsilon = 1e-3);
        }
    }

    #[test]
    fn names_round_trip() {
        for a in [Activation::Relu, Activation::Tanh] {
            assert_eq!(Activation::from_name(a.name()), Some(a));
        }
        for o in [Output::Identity, Output::Softmax] {
            assert_eq!(Output::from_name(o.name()), Some(o));
        }
        assert_eq!(Activation::from_name("gelu"), None);
    }
}
