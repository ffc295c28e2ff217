//! `Policy`: a trained network that acts greedily through `&self`, shared across threads, loaded
//! from the weights file the main example writes, choosing exactly the agent's greedy actions.

use std::ops::ControlFlow;
use std::sync::Arc;

use deepq::{Agent, CartPole, DqnAgent, DqnConfig, Env, Error, Mlp, Policy, TrainConfig, train};
use ndarray::{Array1, array};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn trained_agent() -> DqnAgent {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut env = CartPole::v0();
    let config = DqnConfig::default().with_learning_starts(100).with_hidden(vec![32, 32]);
    let mut agent = DqnAgent::new(config, 4, 2, &mut rng).unwrap();
    let train_config = TrainConfig::default().with_episodes(30);
    train(&mut agent, &mut env, &train_config, &mut rng, &mut |_| ControlFlow::Continue(()))
        .unwrap();
    agent
}

fn random_observations(n: usize) -> Vec<Array1<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    (0..n).map(|_| Array1::from_iter((0..4).map(|_| rng.random_range(-2.5f32..2.5)))).collect()
}

#[test]
fn a_policy_chooses_the_agents_greedy_actions() {
    let mut agent = trained_agent();
    let policy = Policy::from_agent(&agent);
    assert_eq!((policy.observation_dim(), policy.num_actions()), (4, 2));
    let mut counts = [0usize; 2];
    for obs in random_observations(2_000) {
        let action = policy.act(obs.view()).unwrap();
        assert_eq!(action, agent.greedy_action(obs.view()).unwrap(), "{obs}");
        counts[action] += 1;
    }
    assert!(counts[0] > 100 && counts[1] > 100, "both actions occur: {counts:?}");
}

#[test]
fn a_policy_is_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Policy>();
    let policy = Arc::new(Policy::from_agent(&trained_agent()));
    let observations = random_observations(400);
    let alone: Vec<usize> = observations.iter().map(|o| policy.act(o.view()).unwrap()).collect();
    let together: Vec<usize> = std::thread::scope(|scope| {
        let handles: Vec<_> = observations
            .chunks(100)
            .map(|chunk| {
                let policy = Arc::clone(&policy);
                scope.spawn(move || {
                    chunk.iter().map(|o| policy.act(o.view()).unwrap()).collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(alone, together);
}

#[cfg(feature = "safetensors")]
#[test]
fn a_policy_loads_the_weights_file_of_the_main_example() {
    // The main example writes `trainer.policy().save("dqn_cartpole.safetensors")`, the same
    // file `Mlp::save` writes.
    let agent = trained_agent();
    let path =
        std::env::temp_dir().join(format!("deepq-policy-{}.safetensors", std::process::id()));
    agent.network().save(&path).unwrap();
    let loaded = Policy::load(&path).unwrap();
    let policy = Policy::from_agent(&agent);
    for obs in random_observations(500) {
        assert_eq!(loaded.act(obs.view()).unwrap(), policy.act(obs.view()).unwrap());
        assert_eq!(loaded.q_values(obs.view()).unwrap(), policy.q_values(obs.view()).unwrap());
    }
    // And it plays: a greedy episode of CartPole through the policy alone.
    let mut env = CartPole::v0();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut obs = env.reset(&mut rng);
    let mut steps = 0;
    loop {
        let step = env.step(loaded.act(obs.view()).unwrap()).unwrap();
        steps += 1;
        if step.done() {
            break;
        }
        obs = step.observation;
    }
    assert!(steps >= 1);
    loaded.save(&path).unwrap();
    assert_eq!(Mlp::load(&path).unwrap().config(), agent.network().config());
    std::fs::remove_file(&path).ok();
    assert!(matches!(Policy::load(&path), Err(Error::Io { .. })));
}

#[test]
fn bad_observations_are_errors() {
    let policy = Policy::from_agent(&trained_agent());
    let err = policy.act(array![1.0f32, 2.0].view()).unwrap_err();
    assert!(matches!(err, Error::ObservationLength { expected: 4, actual: 2, .. }), "{err:?}");
    let err = policy.act(array![0.0f32, f32::NAN, 0.0, 0.0].view()).unwrap_err();
    assert!(matches!(err, Error::NonFinite { .. }), "{err:?}");
}

#[test]
fn a_policy_from_a_network_is_that_network() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let net = Mlp::new(deepq::MlpConfig::new(4, vec![8], 3), &mut rng).unwrap();
    let policy = Policy::from(net.clone());
    assert_eq!(policy.num_actions(), 3);
    let q = policy.q_values(array![0.1f32, -0.2, 0.3, 0.0].view()).unwrap();
    let mut net = net;
    let mut out = vec![0.0; 3];
    deepq::QNetwork::q_values_one(&mut net, array![0.1f32, -0.2, 0.3, 0.0].view(), &mut out)
        .unwrap();
    assert_eq!(q, out, "the same arithmetic as the agent's single-observation path");
}

#[test]
fn a_dqn_evaluation_reports_the_networks_values() {
    // The start value is the network's max_a Q(s0, a), computed here through the Policy on the
    // same reset states; the discounted return uses the agent's gamma.
    let mut agent = trained_agent();
    let policy = Policy::from_agent(&agent);
    let mut env = CartPole::v0();
    let stats =
        deepq::evaluate(&mut agent, &mut env, 5, &mut ChaCha8Rng::seed_from_u64(4)).unwrap();
    let values = stats.values.expect("a DqnAgent gives values");
    assert_eq!(values.gamma, agent.config().gamma);
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut starts = 0.0f64;
    let mut discounted = 0.0f64;
    for _ in 0..5 {
        let mut obs = env.reset(&mut rng);
        let q = policy.q_values(obs.view()).unwrap();
        starts += f64::from(q.iter().copied().fold(f32::NEG_INFINITY, f32::max));
        let (mut g, mut k) = (0.0f64, 1.0f64);
        loop {
            let step = env.step(policy.act(obs.view()).unwrap()).unwrap();
            g += k * f64::from(step.reward);
            k *= f64::from(values.gamma);
            if step.done() {
                break;
            }
            obs = step.observation;
        }
        discounted += g;
    }
    assert_eq!(values.mean_start_value, (starts / 5.0) as f32);
    assert_eq!(values.mean_discounted_return, (discounted / 5.0) as f32);
    assert!(values.max_value >= values.mean_start_value);
}
