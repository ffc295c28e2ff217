//! Weights files: safetensors round trips, errors on every kind of broken file, and the
//! PyTorch cross-check of `scripts/check_safetensors_torch.py`.
#![cfg(feature = "safetensors")]

mod common;

use std::path::PathBuf;

use deepq::{Activation, Error, Loss, Mlp, MlpConfig, Optimizer, Output, QNetwork};
use ndarray::{Array1, Array2, Ix2};
use ndarray_rand::RandomExt;
use ndarray_rand::rand_distr::StandardNormal;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn temp_path(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("weights-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn trained_net(seed: u64) -> Mlp {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let config = MlpConfig::new(4, vec![8, 6], 3)
        .with_activation(Activation::Tanh)
        .with_loss(Loss::Huber)
        .with_optimizer(Optimizer::RmsProp {
            lr: 0.01,
            alpha: 0.9,
            eps: 1e-7,
            momentum: 0.5,
            centered: true,
        })
        .with_max_grad_norm(Some(10.0));
    let mut net = Mlp::new(config, &mut rng).unwrap();
    let x: Array2<f32> = Array2::random_using((8, 4), StandardNormal, &mut rng);
    let targets: Array1<f32> = Array1::random_using(8, StandardNormal, &mut rng);
    for _ in 0..5 {
        net.train_step(x.view(), &[0, 1, 2, 0, 1, 2, 0, 1], targets.view(), None).unwrap();
    }
    net
}

fn small_net() -> Mlp {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    Mlp::new(MlpConfig::new(2, vec![3], 2), &mut rng).unwrap()
}

fn assert_bit_equal(a: &Mlp, b: &Mlp) {
    assert_eq!(a.config(), b.config());
    let (pa, pb) = (a.parameters(), b.parameters());
    assert_eq!(pa.len(), pb.len());
    for (x, y) in pa.iter().zip(&pb) {
        assert_eq!(x.shape(), y.shape());
        assert!(x.iter().zip(y.iter()).all(|(u, v)| u.to_bits() == v.to_bits()));
    }
}

#[test]
fn save_load_round_trip_is_bit_exact() {
    let net = trained_net(3);
    let path = temp_path("round_trip.safetensors");
    net.save(&path).unwrap();
    let loaded = Mlp::load(&path).unwrap();
    assert_bit_equal(&net, &loaded);
    let x: Array2<f32> =
        Array2::random_using((5, 4), StandardNormal, &mut ChaCha8Rng::seed_from_u64(0));
    let (ya, yb) = (net.forward(x.view()).unwrap(), loaded.forward(x.view()).unwrap());
    assert!(ya.iter().zip(&yb).all(|(a, b)| a.to_bits() == b.to_bits()));
}

#[test]
fn bytes_round_trip_is_bit_exact() {
    for net in [trained_net(4), small_net()] {
        let bytes = net.to_safetensors().unwrap();
        assert_bit_equal(&net, &Mlp::from_safetensors(&bytes).unwrap());
    }
}

#[test]
fn tensors_are_named_and_shaped_like_pytorch_linear_layers() {
    let bytes = small_net().to_safetensors().unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + header_len]).unwrap();
    for needle in [
        r#""layers.0.weight":{"dtype":"F32","shape":[3,2]"#,
        r#""layers.0.bias":{"dtype":"F32","shape":[3]"#,
        r#""layers.1.weight":{"dtype":"F32","shape":[2,3]"#,
        r#""layers.1.bias":{"dtype":"F32","shape":[2]"#,
        r#""format":"deepq.mlp""#,
    ] {
        assert!(header.contains(needle), "{needle} not in {header}");
    }
}

#[test]
fn a_missing_file_is_an_io_error() {
    let err = Mlp::load(temp_path("does-not-exist.safetensors")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains("does-not-exist.safetensors"));
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = small_net().to_safetensors().unwrap();
    assert!(bytes.len() < 2000, "the small file has {} bytes", bytes.len());
    let path = temp_path("truncated.safetensors");
    for len in 0..bytes.len() {
        let err = Mlp::from_safetensors(&bytes[..len]).unwrap_err();
        assert!(matches!(err, Error::InvalidWeights { .. }), "length {len}: {err}");
        std::fs::write(&path, &bytes[..len]).unwrap();
        let err = Mlp::load(&path).unwrap_err();
        assert!(matches!(err, Error::InvalidWeights { .. }), "length {len}: {err}");
        assert!(err.to_string().contains("truncated.safetensors"), "{err}");
    }
}

#[test]
fn trailing_garbage_is_an_error() {
    let mut bytes = small_net().to_safetensors().unwrap();
    bytes.extend_from_slice(b"junk");
    assert!(Mlp::from_safetensors(&bytes).is_err());
}

#[test]
fn corrupt_headers_are_errors() {
    let bytes = small_net().to_safetensors().unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    // Every header byte replaced by an invalid UTF-8 byte.
    for i in 0..8 + header_len {
        let mut corrupt = bytes.clone();
        corrupt[i] = 0xff;
        let err = Mlp::from_safetensors(&corrupt).unwrap_err();
        assert!(matches!(err, Error::InvalidWeights { .. }), "byte {i}: {err}");
    }
    // Not a safetensors file at all.
    for garbage in [&b""[..], b"hello world, this is not a weights file", &[0u8; 64]] {
        assert!(Mlp::from_safetensors(garbage).is_err());
    }
}

fn edit_header(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len(), "same-length edits keep the offsets valid");
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + header_len]).unwrap();
    assert!(header.contains(from), "{from} not in {header}");
    let mut out = bytes[..8].to_vec();
    out.extend_from_slice(header.replacen(from, to, 1).as_bytes());
    out.extend_from_slice(&bytes[8 + header_len..]);
    out
}

#[test]
fn a_wrong_dtype_is_an_error() {
    let bytes = small_net().to_safetensors().unwrap();
    let edited = edit_header(
        &bytes,
        r#""layers.0.bias":{"dtype":"F32""#,
        r#""layers.0.bias":{"dtype":"I32""#,
    );
    let err = Mlp::from_safetensors(&edited).unwrap_err().to_string();
    assert!(err.contains("layers.0.bias") && err.contains("dtype"), "{err}");
}

#[test]
fn shapes_that_do_not_match_the_architecture_are_errors() {
    let bytes = small_net().to_safetensors().unwrap();
    // A transposed weight.
    let edited = edit_header(
        &bytes,
        r#""layers.1.weight":{"dtype":"F32","shape":[2,3]"#,
        r#""layers.1.weight":{"dtype":"F32","shape":[3,2]"#,
    );
    let err = Mlp::from_safetensors(&edited).unwrap_err().to_string();
    assert!(err.contains("layers.1.weight") && err.contains("shape"), "{err}");
    // Metadata describing another architecture.
    let edited = edit_header(&bytes, r#""hidden":"3""#, r#""hidden":"4""#);
    let err = Mlp::from_safetensors(&edited).unwrap_err().to_string();
    assert!(err.contains("shape"), "{err}");
    // A missing tensor (renamed).
    let edited = edit_header(&bytes, r#""layers.1.bias""#, r#""layers.9.bias""#);
    let err = Mlp::from_safetensors(&edited).unwrap_err().to_string();
    assert!(err.contains("layers.1.bias") && err.contains("missing"), "{err}");
}

#[test]
fn unknown_metadata_is_an_error() {
    let bytes = small_net().to_safetensors().unwrap();
    let edited = edit_header(&bytes, r#""activation":"relu""#, r#""activation":"gelu""#);
    let err = Mlp::from_safetensors(&edited).unwrap_err().to_string();
    assert!(err.contains("activation"), "{err}");
    let edited = edit_header(&bytes, r#""format":"deepq.mlp""#, r#""format":"other.mlp""#);
    assert!(Mlp::from_safetensors(&edited).is_err());
}

#[test]
fn non_finite_weights_are_errors() {
    let net = small_net();
    let mut bytes = net.to_safetensors().unwrap();
    let n = bytes.len();
    bytes[n - 4..].copy_from_slice(&f32::NAN.to_le_bytes());
    let err = Mlp::from_safetensors(&bytes).unwrap_err().to_string();
    assert!(err.contains("non-finite"), "{err}");
}

#[test]
fn a_failed_save_keeps_the_previous_file() {
    let path = temp_path("kept.safetensors");
    let first = small_net();
    first.save(&path).unwrap();
    // Block the temporary file with a directory of the same name: the second save fails
    // before touching `path`.
    let tmp = path.with_file_name(format!(".kept.safetensors.{}.tmp", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let err = trained_net(5).save(&path).unwrap_err();
    std::fs::remove_dir(&tmp).unwrap();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert_bit_equal(&first, &Mlp::load(&path).unwrap());
}

#[test]
fn save_replaces_the_file_and_leaves_no_temporary_behind() {
    let dir = temp_path("replace-dir");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("net.safetensors");
    small_net().save(&path).unwrap();
    let second = trained_net(6);
    second.save(&path).unwrap();
    assert_bit_equal(&second, &Mlp::load(&path).unwrap());
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("net.safetensors")]);
}

const FIXTURES: [&str; 2] = ["mlp_relu_identity", "mlp_tanh_softmax"];

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("data").join(name)
}

/// The committed files load and give the outputs PyTorch computed from them
/// (`scripts/check_safetensors_torch.py`).
#[test]
fn pytorch_computes_the_same_outputs_from_the_file() {
    for name in FIXTURES {
        let net = Mlp::load(data(&format!("{name}.safetensors"))).unwrap();
        let text = std::fs::read_to_string(data(&format!("{name}.torch_outputs.txt"))).unwrap();
        let case = &common::parse(&text)[0];
        let inputs = case.f32("inputs").into_dimensionality::<Ix2>().unwrap();
        let theirs = case.f32("outputs").into_dimensionality::<Ix2>().unwrap();
        let ours = net.forward(inputs.view()).unwrap();
        approx::assert_relative_eq!(ours, theirs, epsilon = 1e-7, max_relative = 1e-6);
    }
}

/// Writes the fixtures of `scripts/check_safetensors_torch.py`:
/// `cargo test --test weights -- --ignored write_fixtures`.
#[test]
#[ignore = "writes tests/data fixtures"]
fn write_fixtures() {
    let configs = [
        MlpConfig::new(4, vec![16, 8], 3),
        MlpConfig::new(5, vec![12], 4)
            .with_activation(Activation::Tanh)
            .with_output(Output::Softmax)
            .with_loss(Loss::Huber),
    ];
    for (name, config) in FIXTURES.iter().zip(configs) {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut net = Mlp::new(config, &mut rng).unwrap();
        // Non-zero biases: one training step.
        let x: Array2<f32> = Array2::random_using((6, net.input_dim()), StandardNormal, &mut rng);
        let targets = Array1::from(vec![1.0f32, -1.0, 0.5, 2.0, 0.0, 1.5]);
        net.train_step(x.view(), &[0, 1, 2, 0, 1, 2], targets.view(), None).unwrap();
        net.save(data(&format!("{name}.safetensors"))).unwrap();
        let inputs: Array2<f32> =
            Array2::random_using((5, net.input_dim()), StandardNormal, &mut rng);
        let outputs = net.forward(inputs.view()).unwrap();
        let hex = |a: &Array2<f32>| {
            a.iter().map(|v| format!("{:08x}", v.to_bits())).collect::<Vec<_>>().join(" ")
        };
        let shape = |a: &Array2<f32>| format!("{},{}", a.nrows(), a.ncols());
        let text = format!(
            "# deepq inputs and outputs of {name}.safetensors, written by tests/weights.rs \
             write_fixtures\ncase deepq\ninputs f32 {} {}\noutputs f32 {} {}\nend\n",
            shape(&inputs),
            hex(&inputs),
            shape(&outputs),
            hex(&outputs)
        );
        std::fs::write(data(&format!("{name}.deepq_outputs.txt")), text).unwrap();
    }
}

#[test]
fn equal_networks_give_byte_identical_files() {
    let make = || {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        Mlp::new(
            MlpConfig::new(4, vec![16, 8], 3).with_optimizer(Optimizer::rmsprop(0.01)),
            &mut rng,
        )
        .unwrap()
    };
    let (a, b) = (make().to_safetensors().unwrap(), make().to_safetensors().unwrap());
    assert_eq!(a, b);
    // The header length is a multiple of 8 and the file parses back to the same network.
    let header_len = u64::from_le_bytes(a[..8].try_into().unwrap());
    assert_eq!(header_len % 8, 0);
    assert_eq!(Mlp::from_safetensors(&a).unwrap().parameters(), make().parameters());
}

#[test]
fn a_crafted_header_length_is_an_error_in_every_build() {
    // Issue 12, D4: a header length near u64::MAX overflowed inside the safetensors parser,
    // a panic in debug builds (what `cargo test` runs by default).
    for stated in [u64::MAX, u64::MAX - 7, 1 << 63, 1 << 40, 100] {
        let mut bytes = stated.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"{}      ");
        let err = Mlp::from_safetensors(&bytes).unwrap_err();
        assert!(err.to_string().contains("header length"), "{stated}: {err}");
    }
}

#[cfg(unix)]
#[test]
fn devices_and_fifos_are_refused_before_they_are_read() {
    // Issue 12, D10-D12: /dev/zero was read until memory ran out, and a FIFO blocked forever.
    for path in ["/dev/zero", "/dev/null"] {
        assert!(matches!(Mlp::load(path), Err(Error::Io { .. })), "{path}");
        assert!(matches!(deepq::read_scalars(path), Err(Error::Io { .. })), "{path}");
    }
    let fifo = std::env::temp_dir().join(format!("deepq-fifo-{}", std::process::id()));
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        assert!(matches!(Mlp::load(&fifo), Err(Error::Io { .. })));
        assert!(matches!(deepq::read_scalars(&fifo), Err(Error::Io { .. })));
        std::fs::remove_file(&fifo).ok();
    }
}
