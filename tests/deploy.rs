//! The Katib manifest and the Dockerfile in `deploy/` against the trainer's flags: every flag the
//! trial command passes is one the trainer accepts, with values it accepts, and the experiment
//! mirrors the notebook's tuning config.

#[path = "../examples/trainer/args.rs"]
mod args;

use std::collections::BTreeMap;

use clap::{CommandFactory, Parser};

use args::TrainerArgs;

const MANIFEST: &str = include_str!("../deploy/katib-experiment.yaml");
const DOCKERFILE: &str = include_str!("../deploy/Dockerfile");

/// The arguments of the trial container's command (`- --flag=value` lines), in order.
fn trial_arguments() -> Vec<String> {
    let arguments: Vec<String> = MANIFEST
        .lines()
        .map(str::trim)
        .filter_map(|line| line.strip_prefix("- --"))
        .map(|arg| format!("--{arg}"))
        .collect();
    assert!(arguments.len() >= 5, "no trial command found in the manifest: {arguments:?}");
    arguments
}

/// `trialParameters` of the template: name -> reference.
fn trial_parameters() -> BTreeMap<String, String> {
    let mut parameters = BTreeMap::new();
    let mut lines = MANIFEST.lines().map(str::trim).peekable();
    while let Some(line) = lines.next() {
        if let Some(name) = line.strip_prefix("- name: ") {
            // A trial parameter is a `- name:` followed by `description:` and `reference:`.
            let mut reference = None;
            while let Some(next) = lines.peek() {
                if next.starts_with("- ") || next.ends_with(':') {
                    break;
                }
                if let Some(r) = next.strip_prefix("reference: ") {
                    reference = Some(r.to_string());
                }
                lines.next();
            }
            if let Some(r) = reference {
                parameters.insert(name.to_string(), r);
            }
        }
    }
    parameters
}

/// The flag name of an argument: `--gamma=${...}` -> `gamma`.
fn flag_name(argument: &str) -> &str {
    argument.trim_start_matches('-').split('=').next().unwrap_or_default()
}

#[test]
fn every_flag_of_the_trial_command_is_a_trainer_flag() {
    let command = TrainerArgs::command();
    let accepted: Vec<&str> = command.get_arguments().filter_map(|a| a.get_long()).collect();
    for argument in trial_arguments() {
        let name = flag_name(&argument);
        assert!(accepted.contains(&name), "the manifest passes --{name}, not a trainer flag");
    }
}

#[test]
fn the_trial_command_parses_with_every_parameter_substituted() {
    let parameters = trial_parameters();
    assert_eq!(parameters.len(), 5, "trial parameters: {parameters:?}");
    let sample = |reference: &str| match reference {
        "learning_rate" => "0.00126",
        "hidden_neurons" => "45",
        "gamma" => "0.906",
        "memory_batch_size" => "256",
        "${trialSpec.Name}" => "deepq-cartpole-abc123",
        other => panic!("unexpected trial parameter reference {other}"),
    };
    let mut argv = vec!["trainer".to_string()];
    for argument in trial_arguments() {
        let mut argument = argument.clone();
        for (name, reference) in &parameters {
            argument = argument.replace(&format!("${{trialParameters.{name}}}"), sample(reference));
        }
        assert!(!argument.contains("${"), "unresolved placeholder in {argument}");
        argv.push(argument);
    }
    let args = TrainerArgs::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let config = args.dqn_config().unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    assert_eq!(args.learning_rate, Some(0.00126));
    assert_eq!(config.optimizer.learning_rate(), 0.00126);
    assert_eq!(config.hidden, vec![45, 45]);
    assert_eq!(config.gamma, 0.906);
    assert_eq!(config.batch_size, 256);
    assert_eq!(args.job_dir.to_str(), Some("/output/deepq-cartpole-abc123"));
}

#[test]
fn the_experiment_mirrors_the_notebook() {
    for line in [
        "apiVersion: kubeflow.org/v1beta1",
        "kind: Experiment",
        "type: maximize",
        "objectiveMetricName: episode_reward",
        "algorithmName: random",
        "maxTrialCount: 15",
        "kind: StdOut",
    ] {
        assert!(MANIFEST.lines().any(|l| l.trim() == line), "the manifest lacks `{line}`");
    }
    // The four searched parameters are trainer flags, each passed to the trial by reference.
    let parameters = trial_parameters();
    let accepted: Vec<String> = TrainerArgs::command()
        .get_arguments()
        .filter_map(|a| a.get_long().map(String::from))
        .collect();
    for searched in ["learning_rate", "hidden_neurons", "gamma", "memory_batch_size"] {
        assert!(accepted.iter().any(|a| a == searched), "--{searched} is not a trainer flag");
        let (name, _) = parameters
            .iter()
            .find(|(_, r)| r.as_str() == searched)
            .unwrap_or_else(|| panic!("no trial parameter references {searched}"));
        let passed = format!("--{searched}=${{trialParameters.{name}}}");
        assert!(trial_arguments().contains(&passed), "the trial command lacks {passed}");
    }
    for range in ["min: \"0.0001\"", "max: \"0.1\"", "min: \"10\"", "max: \"50\"", "min: \"0.8\""] {
        assert!(MANIFEST.contains(range), "the manifest lacks the range bound {range}");
    }
    for batch in ["4", "16", "32", "64", "128", "256"] {
        assert!(MANIFEST.contains(&format!("- \"{batch}\"")), "batch size {batch} missing");
    }
}

#[test]
fn a_flag_the_trainer_lacks_is_caught() {
    // The check above is real: a misspelt flag fails to parse.
    let err = TrainerArgs::try_parse_from(["trainer", "--learning-rate=0.01"]).unwrap_err();
    assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
    assert_eq!(flag_name("--learning-rate=0.01"), "learning-rate");
}

#[test]
fn the_dockerfile_builds_and_runs_the_trainer() {
    assert!(DOCKERFILE.contains("cargo build --release --locked --example trainer"));
    assert!(DOCKERFILE.contains("ENTRYPOINT [\"/usr/local/bin/trainer\"]"));
    assert!(MANIFEST.contains("- /usr/local/bin/trainer"), "the trial does not run the trainer");
}
