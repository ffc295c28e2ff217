//! PyTorch state dicts, both ways: networks saved by PyTorch (`tests/data/torch/`, made by
//! `make_fixture.py` beside them) load and compute PyTorch's outputs, every dtype and naming
//! scheme; broken files are errors naming the tensor; deepq's export loads back bit for bit
//! and is the file PyTorch was checked to load.
//!
//! Tolerance against PyTorch: `max_relative = 1e-5` with `epsilon = 1e-6` absolute (for
//! outputs near 0). Both sides compute in f32 from the same f32 weights, but the order of the
//! sums in a dot product (deepq: one fused multiply-add chain in index order; PyTorch: its CPU
//! GEMM's kernel, which depends on the build and the processor) and the `tanh`/`exp` of the
//! C library may differ. Measured here (2026-12-02, torch 2.15.0 on an AVX-512 EPYC): the ReLU
//! networks' outputs were bit-identical to PyTorch's, the tanh/softmax network's within
//! 1.5e-7 relative (3e-8 absolute); 1e-5 leaves room for another GEMM's order over 64-term
//! sums, and is still far below what a wrong weight, layout or conversion changes (an F16
//! mantissa off by one bit fails it).
#![cfg(feature = "safetensors")]

use std::collections::BTreeMap;
use std::path::PathBuf;

use approx::assert_relative_eq;
use deepq::{Activation, Error, Mlp, MlpConfig, Output, Policy, QNetwork};
use ndarray::{Array2, array};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use safetensors::tensor::{Dtype, SafeTensors, TensorView, serialize};
use serde_json::Value;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/torch").join(name)
}

fn temp_path(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("torch-import-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(data(name)).unwrap()).unwrap()
}

/// A JSON matrix of f32 values. Each number is the shortest decimal of an f32's exact double,
/// so parsing to f64 (even to within an ulp of f64) and rounding to f32 gives the f32 back.
fn matrix(value: &Value) -> Array2<f32> {
    let rows: Vec<Vec<f32>> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect())
        .collect();
    let cols = rows[0].len();
    Array2::from_shape_vec((rows.len(), cols), rows.concat()).unwrap()
}

fn config_of(case: &Value) -> MlpConfig {
    let c = &case["config"];
    let n = |k: &str| c[k].as_u64().unwrap() as usize;
    let hidden = c["hidden"].as_array().unwrap().iter().map(|h| h.as_u64().unwrap() as usize);
    MlpConfig::new(n("input_dim"), hidden.collect(), n("output_dim"))
        .with_activation(Activation::from_name(c["activation"].as_str().unwrap()).unwrap())
        .with_output(Output::from_name(c["output"].as_str().unwrap()).unwrap())
}

fn cases() -> Vec<Value> {
    json("torch_outputs.json")["cases"].as_array().unwrap().clone()
}

fn case(file: &str) -> Value {
    cases().into_iter().find(|c| c["file"] == file).unwrap_or_else(|| panic!("no case {file}"))
}

/// The 4-64-64-2 ReLU network of the fixtures.
fn q_config() -> MlpConfig {
    MlpConfig::new(4, vec![64, 64], 2)
}

fn assert_matches_pytorch(net: &Mlp, case: &Value) {
    let (inputs, theirs) = (matrix(&case["inputs"]), matrix(&case["outputs"]));
    let ours = net.forward(inputs.view()).unwrap();
    assert_relative_eq!(ours, theirs, epsilon = 1e-6, max_relative = 1e-5);
}

#[test]
fn every_fixture_computes_pytorchs_outputs() {
    let cases = cases();
    let files: Vec<&str> = cases.iter().map(|c| c["file"].as_str().unwrap()).collect();
    assert_eq!(
        files,
        [
            "q_f32.safetensors",
            "q_f64.safetensors",
            "q_f16.safetensors",
            "q_bf16.safetensors",
            "q_layers.safetensors",
            "tanh_softmax_prefixed.safetensors",
            "dropout.safetensors",
            "linear.safetensors",
        ]
    );
    for case in &cases {
        let file = case["file"].as_str().unwrap();
        let net = Mlp::load_torch(&config_of(case), data(file)).unwrap();
        assert_matches_pytorch(&net, case);
        let bytes = std::fs::read(data(file)).unwrap();
        let from_bytes = Mlp::from_torch_safetensors(&config_of(case), &bytes).unwrap();
        assert_eq!(from_bytes.parameters(), net.parameters(), "{file}");
    }
}

#[test]
fn each_dtype_and_naming_scheme_is_covered_and_loads_the_same_network() {
    let names = |file: &str| -> Vec<String> {
        let c = case(file);
        c["names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names("q_f32.safetensors")[..2], ["0.bias", "0.weight"]);
    assert_eq!(names("q_layers.safetensors")[..2], ["layers.0.bias", "layers.0.weight"]);
    assert_eq!(names("tanh_softmax_prefixed.safetensors")[..2], ["net.0.bias", "net.0.weight"]);
    assert_eq!(names("dropout.safetensors")[2..4], ["3.bias", "3.weight"]);
    for (file, dtype) in [("q_f64", "F64"), ("q_f16", "F16"), ("q_bf16", "BF16")] {
        assert_eq!(case(&format!("{file}.safetensors"))["dtype"], dtype);
    }
    // Sequential's 0, 2, 4 and ModuleList's layers.0, 1, 2 are the same weights.
    let f32 = Mlp::load_torch(&q_config(), data("q_f32.safetensors")).unwrap();
    let layers = Mlp::load_torch(&q_config(), data("q_layers.safetensors")).unwrap();
    assert_eq!(f32.parameters(), layers.parameters());
    // F64 rounds to the nearest f32: the original f32 weights come back exactly.
    let f64 = Mlp::load_torch(&q_config(), data("q_f64.safetensors")).unwrap();
    assert_eq!(f32.parameters(), f64.parameters());
    // F16 and BF16 hold the f32 weights rounded to 11 and 8 significant bits.
    for (file, bits) in [("q_f16.safetensors", 11), ("q_bf16.safetensors", 8)] {
        let low = Mlp::load_torch(&q_config(), data(file)).unwrap();
        for (a, b) in f32.parameters().iter().zip(low.parameters()) {
            for (x, y) in a.iter().zip(b.iter()) {
                assert!((x - y).abs() <= x.abs() * 0.5f32.powi(bits) + 1e-7, "{file}: {x} {y}");
            }
        }
        assert_ne!(f32.parameters(), low.parameters(), "{file} is a rounded copy");
    }
}

#[test]
fn f32_weights_are_read_bit_for_bit_without_transposing() {
    let bytes = std::fs::read(data("q_f32.safetensors")).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let net = Mlp::from_torch_safetensors(&q_config(), &bytes).unwrap();
    for l in 0..3 {
        let (w, b) = net.layer(l).unwrap();
        for (name, view) in [("weight", w.into_dyn()), ("bias", b.into_dyn())] {
            let t = file.tensor(&format!("{}.{name}", 2 * l)).unwrap();
            assert_eq!(t.shape(), view.shape(), "[out, in] as nn.Linear");
            let raw: Vec<u8> = view.iter().flat_map(|v| v.to_le_bytes()).collect();
            assert_eq!(raw, t.data(), "{}.{name}", 2 * l);
        }
    }
}

#[test]
fn a_policy_loads_a_pytorch_network() {
    let case = case("q_f32.safetensors");
    let policy = Policy::load_torch(&q_config(), data("q_f32.safetensors")).unwrap();
    let (inputs, theirs) = (matrix(&case["inputs"]), matrix(&case["outputs"]));
    for (state, expected) in inputs.rows().into_iter().zip(theirs.rows()) {
        let q = policy.q_values(state).unwrap();
        assert_relative_eq!(q[..], expected.as_slice().unwrap()[..], epsilon = 1e-6);
        if (expected[0] - expected[1]).abs() > 1e-4 {
            let greedy = usize::from(expected[1] > expected[0]);
            assert_eq!(policy.act(state).unwrap(), greedy);
        }
    }
}

// ----- Export: deepq -> PyTorch -----

/// The network of `deepq_export.safetensors`: seeded, with PyTorch's initialisation so that
/// the biases are not zero.
fn export_net() -> Mlp {
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    Mlp::new(q_config().with_init(deepq::Init::TorchDefault), &mut rng).unwrap()
}

fn export_inputs() -> Array2<f32> {
    use ndarray_rand::RandomExt;
    use ndarray_rand::rand_distr::StandardNormal;
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    Array2::random_using((16, 4), StandardNormal, &mut rng)
}

/// Seven layers: modules 0, 2, ..., 12, so that "10.weight" sorts before "2.weight" as text.
fn deep_net() -> Mlp {
    let config = MlpConfig::new(4, vec![5, 6, 7, 8, 9, 10], 3).with_activation(Activation::Tanh);
    Mlp::new(config.with_init(deepq::Init::TorchDefault), &mut ChaCha8Rng::seed_from_u64(3))
        .unwrap()
}

#[test]
fn export_round_trips_bit_for_bit() {
    let pytorch = Mlp::load_torch(&q_config(), data("q_f32.safetensors")).unwrap();
    for net in [export_net(), pytorch, deep_net()] {
        let bytes = net.to_torch_safetensors().unwrap();
        let back = Mlp::from_torch_safetensors(net.config(), &bytes).unwrap();
        assert_eq!(back.config(), net.config());
        let bits = |n: &Mlp| -> Vec<u32> {
            n.parameters().iter().flat_map(|p| p.iter().map(|v| v.to_bits())).collect()
        };
        assert_eq!(bits(&back), bits(&net));
        let x = export_inputs();
        let (a, b) = (net.forward(x.view()).unwrap(), back.forward(x.view()).unwrap());
        assert!(a.iter().zip(&b).all(|(u, v)| u.to_bits() == v.to_bits()));

        let path = temp_path("round_trip.safetensors");
        net.save_torch(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        assert_eq!(bits(&Mlp::load_torch(net.config(), &path).unwrap()), bits(&net));
        Policy::from_network(&net).save_torch(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }
}

#[test]
fn the_export_writes_what_pytorch_writes_for_an_nn_sequential() {
    // The network PyTorch saved comes back out with the same names, shapes, dtype and bytes of
    // every tensor, and with no metadata.
    let original = std::fs::read(data("q_f32.safetensors")).unwrap();
    let net = Mlp::from_torch_safetensors(&q_config(), &original).unwrap();
    let exported = net.to_torch_safetensors().unwrap();
    let (a, b) = (
        SafeTensors::deserialize(&original).unwrap(),
        SafeTensors::deserialize(&exported).unwrap(),
    );
    let (mut names_a, mut names_b) = (a.names(), b.names());
    names_a.sort();
    names_b.sort();
    assert_eq!(names_a, names_b);
    for name in names_a {
        let (x, y) = (a.tensor(name).unwrap(), b.tensor(name).unwrap());
        assert_eq!((x.dtype(), x.shape(), x.data()), (y.dtype(), y.shape(), y.data()), "{name}");
    }
    let (_, header) = SafeTensors::read_metadata(&exported).unwrap();
    assert!(header.metadata().is_none(), "no __metadata__");
}

/// The committed `deepq_export.safetensors` is what deepq writes today, so the check that
/// `make_fixture.py` ran on it (PyTorch loads it into `nn.Sequential` with `strict=True` and
/// computes deepq's outputs) holds for the current export; PyTorch's outputs agree.
#[test]
fn pytorch_loaded_deepqs_export_and_computed_the_same_outputs() {
    let net = export_net();
    let committed = std::fs::read(data("deepq_export.safetensors")).unwrap();
    assert_eq!(committed, net.to_torch_safetensors().unwrap(), "run write_deepq_export");
    let report = &json("torch_outputs.json")["deepq_export"];
    assert_eq!(report["file"], "deepq_export.safetensors", "make_fixture.py checked the export");
    let names: Vec<&str> =
        report["names"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(names, ["0.bias", "0.weight", "2.bias", "2.weight", "4.bias", "4.weight"]);
    assert_eq!(matrix(&report["inputs"]), export_inputs());
    let ours = net.forward(export_inputs().view()).unwrap();
    assert_relative_eq!(ours, matrix(&report["outputs"]), epsilon = 1e-6, max_relative = 1e-5);
}

/// Writes `tests/data/torch/deepq_export.safetensors` and `deepq_outputs.json` (inputs and
/// deepq's outputs) for `make_fixture.py` to check in PyTorch:
/// `cargo test --release --test torch_import -- --ignored write_deepq_export`.
#[test]
#[ignore = "writes tests/data/torch fixtures"]
fn write_deepq_export() {
    let net = export_net();
    net.save_torch(data("deepq_export.safetensors")).unwrap();
    let x = export_inputs();
    let y = net.forward(x.view()).unwrap();
    let rows = |a: &Array2<f32>| -> Vec<Vec<f64>> {
        a.rows().into_iter().map(|r| r.iter().map(|&v| f64::from(v)).collect()).collect()
    };
    let report = serde_json::json!({
        "made_by": "tests/torch_import.rs write_deepq_export (Mlp::save_torch)",
        "config": "MlpConfig::new(4, vec![64, 64], 2), Init::TorchDefault, seed 15",
        "inputs": rows(&x),
        "outputs": rows(&y),
    });
    let text = serde_json::to_string_pretty(&report).unwrap() + "\n";
    std::fs::write(data("deepq_outputs.json"), text).unwrap();
}

// ----- Errors -----

type Tensors = BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)>;

fn tensors_of(file: &str) -> Tensors {
    let bytes = std::fs::read(data(file)).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(name, t)| (name, (t.dtype(), t.shape().to_vec(), t.data().to_vec())))
        .collect()
}

fn file_of(tensors: &Tensors) -> Vec<u8> {
    let views = tensors
        .iter()
        .map(|(name, (dtype, shape, data))| {
            (name.clone(), TensorView::new(*dtype, shape.clone(), data).unwrap())
        })
        .collect::<Vec<_>>();
    serialize(views, None).unwrap()
}

/// The error of loading `tensors` with `config`, as text, checked to be `InvalidWeights`.
fn error(config: &MlpConfig, tensors: &Tensors) -> String {
    let err = Mlp::from_torch_safetensors(config, &file_of(tensors)).unwrap_err();
    assert!(matches!(err, Error::InvalidWeights { .. }), "{err}");
    err.to_string()
}

fn assert_contains(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} not in {text:?}");
    }
}

#[test]
fn a_missing_tensor_is_named() {
    let mut t = tensors_of("q_f32.safetensors");
    t.remove("2.bias");
    assert_contains(&error(&q_config(), &t), &["tensor 2.bias is missing", "2.weight"]);
    let mut t = tensors_of("q_layers.safetensors");
    t.remove("layers.1.weight");
    assert_contains(&error(&q_config(), &t), &["tensor layers.1.weight is missing"]);
    // A whole layer missing: the count of layers differs.
    let mut t = tensors_of("q_f32.safetensors");
    t.remove("4.weight");
    t.remove("4.bias");
    let err = error(&q_config(), &t);
    assert_contains(&err, &["3 linear layers (4 -> 64 -> 64 -> 2), the file 2", "2.weight"]);
}

#[test]
fn a_wrong_shape_names_the_tensor_and_both_shapes() {
    let mut t = tensors_of("q_f32.safetensors");
    let (_, shape, _) = t.get_mut("0.weight").unwrap();
    *shape = vec![4, 64]; // saved as [in, out]
    let err = error(&q_config(), &t);
    assert_contains(&err, &["tensor 0.weight has shape [4, 64], expected [64, 4]", "transposed"]);
    // A mismatched architecture: the file's second layer is 64 wide, the config's 32.
    let config = MlpConfig::new(4, vec![64, 32], 2);
    let err = error(&config, &tensors_of("q_f32.safetensors"));
    assert_contains(&err, &["tensor 2.weight has shape [64, 64], expected [32, 64]"]);
    let config = MlpConfig::new(5, vec![64, 64], 2);
    let err = error(&config, &tensors_of("q_f32.safetensors"));
    assert_contains(&err, &["tensor 0.weight has shape [64, 4], expected [64, 5]"]);
    // One hidden layer more than the file.
    let config = MlpConfig::new(4, vec![64, 64, 64], 2);
    let err = error(&config, &tensors_of("q_f32.safetensors"));
    assert_contains(&err, &["4 linear layers", "the file 3", "0.bias"]);
}

#[test]
fn an_unsupported_dtype_names_the_tensor() {
    for dtype in [Dtype::I64, Dtype::I32, Dtype::U8, Dtype::F8_E4M3, Dtype::BOOL] {
        let mut t = tensors_of("linear.safetensors");
        let (d, shape, data) = t.get_mut("0.bias").unwrap();
        *d = dtype;
        let n = shape.iter().product::<usize>() * dtype.bitsize() / 8;
        data.resize(n, 0);
        let err = error(&MlpConfig::new(2, vec![], 3), &t);
        assert_contains(&err, &[&format!("tensor 0.bias has dtype {dtype:?}"), "F32, F64"]);
    }
}

#[test]
fn extra_or_unexpected_tensors_are_named() {
    let mut t = tensors_of("q_f32.safetensors");
    t.insert("5.running_mean".into(), (Dtype::F32, vec![2], vec![0; 8]));
    assert_contains(&error(&q_config(), &t), &["tensor 5.running_mean is not the weight or bias"]);
    let mut t = tensors_of("q_f32.safetensors");
    t.insert("head.weight".into(), (Dtype::F32, vec![2], vec![0; 8]));
    assert_contains(&error(&q_config(), &t), &["tensor head.weight is not"]);
    // An extra layer.
    let mut t = tensors_of("q_f32.safetensors");
    t.insert("6.weight".into(), (Dtype::F32, vec![2, 2], vec![0; 16]));
    t.insert("6.bias".into(), (Dtype::F32, vec![2], vec![0; 8]));
    assert_contains(&error(&q_config(), &t), &["3 linear layers", "the file 4", "6.weight"]);
    // Two networks in one file, named like a Stable-Baselines3 DQN policy's state dict.
    let mut t = Tensors::new();
    for (name, value) in tensors_of("q_f32.safetensors") {
        t.insert(format!("q_net.q_net.{name}"), value.clone());
        t.insert(format!("q_net_target.q_net.{name}"), value);
    }
    let err = error(&q_config(), &t);
    assert_contains(&err, &["2 different prefixes", "\"q_net.q_net.\"", "\"q_net_target.q_net.\""]);
    // One of them alone loads.
    t.retain(|name, _| name.starts_with("q_net.q_net."));
    let net = Mlp::from_torch_safetensors(&q_config(), &file_of(&t)).unwrap();
    assert_matches_pytorch(&net, &case("q_f32.safetensors"));
}

#[test]
fn non_finite_values_are_named_with_their_index() {
    let mut t = tensors_of("q_f32.safetensors");
    let (_, _, data) = t.get_mut("2.weight").unwrap();
    let i = 3 * 64 + 17;
    data[4 * i..4 * i + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    assert_contains(&error(&q_config(), &t), &["tensor 2.weight[3, 17] = NaN is not finite"]);

    let mut t = tensors_of("q_bf16.safetensors");
    let (_, _, data) = t.get_mut("4.bias").unwrap();
    data[2..4].copy_from_slice(&0xff80u16.to_le_bytes()); // -inf
    assert_contains(&error(&q_config(), &t), &["tensor 4.bias[1] = -inf is not finite"]);

    let mut t = tensors_of("q_f16.safetensors");
    let (_, _, data) = t.get_mut("0.bias").unwrap();
    data[..2].copy_from_slice(&0x7c00u16.to_le_bytes()); // inf
    assert_contains(&error(&q_config(), &t), &["tensor 0.bias[0] = inf is not finite"]);

    // Finite in F64 but beyond f32: an error, not infinity.
    let mut t = tensors_of("q_f64.safetensors");
    let (_, _, data) = t.get_mut("0.weight").unwrap();
    data[8..16].copy_from_slice(&1e300f64.to_le_bytes());
    assert_contains(&error(&q_config(), &t), &["tensor 0.weight[0, 1] = 1e300 (F64) is outside"]);
}

#[test]
fn a_linear_layer_without_bias_is_refused() {
    let mut t = tensors_of("linear.safetensors");
    t.remove("0.bias");
    let err = error(&MlpConfig::new(2, vec![], 3), &t);
    assert_contains(&err, &["tensor 0.bias is missing"]);
}

#[test]
fn broken_files_configs_and_paths_are_errors() {
    let bytes = std::fs::read(data("linear.safetensors")).unwrap();
    let config = MlpConfig::new(2, vec![], 3);
    for len in 0..bytes.len() {
        let err = Mlp::from_torch_safetensors(&config, &bytes[..len]).unwrap_err();
        assert!(matches!(err, Error::InvalidWeights { .. }), "length {len}: {err}");
    }
    let err = error(&config, &Tensors::new());
    assert_contains(&err, &["the file 0: no tensors"]);
    let bad = MlpConfig::new(2, vec![0], 3);
    assert!(matches!(Mlp::from_torch_safetensors(&bad, &bytes), Err(Error::InvalidConfig { .. })));

    let missing = temp_path("missing.safetensors");
    assert!(matches!(Mlp::load_torch(&config, &missing), Err(Error::Io { .. })));
    let err = Policy::load_torch(&q_config(), data("linear.safetensors")).unwrap_err();
    assert_contains(&err.to_string(), &["linear.safetensors", "the config has 3 linear layers"]);
}

#[test]
fn deepqs_own_file_loads_when_the_config_matches_and_points_to_load_otherwise() {
    let own =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/mlp_tanh_softmax.safetensors");
    let saved = Mlp::load(&own).unwrap();
    let loaded = Mlp::load_torch(saved.config(), &own).unwrap();
    assert_eq!(loaded.parameters(), saved.parameters());
    let config = MlpConfig::new(5, vec![12], 4).with_output(Output::Softmax); // relu, not tanh
    let err = Mlp::load_torch(&config, &own).unwrap_err().to_string();
    assert_contains(&err, &["activation = tanh", "the config has relu", "Mlp::load"]);
    let x = array![[0.1f32, 0.2, 0.3, 0.4, 0.5]];
    assert_eq!(loaded.forward(x.view()).unwrap(), saved.forward(x.view()).unwrap());
}
