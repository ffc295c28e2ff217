//! Weights files in the safetensors format (behind the default `safetensors` feature).
//!
//! The tensors are named and shaped as in a PyTorch module holding its `nn.Linear` layers in a
//! `layers` list: `layers.N.weight` `[out, in]` and `layers.N.bias` `[out]`, little-endian
//! `F32`. The header's `__metadata__` holds the whole [`MlpConfig`] as strings
//! (`format = deepq.mlp`, `format_version = 1`, `input_dim`, `hidden` as comma-separated
//! widths, `output_dim`, `activation`, `output`, `dropout`, `init`, `loss`, `max_grad_norm`,
//! `optimizer` and `optimizer.*`), so that [`Mlp::load`] rebuilds the network. The optimizer's
//! running state is not saved: a loaded network starts a fresh optimizer. PyTorch's own state
//! dicts (no metadata, `nn.Sequential` names) are read and written in `torch.rs`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use ndarray::{Array1, Array2};
use safetensors::tensor::{Dtype, SafeTensors};

use super::{Activation, Init, Loss, Mlp, MlpConfig, Optimizer, Output};
use crate::atomic_file::write_atomic;
use crate::error::{Error, Result};
use crate::state_dict::safetensors_bytes;

/// The format name written in the metadata.
pub(super) const FORMAT: &str = "deepq.mlp";
/// The version of the metadata layout.
const FORMAT_VERSION: &str = "1";
/// The origin named in errors about an in-memory buffer.
const BYTES_ORIGIN: &str = "<bytes>";

impl Mlp {
    /// The network as a safetensors file in memory (see [`save`](Mlp::save) for the layout).
    /// The bytes depend on the network alone: equal networks give equal files.
    ///
    /// # Errors
    /// None today; the `Result` leaves room for formats that can fail.
    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        let metadata: BTreeMap<String, String> = metadata(self.config()).into_iter().collect();
        Ok(self.f32_safetensors(&metadata, |l| format!("layers.{l}")))
    }

    /// The parameters as a safetensors file of `F32` tensors `{module(l)}.weight` `[out, in]`
    /// and `{module(l)}.bias` `[out]`, layer by layer, with `metadata` in the header.
    pub(super) fn f32_safetensors(
        &self,
        metadata: &BTreeMap<String, String>,
        module: impl Fn(usize) -> String,
    ) -> Vec<u8> {
        let mut data: Vec<u8> = Vec::with_capacity(4 * self.num_parameters());
        let mut tensors = Vec::with_capacity(2 * self.num_layers());
        for l in 0..self.num_layers() {
            let (w, b) = self.layer(l).expect("l < num_layers");
            let module = module(l);
            for (name, view) in [("weight", w.into_dyn()), ("bias", b.into_dyn())] {
                let start = data.len();
                data.extend(view.iter().flat_map(|v| v.to_le_bytes()));
                tensors.push((
                    format!("{module}.{name}"),
                    view.shape().to_vec(),
                    start,
                    data.len(),
                ));
            }
        }
        let descriptors =
            tensors.iter().map(|(n, shape, a, b)| (n.as_str(), "F32", &shape[..], *a, *b));
        safetensors_bytes(metadata, descriptors, &data)
    }

    /// Rebuilds a network from a safetensors file in memory, as written by
    /// [`to_safetensors`](Mlp::to_safetensors).
    ///
    /// # Errors
    /// [`Error::InvalidWeights`] for a truncated or corrupt buffer, missing or unknown metadata,
    /// a missing or extra tensor, a dtype other than `F32`, a shape that does not match the
    /// architecture or a non-finite value.
    pub fn from_safetensors(bytes: &[u8]) -> Result<Mlp> {
        parse(bytes).map_err(|reason| Error::InvalidWeights { origin: BYTES_ORIGIN.into(), reason })
    }

    /// Writes the network to `path` as a safetensors file readable by PyTorch
    /// (`safetensors.torch.load_file`) and candle.
    ///
    /// Tensors are named and shaped as PyTorch's `nn.Linear` layers in a `layers` list:
    /// `layers.N.weight` `[out, in]` and `layers.N.bias` `[out]`, `F32`. The architecture and
    /// training settings are in the header's metadata, so [`load`](Mlp::load) rebuilds the
    /// network. The optimizer state is not saved. An `nn.Sequential` names its layers `0`,
    /// `2`, ...: [`save_torch`](Mlp::save_torch) writes a file its `load_state_dict` accepts.
    ///
    /// The file is first written to a temporary file beside `path`, synced and then renamed over
    /// `path`, so an interrupted save never destroys a previous file.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be written or renamed.
    ///
    /// # Examples
    /// ```
    /// use deepq::{Mlp, MlpConfig, QNetwork};
    /// use rand::SeedableRng;
    /// use rand_chacha::ChaCha8Rng;
    ///
    /// # fn main() -> deepq::Result<()> {
    /// let mut rng = ChaCha8Rng::seed_from_u64(0);
    /// let net = Mlp::new(MlpConfig::new(4, vec![8], 2), &mut rng)?;
    /// let name = format!("deepq-doc-{}.safetensors", std::process::id());
    /// let path = std::env::temp_dir().join(name);
    /// net.save(&path)?;
    /// let loaded = Mlp::load(&path)?;
    /// assert_eq!(loaded.config(), net.config());
    /// assert_eq!(loaded.parameters(), net.parameters());
    /// # std::fs::remove_file(&path).ok();
    /// # Ok(())
    /// # }
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), &self.to_safetensors()?)
    }

    /// Reads a network written by [`save`](Mlp::save).
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read (for example, it is missing);
    /// [`Error::InvalidWeights`], naming the file, as for
    /// [`from_safetensors`](Mlp::from_safetensors).
    pub fn load(path: impl AsRef<Path>) -> Result<Mlp> {
        let path = path.as_ref();
        let bytes = crate::atomic_file::read_regular_file(path)?;
        parse(&bytes)
            .map_err(|reason| Error::InvalidWeights { origin: path.display().to_string(), reason })
    }
}

pub(crate) fn metadata(config: &MlpConfig) -> HashMap<String, String> {
    let mut m = HashMap::new();
    let mut put = |k: &str, v: String| {
        m.insert(k.to_string(), v);
    };
    put("format", FORMAT.into());
    put("format_version", FORMAT_VERSION.into());
    put("input_dim", config.input_dim.to_string());
    let hidden: Vec<String> = config.hidden.iter().map(|h| h.to_string()).collect();
    put("hidden", hidden.join(","));
    put("output_dim", config.output_dim.to_string());
    put("activation", config.activation.name().into());
    put("output", config.output.name().into());
    put("dropout", config.dropout.to_string());
    put("init", config.init.name().into());
    put("loss", config.loss.name().into());
    put("max_grad_norm", config.max_grad_norm.map_or("none".into(), |v| v.to_string()));
    put("optimizer", config.optimizer.name().into());
    match config.optimizer {
        Optimizer::Sgd { lr, momentum, nesterov } => {
            put("optimizer.lr", lr.to_string());
            put("optimizer.momentum", momentum.to_string());
            put("optimizer.nesterov", nesterov.to_string());
        }
        Optimizer::RmsProp { lr, alpha, eps, momentum, centered } => {
            put("optimizer.lr", lr.to_string());
            put("optimizer.alpha", alpha.to_string());
            put("optimizer.eps", eps.to_string());
            put("optimizer.momentum", momentum.to_string());
            put("optimizer.centered", centered.to_string());
        }
        Optimizer::Adam { lr, beta1, beta2, eps } => {
            put("optimizer.lr", lr.to_string());
            put("optimizer.beta1", beta1.to_string());
            put("optimizer.beta2", beta2.to_string());
            put("optimizer.eps", eps.to_string());
        }
    }
    m
}

/// Reads the metadata into a config; errors are the reason only (the caller adds the origin).
pub(crate) fn config_from(
    meta: &HashMap<String, String>,
) -> std::result::Result<MlpConfig, String> {
    let get = |k: &str| meta.get(k).map(String::as_str).ok_or(format!("metadata lacks {k:?}"));
    fn num<T: std::str::FromStr>(k: &str, v: &str) -> std::result::Result<T, String> {
        v.parse().map_err(|_| format!("metadata {k} = {v:?} is not a valid number"))
    }
    fn flag(k: &str, v: &str) -> std::result::Result<bool, String> {
        v.parse().map_err(|_| format!("metadata {k} = {v:?} is not true or false"))
    }
    let unknown = |k: &str, v: &str| format!("metadata {k} = {v:?} is unknown");
    if get("format")? != FORMAT {
        return Err(format!("metadata format = {:?} is not {FORMAT:?}", get("format")?));
    }
    if get("format_version")? != FORMAT_VERSION {
        return Err(format!(
            "metadata format_version = {:?} is not supported (expected {FORMAT_VERSION})",
            get("format_version")?
        ));
    }
    let hidden_str = get("hidden")?;
    let hidden = if hidden_str.is_empty() {
        Vec::new()
    } else {
        hidden_str.split(',').map(|h| num("hidden", h)).collect::<std::result::Result<_, _>>()?
    };
    let activation = get("activation")?;
    let output = get("output")?;
    let init = get("init")?;
    let loss = get("loss")?;
    let max_grad_norm = match get("max_grad_norm")? {
        "none" => None,
        v => Some(num("max_grad_norm", v)?),
    };
    let o = |k: &str| get(&format!("optimizer.{k}"));
    let of =
        |k: &str| -> std::result::Result<f32, String> { num(&format!("optimizer.{k}"), o(k)?) };
    let optimizer = match get("optimizer")? {
        "sgd" => Optimizer::Sgd {
            lr: of("lr")?,
            momentum: of("momentum")?,
            nesterov: flag("optimizer.nesterov", o("nesterov")?)?,
        },
        "rmsprop" => Optimizer::RmsProp {
            lr: of("lr")?,
            alpha: of("alpha")?,
            eps: of("eps")?,
            momentum: of("momentum")?,
            centered: flag("optimizer.centered", o("centered")?)?,
        },
        "adam" => Optimizer::Adam {
            lr: of("lr")?,
            beta1: of("beta1")?,
            beta2: of("beta2")?,
            eps: of("eps")?,
        },
        v => return Err(unknown("optimizer", v)),
    };
    let config = MlpConfig {
        input_dim: num("input_dim", get("input_dim")?)?,
        hidden,
        output_dim: num("output_dim", get("output_dim")?)?,
        activation: Activation::from_name(activation)
            .ok_or_else(|| unknown("activation", activation))?,
        output: Output::from_name(output).ok_or_else(|| unknown("output", output))?,
        dropout: num("dropout", get("dropout")?)?,
        init: Init::from_name(init).ok_or_else(|| unknown("init", init))?,
        loss: Loss::from_name(loss).ok_or_else(|| unknown("loss", loss))?,
        optimizer,
        max_grad_norm,
    };
    config.validate().map_err(|e| format!("metadata describes no valid network: {e}"))?;
    Ok(config)
}

fn parse(bytes: &[u8]) -> std::result::Result<Mlp, String> {
    crate::state_dict::check_header_length(bytes)?;
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| format!("not a complete safetensors file: {e}"))?;
    let meta = header.metadata().as_ref().ok_or("the header has no __metadata__")?;
    let config = config_from(meta)?;
    let tensors = SafeTensors::deserialize(bytes)
        .map_err(|e| format!("not a complete safetensors file: {e}"))?;
    let sizes = config.layer_sizes();
    let expected = 2 * sizes.len();
    if tensors.len() != expected {
        let mut names = tensors.names();
        names.sort();
        return Err(format!(
            "expected {expected} tensors (layers.0.weight ... layers.{}.bias), found {}: {names:?}",
            sizes.len() - 1,
            tensors.len()
        ));
    }
    let read = |name: &str, shape: &[usize]| -> std::result::Result<Vec<f32>, String> {
        let t = tensors.tensor(name).map_err(|_| format!("tensor {name} is missing"))?;
        if t.dtype() != Dtype::F32 {
            return Err(format!("tensor {name} has dtype {:?}, expected F32", t.dtype()));
        }
        if t.shape() != shape {
            return Err(format!("tensor {name} has shape {:?}, expected {shape:?}", t.shape()));
        }
        let values: Vec<f32> = t
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if let Some(v) = values.iter().find(|v| !v.is_finite()) {
            return Err(format!("tensor {name} holds a non-finite value {v}"));
        }
        Ok(values)
    };
    let mut layers = Vec::with_capacity(sizes.len());
    for (l, &(fan_in, fan_out)) in sizes.iter().enumerate() {
        let w = read(&format!("layers.{l}.weight"), &[fan_out, fan_in])?;
        let b = read(&format!("layers.{l}.bias"), &[fan_out])?;
        let w = Array2::from_shape_vec((fan_out, fan_in), w).map_err(|e| e.to_string())?;
        layers.push((w, Array1::from(b)));
    }
    Mlp::with_parameters(config, layers).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn metadata_round_trips_every_optimizer() {
        for optimizer in [
            Optimizer::Sgd { lr: 0.1, momentum: 0.9, nesterov: true },
            Optimizer::RmsProp { lr: 0.01, alpha: 0.9, eps: 1e-7, momentum: 0.5, centered: true },
            Optimizer::Adam { lr: 3e-4, beta1: 0.8, beta2: 0.99, eps: 1e-7 },
        ] {
            let config = MlpConfig {
                hidden: vec![],
                activation: Activation::Tanh,
                output: Output::Softmax,
                dropout: 0.1,
                init: Init::GlorotUniform,
                loss: Loss::Huber,
                optimizer,
                max_grad_norm: Some(10.0),
                ..MlpConfig::default()
            };
            assert_eq!(config_from(&metadata(&config)).unwrap(), config);
        }
    }

    #[test]
    fn missing_metadata_is_an_error() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let net = Mlp::new(MlpConfig::new(2, vec![3], 2), &mut rng).unwrap();
        let mut meta = metadata(net.config());
        meta.remove("hidden");
        let err = config_from(&meta).unwrap_err();
        assert!(err.contains("hidden"), "{err}");
    }
}
