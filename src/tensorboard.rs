//! TensorBoard event files, written by hand: no protobuf dependency.
//!
//! An event file is a sequence of TFRecords. Each record is
//!
//! ```text
//! u64 length (little-endian) | u32 masked_crc32c(length bytes) | data | u32 masked_crc32c(data)
//! ```
//!
//! where `masked_crc32c(b) = ((c >> 15) | (c << 17)).wrapping_add(0xa282_ead8)` with
//! `c = crc32c(b)` (Castagnoli). The data of each record is a protobuf `tensorflow.Event`; this
//! module encodes the few fields that scalars need:
//!
//! ```text
//! Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//! Summary { repeated Value value = 1; }
//! Value   { string tag = 1; float simple_value = 2; }
//! ```
//!
//! The first event of a file carries `file_version = "brain.Event:2"`. TensorBoard 2.21's
//! `EventAccumulator` reads files written here (see `scripts/check_tensorboard.py`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{Error, Result};

/// The `file_version` of the first event of every file.
const FILE_VERSION: &str = "brain.Event:2";

/// Writes scalars (a tag, a step and an `f32` value) to a TensorBoard event file.
///
/// [`create`](SummaryWriter::create) makes a new file named
/// `events.out.tfevents.<unix seconds>.<hostname>` in a directory (the log directory of one run);
/// point `tensorboard --logdir` at that directory or at its parent. Writes are buffered:
/// [`flush`](SummaryWriter::flush) makes them visible to a running TensorBoard, and dropping the
/// writer flushes what is left (ignoring errors; call `flush` to see them).
///
/// # Examples
/// ```
/// use deepq::{SummaryWriter, read_scalars};
///
/// # fn main() -> deepq::Result<()> {
/// let dir = std::env::temp_dir().join(format!("deepq-doc-summary-{}", std::process::id()));
/// let mut writer = SummaryWriter::create(&dir)?;
/// for step in 0..3 {
///     writer.add_scalar("train/return", 10.0 * step as f32, step)?;
/// }
/// writer.flush()?;
///
/// let scalars = read_scalars(writer.path())?;
/// assert_eq!(scalars.len(), 3);
/// assert_eq!((scalars[2].tag.as_str(), scalars[2].step, scalars[2].value), ("train/return", 2, 20.0));
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct SummaryWriter {
    path: PathBuf,
    file: BufWriter<File>,
    record: Vec<u8>,
    /// Bytes of the file so far, buffered ones included.
    len: u64,
}

impl SummaryWriter {
    /// Creates `dir` (and its parents) if needed and a new event file in it, whose first event
    /// holds the file version.
    ///
    /// The file is `events.out.tfevents.<unix seconds>.<hostname>`, with the hostname from
    /// `/proc/sys/kernel/hostname` or `/etc/hostname` (`deepq` when neither is readable). An
    /// existing file is never overwritten: a second writer in the same second gets the suffix
    /// `.1`, `.2`, ...
    ///
    /// # Errors
    /// [`Error::Io`] if the directory or the file cannot be created or written.
    pub fn create(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
        let wall_time = wall_time();
        let base = format!("events.out.tfevents.{}.{}", wall_time as u64, hostname());
        let mut suffix = 0u32;
        let (path, file) = loop {
            let name = if suffix == 0 { base.clone() } else { format!("{base}.{suffix}") };
            let path = dir.join(name);
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => break (path, file),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => suffix += 1,
                Err(source) => return Err(Error::Io { path, source }),
            }
        };
        let mut writer = Self { path, file: BufWriter::new(file), record: Vec::new(), len: 0 };
        let mut event = Vec::new();
        encode_event_header(&mut event, wall_time, 0);
        put_bytes_field(&mut event, 3, FILE_VERSION.as_bytes());
        writer.write_record(&event)?;
        writer.flush()?;
        Ok(writer)
    }

    /// Continues an event file that a previous writer left, from its first `len` bytes: the
    /// records in them are checked (both CRCs of each, the `file_version` first), the file is
    /// cut to `len` bytes, and new scalars are appended after them. This is how a resumed run
    /// drops what it logged after its last checkpoint ([`len`](SummaryWriter::len) at the
    /// checkpoint, after a [`flush`](SummaryWriter::flush)), so that every step is in the file
    /// once.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be opened, read or cut; [`Error::InvalidEventFile`] if
    /// it is shorter than `len` or its first `len` bytes are not whole, valid records.
    pub fn resume(path: impl AsRef<Path>, len: u64) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let io = |source| Error::Io { path: path.clone(), source };
        let mut file = OpenOptions::new().read(true).write(true).open(&path).map_err(io)?;
        let actual = file.metadata().map_err(io)?.len();
        let invalid =
            |offset, reason: String| Error::InvalidEventFile { path: path.clone(), offset, reason };
        if actual < len {
            return Err(invalid(actual, format!("the file has {actual} bytes, fewer than {len}")));
        }
        let keep = usize::try_from(len).map_err(|_| invalid(0, format!("{len} bytes")))?;
        let mut bytes = vec![0u8; keep];
        std::io::Read::read_exact(&mut file, &mut bytes).map_err(io)?;
        parse_scalars(&bytes).map_err(|(offset, reason)| invalid(offset, reason))?;
        file.set_len(len).map_err(io)?;
        std::io::Seek::seek(&mut file, io::SeekFrom::Start(len)).map_err(io)?;
        Ok(Self { path, file: BufWriter::new(file), record: Vec::new(), len })
    }

    /// The path of the event file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The length of the file in bytes once everything written is flushed (the `len` to give
    /// [`resume`](SummaryWriter::resume)).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing has been written, not even the `file_version` event (never true for a
    /// writer from [`create`](SummaryWriter::create)).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends one scalar event: `value` of the series `tag` at `step`, stamped with the
    /// current wall time.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be written.
    pub fn add_scalar(&mut self, tag: &str, value: f32, step: i64) -> Result<()> {
        let mut value_msg = Vec::with_capacity(tag.len() + 8);
        put_bytes_field(&mut value_msg, 1, tag.as_bytes());
        put_key(&mut value_msg, 2, WIRE_FIXED32);
        value_msg.extend_from_slice(&value.to_le_bytes());
        let mut summary = Vec::with_capacity(value_msg.len() + 2);
        put_bytes_field(&mut summary, 1, &value_msg);
        let mut event = Vec::with_capacity(summary.len() + 24);
        encode_event_header(&mut event, wall_time(), step);
        put_bytes_field(&mut event, 5, &summary);
        self.write_record(&event)
    }

    /// Writes buffered events to the file.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be written.
    pub fn flush(&mut self) -> Result<()> {
        self.file.flush().map_err(|source| Error::Io { path: self.path.clone(), source })
    }

    fn write_record(&mut self, data: &[u8]) -> Result<()> {
        self.record.clear();
        let len = (data.len() as u64).to_le_bytes();
        self.record.extend_from_slice(&len);
        self.record.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
        self.record.extend_from_slice(data);
        self.record.extend_from_slice(&masked_crc32c(data).to_le_bytes());
        self.file
            .write_all(&self.record)
            .map_err(|source| Error::Io { path: self.path.clone(), source })?;
        self.len += self.record.len() as u64;
        Ok(())
    }
}

/// One scalar read back from an event file by [`read_scalars`].
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarEvent {
    /// Seconds since the Unix epoch when the scalar was written.
    pub wall_time: f64,
    /// The step (x axis in TensorBoard).
    pub step: i64,
    /// The name of the series.
    pub tag: String,
    /// The value.
    pub value: f32,
}

/// Reads every scalar of a TensorBoard event file, in file order, checking the framing.
///
/// Both CRCs of every record are verified and every event is decoded; the first event must carry
/// a `file_version` starting with `brain.Event:`. Events without a summary are skipped, and so
/// are summary values that are not `simple_value` scalars (images, histograms, tensors). Unknown
/// protobuf fields are skipped.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; [`Error::InvalidEventFile`], naming the byte offset,
/// if it is empty, truncated (a partial record), or corrupt (a CRC mismatch or malformed
/// protobuf).
///
/// # Examples
/// See [`SummaryWriter`].
pub fn read_scalars(path: impl AsRef<Path>) -> Result<Vec<ScalarEvent>> {
    let path = path.as_ref();
    let bytes = crate::atomic_file::read_regular_file(path)?;
    parse_scalars(&bytes).map_err(|(offset, reason)| Error::InvalidEventFile {
        path: path.to_path_buf(),
        offset,
        reason,
    })
}

/// A decoding failure: the byte offset in the file and what was wrong.
type ParseError = (u64, String);

fn parse_scalars(bytes: &[u8]) -> std::result::Result<Vec<ScalarEvent>, ParseError> {
    if bytes.is_empty() {
        return Err((0, "empty file: no file_version event".into()));
    }
    let mut scalars = Vec::new();
    let mut pos = 0usize;
    let mut first = true;
    while pos < bytes.len() {
        let start = pos as u64;
        let rest = &bytes[pos..];
        if rest.len() < 12 {
            return Err((start, format!("truncated record header: {} of 12 bytes", rest.len())));
        }
        let len_bytes = &rest[..8];
        let stored = u32::from_le_bytes(rest[8..12].try_into().expect("4 bytes"));
        let computed = masked_crc32c(len_bytes);
        if stored != computed {
            return Err((
                start,
                format!("length crc mismatch: stored {stored:#010x}, computed {computed:#010x}"),
            ));
        }
        let len = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes"));
        let available = (rest.len() - 12) as u64;
        if len.checked_add(4).is_none_or(|need| need > available) {
            return Err((
                start,
                format!(
                    "truncated record: {len} data bytes + 4 crc bytes announced, {available} left"
                ),
            ));
        }
        let len = len as usize;
        let data = &rest[12..12 + len];
        let stored = u32::from_le_bytes(rest[12 + len..16 + len].try_into().expect("4 bytes"));
        let computed = masked_crc32c(data);
        if stored != computed {
            return Err((
                start,
                format!("data crc mismatch: stored {stored:#010x}, computed {computed:#010x}"),
            ));
        }
        let event = decode_event(data).map_err(|reason| (start + 12, reason))?;
        if first {
            match &event.file_version {
                Some(v) if v.starts_with("brain.Event:") => {}
                Some(v) => return Err((start, format!("unknown file_version {v:?}"))),
                None => return Err((start, "first event has no file_version".into())),
            }
            first = false;
        }
        for (tag, value) in event.values {
            scalars.push(ScalarEvent { wall_time: event.wall_time, step: event.step, tag, value });
        }
        pos += 16 + len;
    }
    Ok(scalars)
}

// ---------------------------------------------------------------------------------------------
// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven.

const CRC32C_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0x82F6_3B78 } else { crc >> 1 };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = Crc32c::new();
    crc.update(bytes);
    crc.finish()
}

/// A CRC-32C (Castagnoli) computed over several pieces.
pub(crate) struct Crc32c(u32);

impl Crc32c {
    pub(crate) fn new() -> Self {
        Crc32c(!0)
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        let mut crc = self.0;
        for &b in bytes {
            crc = CRC32C_TABLE[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
        }
        self.0 = crc;
    }

    pub(crate) fn finish(&self) -> u32 {
        !self.0
    }
}

fn masked_crc32c(bytes: &[u8]) -> u32 {
    let crc = crc32c(bytes);
    // ((crc >> 15) | (crc << 17)) + 0xa282ead8, as TensorFlow writes it.
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

// ---------------------------------------------------------------------------------------------
// Protobuf: the few wire types the Event message uses.

const WIRE_VARINT: u8 = 0;
const WIRE_FIXED64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_FIXED32: u8 = 5;

fn wall_time() -> f64 {
    // A clock before 1970 is a broken clock; 0 keeps the file readable.
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

fn hostname() -> String {
    let raw = ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| fs::read_to_string(p).ok())
        .unwrap_or_default();
    let clean: String = raw
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    if clean.is_empty() { "deepq".into() } else { clean }
}

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn put_key(buf: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(buf, (u64::from(field) << 3) | u64::from(wire));
}

fn put_bytes_field(buf: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(buf, field, WIRE_LEN);
    put_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

/// `wall_time` (field 1, double) and `step` (field 2, int64: negative steps take 10 bytes).
fn encode_event_header(buf: &mut Vec<u8>, wall_time: f64, step: i64) {
    put_key(buf, 1, WIRE_FIXED64);
    buf.extend_from_slice(&wall_time.to_le_bytes());
    put_key(buf, 2, WIRE_VARINT);
    put_varint(buf, step as u64);
}

/// A decoded Event: the fields this module knows.
#[derive(Debug, Default)]
struct Event {
    wall_time: f64,
    step: i64,
    file_version: Option<String>,
    values: Vec<(String, f32)>,
}

/// A protobuf field as read from the wire.
enum Field<'a> {
    Varint(u64),
    Fixed64([u8; 8]),
    Len(&'a [u8]),
    Fixed32([u8; 4]),
}

/// Reads protobuf fields one by one from a message.
struct Fields<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    fn varint(&mut self) -> std::result::Result<u64, String> {
        let mut v = 0u64;
        for i in 0..10 {
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err(format!("truncated varint at message byte {}", self.pos));
            };
            self.pos += 1;
            if i == 9 && b > 1 {
                return Err(format!("varint overflows 64 bits at message byte {}", self.pos - 1));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(format!("varint longer than 10 bytes at message byte {}", self.pos))
    }

    fn take(&mut self, n: u64) -> std::result::Result<&'a [u8], String> {
        let left = self.bytes.len() - self.pos;
        if n > left as u64 {
            return Err(format!("field of {n} bytes with {left} left in message"));
        }
        let out = &self.bytes[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(out)
    }

    /// The next `(field number, value)`, or `None` at the end of the message.
    fn next_field(&mut self) -> std::result::Result<Option<(u64, Field<'a>)>, String> {
        if self.pos == self.bytes.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = key >> 3;
        let field = match (key & 7) as u8 {
            WIRE_VARINT => Field::Varint(self.varint()?),
            WIRE_FIXED64 => Field::Fixed64(self.take(8)?.try_into().expect("8 bytes")),
            WIRE_LEN => {
                let n = self.varint()?;
                Field::Len(self.take(n)?)
            }
            WIRE_FIXED32 => Field::Fixed32(self.take(4)?.try_into().expect("4 bytes")),
            wire => return Err(format!("unsupported wire type {wire} of field {number}")),
        };
        if number == 0 {
            return Err("field number 0".into());
        }
        Ok(Some((number, field)))
    }
}

fn wrong_wire(message: &str, number: u64) -> String {
    format!("{message} field {number} has the wrong wire type")
}

fn utf8(bytes: &[u8], what: &str) -> std::result::Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("{what} is not valid utf-8"))
}

fn decode_event(data: &[u8]) -> std::result::Result<Event, String> {
    let mut event = Event::default();
    let mut fields = Fields::new(data);
    while let Some((number, field)) = fields.next_field()? {
        match (number, field) {
            (1, Field::Fixed64(b)) => event.wall_time = f64::from_le_bytes(b),
            (2, Field::Varint(v)) => event.step = v as i64,
            (3, Field::Len(b)) => event.file_version = Some(utf8(b, "file_version")?),
            (5, Field::Len(b)) => decode_summary(b, &mut event.values)?,
            (1..=3 | 5, _) => return Err(wrong_wire("event", number)),
            _ => {}
        }
    }
    Ok(event)
}

fn decode_summary(data: &[u8], values: &mut Vec<(String, f32)>) -> std::result::Result<(), String> {
    let mut fields = Fields::new(data);
    while let Some((number, field)) = fields.next_field()? {
        match (number, field) {
            (1, Field::Len(b)) => {
                let (tag, value) = decode_value(b)?;
                if let Some(value) = value {
                    values.push((tag, value));
                }
            }
            (1, _) => return Err(wrong_wire("summary", number)),
            _ => {}
        }
    }
    Ok(())
}

fn decode_value(data: &[u8]) -> std::result::Result<(String, Option<f32>), String> {
    let mut tag = String::new();
    let mut value = None;
    let mut fields = Fields::new(data);
    while let Some((number, field)) = fields.next_field()? {
        match (number, field) {
            (1, Field::Len(b)) => tag = utf8(b, "tag")?,
            (2, Field::Fixed32(b)) => value = Some(f32::from_le_bytes(b)),
            (1 | 2, _) => return Err(wrong_wire("summary value", number)),
            _ => {}
        }
    }
    Ok((tag, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn masked_crc_is_tensorflow_mask() {
        // ((0xE3069283 >> 15) | (0xE3069283 << 17)) + 0xa282ead8 (mod 2^32), computed in Python.
        assert_eq!(masked_crc32c(b"123456789"), 0xC78A_B0E5);
        assert_eq!(masked_crc32c(b""), 0xA282_EAD8);
    }

    #[test]
    fn varint_encoding_matches_protobuf() {
        let mut buf = Vec::new();
        put_varint(&mut buf, 300);
        assert_eq!(buf, [0xac, 0x02]);
        buf.clear();
        put_varint(&mut buf, -1i64 as u64);
        assert_eq!(buf, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert_eq!(Fields::new(&buf).varint().unwrap(), u64::MAX);
    }

    #[test]
    fn value_message_bytes() {
        // Value { tag: "a", simple_value: 1.0 } as protoc encodes it.
        let event_summary = {
            let mut v = Vec::new();
            put_bytes_field(&mut v, 1, b"a");
            put_key(&mut v, 2, WIRE_FIXED32);
            v.extend_from_slice(&1.0f32.to_le_bytes());
            v
        };
        assert_eq!(event_summary, [0x0a, 0x01, b'a', 0x15, 0x00, 0x00, 0x80, 0x3f]);
    }

    #[test]
    fn decode_round_trip_with_negative_step_and_unknown_fields() {
        let mut event = Vec::new();
        encode_event_header(&mut event, 1.5, -7);
        // Unknown fields of every wire type are skipped.
        put_key(&mut event, 9, WIRE_VARINT);
        put_varint(&mut event, 42);
        put_key(&mut event, 10, WIRE_FIXED32);
        event.extend_from_slice(&[0; 4]);
        put_bytes_field(&mut event, 11, b"skip me");
        let decoded = decode_event(&event).unwrap();
        assert_eq!((decoded.wall_time, decoded.step), (1.5, -7));
        assert!(decoded.values.is_empty() && decoded.file_version.is_none());
    }

    #[test]
    fn malformed_protobuf_is_an_error() {
        assert!(decode_event(&[0x0a]).is_err()); // length-delimited key without length
        assert!(decode_event(&[0x09, 0, 0]).is_err()); // truncated double
        assert!(decode_event(&[0x10, 0x80]).is_err()); // truncated varint
        assert!(decode_event(&[0x08, 0x01]).is_err()); // wall_time as varint
        assert!(decode_event(&[0x0b]).is_err()); // wire type 3 (groups)
        assert!(decode_event(&[0x2a, 0x02, 0x0a, 0x05]).is_err()); // value longer than summary
    }

    #[test]
    fn empty_input_is_an_error() {
        assert!(parse_scalars(&[]).is_err());
    }
}
