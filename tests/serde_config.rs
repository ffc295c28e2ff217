//! The `serde` feature: every config type round-trips through JSON unchanged, a partial file
//! fills the rest from `Default`, and an unknown or misspelt field is an error, not ignored.
//!
//! The tests and examples build with the feature on (the crate's dev-dependency on itself).

use deepq::{
    AcrobotConfig, Activation, CartPoleConfig, CheckConfig, ClassifierConfig, DqnConfig,
    EvalConfig, Exploration, Init, Interval, LearningRateDecay, LogStep, Loss, MlpConfig,
    MountainCarConfig, Optimizer, Output, PrioritizedConfig, ReplayConfig, RolloutConfig,
    TargetUpdate, TrainConfig, TrainFrequency, ValueBounds,
};
use serde::{Serialize, de::DeserializeOwned};

/// JSON text and back, compared with `PartialEq`, and the text is stable (a second round trip
/// writes the same bytes).
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) {
    let json = serde_json::to_string_pretty(value).expect("serialize");
    let back: T = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(&back, value, "{json}");
    assert_eq!(serde_json::to_string_pretty(&back).unwrap(), json);
}

fn dqn_variants() -> Vec<DqnConfig> {
    let mut all = vec![DqnConfig::default(), DqnConfig::tutorial()];
    for id in ["CartPole-v1", "Acrobot-v1", "MountainCar-v0"] {
        all.push(DqnConfig::for_task(id));
    }
    all.push(
        DqnConfig::default()
            .with_seed(17)
            .with_hidden(vec![3, 5, 7])
            .with_activation(Activation::Tanh)
            .with_init(Init::TorchDefault)
            .with_optimizer(Optimizer::Sgd { lr: 0.1, momentum: 0.5, nesterov: true })
            .with_learning_rate_decay(None)
            .with_loss(Loss::Huber)
            .with_max_grad_norm(None)
            .with_gamma(0.9)
            .with_n_step(1)
            .with_exploration(Exploration::Multiplicative { start: 1.0, floor: 0.05, decay: 0.99 })
            .with_train_frequency(TrainFrequency::Episodes(2))
            .with_target_update(TargetUpdate::Hard { every: 250 })
            .with_double_dqn(false)
            .with_prioritized(None)
            .with_value_bounds(ValueBounds::Fixed { min: -3.5, max: 1e30 }),
    );
    all.push(DqnConfig::default().with_value_bounds(ValueBounds::None).with_optimizer(
        Optimizer::RmsProp { lr: 2e-4, alpha: 0.95, eps: 1e-7, momentum: 0.0, centered: true },
    ));
    all
}

#[test]
fn agent_configs_round_trip() {
    for config in dqn_variants() {
        round_trip(&config);
    }
    round_trip(&LearningRateDecay { end: 1e-5, steps: 12_345 });
    round_trip(&PrioritizedConfig::default().with_beta_steps(7));
    round_trip(&ReplayConfig::default());
}

#[test]
fn training_and_network_configs_round_trip() {
    round_trip(&TrainConfig::default());
    round_trip(
        &TrainConfig::default()
            .with_episodes(600)
            .with_max_env_steps(100_000)
            .with_reward_threshold(-110.0)
            .with_stop_when_solved(false)
            .with_eval(
                EvalConfig::default()
                    .with_episodes(5)
                    .with_every(Interval::EnvSteps(10_000))
                    .with_keep_best(true),
            ),
    );
    round_trip(&EvalConfig::default().with_every(Interval::Episodes(3)));
    round_trip(&MlpConfig::new(4, vec![64, 64], 2));
    round_trip(&MlpConfig::new(6, vec![128], 3).with_output(Output::Softmax));
    round_trip(&LogStep::Episode);
    round_trip(&RolloutConfig::default());
    round_trip(&ClassifierConfig::default());
}

#[test]
fn environment_configs_round_trip() {
    round_trip(&CartPoleConfig::v0());
    round_trip(&CartPoleConfig::v1());
    round_trip(&AcrobotConfig::v1());
    round_trip(&MountainCarConfig::v0());
    round_trip(&CheckConfig::default());
}

#[test]
fn a_partial_file_takes_the_rest_from_default() {
    let config: DqnConfig =
        serde_json::from_str(r#"{ "gamma": 0.99, "hidden": [32], "seed": 3 }"#).unwrap();
    assert_eq!(config, DqnConfig::default().with_gamma(0.99).with_hidden(vec![32]).with_seed(3));
    let config: DqnConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(config, DqnConfig::default());
    let train: TrainConfig = serde_json::from_str(r#"{ "episodes": 50 }"#).unwrap();
    assert_eq!(train, TrainConfig::default().with_episodes(50));
}

#[test]
fn enums_are_written_with_their_variant_names_and_f32_as_its_shortest_decimal() {
    let json = serde_json::to_string(&DqnConfig::default()).unwrap();
    for part in [
        r#""target_update":{"Polyak":{"tau":0.01}}"#,
        r#""value_bounds":"ObservedRewards""#,
        r#""optimizer":{"Adam":{"lr":0.001,"#,
        r#""gamma":0.995,"#,
        r#""n_step":3,"#,
    ] {
        assert!(json.contains(part), "{part} not in {json}");
    }
}

#[test]
fn unknown_and_misspelt_fields_are_errors() {
    for bad in [
        r#"{ "gama": 0.99 }"#,
        r#"{ "target_update": { "Polyak": { "tau": 0.01, "every": 3 } } }"#,
        r#"{ "target_update": { "Soft": { "tau": 0.01 } } }"#,
        r#"{ "learning_rate_decay": { "end": 0.0001 } }"#,
        r#"{ "hidden": "64x64" }"#,
    ] {
        let e = serde_json::from_str::<DqnConfig>(bad).expect_err(bad).to_string();
        assert!(!e.is_empty(), "{bad}");
    }
    let e = serde_json::from_str::<TrainConfig>(r#"{ "episode": 5 }"#).unwrap_err().to_string();
    assert!(e.contains("episode"), "{e}");
}

#[test]
fn a_deserialized_config_is_still_validated_where_it_is_used() {
    let config: DqnConfig = serde_json::from_str(r#"{ "gamma": 1.5 }"#).unwrap();
    let e = config.validate().unwrap_err();
    assert!(matches!(e, deepq::Error::InvalidConfig { field: "gamma", .. }), "{e}");
}
