//! `SummaryWriter` and `read_scalars`: event files round-trip, and broken files are errors.

use std::fs;
use std::path::{Path, PathBuf};

use deepq::{Error, ScalarEvent, SummaryWriter, read_scalars};

/// A fresh, empty directory under the system temp dir, unique to this test and process.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("deepq-tb-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

/// Writes a few scalars of two tags and returns the file's path and what was written.
fn write_sample(dir: &Path) -> (PathBuf, Vec<(String, i64, f32)>) {
    let mut writer = SummaryWriter::create(dir).unwrap();
    let mut written = Vec::new();
    for step in [0i64, 1, 2, 10, 1_000_000_000_000, -3] {
        for (tag, value) in
            [("train/return", step as f32 * 0.5), ("loss", 1.0 / (step as f32 + 7.0))]
        {
            writer.add_scalar(tag, value, step).unwrap();
            written.push((tag.to_string(), step, value));
        }
    }
    writer.add_scalar("unicode/θ", -0.0, 5).unwrap();
    written.push(("unicode/θ".into(), 5, -0.0));
    writer.flush().unwrap();
    (writer.path().to_path_buf(), written)
}

/// The byte offsets at which records end, read from the TFRecord framing
/// (u64 length, u32 crc, data, u32 crc).
fn record_ends(bytes: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let len = u64::from_le_bytes(bytes[pos..pos + 8].try_into().unwrap()) as usize;
        pos += 8 + 4 + len + 4;
        ends.push(pos);
    }
    assert_eq!(pos, bytes.len(), "records tile the file");
    ends
}

#[test]
fn scalars_round_trip() {
    let dir = temp_dir("round-trip");
    let (path, written) = write_sample(&dir.join("nested/run"));
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("events.out.tfevents."), "{name}");
    let scalars = read_scalars(&path).unwrap();
    let read: Vec<_> = scalars.iter().map(|s| (s.tag.clone(), s.step, s.value)).collect();
    assert_eq!(read, written);
    assert!(scalars[12].value.is_sign_negative(), "-0.0 keeps its sign bit");
    assert!(scalars.windows(2).all(|w| w[0].wall_time <= w[1].wall_time));
    assert!(scalars[0].wall_time > 1.6e9, "wall time is seconds since the epoch");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn special_values_keep_their_bits() {
    let dir = temp_dir("special");
    let mut writer = SummaryWriter::create(&dir).unwrap();
    let values = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::MIN_POSITIVE, f32::MAX];
    for (i, v) in values.iter().enumerate() {
        writer.add_scalar("special", *v, i as i64).unwrap();
    }
    drop(writer); // dropping flushes
    let path = fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    let read: Vec<u32> = read_scalars(&path).unwrap().iter().map(|s| s.value.to_bits()).collect();
    assert_eq!(read, values.map(f32::to_bits));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn framing_is_tfrecord() {
    let dir = temp_dir("framing");
    let (path, written) = write_sample(&dir);
    let bytes = fs::read(&path).unwrap();
    // One file_version record, then one record per scalar.
    assert_eq!(record_ends(&bytes).len(), 1 + written.len());
    // The first record's data holds the file version string.
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let data = &bytes[12..12 + len];
    assert!(data.windows(13).any(|w| w == b"brain.Event:2"));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_corrupt_byte_is_an_error() {
    let dir = temp_dir("corrupt");
    let (path, _) = write_sample(&dir);
    let bytes = fs::read(&path).unwrap();
    let bad = dir.join("corrupt.tfevents");
    for i in 0..bytes.len() {
        let mut copy = bytes.clone();
        copy[i] ^= 0x20;
        fs::write(&bad, &copy).unwrap();
        match read_scalars(&bad) {
            Err(Error::InvalidEventFile { offset, .. }) => assert!(offset <= i as u64),
            other => panic!("flipping byte {i} gave {other:?}"),
        }
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_truncation_is_an_error_or_a_prefix() {
    let dir = temp_dir("truncate");
    let (path, written) = write_sample(&dir);
    let bytes = fs::read(&path).unwrap();
    let ends = record_ends(&bytes);
    let bad = dir.join("truncated.tfevents");
    for len in 0..bytes.len() {
        fs::write(&bad, &bytes[..len]).unwrap();
        let result = read_scalars(&bad);
        match ends.iter().position(|&e| e == len) {
            // Cut exactly after a record: a valid, shorter file.
            Some(records) => {
                let scalars: Vec<ScalarEvent> = result.unwrap();
                assert_eq!(scalars.len(), records, "cut after record {records}");
                assert_eq!(
                    scalars.last().map(|s| s.tag.clone()),
                    written.get(records.wrapping_sub(1)).map(|w| w.0.clone())
                );
            }
            None => assert!(
                matches!(result, Err(Error::InvalidEventFile { .. })),
                "truncated to {len} bytes: {result:?}"
            ),
        }
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn writers_never_overwrite_each_other() {
    let dir = temp_dir("two-writers");
    let mut a = SummaryWriter::create(&dir).unwrap();
    let mut b = SummaryWriter::create(&dir).unwrap();
    assert_ne!(a.path(), b.path());
    a.add_scalar("a", 1.0, 0).unwrap();
    b.add_scalar("b", 2.0, 0).unwrap();
    a.flush().unwrap();
    b.flush().unwrap();
    assert_eq!(read_scalars(a.path()).unwrap()[0].tag, "a");
    assert_eq!(read_scalars(b.path()).unwrap()[0].tag, "b");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn io_failures_are_errors() {
    let dir = temp_dir("io");
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("a-file");
    fs::write(&file, b"not a directory").unwrap();
    assert!(matches!(SummaryWriter::create(&file), Err(Error::Io { .. })));
    assert!(matches!(read_scalars(dir.join("missing")), Err(Error::Io { .. })));
    // A file that is not an event file at all.
    let err = read_scalars(&file).unwrap_err();
    assert!(matches!(err, Error::InvalidEventFile { offset: 0, .. }), "{err}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_resumed_writer_drops_what_came_after_the_mark_and_appends() {
    let dir = std::env::temp_dir().join(format!("deepq-tb-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut w = SummaryWriter::create(&dir).unwrap();
    w.add_scalar("a", 1.0, 1).unwrap();
    w.flush().unwrap();
    let mark = w.len();
    assert_eq!(mark, std::fs::metadata(w.path()).unwrap().len());
    w.add_scalar("a", 2.0, 2).unwrap(); // after the mark: a killed run's extra step
    w.flush().unwrap();
    let path = w.path().to_path_buf();
    drop(w);

    // A mark inside a record, or past the end, is refused and the file is left alone.
    let full = std::fs::read(&path).unwrap();
    for bad in [mark - 3, full.len() as u64 + 1] {
        let e = SummaryWriter::resume(&path, bad).unwrap_err();
        assert!(matches!(e, deepq::Error::InvalidEventFile { .. }), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), full);
    }

    let mut w = SummaryWriter::resume(&path, mark).unwrap();
    assert_eq!(w.len(), mark);
    w.add_scalar("a", 3.0, 2).unwrap();
    w.flush().unwrap();
    assert_eq!(w.len(), std::fs::metadata(&path).unwrap().len());
    let steps: Vec<(i64, f32)> =
        read_scalars(&path).unwrap().iter().map(|s| (s.step, s.value)).collect();
    assert_eq!(steps, vec![(1, 1.0), (2, 3.0)]);
    std::fs::remove_dir_all(&dir).unwrap();
}
