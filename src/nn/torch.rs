//! PyTorch state dicts in safetensors files, both ways (behind the default `safetensors`
//! feature): [`Mlp::from_torch_safetensors`] reads the tensors of a PyTorch Q-network saved with
//! `safetensors.torch.save_file(model.state_dict(), path)`, with the architecture given by the
//! caller, and [`Mlp::to_torch_safetensors`] writes a file that `model.load_state_dict` of an
//! `nn.Sequential` accepts.
//!
//! The names a file may use, after one prefix common to every tensor (empty, `layers.`, `net.`,
//! `model.`, `q_net.q_net.`, ...): `{N}.weight` and `{N}.bias` with `N` a decimal index. The
//! indices are taken in increasing order, the first for the first linear layer: `0, 2, 4` as
//! `nn.Sequential(Linear, ReLU, Linear, ReLU, Linear)` numbers its modules (activations and
//! dropout hold no tensors), `0, 1, 2` as a `ModuleList` and deepq's own files.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use ndarray::{Array1, Array2};
use safetensors::tensor::{Dtype, SafeTensors};

use super::weights::{FORMAT, config_from};
use super::{Mlp, MlpConfig};
use crate::atomic_file::{read_regular_file, write_atomic};
use crate::error::{Error, Result};
use crate::state_dict::check_header_length;

/// The origin named in errors about an in-memory buffer.
const BYTES_ORIGIN: &str = "<bytes>";

/// How many tensor names an error lists at most.
const NAMES_SHOWN: usize = 8;

impl Mlp {
    /// Rebuilds a network of architecture `config` from the safetensors file of a PyTorch
    /// `state_dict()`, in memory: a file without deepq's metadata, as
    /// `safetensors.torch.save_file(model.state_dict(), "q.safetensors")` writes it.
    ///
    /// A file stores no architecture, so `config` gives it: `input_dim`, `hidden`,
    /// `output_dim`, the hidden [`Activation`](crate::Activation) (`nn.ReLU` or `nn.Tanh`
    /// between the linear layers) and the [`Output`](crate::Output) (`Identity`, or
    /// `Softmax` for an `nn.Softmax(dim=-1)` at the end). The file cannot tell which
    /// activation it was trained with: a wrong one loads and computes something else. The
    /// training settings of `config` (loss, optimizer, ...) are those of later training steps;
    /// the optimizer starts fresh.
    ///
    /// # Names
    /// Every tensor must be named `{prefix}{N}.weight` or `{prefix}{N}.bias`, `N` a decimal
    /// index without leading zeros, with one `prefix` shared by every tensor of the file: empty
    /// (`nn.Sequential`'s `0.weight`), or ending with `.` (`layers.0.weight`, `net.0.weight`,
    /// `model.q_net.0.weight`). The indices, in increasing order, are the linear layers from
    /// the first: `nn.Sequential(Linear, ReLU, Linear, ReLU, Linear)` gives `0, 2, 4` (modules
    /// without parameters take indices but no tensors), a `ModuleList` `0, 1, 2`. So both
    /// `nn.Sequential`'s names and deepq's own `layers.N` names are read. Every layer needs
    /// its weight and its bias (an `nn.Linear(bias=False)` is refused), and every tensor of
    /// the file must be one of them: a file holding two networks (two prefixes, such as
    /// `q_net.` and `q_net_target.`), or anything else (a `LayerNorm`'s extra tensors, an
    /// optimizer's), is an error naming the tensor or the prefixes. Save the state dict of the
    /// Q-network alone.
    ///
    /// # Layout and dtypes
    /// A weight is `[out, in]`, PyTorch's `nn.Linear.weight` and deepq's own layout (no
    /// transpose), a bias `[out]`. `F32` is read as it is; `F16` and `BF16` are converted to
    /// `f32` exactly (every such value is an `f32`); `F64` is rounded to the nearest `f32`
    /// (ties to even), and an `F64` value beyond `f32`'s range is an error, not infinity.
    ///
    /// # deepq's own files
    /// A file with deepq's metadata (`format = deepq.mlp`, written by [`Mlp::save`]) loads
    /// too, if its metadata describes the same architecture as `config` (the input, hidden and
    /// output widths, the activation and the output); if not, the error names the field and
    /// points to [`Mlp::load`], which takes the config from the file. Any other metadata is
    /// ignored.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if `config` breaks a rule of [`MlpConfig::validate`];
    /// [`Error::InvalidWeights`] for a truncated or corrupt buffer, a tensor name outside the
    /// scheme above, more than one prefix, a number of layers other than the config's, a
    /// missing weight or bias, a shape other than the config's (expected and found), a dtype
    /// other than `F32`, `F64`, `F16` and `BF16` (`I64`, ...), a non-finite value (NaN or
    /// infinite, with its index) or deepq metadata of another architecture. An error about a
    /// tensor names it; one about the prefixes or the number of layers lists what the file has.
    ///
    /// # Examples
    /// ```
    /// use deepq::{Mlp, MlpConfig, QNetwork};
    /// use rand::SeedableRng;
    /// use rand_chacha::ChaCha8Rng;
    ///
    /// # fn main() -> deepq::Result<()> {
    /// let config = MlpConfig::new(4, vec![8, 8], 2);
    /// let mut rng = ChaCha8Rng::seed_from_u64(0);
    /// let net = Mlp::new(config.clone(), &mut rng)?;
    /// // 0.weight, 0.bias, 2.weight, ...: what PyTorch writes for an nn.Sequential.
    /// let bytes = net.to_torch_safetensors()?;
    /// let loaded = Mlp::from_torch_safetensors(&config, &bytes)?;
    /// assert_eq!(loaded.parameters(), net.parameters());
    ///
    /// let other = MlpConfig::new(4, vec![8, 9], 2);
    /// let err = Mlp::from_torch_safetensors(&other, &bytes).unwrap_err().to_string();
    /// assert!(err.contains("tensor 2.weight has shape [8, 8], expected [9, 8]"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_torch_safetensors(config: &MlpConfig, bytes: &[u8]) -> Result<Mlp> {
        from_torch(config, bytes, BYTES_ORIGIN)
    }

    /// Reads a network of architecture `config` from the safetensors file of a PyTorch
    /// `state_dict()` at `path`: [`from_torch_safetensors`](Mlp::from_torch_safetensors) on
    /// the file's bytes.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read; otherwise as
    /// [`from_torch_safetensors`](Mlp::from_torch_safetensors), with
    /// [`Error::InvalidWeights`] naming the file.
    pub fn load_torch(config: &MlpConfig, path: impl AsRef<Path>) -> Result<Mlp> {
        let path = path.as_ref();
        let bytes = read_regular_file(path)?;
        from_torch(config, &bytes, &path.display().to_string())
    }

    /// The network as the safetensors file of an `nn.Sequential` state dict, in memory: what
    /// `safetensors.torch.load_file` reads and `load_state_dict` of
    /// `nn.Sequential(Linear, act, Linear, act, ..., Linear)` accepts with `strict=True`.
    ///
    /// Linear layer `l` is module `2 l` of the sequence: tensors `{2l}.weight` `[out, in]`
    /// and `{2l}.bias` `[out]`, `F32`, little-endian (`0.weight`, `0.bias`, `2.weight`, ...),
    /// the activation modules between them holding none. The header has no metadata, so the
    /// file records no architecture: build the `nn.Sequential` (or pass the [`MlpConfig`] to
    /// [`from_torch_safetensors`](Mlp::from_torch_safetensors)) from the config. A sequence
    /// with more than one module between linear layers (a `Dropout` after each activation)
    /// numbers them otherwise: load the file into a plain sequence and copy. The bytes depend
    /// on the network alone.
    ///
    /// # Errors
    /// None today; the `Result` leaves room for formats that can fail.
    pub fn to_torch_safetensors(&self) -> Result<Vec<u8>> {
        Ok(self.f32_safetensors(&BTreeMap::new(), |l| (2 * l).to_string()))
    }

    /// Writes [`to_torch_safetensors`](Mlp::to_torch_safetensors) to `path`, atomically as
    /// [`save`](Mlp::save) does (a temporary file beside `path`, synced, then renamed).
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be written or renamed.
    pub fn save_torch(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), &self.to_torch_safetensors()?)
    }
}

fn from_torch(config: &MlpConfig, bytes: &[u8], origin: &str) -> Result<Mlp> {
    config.validate()?;
    let layers = parse(config, bytes)
        .map_err(|reason| Error::InvalidWeights { origin: origin.into(), reason })?;
    Mlp::with_parameters(config.clone(), layers)
}

/// The weight `[out, in]` and bias `[out]` of every layer, as [`Mlp::with_parameters`] takes
/// them.
type Layers = Vec<(Array2<f32>, Array1<f32>)>;

/// The layers' parameters read from `bytes` for `config`; errors are the reason only.
fn parse(config: &MlpConfig, bytes: &[u8]) -> std::result::Result<Layers, String> {
    check_header_length(bytes)?;
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| format!("not a complete safetensors file: {e}"))?;
    if let Some(meta) = header.metadata() {
        check_deepq_metadata(config, meta)?;
    }
    let tensors = SafeTensors::deserialize(bytes)
        .map_err(|e| format!("not a complete safetensors file: {e}"))?;
    let mut names = tensors.names();
    names.sort();

    // Every name split into (prefix, index, is_bias), the layers by index.
    let mut prefixes: BTreeMap<&str, usize> = BTreeMap::new();
    let mut layers: BTreeMap<usize, [bool; 2]> = BTreeMap::new();
    for &name in &names {
        let (prefix, index, bias) = split_name(name).ok_or_else(|| {
            format!(
                "tensor {name} is not the weight or bias of a linear layer: deepq reads \
                 {{prefix}}N.weight and {{prefix}}N.bias (nn.Sequential's 0.weight, 0.bias, \
                 2.weight, ..., or layers.0.weight, ...)"
            )
        })?;
        *prefixes.entry(prefix).or_default() += 1;
        layers.entry(index).or_default()[usize::from(bias)] = true;
    }
    if prefixes.len() > 1 {
        let listed: Vec<String> =
            prefixes.iter().map(|(p, n)| format!("{p:?} ({n} tensors)")).collect();
        return Err(format!(
            "the tensors have {} different prefixes, {}: is there more than one network in the \
             file? (save the state_dict of the Q-network alone)",
            prefixes.len(),
            listed.join(", ")
        ));
    }
    let prefix = prefixes.keys().next().copied().unwrap_or("");

    let sizes = config.layer_sizes();
    if layers.len() != sizes.len() {
        let mut widths = vec![config.input_dim.to_string()];
        widths.extend(config.hidden.iter().map(|h| h.to_string()));
        widths.push(config.output_dim.to_string());
        let plural = if sizes.len() == 1 { "" } else { "s" };
        return Err(format!(
            "the config has {} linear layer{plural} ({}), the file {}: {}",
            sizes.len(),
            widths.join(" -> "),
            layers.len(),
            list(&names)
        ));
    }
    let mut out = Vec::with_capacity(sizes.len());
    for ((&index, &[has_weight, has_bias]), &(fan_in, fan_out)) in layers.iter().zip(&sizes) {
        let (w, b) = (format!("{prefix}{index}.weight"), format!("{prefix}{index}.bias"));
        for (present, name, other) in [(has_weight, &w, &b), (has_bias, &b, &w)] {
            if !present {
                return Err(format!(
                    "tensor {name} is missing (the file has {other}; every linear layer needs \
                     a weight and a bias)"
                ));
            }
        }
        let weight = read(&tensors, &w, &[fan_out, fan_in])?;
        let bias = read(&tensors, &b, &[fan_out])?;
        let weight =
            Array2::from_shape_vec((fan_out, fan_in), weight).map_err(|e| e.to_string())?;
        out.push((weight, Array1::from(bias)));
    }
    Ok(out)
}

/// `name` as `(prefix, index, is_bias)` if it is `{prefix}{index}.weight` or
/// `{prefix}{index}.bias`, the prefix empty or ending with `.`, the index decimal without
/// leading zeros.
fn split_name(name: &str) -> Option<(&str, usize, bool)> {
    let (head, kind) = name.rsplit_once('.')?;
    let bias = match kind {
        "weight" => false,
        "bias" => true,
        _ => return None,
    };
    let (prefix, index) = match head.rfind('.') {
        Some(i) => head.split_at(i + 1),
        None => ("", head),
    };
    let canonical = !index.is_empty()
        && index.bytes().all(|c| c.is_ascii_digit())
        && (index == "0" || !index.starts_with('0'));
    if !canonical {
        return None;
    }
    Some((prefix, index.parse().ok()?, bias))
}

/// The names, comma-separated, the first [`NAMES_SHOWN`] of them.
fn list(names: &[&str]) -> String {
    if names.is_empty() {
        return "no tensors".into();
    }
    let mut text = names[..names.len().min(NAMES_SHOWN)].join(", ");
    if names.len() > NAMES_SHOWN {
        text.push_str(&format!(", ... ({} tensors)", names.len()));
    }
    text
}

/// For a file with deepq's own metadata: an error unless it describes `config`'s architecture.
fn check_deepq_metadata(
    config: &MlpConfig,
    meta: &HashMap<String, String>,
) -> std::result::Result<(), String> {
    if meta.get("format").map(String::as_str) != Some(FORMAT) {
        return Ok(());
    }
    let theirs = config_from(meta).map_err(|e| {
        format!("the file has deepq's metadata (format {FORMAT}) but {e} (Mlp::load reads it)")
    })?;
    let differences = [
        ("input_dim", theirs.input_dim.to_string(), config.input_dim.to_string()),
        ("hidden", format!("{:?}", theirs.hidden), format!("{:?}", config.hidden)),
        ("output_dim", theirs.output_dim.to_string(), config.output_dim.to_string()),
        ("activation", theirs.activation.to_string(), config.activation.to_string()),
        ("output", theirs.output.to_string(), config.output.to_string()),
    ];
    match differences.iter().find(|(_, file, ours)| file != ours) {
        Some((field, file, ours)) => Err(format!(
            "the file has deepq's metadata (format {FORMAT}) with {field} = {file}, but the \
             config has {ours}: Mlp::load reads the file with its own config"
        )),
        None => Ok(()),
    }
}

/// The values of tensor `name`, checked to have `shape`, converted to `f32` and checked finite.
fn read(
    tensors: &SafeTensors<'_>,
    name: &str,
    shape: &[usize],
) -> std::result::Result<Vec<f32>, String> {
    let t = tensors.tensor(name).map_err(|e| format!("tensor {name}: {e}"))?;
    if t.shape() != shape {
        let transposed = shape.len() == 2 && t.shape() == [shape[1], shape[0]];
        let hint = if transposed { " (transposed: nn.Linear's weight is [out, in])" } else { "" };
        return Err(format!("tensor {name} has shape {:?}, expected {shape:?}{hint}", t.shape()));
    }
    let raw = t.data();
    let at = |i: usize| match shape {
        [_, cols] => format!("[{}, {}]", i / cols, i % cols),
        _ => format!("[{i}]"),
    };
    let values: Vec<f32> = match t.dtype() {
        Dtype::F32 => {
            raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
        }
        Dtype::F16 => {
            raw.chunks_exact(2).map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]]))).collect()
        }
        Dtype::BF16 => {
            raw.chunks_exact(2).map(|c| bf16_to_f32(u16::from_le_bytes([c[0], c[1]]))).collect()
        }
        Dtype::F64 => {
            let mut values = Vec::with_capacity(raw.len() / 8);
            for (i, c) in raw.chunks_exact(8).enumerate() {
                let v = f64::from_le_bytes(c.try_into().expect("8 bytes"));
                // Round to nearest, ties to even; finite values past f32::MAX become infinite.
                let x = v as f32;
                if v.is_finite() && !x.is_finite() {
                    return Err(format!(
                        "tensor {name}{} = {v:e} (F64) is outside the range of f32",
                        at(i)
                    ));
                }
                values.push(x);
            }
            values
        }
        other => {
            return Err(format!(
                "tensor {name} has dtype {other:?}: deepq reads F32, F64, F16 and BF16"
            ));
        }
    };
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(format!("tensor {name}{} = {} is not finite", at(i), values[i]));
    }
    Ok(values)
}

/// The IEEE 754 half-precision value of `bits` as an `f32` (exact: every half is an `f32`).
fn f16_to_f32(bits: u16) -> f32 {
    let sign = u32::from(bits >> 15) << 31;
    let exponent = u32::from((bits >> 10) & 0x1f);
    let mantissa = u32::from(bits & 0x3ff);
    let magnitude = match exponent {
        // Zero and subnormals: mantissa * 2^-24, exact in f32 (a normal number there).
        0 => (mantissa as f32 * (1.0 / 16_777_216.0)).to_bits(),
        // Infinities and NaNs (the payload kept).
        0x1f => 0x7f80_0000 | (mantissa << 13),
        // Normal: the exponent rebased from 15 to 127, the mantissa widened from 10 to 23 bits.
        _ => ((exponent + 127 - 15) << 23) | (mantissa << 13),
    };
    f32::from_bits(sign | magnitude)
}

/// The bfloat16 value of `bits` as an `f32` (exact: bfloat16 is the top half of an `f32`).
fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of a half from its definition, in f64: an independent computation.
    fn f16_reference(bits: u16) -> f64 {
        let sign = if bits >> 15 == 1 { -1.0 } else { 1.0 };
        let exponent = i32::from((bits >> 10) & 0x1f);
        let mantissa = f64::from(bits & 0x3ff);
        match exponent {
            0 => sign * mantissa / 1024.0 * 2f64.powi(-14),
            0x1f if mantissa == 0.0 => sign * f64::INFINITY,
            0x1f => f64::NAN,
            e => sign * (1.0 + mantissa / 1024.0) * 2f64.powi(e - 15),
        }
    }

    #[test]
    fn every_half_converts_exactly() {
        for bits in 0..=u16::MAX {
            let (ours, reference) = (f16_to_f32(bits), f16_reference(bits));
            if reference.is_nan() {
                assert!(ours.is_nan(), "{bits:#06x}");
            } else {
                assert_eq!(f64::from(ours), reference, "{bits:#06x}");
                assert_eq!(ours.is_sign_negative(), bits >> 15 == 1, "{bits:#06x}");
            }
        }
        for (bits, value) in [
            (0x3c00, 1.0),
            (0xc000, -2.0),
            (0x7bff, 65504.0),
            (0x0001, 2f32.powi(-24)),
            (0x0400, 2f32.powi(-14)),
            (0x3555, 0.333_251_95),
        ] {
            assert_eq!(f16_to_f32(bits), value, "{bits:#06x}");
        }
    }

    #[test]
    fn bfloat16_converts_exactly() {
        assert_eq!(bf16_to_f32(0x3f80), 1.0);
        assert_eq!(bf16_to_f32(0xc040), -3.0);
        assert_eq!(bf16_to_f32(0x3e80), 0.25);
        assert_eq!(bf16_to_f32(0x3eab), 0.333_984_38);
        assert_eq!(bf16_to_f32(0x0001), 2f32.powi(-133));
        assert_eq!(bf16_to_f32(0x7f7f), 3.389_531_4e38);
        assert_eq!(bf16_to_f32(0xff80), f32::NEG_INFINITY);
        assert!(bf16_to_f32(0x7fc0).is_nan());
        assert!(bf16_to_f32(0x8000).is_sign_negative() && bf16_to_f32(0x8000) == 0.0);
    }

    #[test]
    fn names_split_into_prefix_index_and_kind() {
        assert_eq!(split_name("0.weight"), Some(("", 0, false)));
        assert_eq!(split_name("12.bias"), Some(("", 12, true)));
        assert_eq!(split_name("layers.3.weight"), Some(("layers.", 3, false)));
        assert_eq!(split_name("model.q_net.4.bias"), Some(("model.q_net.", 4, true)));
        for bad in [
            "weight",
            "0.weights",
            "fc1.weight",
            "layers.01.weight",
            "layers..weight",
            "0.running_mean",
            "layers.-1.bias",
            "99999999999999999999999.weight",
        ] {
            assert_eq!(split_name(bad), None, "{bad}");
        }
    }
}
