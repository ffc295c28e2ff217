//! The cloudml-hypertune metrics file the trainer writes for Vertex AI (and Katib's File
//! collector): lines byte-equal to what Google's Python package writes, the last 100 kept, the
//! file rewritten whole.

#[path = "../examples/trainer/vertex.rs"]
mod vertex;

use vertex::{HypertuneFile, MAX_ENTRIES, py_float, py_str, report_line};

#[test]
fn a_report_is_the_line_the_python_package_writes() {
    // Written by cloudml-hypertune 0.1.0.dev6 (Python 3.11) with CLOUD_ML_TRIAL_ID=3:
    //   hpt.report_hyperparameter_tuning_metric(hyperparameter_metric_tag="episode_reward",
    //                                           metric_value=200, global_step=15)
    // at time.time() == 1796175874.1367507.
    let golden = r#"{"checkpoint_path": "", "episode_reward": "200.0", "global_step": "15", "timestamp": 1796175874.1367507, "trial": "3"}"#;
    assert_eq!(report_line(1796175874.1367507, "3", 200.0, 15, ""), golden);
    // A checkpoint path and a fractional value: str(float(194.5)) and the path as a string.
    assert_eq!(
        report_line(1796175874.5, "trial-7", 194.5, 40, "/gcs/b/run/checkpoint-00000040.ckpt"),
        r#"{"checkpoint_path": "/gcs/b/run/checkpoint-00000040.ckpt", "episode_reward": "194.5", "global_step": "40", "timestamp": 1796175874.5, "trial": "trial-7"}"#
    );
    // An f32 is reported as its shortest decimal (what a user would pass), not its f64 expansion.
    assert!(report_line(1.0, "0", 193.37, 1, "").contains(r#""episode_reward": "193.37""#));
    assert!(report_line(1.0, "0", -76.5, 1, "").contains(r#""episode_reward": "-76.5""#));
}

#[test]
fn floats_and_strings_are_spelt_as_python_spells_them() {
    for (x, python) in [
        (200.0, "200.0"),
        (-0.0, "-0.0"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.5e-7, "1.5e-07"),
        (1e16, "1e+16"),
        (123456789012345.6, "123456789012345.6"),
        (0.30000000000000004, "0.30000000000000004"),
    ] {
        assert_eq!(py_float(x), python, "{x}");
    }
    assert_eq!(py_str("plain/path"), r#""plain/path""#);
    assert_eq!(py_str("a\"b\\c\n"), r#""a\"b\\c\n""#);
    assert_eq!(py_str("é🦀"), r#""\u00e9\ud83e\udd80""#);
}

#[test]
fn the_file_keeps_the_last_100_reports_and_is_rewritten_whole() {
    let dir = std::env::temp_dir().join(format!("deepq-hypertune-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("nested").join("output.metrics");
    let mut file = HypertuneFile::new(path.clone(), "9".into());
    for step in 0..250 {
        file.push(step as f32 / 10.0, step, "");
        if step % 50 == 0 {
            file.write().unwrap(); // the parent directory is created
        }
    }
    file.write().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), MAX_ENTRIES);
    assert!(text.ends_with('\n'));
    let step = |line: &str| -> usize {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        v["global_step"].as_str().unwrap().parse().unwrap()
    };
    assert_eq!((step(lines[0]), step(lines[99])), (150, 249));
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["trial"], "9");
        assert!(v["timestamp"].is_f64() && v["episode_reward"].is_string());
    }
    // Restoring a checkpoint's reports replaces the file's content on the next write.
    let kept = file.entries();
    file.restore(kept[..3].to_vec());
    file.write().unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 3);
    assert!(!dir.join("nested").join("output.metrics.tmp").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_path_and_trial_come_from_the_environment() {
    let none = |_: &str| None;
    let file = HypertuneFile::from_env(&none);
    assert_eq!(file.path(), std::path::Path::new("/tmp/hypertune/output.metrics"));
    let set = |name: &str| match name {
        "CLOUD_ML_HP_METRIC_FILE" => Some("/var/log/katib/m.json".to_string()),
        "CLOUD_ML_TRIAL_ID" => Some("12".to_string()),
        _ => None,
    };
    let mut file = HypertuneFile::from_env(&set);
    assert_eq!(file.path(), std::path::Path::new("/var/log/katib/m.json"));
    file.push(1.0, 0, "");
    assert!(file.entries()[0].ends_with(r#""trial": "12"}"#));
    assert!(file.entries()[0].contains(r#""global_step": "0""#));
}
