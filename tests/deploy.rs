//! The tuning jobs in `deploy/` against the APIs that read them and the trainer that runs them:
//! - both Katib manifests (`katib-experiment.yaml`, StdOut collector, and
//!   `katib-experiment-file.yaml`, File collector on the hypertune JSON file) read into
//!   mirrors of Katib's v1beta1 API types (kubeflow/katib
//!   `pkg/apis/controller/experiments/v1beta1/experiment_types.go` and
//!   `pkg/apis/controller/common/v1beta1/common_types.go`, v0.18): every field name, every enum
//!   value, the fields its webhook requires, and the validator's rules
//!   (`pkg/webhook/v1beta1/experiment/validator/validator.go`);
//! - the Vertex AI job (`vertex/hp-tuning-job.yaml`) into the HyperparameterTuningJob fields it
//!   uses, and against the tutorial's `hyperparam.yaml`;
//! - every trial command parses as trainer flags, with every parameter substituted.
// The mirrors declare every field of the API types, read by a test or not.
#![allow(dead_code)]

#[path = "../examples/trainer/args.rs"]
mod args;
#[path = "../examples/trainer/vertex.rs"]
mod vertex;

use std::collections::{BTreeMap, BTreeSet};

use clap::Parser;
use serde::Deserialize;
use serde_yaml_ng::Value;

use args::TrainerArgs;

const STDOUT_MANIFEST: &str = include_str!("../deploy/katib-experiment.yaml");
const FILE_MANIFEST: &str = include_str!("../deploy/katib-experiment-file.yaml");
const VERTEX_JOB: &str = include_str!("../deploy/vertex/hp-tuning-job.yaml");
const DOCKERFILE: &str = include_str!("../deploy/Dockerfile");

/// The tutorial's tuning config, `quests/rl/dqn/hyperparam.yaml` of
/// GoogleCloudPlatform/training-data-analyst (commit 9907acc; Apache-2.0), for the retired AI
/// Platform Training API.
const TUTORIAL_HYPERPARAM: &str = r#"
trainingInput:
  scaleTier: BASIC_GPU
  hyperparameters:
    maxTrials: 15
    maxParallelTrials: 15
    enableTrialEarlyStopping: False
    goal: MAXIMIZE
    hyperparameterMetricTag: episode_reward
    params:
    - parameterName: learning_rate
      type: DOUBLE
      minValue: 0.0
      maxValue: 1.0
      scaleType: UNIT_LINEAR_SCALE
    - parameterName: hidden_neurons
      type: INTEGER
      minValue: 10
      maxValue: 50
      scaleType: UNIT_LINEAR_SCALE
    - parameterName: gamma
      type: DOUBLE
      minValue: 0.8
      maxValue: 1.0
      scaleType: UNIT_LINEAR_SCALE
    - parameterName: memory_batch_size
      type: DISCRETE
      discreteValues:
      - 4
      - 16
      - 32
      - 64
      - 128
      - 256
"#;

// ---- Katib v1beta1 (kubeflow.org/v1beta1 Experiment), as the Go types name the fields. A
// field the webhook requires is not an Option; an unknown field is an error. ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Experiment {
    api_version: String,
    kind: String,
    metadata: ObjectMeta,
    spec: ExperimentSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ObjectMeta {
    name: String,
    namespace: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ExperimentSpec {
    parameters: Option<Vec<ParameterSpec>>,
    objective: ObjectiveSpec,
    algorithm: AlgorithmSpec,
    early_stopping: Option<AlgorithmSpec>,
    trial_template: TrialTemplate,
    parallel_trial_count: Option<i32>,
    max_trial_count: Option<i32>,
    max_failed_trial_count: Option<i32>,
    metrics_collector_spec: Option<MetricsCollectorSpec>,
    nas_config: Option<Value>,
    resume_policy: Option<ResumePolicy>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum ObjectiveType {
    Minimize,
    Maximize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ObjectiveSpec {
    #[serde(rename = "type")]
    kind: ObjectiveType,
    goal: Option<f64>,
    objective_metric_name: String,
    additional_metric_names: Option<Vec<String>>,
    metric_strategies: Option<Vec<MetricStrategy>>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum MetricStrategyType {
    Min,
    Max,
    Latest,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricStrategy {
    name: String,
    value: MetricStrategyType,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AlgorithmSpec {
    algorithm_name: String,
    algorithm_settings: Option<Vec<NameValue>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NameValue {
    name: String,
    value: String,
}

#[derive(Debug, Deserialize, PartialEq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum ParameterType {
    Double,
    Int,
    Discrete,
    Categorical,
}

#[derive(Debug, Deserialize, PartialEq, Clone, Copy)]
#[serde(rename_all = "camelCase")]
enum Distribution {
    Uniform,
    LogUniform,
    Normal,
    LogNormal,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ParameterSpec {
    name: String,
    parameter_type: ParameterType,
    feasible_space: FeasibleSpace,
}

/// Katib's bounds, steps and list entries are strings (a YAML number there is a JSON number
/// to the API server, which a Go `string` refuses).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FeasibleSpace {
    #[serde(default, deserialize_with = "go_string")]
    max: Option<String>,
    #[serde(default, deserialize_with = "go_string")]
    min: Option<String>,
    #[serde(default, deserialize_with = "go_strings")]
    list: Option<Vec<String>>,
    #[serde(default, deserialize_with = "go_string")]
    step: Option<String>,
    distribution: Option<Distribution>,
}

fn go_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(Some(s)),
        other => Err(serde::de::Error::custom(format!("a string, not {other:?}"))),
    }
}

fn go_strings<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    match Value::deserialize(d)? {
        Value::Sequence(items) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                other => Err(serde::de::Error::custom(format!("a string, not {other:?}"))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        other => Err(serde::de::Error::custom(format!("a list, not {other:?}"))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TrialTemplate {
    retain: Option<bool>,
    trial_spec: Option<Job>,
    config_map: Option<Value>,
    trial_parameters: Vec<TrialParameterSpec>,
    primary_pod_labels: Option<BTreeMap<String, String>>,
    primary_container_name: String,
    success_condition: Option<String>,
    failure_condition: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrialParameterSpec {
    name: String,
    description: Option<String>,
    reference: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsCollectorSpec {
    source: Option<SourceSpec>,
    collector: Option<CollectorSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SourceSpec {
    http_get: Option<Value>,
    file_system_path: Option<FileSystemPath>,
    filter: Option<FilterSpec>,
}

#[derive(Debug, Deserialize, PartialEq)]
enum FileSystemKind {
    File,
    Directory,
}

#[derive(Debug, Deserialize, PartialEq)]
enum FileFormat {
    #[serde(rename = "TEXT")]
    Text,
    #[serde(rename = "JSON")]
    Json,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSystemPath {
    path: String,
    kind: FileSystemKind,
    format: Option<FileFormat>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FilterSpec {
    metrics_format: Vec<String>,
}

/// `None` is v0.17's name of the push collector, `Push` v0.18's.
#[derive(Debug, Deserialize, PartialEq)]
enum CollectorKind {
    StdOut,
    File,
    TensorFlowEvent,
    PrometheusMetric,
    Custom,
    None,
    Push,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CollectorSpec {
    kind: CollectorKind,
    custom_collector: Option<Value>,
}

#[derive(Debug, Deserialize, PartialEq)]
enum ResumePolicy {
    Never,
    LongRunning,
    FromVolume,
}

// ---- The trial: a Kubernetes batch/v1 Job, the fields the manifests use. ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Job {
    api_version: String,
    kind: String,
    spec: JobSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JobSpec {
    backoff_limit: Option<i32>,
    template: PodTemplate,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PodTemplate {
    metadata: Option<PodMetadata>,
    spec: PodSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PodMetadata {
    annotations: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize, PartialEq)]
enum RestartPolicy {
    Never,
    OnFailure,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PodSpec {
    containers: Vec<Container>,
    volumes: Option<Vec<Value>>,
    restart_policy: RestartPolicy,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Container {
    name: String,
    image: String,
    command: Vec<String>,
    args: Option<Vec<String>>,
    env: Option<Vec<EnvVar>>,
    resources: Option<Value>,
    volume_mounts: Option<Vec<Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvVar {
    name: String,
    value: String,
}

fn experiment(text: &str) -> Experiment {
    serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("not a Katib v1beta1 Experiment: {e}"))
}

fn both() -> [(&'static str, Experiment); 2] {
    [("StdOut", experiment(STDOUT_MANIFEST)), ("File", experiment(FILE_MANIFEST))]
}

/// The trial's Job and its primary container.
fn trial(e: &Experiment) -> (&Job, &Container) {
    let t = &e.spec.trial_template;
    let job = t.trial_spec.as_ref().expect("a trialSpec");
    let c = job
        .spec
        .template
        .spec
        .containers
        .iter()
        .find(|c| c.name == t.primary_container_name)
        .expect("the primary container is one of the Job's");
    (job, c)
}

/// `${trialParameters.X}` placeholders of a text, in order.
fn placeholders(text: &str) -> Vec<String> {
    text.match_indices("${trialParameters.")
        .map(|(i, m)| {
            let rest = &text[i + m.len()..];
            rest[..rest.find('}').expect("closed placeholder")].to_string()
        })
        .collect()
}

#[test]
fn both_katib_manifests_are_valid_v1beta1_experiments() {
    for (name, e) in both() {
        assert_eq!(
            (e.api_version.as_str(), e.kind.as_str()),
            ("kubeflow.org/v1beta1", "Experiment")
        );
        // Validator: the name as a DNS label of at most 40 characters.
        let n = &e.metadata.name;
        assert!(n.len() <= 40 && n.starts_with(|c: char| c.is_ascii_lowercase()), "{name}: {n}");
        assert!(n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        assert!(!n.ends_with('-'));
        let s = &e.spec;
        // Counts.
        let max = s.max_trial_count.expect("maxTrialCount");
        let parallel = s.parallel_trial_count.unwrap_or(3);
        let failed = s.max_failed_trial_count.unwrap_or(0);
        assert!(max > 0 && parallel > 0 && failed >= 0 && failed <= max && parallel <= max);
        // Objective.
        let o = &s.objective;
        assert!(!o.objective_metric_name.is_empty());
        let extra = o.additional_metric_names.clone().unwrap_or_default();
        assert!(!extra.contains(&o.objective_metric_name), "{name}");
        for m in o.metric_strategies.iter().flatten() {
            assert!(m.name == o.objective_metric_name || extra.contains(&m.name), "{name}: {m:?}");
        }
        // Algorithm, and parameters it can draw as written.
        let algorithm = s.algorithm.algorithm_name.as_str();
        let katib_algorithms = [
            "random",
            "tpe",
            "multivariate-tpe",
            "grid",
            "cmaes",
            "sobol",
            "bayesianoptimization",
            "hyperband",
            "enas",
            "darts",
            "pbt",
        ];
        assert!(katib_algorithms.contains(&algorithm), "{name}: algorithm {algorithm}");
        assert!(s.nas_config.is_none());
        let parameters = s.parameters.as_ref().expect("parameters");
        let mut names = BTreeSet::new();
        for p in parameters {
            assert!(names.insert(p.name.as_str()), "{name}: parameter {} twice", p.name);
            let f = &p.feasible_space;
            match p.parameter_type {
                ParameterType::Double | ParameterType::Int => {
                    assert!(f.list.is_none() && (f.min.is_some() || f.max.is_some()), "{}", p.name);
                    let (lo, hi): (f64, f64) = (
                        f.min.as_deref().unwrap().parse().unwrap(),
                        f.max.as_deref().unwrap().parse().unwrap(),
                    );
                    assert!(lo < hi, "{}", p.name);
                    if f.distribution == Some(Distribution::LogUniform) {
                        assert!(lo > 0.0, "{}: logUniform needs min > 0", p.name);
                        // Only these suggestion services read the distribution.
                        assert!(["random", "tpe", "multivariate-tpe"].contains(&algorithm));
                    }
                }
                ParameterType::Discrete | ParameterType::Categorical => {
                    assert!(f.min.is_none() && f.max.is_none() && f.step.is_none(), "{}", p.name);
                    assert!(!f.list.as_ref().expect("a list").is_empty(), "{}", p.name);
                }
            }
        }
        // Trial template: one source, parameters that are unique, referenced and used.
        let t = &s.trial_template;
        assert!(t.trial_spec.is_some() != t.config_map.is_some(), "{name}");
        assert!(t.retain.is_some(), "{name}: retain is stated");
        let (job, container) = trial(&e);
        assert_eq!((job.api_version.as_str(), job.kind.as_str()), ("batch/v1", "Job"));
        // A Job's success and failure conditions are Katib's defaults; other kinds need both.
        assert!(t.success_condition.is_none() && t.failure_condition.is_none());
        let mut declared = BTreeSet::new();
        let mut references = BTreeSet::new();
        for p in &t.trial_parameters {
            assert!(!p.name.contains(['{', '}']) && declared.insert(p.name.clone()), "{}", p.name);
            assert!(references.insert(p.reference.clone()), "{} twice", p.reference);
            assert!(
                names.contains(p.reference.as_str())
                    || ["${trialSpec.Name}", "${trialSpec.Namespace}"]
                        .contains(&p.reference.as_str()),
                "{name}: reference {}",
                p.reference
            );
        }
        let template = serde_yaml_ng::to_string(
            &serde_yaml_ng::from_str::<Value>(if name == "File" {
                FILE_MANIFEST
            } else {
                STDOUT_MANIFEST
            })
            .unwrap()["spec"]["trialTemplate"]["trialSpec"],
        )
        .unwrap();
        let used: BTreeSet<String> = placeholders(&template).into_iter().collect();
        assert_eq!(used, declared, "{name}: placeholders and trialParameters differ");
        assert!(container.image.contains("deepq-trainer"), "{name}");
        // The collector, by the validator's rules.
        let mc = s.metrics_collector_spec.as_ref().expect("metricsCollectorSpec");
        let kind = &mc.collector.as_ref().expect("collector").kind;
        match kind {
            CollectorKind::StdOut => assert!(mc.source.is_none(), "{name}"),
            CollectorKind::File => {
                let source = mc.source.as_ref().expect("File needs a source");
                let path = source.file_system_path.as_ref().expect("fileSystemPath");
                assert_eq!(path.kind, FileSystemKind::File);
                assert!(path.path.starts_with('/'), "an absolute path");
                let format = path.format.as_ref().expect("format");
                if *format == FileFormat::Json {
                    assert!(source.filter.is_none(), "JSON takes no filter");
                }
            }
            other => panic!("{name}: collector {other:?}"),
        }
    }
}

#[test]
fn the_file_collector_reads_the_file_the_trainer_writes() {
    let e = experiment(FILE_MANIFEST);
    let mc = e.spec.metrics_collector_spec.as_ref().unwrap();
    assert_eq!(mc.collector.as_ref().unwrap().kind, CollectorKind::File);
    let path = mc.source.as_ref().unwrap().file_system_path.as_ref().unwrap();
    assert_eq!(path.format, Some(FileFormat::Json));
    let (_, container) = trial(&e);
    let env: BTreeMap<&str, &str> =
        container.env.iter().flatten().map(|v| (v.name.as_str(), v.value.as_str())).collect();
    assert_eq!(env.get("CLOUD_ML_HP_METRIC_FILE"), Some(&path.path.as_str()));
    assert_eq!(env.get("CLOUD_ML_TRIAL_ID"), Some(&"${trialParameters.trialName}"));
    // What the trainer writes there is JSON Katib takes: the metric as a string, a numeric
    // timestamp, one object per line.
    let line = vertex::report_line(1_764_640_000.25, "trial-1", 194.5, 40, "/output/x.ckpt");
    let object: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(object[&e.spec.objective.objective_metric_name], "194.5");
    assert!(object["timestamp"].is_f64());
    // Reports of one second may sort out of order in Katib (it reads the fraction as
    // nanoseconds), so the objective is the largest report, which --keep_best makes the last.
    let strategies = e.spec.objective.metric_strategies.as_ref().unwrap();
    assert_eq!(strategies[0].value, MetricStrategyType::Max);
    assert!(container.command.iter().any(|a| a == "--keep_best"));
}

#[test]
fn the_manifests_differ_only_in_the_collector() {
    let (stdout, file) = (experiment(STDOUT_MANIFEST), experiment(FILE_MANIFEST));
    let (_, a) = trial(&stdout);
    let (_, b) = trial(&file);
    assert_eq!(a.command, b.command);
    assert_eq!(format!("{:?}", stdout.spec.parameters), format!("{:?}", file.spec.parameters));
    assert_eq!(stdout.spec.max_trial_count, file.spec.max_trial_count);
    assert_eq!(stdout.spec.resume_policy, file.spec.resume_policy);
}

#[test]
fn a_preempted_trial_resumes_from_its_checkpoints() {
    for (name, e) in both() {
        let (job, container) = trial(&e);
        assert!(job.spec.backoff_limit.unwrap_or(6) > 0, "{name}: the pod is replaced");
        assert!(container.command.iter().any(|a| a == "--resume"), "{name}");
        assert!(!container.command.iter().any(|a| a == "--overwrite"), "{name}");
        // The job-dir is on the persistent volume, one per trial.
        let dir = container.command.iter().find(|a| a.starts_with("--job-dir=")).unwrap();
        assert!(dir.starts_with("--job-dir=/output/${trialParameters."), "{name}: {dir}");
        assert_eq!(e.spec.resume_policy, Some(ResumePolicy::FromVolume), "{name}");
    }
}

/// Sample values of the searched parameters, as a tuner passes them.
fn sample(parameter: &str) -> &'static str {
    match parameter {
        "learning_rate" => "0.00126",
        "hidden_neurons" => "45",
        "gamma" => "0.906",
        "memory_batch_size" => "256",
        other => panic!("unexpected parameter {other}"),
    }
}

#[test]
fn every_katib_trial_command_parses_as_trainer_flags() {
    for (name, e) in both() {
        let (_, container) = trial(&e);
        let t = &e.spec.trial_template;
        assert_eq!(container.command[0], "/usr/local/bin/trainer", "{name}");
        let mut argv = vec!["trainer".to_string()];
        for arg in &container.command[1..] {
            let mut arg = arg.clone();
            for p in &t.trial_parameters {
                let value = match p.reference.as_str() {
                    "${trialSpec.Name}" => "deepq-cartpole-abc123",
                    reference => sample(reference),
                };
                arg = arg.replace(&format!("${{trialParameters.{}}}", p.name), value);
            }
            assert!(!arg.contains("${"), "{name}: unresolved {arg}");
            argv.push(arg);
        }
        let args = TrainerArgs::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        let config = args.dqn_config().unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        assert_eq!(config.optimizer.learning_rate(), 0.00126);
        assert_eq!(config.hidden, vec![45, 45]);
        assert_eq!(config.gamma, 0.906);
        assert_eq!(config.batch_size, 256);
        assert_eq!(args.job_dir.to_str(), Some("/output/deepq-cartpole-abc123"));
        assert!(args.resume && args.keep_best);
        // Each searched parameter reaches the trial as the trainer flag of its name.
        for p in e.spec.parameters.as_ref().unwrap() {
            let trial_parameter = t.trial_parameters.iter().find(|tp| tp.reference == p.name);
            let passed =
                format!("--{}=${{trialParameters.{}}}", p.name, trial_parameter.unwrap().name);
            assert!(container.command.contains(&passed), "{name}: {passed}");
        }
    }
}

#[test]
fn the_katib_experiment_is_the_notebook_search() {
    let e = experiment(STDOUT_MANIFEST);
    assert_eq!(e.spec.objective.kind, ObjectiveType::Maximize);
    assert_eq!(e.spec.objective.objective_metric_name, "episode_reward");
    assert_eq!(e.spec.max_trial_count, Some(15));
    let p: BTreeMap<&str, &ParameterSpec> =
        e.spec.parameters.as_ref().unwrap().iter().map(|p| (p.name.as_str(), p)).collect();
    assert_eq!(
        p.keys().copied().collect::<Vec<_>>(),
        ["gamma", "hidden_neurons", "learning_rate", "memory_batch_size"]
    );
    // The notebook's ranges, but the learning rate on a log scale (deepq's Adam diverges far
    // below the notebook's upper bound of 1).
    let range = |n: &str| {
        (p[n].feasible_space.min.clone().unwrap(), p[n].feasible_space.max.clone().unwrap())
    };
    assert_eq!(range("learning_rate"), ("0.0001".into(), "0.1".into()));
    assert_eq!(p["learning_rate"].feasible_space.distribution, Some(Distribution::LogUniform));
    assert_eq!(range("hidden_neurons"), ("10".into(), "50".into()));
    assert_eq!(range("gamma"), ("0.8".into(), "1.0".into()));
    assert_eq!(
        p["memory_batch_size"].feasible_space.list.as_ref().unwrap(),
        &["4", "16", "32", "64", "128", "256"]
    );
}

#[test]
fn a_wrong_field_or_enum_value_is_caught() {
    // The mirrors are strict: a misspelt field, an enum value Katib lacks, or a number where
    // Katib has a string is an error.
    for (from, to) in [
        ("objectiveMetricName", "objectiveMetric"),
        ("value: latest", "value: last"),
        ("distribution: logUniform", "distribution: loguniform"),
        ("resumePolicy: FromVolume", "resumePolicy: fromVolume"),
        ("min: \"10\"", "min: 10"),
        ("- \"16\"", "- 16"),
        ("kind: StdOut", "kind: Stdout"),
        ("parameterType: int", "parameterType: integer"),
    ] {
        assert!(STDOUT_MANIFEST.contains(from), "{from}");
        let broken = STDOUT_MANIFEST.replacen(from, to, 1);
        assert!(serde_yaml_ng::from_str::<Experiment>(&broken).is_err(), "{from} -> {to} passed");
    }
    let err = TrainerArgs::try_parse_from(["trainer", "--learning-rate=0.01"]).unwrap_err();
    assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
}

// ---- Vertex AI: the HyperparameterTuningJob fields the job uses. ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct HpTuningJob {
    display_name: Option<String>,
    study_spec: StudySpec,
    max_trial_count: i32,
    parallel_trial_count: i32,
    max_failed_trial_count: Option<i32>,
    trial_job_spec: CustomJobSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StudySpec {
    metrics: Vec<VertexMetric>,
    parameters: Vec<VertexParameter>,
    algorithm: Option<VertexAlgorithm>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum VertexAlgorithm {
    AlgorithmUnspecified,
    GridSearch,
    RandomSearch,
}

#[derive(Debug, Deserialize, PartialEq)]
enum Goal {
    #[serde(rename = "MAXIMIZE")]
    Maximize,
    #[serde(rename = "MINIMIZE")]
    Minimize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct VertexMetric {
    metric_id: String,
    goal: Goal,
}

#[derive(Debug, Deserialize, PartialEq, Clone, Copy)]
enum ScaleType {
    #[serde(rename = "UNIT_LINEAR_SCALE")]
    Linear,
    #[serde(rename = "UNIT_LOG_SCALE")]
    Log,
    #[serde(rename = "UNIT_REVERSE_LOG_SCALE")]
    ReverseLog,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct VertexParameter {
    parameter_id: String,
    double_value_spec: Option<Bounds<f64>>,
    integer_value_spec: Option<Bounds<i64>>,
    discrete_value_spec: Option<Values<f64>>,
    categorical_value_spec: Option<Values<String>>,
    scale_type: Option<ScaleType>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Bounds<T> {
    min_value: T,
    max_value: T,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Values<T> {
    values: Vec<T>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CustomJobSpec {
    base_output_directory: Option<GcsDestination>,
    worker_pool_specs: Vec<WorkerPoolSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct GcsDestination {
    output_uri_prefix: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WorkerPoolSpec {
    machine_spec: MachineSpec,
    replica_count: i64,
    container_spec: ContainerSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct MachineSpec {
    machine_type: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ContainerSpec {
    image_uri: String,
    command: Option<Vec<String>>,
    args: Option<Vec<String>>,
}

// The tutorial's legacy AI Platform form.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Legacy {
    training_input: LegacyInput,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyInput {
    hyperparameters: LegacyHyperparameters,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyHyperparameters {
    max_trials: i32,
    max_parallel_trials: i32,
    goal: Goal,
    hyperparameter_metric_tag: String,
    params: Vec<LegacyParam>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyParam {
    parameter_name: String,
    #[serde(rename = "type")]
    kind: String,
    min_value: Option<f64>,
    max_value: Option<f64>,
    scale_type: Option<ScaleType>,
    discrete_values: Option<Vec<f64>>,
}

fn vertex_job() -> HpTuningJob {
    serde_yaml_ng::from_str(VERTEX_JOB).unwrap_or_else(|e| panic!("not a tuning job: {e}"))
}

#[test]
fn the_vertex_job_mirrors_the_tutorials_hyperparam_yaml() {
    let job = vertex_job();
    let tutorial: Legacy = serde_yaml_ng::from_str(TUTORIAL_HYPERPARAM).unwrap();
    let h = tutorial.training_input.hyperparameters;
    assert_eq!(job.max_trial_count, h.max_trials);
    assert_eq!(job.parallel_trial_count, h.max_parallel_trials);
    assert_eq!(job.study_spec.metrics.len(), 1);
    assert_eq!(job.study_spec.metrics[0].metric_id, h.hyperparameter_metric_tag);
    assert_eq!(job.study_spec.metrics[0].goal, h.goal);
    assert_eq!(job.study_spec.parameters.len(), h.params.len());
    for (ours, theirs) in job.study_spec.parameters.iter().zip(&h.params) {
        assert_eq!(ours.parameter_id, theirs.parameter_name);
        let specs = [
            ours.double_value_spec.is_some(),
            ours.integer_value_spec.is_some(),
            ours.discrete_value_spec.is_some(),
            ours.categorical_value_spec.is_some(),
        ];
        assert_eq!(
            specs.iter().filter(|&&s| s).count(),
            1,
            "{}: one value spec",
            ours.parameter_id
        );
        match theirs.kind.as_str() {
            "DOUBLE" => assert_eq!(
                ours.double_value_spec,
                Some(Bounds {
                    min_value: theirs.min_value.unwrap(),
                    max_value: theirs.max_value.unwrap()
                })
            ),
            "INTEGER" => assert_eq!(
                ours.integer_value_spec,
                Some(Bounds {
                    min_value: theirs.min_value.unwrap() as i64,
                    max_value: theirs.max_value.unwrap() as i64
                })
            ),
            "DISCRETE" => assert_eq!(
                ours.discrete_value_spec,
                Some(Values { values: theirs.discrete_values.clone().unwrap() })
            ),
            other => panic!("tutorial type {other}"),
        }
        assert_eq!(ours.scale_type, theirs.scale_type, "{}", ours.parameter_id);
    }
    assert!(job.study_spec.algorithm.is_none_or(|a| a != VertexAlgorithm::AlgorithmUnspecified));
    assert!(job.max_failed_trial_count.is_none() && job.display_name.is_none());
}

#[test]
fn every_vertex_trial_parses_as_trainer_flags() {
    let job = vertex_job();
    assert_eq!(job.trial_job_spec.worker_pool_specs.len(), 1);
    let pool = &job.trial_job_spec.worker_pool_specs[0];
    assert_eq!(pool.replica_count, 1);
    assert!(!pool.machine_spec.machine_type.is_empty());
    assert!(pool.container_spec.image_uri.contains("deepq-trainer"));
    assert!(pool.container_spec.command.is_none(), "the image's entrypoint is the trainer");
    let base = &job.trial_job_spec.base_output_directory.as_ref().unwrap().output_uri_prefix;
    assert!(base.starts_with("gs://"));
    // Vertex AI appends `--<parameterId>=<value>`; a DISCRETE value may come as `256.0`.
    for batch in ["256", "256.0"] {
        let mut argv = vec!["trainer".to_string()];
        argv.extend(pool.container_spec.args.clone().unwrap());
        for p in &job.study_spec.parameters {
            let value =
                if p.parameter_id == "memory_batch_size" { batch } else { sample(&p.parameter_id) };
            argv.push(format!("--{}={value}", p.parameter_id));
        }
        let args = TrainerArgs::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        let config = args.dqn_config().unwrap();
        assert_eq!(config.batch_size, 256);
        assert_eq!(config.hidden, vec![45, 45]);
        assert!(args.resume && args.keep_best);
        // No --job-dir: the AIP_* directories decide.
        assert!(!argv.iter().any(|a| a.starts_with("--job-dir")));
    }
    // The tutorial's learning-rate range starts at 0, which the trainer refuses.
    assert!(TrainerArgs::try_parse_from(["trainer", "--learning_rate=0.0"]).is_err());
}

#[test]
fn vertex_output_directories_map_to_the_cloud_storage_mount() {
    let aip = |name: &str| -> Option<String> {
        match name {
            "AIP_MODEL_DIR" => Some("gs://bucket/deepq-cartpole/7/model/".into()),
            "AIP_CHECKPOINT_DIR" => Some("gs://bucket/deepq-cartpole/7/checkpoints/".into()),
            "AIP_TENSORBOARD_LOG_DIR" => Some("gs://bucket/deepq-cartpole/7/logs/".into()),
            _ => None,
        }
    };
    let default = std::path::Path::new("runs/trainer");
    let dirs = vertex::JobDirs::resolve(None, default, &aip);
    assert_eq!(dirs.job, std::path::Path::new("/gcs/bucket/deepq-cartpole/7/model"));
    assert_eq!(dirs.checkpoints, std::path::Path::new("/gcs/bucket/deepq-cartpole/7/checkpoints"));
    assert_eq!(dirs.tensorboard, std::path::Path::new("/gcs/bucket/deepq-cartpole/7/logs"));
    // --job-dir wins; without either, everything goes to the default.
    let given = std::path::Path::new("/output/t1");
    assert_eq!(
        vertex::JobDirs::resolve(Some(given), default, &aip),
        vertex::JobDirs::all_in(given)
    );
    assert_eq!(
        vertex::JobDirs::resolve(None, default, &|_| None),
        vertex::JobDirs::all_in(default)
    );
    // Only the model directory: the others follow it. A local path stays as it is.
    let only = |name: &str| (name == "AIP_MODEL_DIR").then(|| "/mnt/out".to_string());
    assert_eq!(
        vertex::JobDirs::resolve(None, default, &only),
        vertex::JobDirs::all_in(std::path::Path::new("/mnt/out"))
    );
}

#[test]
fn the_dockerfile_builds_and_runs_the_trainer() {
    assert!(DOCKERFILE.contains("cargo build --release --locked --example trainer"));
    assert!(DOCKERFILE.contains("ENTRYPOINT [\"/usr/local/bin/trainer\"]"));
    for (name, e) in both() {
        assert_eq!(trial(&e).1.command[0], "/usr/local/bin/trainer", "{name}");
    }
}
