//! `TensorBoardLogger`: the training loop connected to TensorBoard under Stable-Baselines3's
//! tags, every scalar read back from the event file and compared with what the loop reported.

use std::ops::ControlFlow;

use deepq::{
    CartPole, DqnConfig, EpisodeStats, EvalConfig, Interval, LogStep, TensorBoardLogger,
    TrainConfig, Trainer, read_scalars,
};

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("deepq-logger-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn run(
    dir: &std::path::Path,
    logger: impl FnOnce(TensorBoardLogger) -> TensorBoardLogger,
) -> Vec<EpisodeStats> {
    let config =
        DqnConfig::default().with_seed(2).with_hidden(vec![16, 16]).with_learning_starts(64);
    let eval = EvalConfig::default().with_episodes(2).with_every(Interval::Episodes(4));
    let train_config = TrainConfig::default().with_episodes(12).with_eval(eval);
    let mut trainer = Trainer::new(config, train_config, 4, 2).unwrap();
    let mut logger = logger(TensorBoardLogger::create(dir).unwrap());
    let mut seen = Vec::new();
    let (mut env, mut eval_env) = (CartPole::v0(), CartPole::v0());
    trainer
        .train(&mut env, Some(&mut eval_env), &mut |s| {
            seen.push(s.clone());
            logger.log(s).unwrap();
            ControlFlow::Continue(())
        })
        .unwrap();
    logger.finish().unwrap();
    seen
}

fn event_file(dir: &std::path::Path) -> std::path::PathBuf {
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.pop().unwrap()
}

#[test]
fn every_sb3_tag_holds_what_the_loop_reported() {
    let dir = temp_dir("tags");
    let seen = run(&dir, |l| l);
    let scalars = read_scalars(event_file(&dir)).unwrap();
    let series = |tag: &str| -> Vec<(i64, f32)> {
        scalars.iter().filter(|s| s.tag == tag).map(|s| (s.step, s.value)).collect()
    };
    let expect = |f: &dyn Fn(&EpisodeStats) -> Option<f32>| -> Vec<(i64, f32)> {
        seen.iter().filter_map(|s| f(s).map(|v| (s.env_steps as i64, v))).collect()
    };
    assert_eq!(series("rollout/ep_rew_mean"), expect(&|s| Some(s.trailing_mean)));
    assert_eq!(series("rollout/ep_len_mean"), expect(&|s| Some(s.trailing_mean_length)));
    assert_eq!(series("rollout/exploration_rate"), expect(&|s| Some(s.epsilon)));
    assert_eq!(series("train/loss"), expect(&|s| s.loss));
    assert_eq!(series("train/mean_q"), expect(&|s| s.mean_q));
    assert_eq!(series("train/learning_rate"), expect(&|s| s.learning_rate));
    assert_eq!(series("train/n_updates"), expect(&|s| Some(s.gradient_steps as f32)));
    assert_eq!(
        series("eval/mean_reward"),
        expect(&|s| s.evaluation.as_ref().map(|e| e.stats.mean))
    );
    assert_eq!(
        series("eval/mean_ep_length"),
        expect(&|s| s.evaluation.as_ref().map(|e| e.stats.mean_length))
    );
    let value = |f: fn(&deepq::ValueStats) -> f32| {
        expect(&move |s: &EpisodeStats| {
            s.evaluation.as_ref().map(|e| f(e.stats.values.as_ref().unwrap()))
        })
    };
    assert_eq!(series("eval/mean_start_value"), value(|v| v.mean_start_value));
    assert_eq!(series("eval/mean_discounted_return"), value(|v| v.mean_discounted_return));
    assert_eq!(series("eval/max_value"), value(|v| v.max_value));
    assert!(!series("train/loss").is_empty(), "the run trained");
    assert_eq!(series("eval/mean_reward").len(), 3);
    let fps = series("time/fps");
    assert_eq!(fps.len(), 12);
    assert!(fps.iter().all(|&(_, v)| v >= 0.0 && v.fract() == 0.0));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_step_axis_and_the_interval_are_chosen() {
    let dir = temp_dir("episodes");
    run(&dir, |l| l.with_step(LogStep::Episode).with_every(5));
    let scalars = read_scalars(event_file(&dir)).unwrap();
    let steps = |tag: &str| -> Vec<i64> {
        scalars.iter().filter(|s| s.tag == tag).map(|s| s.step).collect()
    };
    assert_eq!(steps("rollout/ep_rew_mean"), vec![5, 10]);
    assert_eq!(steps("eval/mean_reward"), vec![4, 8, 12], "evaluations are always logged");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_observer_adaptor_logs_every_episode() {
    let dir = temp_dir("observer");
    let mut logger = TensorBoardLogger::create(&dir).unwrap();
    let mut trainer =
        Trainer::new(DqnConfig::default(), TrainConfig::default().with_episodes(3), 4, 2).unwrap();
    trainer.train(&mut CartPole::v0(), None, &mut logger.observer()).unwrap();
    logger.finish().unwrap();
    let scalars = read_scalars(event_file(&dir)).unwrap();
    assert_eq!(scalars.iter().filter(|s| s.tag == "rollout/ep_rew_mean").count(), 3);
    std::fs::remove_dir_all(&dir).ok();
}
