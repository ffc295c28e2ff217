//! # Print the default DQN config as JSON
//!
//! Prints `DqnConfig::default()` as one JSON object on one line, every field included: the
//! network (hidden sizes, activation, weight init), the optimizer and its parameters, the
//! learning-rate decay, the loss,
//! gradient clipping, gamma, the n-step return, the exploration schedule, replay memory (uniform or prioritized,
//! with its alpha, beta schedule and epsilon), learning_starts, the train frequency, gradient
//! steps per update, the target network update, Double DQN and the truncation rule.
//!
//! The peer benchmark (`benchmarks/peers/torch_dqn.py`, driven by `benchmarks/compare.sh`) reads
//! this object, so that the PyTorch DQN always runs deepq's current defaults.
//!
//! ```text
//! cargo run --release --example print_default_config
//! ```
//!
//! The JSON is written by hand (the library has no serde). Every struct is destructured without
//! `..`, so a new field in `DqnConfig` or `PrioritizedConfig` fails to compile here until it is
//! printed too.
//!
//! The fields are printed as they are, so `prioritized.capacity` and
//! `prioritized.observation_dim` show `PrioritizedConfig`'s own values: `DqnAgent::new`
//! replaces them with `memory_size` and the environment's observation size, and so does the
//! PyTorch script.

use std::error::Error;

use deepq::{
    DqnConfig, Exploration, LearningRateDecay, Optimizer, PrioritizedConfig, TargetUpdate,
    TrainFrequency, ValueBounds,
};

/// A JSON number for an `f32`: its shortest round-trip decimal (always finite here, as the
/// config validates).
fn num(x: f32) -> String {
    if x.is_finite() { format!("{x:?}") } else { "null".into() }
}

fn optimizer(o: &Optimizer) -> Result<String, Box<dyn Error>> {
    Ok(match *o {
        Optimizer::Sgd { lr, momentum, nesterov } => format!(
            r#"{{"name": "sgd", "lr": {}, "momentum": {}, "nesterov": {nesterov}}}"#,
            num(lr),
            num(momentum)
        ),
        Optimizer::RmsProp { lr, alpha, eps, momentum, centered } => format!(
            r#"{{"name": "rmsprop", "lr": {}, "alpha": {}, "eps": {}, "momentum": {}, "centered": {centered}}}"#,
            num(lr),
            num(alpha),
            num(eps),
            num(momentum)
        ),
        Optimizer::Adam { lr, beta1, beta2, eps } => format!(
            r#"{{"name": "adam", "lr": {}, "beta1": {}, "beta2": {}, "eps": {}}}"#,
            num(lr),
            num(beta1),
            num(beta2),
            num(eps)
        ),
        ref other => return Err(format!("optimizer {} not printed yet", other.name()).into()),
    })
}

/// Linear decay of the learning rate over gradient steps, from the optimizer's rate to `end`.
fn lr_decay(d: &Option<LearningRateDecay>) -> String {
    match d {
        None => "null".into(),
        Some(LearningRateDecay { end, steps }) => {
            format!(r#"{{"end": {}, "steps": {steps}, "per": "gradient_step"}}"#, num(*end))
        }
    }
}

fn exploration(e: &Exploration) -> String {
    match *e {
        Exploration::Multiplicative { start, floor, decay } => format!(
            r#"{{"kind": "multiplicative", "start": {}, "floor": {}, "decay": {}}}"#,
            num(start),
            num(floor),
            num(decay)
        ),
        Exploration::Linear { start, end, steps } => format!(
            r#"{{"kind": "linear", "start": {}, "end": {}, "steps": {steps}}}"#,
            num(start),
            num(end)
        ),
    }
}

fn target_update(t: &TargetUpdate) -> String {
    match *t {
        TargetUpdate::None => r#"{"kind": "none"}"#.into(),
        TargetUpdate::Hard { every } => format!(r#"{{"kind": "hard", "every": {every}}}"#),
        TargetUpdate::Polyak { tau } => format!(r#"{{"kind": "polyak", "tau": {}}}"#, num(tau)),
    }
}

fn train_frequency(f: &TrainFrequency) -> String {
    match *f {
        TrainFrequency::Steps(n) => format!(r#"{{"unit": "steps", "every": {n}}}"#),
        TrainFrequency::Episodes(n) => format!(r#"{{"unit": "episodes", "every": {n}}}"#),
    }
}

fn prioritized(p: &Option<PrioritizedConfig>) -> String {
    match p {
        None => "null".into(),
        Some(PrioritizedConfig {
            capacity,
            observation_dim,
            alpha,
            beta_start,
            beta_steps,
            epsilon,
        }) => format!(
            concat!(
                r#"{{"capacity": {}, "observation_dim": {}, "alpha": {}, "beta_start": {}, "#,
                r#""beta_steps": {}, "epsilon": {}, "beta_annealed_per": "sample_call", "#,
                r#""sampling": "stratified", "weights_normalised_by": "batch_max", "#,
                r#""new_priority": "max_stored"}}"#
            ),
            capacity,
            observation_dim,
            num(*alpha),
            num(*beta_start),
            beta_steps,
            num(*epsilon)
        ),
    }
}

fn value_bounds_json(bounds: &ValueBounds) -> String {
    match *bounds {
        ValueBounds::None => r#""none""#.into(),
        ValueBounds::ObservedRewards => r#""observed_rewards""#.into(),
        ValueBounds::Fixed { min, max } => {
            format!(r#"{{"kind": "fixed", "min": {}, "max": {}}}"#, num(min), num(max))
        }
    }
}

/// The JSON object of a config.
fn to_json(config: &DqnConfig) -> Result<String, Box<dyn Error>> {
    let DqnConfig {
        hidden,
        activation,
        init,
        optimizer: opt,
        learning_rate_decay,
        loss,
        max_grad_norm,
        gamma,
        n_step,
        exploration: expl,
        memory_size,
        batch_size,
        sample_with_replacement,
        learning_starts,
        train_frequency: freq,
        gradient_steps,
        target_update: target,
        double_dqn,
        prioritized: per,
        truncation_as_termination,
        value_bounds,
        seed,
    } = config;
    let hidden: Vec<String> = hidden.iter().map(ToString::to_string).collect();
    let fields = [
        format!(r#""hidden": [{}]"#, hidden.join(", ")),
        format!(r#""activation": "{}""#, activation.name()),
        format!(r#""init": "{}""#, init.name()),
        format!(r#""optimizer": {}"#, optimizer(opt)?),
        format!(r#""learning_rate_decay": {}"#, lr_decay(learning_rate_decay)),
        format!(r#""loss": "{}""#, loss.name()),
        format!(r#""max_grad_norm": {}"#, max_grad_norm.map_or("null".into(), num)),
        format!(r#""gamma": {}"#, num(*gamma)),
        format!(r#""n_step": {n_step}"#),
        format!(r#""exploration": {}"#, exploration(expl)),
        format!(r#""memory_size": {memory_size}"#),
        format!(r#""batch_size": {batch_size}"#),
        format!(r#""sample_with_replacement": {sample_with_replacement}"#),
        format!(r#""learning_starts": {learning_starts}"#),
        format!(r#""train_frequency": {}"#, train_frequency(freq)),
        format!(r#""gradient_steps": {gradient_steps}"#),
        format!(r#""target_update": {}"#, target_update(target)),
        format!(r#""double_dqn": {double_dqn}"#),
        format!(r#""prioritized": {}"#, prioritized(per)),
        format!(r#""truncation_as_termination": {truncation_as_termination}"#),
        format!(r#""value_bounds": {}"#, value_bounds_json(value_bounds)),
        format!(r#""seed": {seed}"#),
    ];
    Ok(format!("{{{}}}", fields.join(", ")))
}

fn main() -> Result<(), Box<dyn Error>> {
    println!("{}", to_json(&DqnConfig::default())?);
    Ok(())
}
