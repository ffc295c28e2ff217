//! Optimizers and losses against PyTorch: every case of `tests/data/optimizer_golden.txt`
//! (written by `tests/data/make_optimizer_golden.py`) fixes an MLP and a batch and takes three
//! steps; deepq must reproduce the loss, the TD errors and the parameters after the first and
//! the third step.
//!
//! Tolerance: relative 1e-5 with an absolute floor of 1e-7 (about one f32 ulp at 1), since deepq
//! and PyTorch sum the matrix products in different orders (f32 rounding, ~1e-7 relative).
//! The parameter *changes* are also compared, to a relative 1e-4 plus four ulps of the
//! parameter, so that a small update cannot hide behind a large parameter.

mod common;

use approx::assert_relative_eq;
use deepq::{Activation, Loss, Mlp, MlpConfig, Optimizer, Output, QNetwork};
use ndarray::{Array1, Array2, ArrayD, Ix1, Ix2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const GOLDEN: &str = include_str!("data/optimizer_golden.txt");

fn optimizer(case: &common::Case) -> Optimizer {
    let lr = case.scalar("opt.lr");
    let or = |k: &str, d: f32| case.get_scalar(&format!("opt.{k}")).unwrap_or(d);
    let flag = |k: &str| case.str(&format!("opt.{k}")) == Some("true");
    match case.str("optimizer").expect("optimizer") {
        "sgd" => Optimizer::Sgd { lr, momentum: or("momentum", 0.0), nesterov: flag("nesterov") },
        "rmsprop" => Optimizer::RmsProp {
            lr,
            alpha: or("alpha", 0.99),
            eps: or("eps", 1e-8),
            momentum: or("momentum", 0.0),
            centered: flag("centered"),
        },
        "adam" => Optimizer::Adam {
            lr,
            beta1: or("beta1", 0.9),
            beta2: or("beta2", 0.999),
            eps: or("eps", 1e-8),
        },
        other => panic!("unknown optimizer {other}"),
    }
}

fn build(case: &common::Case) -> Mlp {
    let sizes = case.usizes("sizes");
    let loss = match case.str("loss").expect("loss") {
        "masked_mse" | "cross_entropy" => Loss::MaskedMse,
        "keras_masked_mse" => Loss::KerasMaskedMse,
        "huber" => Loss::Huber,
        other => panic!("unknown loss {other}"),
    };
    let config = MlpConfig {
        input_dim: sizes[0],
        hidden: sizes[1..sizes.len() - 1].to_vec(),
        output_dim: sizes[sizes.len() - 1],
        activation: Activation::from_name(case.str("activation").unwrap()).unwrap(),
        output: Output::from_name(case.str("output").unwrap()).unwrap(),
        loss,
        optimizer: optimizer(case),
        max_grad_norm: case.get_scalar("max_grad_norm"),
        ..MlpConfig::default()
    };
    let layers = (0..sizes.len() - 1)
        .map(|l| {
            let w = case.f32(&format!("init.layers.{l}.weight"));
            let b = case.f32(&format!("init.layers.{l}.bias"));
            (w.into_dimensionality::<Ix2>().unwrap(), b.into_dimensionality::<Ix1>().unwrap())
        })
        .collect();
    Mlp::with_parameters(config, layers).expect("valid golden network")
}

fn assert_close(what: &str, ours: &ArrayD<f32>, theirs: &ArrayD<f32>) {
    assert_eq!(ours.shape(), theirs.shape(), "{what}: shapes");
    for (i, (&a, &b)) in ours.iter().zip(theirs).enumerate() {
        assert!(
            approx::relative_eq!(a, b, epsilon = 1e-7, max_relative = 1e-5),
            "{what}[{i}]: deepq {a} vs torch {b}"
        );
    }
}

fn assert_same_change(what: &str, before: &ArrayD<f32>, ours: &ArrayD<f32>, theirs: &ArrayD<f32>) {
    for (i, ((&p, &a), &b)) in before.iter().zip(ours).zip(theirs).enumerate() {
        let (da, db) = (a - p, b - p);
        let tol = 1e-4 * db.abs() + 4.0 * f32::EPSILON * p.abs().max(a.abs());
        assert!((da - db).abs() <= tol, "{what}[{i}]: change deepq {da} vs torch {db}");
    }
}

fn run(case: &common::Case) {
    let mut net = build(case);
    let states: Array2<f32> = case.f32("states").into_dimensionality().unwrap();
    let labels = case.usizes("labels");
    let classify = case.str("loss") == Some("cross_entropy");
    let targets: Option<Array1<f32>> =
        (!classify).then(|| case.f32("targets").into_dimensionality().unwrap());
    let weights: Option<Array1<f32>> = case
        .values
        .contains_key("weights")
        .then(|| case.f32("weights").into_dimensionality().unwrap());
    let mut rng = ChaCha8Rng::seed_from_u64(0); // unused: dropout is 0
    let before: Vec<ArrayD<f32>> = net.parameters().iter().map(|p| p.to_owned()).collect();
    for step in 1..=3 {
        let loss = if classify {
            net.train_classifier_step(states.view(), &labels, &mut rng).unwrap()
        } else {
            let stats = net
                .train_step(
                    states.view(),
                    &labels,
                    targets.as_ref().unwrap().view(),
                    weights.as_ref().map(|w| w.view()),
                )
                .unwrap();
            if step == 1 {
                assert_close(
                    &format!("{}: td", case.name),
                    &stats.td_errors.clone().into_dyn(),
                    &case.f32("step1.td"),
                );
            }
            stats.loss
        };
        if step == 1 {
            assert_relative_eq!(loss, case.scalar("step1.loss"), max_relative = 1e-5);
        }
        if step == 1 || step == 3 {
            let params = net.parameters();
            for (k, p) in params.iter().enumerate() {
                let name = format!(
                    "layers.{}.{}",
                    k / 2,
                    if k.is_multiple_of(2) { "weight" } else { "bias" }
                );
                let theirs = case.f32(&format!("step{step}.{name}"));
                let ours = p.to_owned();
                assert_close(&format!("{}: step {step} {name}", case.name), &ours, &theirs);
                if step == 1 {
                    let what = format!("{}: step 1 {name}", case.name);
                    assert_same_change(&what, &before[k], &ours, &theirs);
                }
            }
        }
    }
}

#[test]
fn every_case_matches_pytorch() {
    let cases = common::parse(GOLDEN);
    assert_eq!(cases.len(), 10, "all golden cases parsed");
    for case in &cases {
        run(case);
    }
}

#[test]
fn golden_cases_cover_every_optimizer_and_loss() {
    let cases = common::parse(GOLDEN);
    for opt in ["sgd", "rmsprop", "adam"] {
        assert!(cases.iter().any(|c| c.str("optimizer") == Some(opt)), "{opt}");
    }
    for loss in ["masked_mse", "keras_masked_mse", "huber", "cross_entropy"] {
        assert!(cases.iter().any(|c| c.str("loss") == Some(loss)), "{loss}");
    }
    assert!(cases.iter().any(|c| c.values.contains_key("max_grad_norm")));
}

#[test]
fn centered_rmsprop_stays_finite_on_tiny_gradients() {
    // Issue 12, D2: an input of 1e-20 gave gradients whose square flushed to 0 while their
    // average did not, and the square root of the negative variance made NaN at lr 1e-3.
    use deepq::{Mlp, MlpConfig, Optimizer, QNetwork};
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let optimizer =
        Optimizer::RmsProp { lr: 1e-3, alpha: 0.99, eps: 1e-8, momentum: 0.0, centered: true };
    let mut net =
        Mlp::new(MlpConfig::new(1, vec![], 1).with_optimizer(optimizer), &mut rng).unwrap();
    let states = ndarray::array![[1e-20f32]];
    for _ in 0..50 {
        net.train_step(states.view(), &[0], ndarray::array![0.5f32].view(), None).unwrap();
    }
    assert!(net.parameters().iter().all(|p| p.iter().all(|v| v.is_finite())));
}
