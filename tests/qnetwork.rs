//! The `QNetwork` trait through `&dyn` / `Box<dyn>`: masked training, TD errors, sample weights
//! and target-network updates.

use approx::assert_abs_diff_eq;
use deepq::{Error, Loss, Mlp, MlpConfig, Optimizer, QNetwork};
use ndarray::{Array1, Array2, array, s};
use ndarray_rand::RandomExt;
use ndarray_rand::rand_distr::StandardNormal;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn net(seed: u64, config: MlpConfig) -> Box<dyn QNetwork> {
    Box::new(Mlp::new(config, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap())
}

fn batch(seed: u64, n: usize, dim: usize) -> Array2<f32> {
    Array2::random_using((n, dim), StandardNormal, &mut ChaCha8Rng::seed_from_u64(seed))
}

fn owned(net: &dyn QNetwork) -> Vec<ndarray::ArrayD<f32>> {
    net.parameters().iter().map(|p| p.to_owned()).collect()
}

#[test]
fn dimensions_and_q_values() {
    let q = net(0, MlpConfig::new(5, vec![8], 3));
    assert_eq!((q.input_dim(), q.num_actions()), (5, 3));
    assert_eq!(q.q_values(batch(1, 7, 5).view()).unwrap().dim(), (7, 3));
    assert!(matches!(q.q_values(batch(1, 7, 4).view()), Err(Error::ShapeMismatch { .. })));
    assert_eq!(q.parameters().len(), 4);
    assert_eq!(q.parameters()[0].shape(), &[8, 5]);
}

#[test]
fn td_errors_are_target_minus_q_before_the_update() {
    let mut q = net(1, MlpConfig::default());
    let x = batch(2, 4, 4);
    let actions = [0, 1, 1, 0];
    let targets = array![1.0f32, -0.5, 2.0, 0.0];
    let before = q.q_values(x.view()).unwrap();
    let stats = q.train_step(x.view(), &actions, targets.view(), None).unwrap();
    let mut mse = 0.0;
    for i in 0..4 {
        let d = targets[i] - before[[i, actions[i]]];
        assert_abs_diff_eq!(stats.td_errors[i], d, epsilon = 1e-6);
        mse += d * d / 4.0;
    }
    assert_abs_diff_eq!(stats.loss, mse, epsilon = 1e-5);
}

#[test]
fn untaken_actions_keep_their_output_weights_exactly() {
    for loss in [Loss::MaskedMse, Loss::KerasMaskedMse, Loss::Huber] {
        let config =
            MlpConfig::new(4, vec![16], 3).with_loss(loss).with_optimizer(Optimizer::sgd(0.1));
        let mut q = net(3, config);
        let before = owned(q.as_ref());
        let x = batch(4, 8, 4);
        let targets = Array1::from_elem(8, 5.0f32);
        q.train_step(x.view(), &[2; 8], targets.view(), Some(Array1::ones(8).view())).unwrap();
        let after = owned(q.as_ref());
        // The output layer is parameters 2 (weight [3, 16]) and 3 (bias [3]).
        for a in [0, 1] {
            assert_eq!(after[2].slice(s![a, ..]), before[2].slice(s![a, ..]), "{loss}");
            assert_eq!(after[3][[a]], before[3][[a]], "{loss}");
        }
        assert_ne!(after[2].slice(s![2, ..]), before[2].slice(s![2, ..]), "{loss}");
    }
}

#[test]
fn a_zero_weight_removes_a_sample() {
    // mean_i(w_i l_i) over [1, 0] equals one sample with weight 1/2.
    let config = MlpConfig::default().with_optimizer(Optimizer::sgd(0.05));
    let (mut a, mut b) = (net(5, config.clone()), net(5, config));
    let x = batch(6, 2, 4);
    let targets = array![1.0f32, -3.0];
    let sa = a.train_step(x.view(), &[0, 1], targets.view(), Some(array![1.0f32, 0.0].view()));
    let sb = b.train_step(
        x.slice(s![..1, ..]),
        &[0],
        targets.slice(s![..1]),
        Some(array![0.5f32].view()),
    );
    assert_abs_diff_eq!(sa.unwrap().loss, sb.unwrap().loss, epsilon = 1e-6);
    for (p, q) in owned(a.as_ref()).iter().zip(&owned(b.as_ref())) {
        assert_abs_diff_eq!(p, q, epsilon = 1e-6);
    }
}

#[test]
fn unit_weights_equal_no_weights() {
    let (mut a, mut b) = (net(7, MlpConfig::default()), net(7, MlpConfig::default()));
    let x = batch(8, 6, 4);
    let targets = Array1::linspace(-1.0f32, 1.0, 6);
    let actions = [0, 1, 0, 1, 1, 0];
    let sa = a.train_step(x.view(), &actions, targets.view(), None).unwrap();
    let sb =
        b.train_step(x.view(), &actions, targets.view(), Some(Array1::ones(6).view())).unwrap();
    assert_eq!(sa, sb);
    assert_eq!(owned(a.as_ref()), owned(b.as_ref()));
}

#[test]
fn hard_update_copies_and_polyak_update_averages() {
    let online = net(9, MlpConfig::default());
    let mut target = net(10, MlpConfig::default());
    let t0 = owned(target.as_ref());
    target.update_from(online.as_ref(), 0.25).unwrap();
    for ((t, t_old), o) in owned(target.as_ref()).iter().zip(&t0).zip(&owned(online.as_ref())) {
        let expected = t_old * 0.75 + o * 0.25;
        assert_abs_diff_eq!(t, &expected, epsilon = 1e-6);
    }
    target.update_from(online.as_ref(), 1.0).unwrap();
    assert_eq!(owned(target.as_ref()), owned(online.as_ref()));
    let x = batch(11, 3, 4);
    assert_eq!(target.q_values(x.view()).unwrap(), online.q_values(x.view()).unwrap());
}

#[test]
fn update_from_rejects_bad_tau_and_other_architectures() {
    let online = net(12, MlpConfig::default());
    let mut target = net(13, MlpConfig::default());
    for tau in [0.0, -0.5, 1.5, f32::NAN] {
        let err = target.update_from(online.as_ref(), tau).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { what: "tau", .. }), "{err}");
    }
    let before = owned(target.as_ref());
    for other in [MlpConfig::new(4, vec![24, 23], 2), MlpConfig::new(4, vec![24], 2)] {
        let other = net(14, other);
        let err = target.update_from(other.as_ref(), 1.0).unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch { .. }), "{err}");
    }
    assert_eq!(owned(target.as_ref()), before);
}

#[test]
fn a_cloned_target_network_stays_fixed_while_the_online_one_trains() {
    let mut online = Mlp::new(MlpConfig::default(), &mut ChaCha8Rng::seed_from_u64(15)).unwrap();
    let target = online.clone();
    let x = batch(16, 8, 4);
    online.train_step(x.view(), &[0; 8], Array1::ones(8).view(), None).unwrap();
    assert_ne!(online.q_values(x.view()).unwrap(), target.q_values(x.view()).unwrap());
}

#[test]
fn set_learning_rate_changes_only_the_rate_and_rejects_bad_values() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut net = Mlp::new(MlpConfig::new(4, vec![8], 2), &mut rng).unwrap();
    net.set_learning_rate(5e-4).unwrap();
    assert_eq!(net.config().optimizer, Optimizer::adam(5e-4));
    for bad in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        assert!(net.set_learning_rate(bad).is_err(), "{bad}");
    }
    assert_eq!(net.config().optimizer, Optimizer::adam(5e-4));
}

#[test]
fn a_divergent_step_is_refused_and_leaves_network_and_optimizer_as_they_were() {
    // Issue 12, D1: Adam at f32::MAX makes every new parameter infinite. The step is an error
    // naming what went non-finite, and nothing changes: the next good step gives exactly what
    // it gives on an untouched copy (same parameters, same moments, same step count).
    use deepq::{Error, Mlp, MlpConfig, Optimizer};
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut net = Mlp::new(MlpConfig::new(4, vec![8], 2), &mut rng).unwrap();
    let states = ndarray::array![[0.1f32, 0.2, -0.3, 0.4], [0.0, -0.5, 0.2, 0.1]];
    let targets = ndarray::array![1.0f32, -2.0];
    net.train_step(states.view(), &[0, 1], targets.view(), None).unwrap();
    let copy = net.clone();
    net.set_learning_rate(f32::MAX).unwrap();
    let err = net.train_step(states.view(), &[0, 1], targets.view(), None).unwrap_err();
    match &err {
        Error::NonFinite { what, .. } => {
            assert!(what.contains("optimizer step 2") && what.contains("not applied"), "{what}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(net.parameters(), copy.parameters(), "the weights are untouched");
    net.set_learning_rate(1e-3).unwrap();
    let mut copy = copy;
    let a = net.train_step(states.view(), &[0, 1], targets.view(), None).unwrap();
    let b = copy.train_step(states.view(), &[0, 1], targets.view(), None).unwrap();
    assert_eq!(a, b);
    assert_eq!(net.parameters(), copy.parameters(), "the optimizer state is untouched");
    // A target so large that the loss overflows: refused before anything is computed.
    let huge = ndarray::array![f32::MAX, f32::MAX];
    let err = net.train_step(states.view(), &[0, 1], huge.view(), None).unwrap_err();
    assert!(matches!(&err, Error::NonFinite { what, .. } if what.contains("loss")), "{err:?}");
    assert_eq!(net.parameters(), copy.parameters());
    let _ = Optimizer::adam(1e-3);
}
