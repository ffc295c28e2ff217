//! An [`Mlp`]'s full state in a [`StateDict`]: parameters, configuration and optimizer state,
//! for checkpoints that resume bit for bit.

use std::collections::HashMap;

use ndarray::{Array1, Array2};

use super::Mlp;
use super::weights::{config_from, metadata};
use crate::error::Result;
use crate::state_dict::{StateDict, invalid_state as invalid};

impl Mlp {
    /// Writes the parameters (`{prefix}layers.N.weight` `[out, in]`, `{prefix}layers.N.bias`)
    /// and the configuration (metadata `{prefix}*`, as in a weights file) into `dict`.
    pub(crate) fn save_parameters(&self, prefix: &str, dict: &mut StateDict) -> Result<()> {
        for (key, value) in metadata(&self.config) {
            dict.set(format!("{prefix}{key}"), value);
        }
        for (l, (w, b)) in self.weights.iter().zip(&self.biases).enumerate() {
            dict.insert_f32(
                format!("{prefix}layers.{l}.weight"),
                w.shape(),
                w.iter().copied().collect(),
            )?;
            dict.insert_f32(format!("{prefix}layers.{l}.bias"), b.shape(), b.to_vec())?;
        }
        Ok(())
    }

    /// [`save_parameters`](Mlp::save_parameters) plus the optimizer's running state: its step
    /// count (`{prefix}optimizer_state.step`) and every moment buffer
    /// (`{prefix}optimizer_state.{first,second,third}.K`, one per parameter tensor).
    pub(crate) fn save_state(&self, prefix: &str, dict: &mut StateDict) -> Result<()> {
        self.save_parameters(prefix, dict)?;
        let state = &self.state;
        dict.set(format!("{prefix}optimizer_state.step"), state.step);
        for (name, buffers) in
            [("first", &state.first), ("second", &state.second), ("third", &state.third)]
        {
            for (k, buffer) in buffers.iter().enumerate() {
                if !buffer.is_empty() {
                    let key = format!("{prefix}optimizer_state.{name}.{k}");
                    dict.insert_f32(key, &[buffer.len()], buffer.clone())?;
                }
            }
        }
        Ok(())
    }

    /// Rebuilds a network written by [`save_parameters`](Mlp::save_parameters), with a fresh
    /// optimizer.
    ///
    /// # Errors
    /// [`Error::InvalidCheckpoint`] for a missing or bad config, a missing tensor, a wrong
    /// shape or a non-finite parameter.
    pub(crate) fn load_parameters(prefix: &str, dict: &StateDict) -> Result<Mlp> {
        let meta: HashMap<String, String> = dict
            .metadata()
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(prefix).map(|k| (k.to_string(), v.clone())))
            .collect();
        let config =
            config_from(&meta).map_err(|reason| invalid(format!("network {prefix}: {reason}")))?;
        let mut layers = Vec::new();
        for (l, (fan_in, fan_out)) in config.layer_sizes().into_iter().enumerate() {
            let w = dict.f32(&format!("{prefix}layers.{l}.weight"), &[fan_out, fan_in])?;
            let b = dict.f32(&format!("{prefix}layers.{l}.bias"), &[fan_out])?;
            let w = Array2::from_shape_vec((fan_out, fan_in), w.to_vec())
                .map_err(|e| invalid(e.to_string()))?;
            layers.push((w, Array1::from(b.to_vec())));
        }
        Mlp::with_parameters(config, layers).map_err(|e| invalid(format!("network {prefix}: {e}")))
    }

    /// Rebuilds a network written by [`save_state`](Mlp::save_state), optimizer state included.
    ///
    /// # Errors
    /// As [`load_parameters`](Mlp::load_parameters), and for a missing, misshapen or
    /// non-finite moment buffer (or a negative second moment).
    pub(crate) fn load_state(prefix: &str, dict: &StateDict) -> Result<Mlp> {
        let mut net = Mlp::load_parameters(prefix, dict)?;
        net.state.step = dict.parse(&format!("{prefix}optimizer_state.step"))?;
        let sizes: Vec<usize> =
            net.weights.iter().zip(&net.biases).flat_map(|(w, b)| [w.len(), b.len()]).collect();
        let state = &mut net.state;
        for (name, buffers) in [
            ("first", &mut state.first),
            ("second", &mut state.second),
            ("third", &mut state.third),
        ] {
            for (k, buffer) in buffers.iter_mut().enumerate() {
                let key = format!("{prefix}optimizer_state.{name}.{k}");
                if buffer.is_empty() {
                    if dict.tensors().contains_key(&key) {
                        return Err(invalid(format!(
                            "tensor {key} is present but the optimizer keeps no such buffer"
                        )));
                    }
                    continue;
                }
                let values = dict.f32(&key, &[sizes[k]])?;
                if let Some(v) = values.iter().find(|v| !v.is_finite()) {
                    return Err(invalid(format!("tensor {key} holds a non-finite value {v}")));
                }
                buffer.copy_from_slice(values);
            }
        }
        let squares = match net.config.optimizer {
            super::Optimizer::Adam { .. } => Some(&net.state.second),
            super::Optimizer::RmsProp { .. } => Some(&net.state.first),
            super::Optimizer::Sgd { .. } => None,
        };
        if let Some(buffers) = squares
            && buffers.iter().flatten().any(|&v| v < 0.0)
        {
            return Err(invalid(format!(
                "network {prefix}: a squared-gradient average is negative"
            )));
        }
        Ok(net)
    }
}
