//! [`StateDict`]: named tensors and string metadata, the contents of a checkpoint.

use std::collections::BTreeMap;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The origin named in errors about a state dict that is not (yet) tied to a file.
const ORIGIN: &str = "<state dict>";

/// The values of one tensor of a [`StateDict`].
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    /// 32-bit floats (safetensors `F32`).
    F32(Vec<f32>),
    /// 64-bit floats (`F64`).
    F64(Vec<f64>),
    /// Unsigned 64-bit integers (`U64`): counters, indices, actions.
    U64(Vec<u64>),
    /// Bytes (`U8`): flags.
    U8(Vec<u8>),
}

impl TensorData {
    fn len(&self) -> usize {
        match self {
            TensorData::F32(v) => v.len(),
            TensorData::F64(v) => v.len(),
            TensorData::U64(v) => v.len(),
            TensorData::U8(v) => v.len(),
        }
    }

    /// The safetensors name of the dtype.
    pub fn dtype(&self) -> &'static str {
        match self {
            TensorData::F32(_) => "F32",
            TensorData::F64(_) => "F64",
            TensorData::U64(_) => "U64",
            TensorData::U8(_) => "U8",
        }
    }
}

/// One tensor: a shape and row-major values.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// The shape; the product of its entries is the number of values.
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub data: TensorData,
}

/// Named tensors and string metadata: everything a component writes into a checkpoint.
///
/// A [`Trainer`](crate::Trainer) checkpoint is one `StateDict` written as a safetensors file
/// ([`to_bytes`](StateDict::to_bytes)). Components add their tensors under a prefix
/// (`online.`, `memory.`, ...) and read them back with the typed getters, which check the dtype
/// and the shape, so a file that does not fit is an error and never a silently different
/// state. A [`Memory`](crate::Memory) of your own becomes checkpointable by implementing
/// [`Memory::save_state`](crate::Memory::save_state) and
/// [`Memory::load_state`](crate::Memory::load_state) with it.
///
/// # Examples
/// ```
/// use deepq::StateDict;
///
/// # fn main() -> deepq::Result<()> {
/// let mut state = StateDict::new();
/// state.set("memory.next", 3);
/// state.insert_f32("memory.rewards", &[2], vec![1.0, 0.5])?;
/// assert_eq!(state.parse::<usize>("memory.next")?, 3);
/// assert_eq!(state.f32("memory.rewards", &[2])?, &[1.0, 0.5]);
/// assert!(state.f32("memory.rewards", &[3]).is_err()); // wrong shape
/// assert!(state.u64("memory.rewards", &[2]).is_err()); // wrong dtype
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateDict {
    tensors: BTreeMap<String, Tensor>,
    metadata: BTreeMap<String, String>,
}

fn invalid(reason: String) -> Error {
    invalid_state(reason)
}

/// An [`Error::InvalidCheckpoint`] about a state dict not (yet) tied to a file: what every
/// component's `load_state` returns for a piece that does not fit.
pub(crate) fn invalid_state(reason: String) -> Error {
    Error::InvalidCheckpoint { origin: ORIGIN.into(), reason }
}

/// [`invalid_state`] naming the first value of `values` that is not finite, as
/// `{owner} {name}[i] = v is not finite`.
pub(crate) fn check_finite_state(owner: &str, name: &str, values: &[f32]) -> Result<()> {
    match values.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(invalid_state(format!("{owner} {name}[{i}] = {} is not finite", values[i]))),
        None => Ok(()),
    }
}

impl StateDict {
    /// An empty state dict.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the metadata entry `key` to `value` (formatted with `Display`; floats format to
    /// the shortest text that reads back to the same value).
    pub fn set(&mut self, key: impl Into<String>, value: impl ToString) {
        self.metadata.insert(key.into(), value.to_string());
    }

    /// The metadata entry `key`.
    ///
    /// # Errors
    /// [`Error::InvalidCheckpoint`] if it is missing.
    pub fn get(&self, key: &str) -> Result<&str> {
        self.metadata
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| invalid(format!("metadata lacks {key:?}")))
    }

    /// The metadata entry `key`, parsed.
    ///
    /// # Errors
    /// [`Error::InvalidCheckpoint`] if it is missing or does not parse.
    pub fn parse<T: FromStr>(&self, key: &str) -> Result<T> {
        let value = self.get(key)?;
        value.parse().map_err(|_| invalid(format!("metadata {key} = {value:?} does not parse")))
    }

    /// The metadata entry `key` as an optional value written by
    /// [`set_option`](StateDict::set_option).
    ///
    /// # Errors
    /// As [`parse`](StateDict::parse).
    pub fn parse_option<T: FromStr>(&self, key: &str) -> Result<Option<T>> {
        match self.get(key)? {
            "none" => Ok(None),
            _ => self.parse(key).map(Some),
        }
    }

    /// Sets `key` to `value`, or to `none` for `None`.
    pub fn set_option<T: ToString>(&mut self, key: impl Into<String>, value: Option<T>) {
        let text = value.map_or_else(|| "none".to_string(), |v| v.to_string());
        self.metadata.insert(key.into(), text);
    }

    /// Every metadata entry, sorted by key.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Every tensor, sorted by name.
    pub fn tensors(&self) -> &BTreeMap<String, Tensor> {
        &self.tensors
    }

    /// Adds (or replaces) the tensor `name`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the shape does not hold exactly `data`'s values.
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        shape: &[usize],
        data: TensorData,
    ) -> Result<()> {
        let name = name.into();
        let count = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if count != Some(data.len()) {
            return Err(Error::ShapeMismatch {
                what: name,
                expected: format!("{} values for shape {shape:?}", data.len()),
                got: format!("shape {shape:?}"),
            });
        }
        self.tensors.insert(name, Tensor { shape: shape.to_vec(), data });
        Ok(())
    }

    /// Adds an `F32` tensor. Errors as [`insert`](StateDict::insert).
    ///
    /// # Errors
    /// As [`insert`](StateDict::insert).
    pub fn insert_f32(
        &mut self,
        name: impl Into<String>,
        shape: &[usize],
        data: Vec<f32>,
    ) -> Result<()> {
        self.insert(name, shape, TensorData::F32(data))
    }

    /// Adds an `F64` tensor.
    ///
    /// # Errors
    /// As [`insert`](StateDict::insert).
    pub fn insert_f64(
        &mut self,
        name: impl Into<String>,
        shape: &[usize],
        data: Vec<f64>,
    ) -> Result<()> {
        self.insert(name, shape, TensorData::F64(data))
    }

    /// Adds a `U64` tensor.
    ///
    /// # Errors
    /// As [`insert`](StateDict::insert).
    pub fn insert_u64(
        &mut self,
        name: impl Into<String>,
        shape: &[usize],
        data: Vec<u64>,
    ) -> Result<()> {
        self.insert(name, shape, TensorData::U64(data))
    }

    /// Adds a `U8` tensor.
    ///
    /// # Errors
    /// As [`insert`](StateDict::insert).
    pub fn insert_u8(
        &mut self,
        name: impl Into<String>,
        shape: &[usize],
        data: Vec<u8>,
    ) -> Result<()> {
        self.insert(name, shape, TensorData::U8(data))
    }

    /// The tensor `name`, checked to have `shape`.
    ///
    /// # Errors
    /// [`Error::InvalidCheckpoint`] if it is missing or has another shape.
    pub fn tensor(&self, name: &str, shape: &[usize]) -> Result<&TensorData> {
        let t =
            self.tensors.get(name).ok_or_else(|| invalid(format!("tensor {name} is missing")))?;
        if t.shape != shape {
            return Err(invalid(format!(
                "tensor {name} has shape {:?}, expected {shape:?}",
                t.shape
            )));
        }
        Ok(&t.data)
    }

    /// The shape of tensor `name`.
    ///
    /// # Errors
    /// [`Error::InvalidCheckpoint`] if it is missing.
    pub fn shape(&self, name: &str) -> Result<&[usize]> {
        self.tensors
            .get(name)
            .map(|t| &t.shape[..])
            .ok_or_else(|| invalid(format!("tensor {name} is missing")))
    }

    /// The values of the `F32` tensor `name` of shape `shape`.
    ///
    /// # Errors
    /// [`Error::InvalidCheckpoint`] if it is missing, has another shape or another dtype.
    pub fn f32(&self, name: &str, shape: &[usize]) -> Result<&[f32]> {
        match self.tensor(name, shape)? {
            TensorData::F32(v) => Ok(v),
            other => Err(wrong_dtype(name, other, "F32")),
        }
    }

    /// The values of the `F64` tensor `name` of shape `shape`.
    ///
    /// # Errors
    /// As [`f32`](StateDict::f32).
    pub fn f64(&self, name: &str, shape: &[usize]) -> Result<&[f64]> {
        match self.tensor(name, shape)? {
            TensorData::F64(v) => Ok(v),
            other => Err(wrong_dtype(name, other, "F64")),
        }
    }

    /// The values of the `U64` tensor `name` of shape `shape`.
    ///
    /// # Errors
    /// As [`f32`](StateDict::f32).
    pub fn u64(&self, name: &str, shape: &[usize]) -> Result<&[u64]> {
        match self.tensor(name, shape)? {
            TensorData::U64(v) => Ok(v),
            other => Err(wrong_dtype(name, other, "U64")),
        }
    }

    /// The values of the `U8` tensor `name` of shape `shape`.
    ///
    /// # Errors
    /// As [`f32`](StateDict::f32).
    pub fn u8(&self, name: &str, shape: &[usize]) -> Result<&[u8]> {
        match self.tensor(name, shape)? {
            TensorData::U8(v) => Ok(v),
            other => Err(wrong_dtype(name, other, "U8")),
        }
    }
}

fn wrong_dtype(name: &str, data: &TensorData, expected: &str) -> Error {
    invalid(format!("tensor {name} has dtype {}, expected {expected}", data.dtype()))
}

/// The metadata key of the checksum.
#[cfg(feature = "safetensors")]
const CHECKSUM_KEY: &str = "checksum";

#[cfg(feature = "safetensors")]
impl StateDict {
    /// The state dict as a safetensors file in memory: every tensor little-endian under its
    /// name (sorted), the metadata in the header's `__metadata__`, plus a `checksum` entry
    /// (CRC-32C, hex) over the metadata, the tensors' names, dtypes and shapes and the data, so
    /// that [`from_bytes`](StateDict::from_bytes) detects a corrupted file. Equal state dicts
    /// give equal bytes. PyTorch's `safetensors.torch.load_file` reads the tensors.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the metadata already has a `checksum` key.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        if self.metadata.contains_key(CHECKSUM_KEY) {
            return Err(Error::InvalidArgument {
                what: "metadata",
                value: CHECKSUM_KEY.into(),
                rule: "the key is reserved for the file's checksum",
            });
        }
        let mut data = Vec::with_capacity(self.tensors.values().map(|t| 8 * t.data.len()).sum());
        let mut descriptors = Vec::with_capacity(self.tensors.len());
        for (name, t) in &self.tensors {
            let start = data.len();
            match &t.data {
                TensorData::F32(v) => {
                    v.iter().for_each(|x| data.extend_from_slice(&x.to_le_bytes()))
                }
                TensorData::F64(v) => {
                    v.iter().for_each(|x| data.extend_from_slice(&x.to_le_bytes()))
                }
                TensorData::U64(v) => {
                    v.iter().for_each(|x| data.extend_from_slice(&x.to_le_bytes()))
                }
                TensorData::U8(v) => data.extend_from_slice(v),
            }
            descriptors.push((name.as_str(), t.data.dtype(), &t.shape[..], start, data.len()));
        }
        let crc = checksum(
            self.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            descriptors.iter().map(|&(n, d, s, _, _)| (n, d, s)),
            &data,
        );
        let mut metadata = self.metadata.clone();
        metadata.insert(CHECKSUM_KEY.into(), format!("{crc:08x}"));
        let tensors = descriptors.iter().map(|&(n, d, s, a, b)| (n, d, s, a, b));
        Ok(safetensors_bytes(&metadata, tensors, &data))
    }

    /// Reads a state dict written by [`to_bytes`](StateDict::to_bytes).
    ///
    /// # Errors
    /// [`Error::InvalidCheckpoint`] for a truncated or corrupt buffer (it fails to parse, or
    /// its checksum does not match), a missing checksum, or a dtype other than `F32`, `F64`,
    /// `U64` and `U8`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        use safetensors::tensor::{Dtype, SafeTensors};
        check_header_length(bytes).map_err(invalid)?;
        let (header_len, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| invalid(format!("not a complete safetensors file: {e}")))?;
        let mut metadata: BTreeMap<String, String> = header
            .metadata()
            .as_ref()
            .ok_or_else(|| invalid("the header has no __metadata__".into()))?
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let stored = metadata
            .remove(CHECKSUM_KEY)
            .ok_or_else(|| invalid("the header has no checksum".into()))?;
        let parsed = SafeTensors::deserialize(bytes)
            .map_err(|e| invalid(format!("not a complete safetensors file: {e}")))?;
        let mut names = parsed.names();
        names.sort();
        let mut tensors = BTreeMap::new();
        for name in names {
            let view = parsed.tensor(name).map_err(|e| invalid(format!("tensor {name}: {e}")))?;
            let raw = view.data();
            let data = match view.dtype() {
                Dtype::F32 => TensorData::F32(
                    raw.chunks_exact(4)
                        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                        .collect(),
                ),
                Dtype::F64 => TensorData::F64(
                    raw.chunks_exact(8)
                        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                        .collect(),
                ),
                Dtype::U64 => TensorData::U64(
                    raw.chunks_exact(8)
                        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
                        .collect(),
                ),
                Dtype::U8 => TensorData::U8(raw.to_vec()),
                other => {
                    return Err(invalid(format!("tensor {name} has unsupported dtype {other:?}")));
                }
            };
            tensors.insert(name.to_string(), Tensor { shape: view.shape().to_vec(), data });
        }
        let data_start = 8usize.saturating_add(header_len);
        let data = bytes.get(data_start..).unwrap_or(&[]);
        let crc = checksum(
            metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            tensors.iter().map(|(n, t)| (n.as_str(), t.data.dtype(), &t.shape[..])),
            data,
        );
        if stored != format!("{crc:08x}") {
            return Err(invalid(format!(
                "checksum mismatch (stored {stored}, computed {crc:08x}): the file is corrupt"
            )));
        }
        Ok(StateDict { tensors, metadata })
    }
}

/// Checks the 8-byte header length of a safetensors buffer against the bytes that follow, so
/// that no length, however crafted, reaches the safetensors parser's arithmetic (which can
/// overflow, and so panic, in debug builds). The reason on error.
#[cfg(feature = "safetensors")]
pub(crate) fn check_header_length(bytes: &[u8]) -> std::result::Result<(), String> {
    let Some(first) = bytes.get(..8) else {
        return Err(format!("not a safetensors file: {} bytes", bytes.len()));
    };
    let stated = u64::from_le_bytes(first.try_into().expect("8 bytes"));
    let rest = (bytes.len() - 8) as u64;
    if stated > rest {
        return Err(format!(
            "not a complete safetensors file: the header length {stated} exceeds the {rest} bytes \
             that follow"
        ));
    }
    Ok(())
}

/// CRC-32C over the metadata (key, value), the tensor descriptors (name, dtype, shape) and the
/// data, with NUL separators.
#[cfg(feature = "safetensors")]
fn checksum<'a>(
    metadata: impl Iterator<Item = (&'a str, &'a str)>,
    descriptors: impl Iterator<Item = (&'a str, &'a str, &'a [usize])>,
    data: &[u8],
) -> u32 {
    let mut crc = crate::tensorboard::Crc32c::new();
    for (k, v) in metadata {
        crc.update(k.as_bytes());
        crc.update(&[0]);
        crc.update(v.as_bytes());
        crc.update(&[0]);
    }
    for (name, dtype, shape) in descriptors {
        crc.update(name.as_bytes());
        crc.update(&[0]);
        crc.update(dtype.as_bytes());
        for d in shape {
            crc.update(&(*d as u64).to_le_bytes());
        }
        crc.update(&[0]);
    }
    crc.update(data);
    crc.finish()
}

/// Appends `s` to `out` as a JSON string.
#[cfg(feature = "safetensors")]
pub(crate) fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A safetensors file from its metadata (written in key order; no `__metadata__` entry at all
/// when it is empty, as `safetensors.torch.save_file` without metadata), its tensor descriptors
/// `(name, dtype, shape, start, end)` in the order given, and the data they index. Written by
/// hand rather than with `safetensors::serialize`, which orders the metadata by `HashMap`
/// iteration: this way the bytes are a function of the contents alone.
#[cfg(feature = "safetensors")]
pub(crate) fn safetensors_bytes<'a>(
    metadata: &BTreeMap<String, String>,
    tensors: impl Iterator<Item = (&'a str, &'a str, &'a [usize], usize, usize)>,
    data: &[u8],
) -> Vec<u8> {
    let mut header = String::from("{");
    if !metadata.is_empty() {
        header.push_str("\"__metadata__\":{");
        for (i, (key, value)) in metadata.iter().enumerate() {
            if i > 0 {
                header.push(',');
            }
            push_json_string(&mut header, key);
            header.push(':');
            push_json_string(&mut header, value);
        }
        header.push('}');
    }
    for (name, dtype, shape, start, end) in tensors {
        let shape: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        if header.len() > 1 {
            header.push(',');
        }
        push_json_string(&mut header, name);
        header.push_str(&format!(
            ":{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{start},{end}]}}",
            shape.join(",")
        ));
    }
    header.push('}');
    // The data starts 8-byte aligned, padded with spaces as the safetensors writer does.
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut bytes = Vec::with_capacity(8 + header.len() + data.len());
    bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

#[cfg(all(test, feature = "safetensors"))]
mod tests {
    use super::*;

    fn sample() -> StateDict {
        let mut s = StateDict::new();
        s.set("a", 1.5f32);
        s.set_option::<usize>("b", None);
        s.insert_f32("x", &[2, 2], vec![1.0, -2.0, 3.5, 0.0]).unwrap();
        s.insert_f64("y", &[1], vec![0.1]).unwrap();
        s.insert_u64("z", &[3], vec![1, u64::MAX, 0]).unwrap();
        s.insert_u8("w", &[0], vec![]).unwrap();
        s
    }

    #[test]
    fn round_trip_is_exact_and_deterministic() {
        let s = sample();
        let bytes = s.to_bytes().unwrap();
        assert_eq!(bytes, s.clone().to_bytes().unwrap());
        let back = StateDict::from_bytes(&bytes).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.parse_option::<usize>("b").unwrap(), None);
    }

    #[test]
    fn every_flipped_bit_in_the_data_or_metadata_is_detected() {
        let bytes = sample().to_bytes().unwrap();
        for i in 8..bytes.len() {
            for bit in [0u8, 3, 7] {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                if let Ok(s) = StateDict::from_bytes(&b) {
                    // Only a flip inside the header's padding or JSON white space can pass,
                    // and then the contents are unchanged.
                    assert_eq!(s, sample(), "byte {i} bit {bit} changed the contents silently");
                }
            }
        }
        for len in 0..bytes.len() {
            assert!(StateDict::from_bytes(&bytes[..len]).is_err(), "truncated to {len}");
        }
    }

    #[test]
    fn shape_must_hold_the_values() {
        let mut s = StateDict::new();
        assert!(s.insert_f32("x", &[3], vec![1.0]).is_err());
        assert!(s.insert_f32("x", &[usize::MAX, 2], vec![]).is_err());
    }
}
