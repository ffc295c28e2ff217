//! The training loop, over a [`VecEnv`] of N sub-environments: [`train`](super::train) runs it
//! with one environment ([`OneEnv`]), [`train_vec`](super::train_vec) and the [`Trainer`]'s
//! vector path with N.
//!
//! # One vector step
//! 1. Budgets: the episode budget spent or the step budget reached stops training here (an
//!    episode still running is cut).
//! 2. Every sub-environment whose episode ended (all of them at the start of a call) is reset,
//!    in index order, from the training RNG.
//! 3. [`Agent::act_batch`] on the N observations, [`VecEnv::step`] (no autoreset),
//!    [`Agent::observe_env`] for each sub-environment in index order, [`Agent::learn_vec`] once.
//! 4. Each sub-environment whose step ended its episode, in index order: the episode is counted
//!    (returns, trailing window, evaluation, solve rule, observer); training may stop there.
//!
//! This is Gymnasium's `SAME_STEP` autoreset with the reset moved after the update: with N = 1
//! the random draws come in the order of the single-environment loop as it was written before
//! vector environments (reset, then per step act, learn), so [`train`](super::train)'s runs
//! did not change.
//!
//! [`Trainer`]: super::Trainer

use std::ops::ControlFlow;

use ndarray::{Array2, ArrayViewMut2};
use rand::RngCore;

use super::{
    AsDynAgent, CutEpisode, EpisodeStats, EvalSetup, Evaluation, Progress, StopReason, TrainConfig,
    check_dimensions, check_sizes, evaluate,
};
use crate::agent::Agent;
use crate::env::{Env, StepInfo, VecEnv, reset_row, step_row};
use crate::error::{Error, Result};
use crate::memory::Transition;

/// One environment as a [`VecEnv`] of one, for the single-environment loop: its calls and
/// errors exactly (no [`Error::SubEnv`] wrapping, no checks of its own: the environment keeps
/// its contract).
pub(crate) struct OneEnv<'a>(pub(crate) &'a mut dyn Env);

impl VecEnv for OneEnv<'_> {
    fn num_envs(&self) -> usize {
        1
    }

    fn observation_dim(&self) -> usize {
        self.0.observation_dim()
    }

    fn num_actions(&self) -> usize {
        self.0.num_actions()
    }

    fn reset_masked(
        &mut self,
        mask: &[bool],
        rng: &mut dyn RngCore,
        mut observations: ArrayViewMut2<'_, f32>,
    ) -> Result<()> {
        if mask.first() == Some(&true) {
            reset_row(&mut *self.0, rng, observations.row_mut(0))?;
        }
        Ok(())
    }

    fn step(
        &mut self,
        actions: &[usize],
        mut observations: ArrayViewMut2<'_, f32>,
        infos: &mut [StepInfo],
    ) -> Result<()> {
        // The loop's rows are contiguous: the scratch buffer is never filled.
        infos[0] = step_row(&mut *self.0, actions[0], observations.row_mut(0), &mut Vec::new())?;
        Ok(())
    }
}

/// A sub-environment's episode in progress.
#[derive(Debug, Clone, Copy, Default)]
struct Running {
    episode_return: f32,
    length: usize,
    loss_sum: f64,
    q_sum: f64,
    updates: usize,
}

/// The loop shared by [`train`](super::train), [`train_vec`](super::train_vec),
/// [`Trainer::train`](super::Trainer::train) and [`Trainer::train_vec`](super::Trainer::train_vec):
/// runs vector steps until a budget is spent, the task is solved or the observer breaks,
/// updating `progress`.
pub(crate) fn run<A: Agent + AsDynAgent + ?Sized>(
    agent: &mut A,
    env: &mut dyn VecEnv,
    config: &TrainConfig,
    rng: &mut dyn RngCore,
    mut eval: Option<EvalSetup<'_, A>>,
    progress: &mut Progress,
    observer: &mut dyn FnMut(&EpisodeStats) -> ControlFlow<()>,
) -> Result<()> {
    config.validate()?;
    check_sizes(agent.as_dyn(), env.observation_dim(), env.num_actions())?;
    if let Some(setup) = &eval {
        check_dimensions(agent.as_dyn(), &*setup.env)?;
    }
    if config.eval.is_some() && eval.is_none() {
        return Err(Error::invalid_config(
            "eval",
            "Some",
            "evaluation needs an evaluation environment: use Trainer::train with one",
        ));
    }
    let n = env.num_envs();
    agent.as_dyn().check_num_envs(n)?;
    progress.cut_episodes.clear();
    if config.stop_when_solved && progress.solved_at.is_some() {
        progress.stop_reason = Some(StopReason::Solved);
        return Ok(());
    }
    // Two observation buffers, swapped after every step: no allocation per step.
    let dim = env.observation_dim();
    let (mut observations, mut next) = (Array2::zeros((n, dim)), Array2::zeros((n, dim)));
    let mut actions = vec![0usize; n];
    let mut infos = vec![StepInfo { reward: 0.0, terminated: false, truncated: false }; n];
    let mut needs_reset = vec![true; n];
    let mut running = vec![Running::default(); n];
    // The step count at the end of the last counted episode (for `Interval::EnvSteps`).
    let mut last_end = progress.env_steps;
    loop {
        let stop = if config.episodes.is_some_and(|b| progress.returns.len() >= b) {
            Some(StopReason::EpisodeBudget)
        } else if config.max_env_steps.is_some_and(|b| progress.env_steps >= b) {
            Some(StopReason::StepBudget)
        } else {
            None
        };
        if let Some(stop) = stop {
            progress.stop(stop, &running);
            return Ok(());
        }
        if needs_reset.contains(&true) {
            env.reset_masked(&needs_reset, rng, observations.view_mut())?;
            for (reset, episode) in needs_reset.iter_mut().zip(&mut running) {
                if *reset {
                    *episode = Running::default();
                    *reset = false;
                }
            }
        }
        if running.iter().any(|e| e.length == config.max_episode_steps) {
            let episode = progress.returns.len() + 1;
            return Err(Error::EpisodeTooLong { episode, max_steps: config.max_episode_steps });
        }
        agent.act_batch(observations.view(), rng, &mut actions)?;
        env.step(&actions, next.view_mut(), &mut infos)?;
        for (i, (&action, info)) in actions.iter().zip(&infos).enumerate() {
            agent.observe_env(
                i,
                Transition {
                    observation: observations.row(i),
                    action,
                    reward: info.reward,
                    next_observation: next.row(i),
                    terminated: info.terminated,
                    truncated: info.truncated,
                },
            )?;
        }
        if let Some(stats) = agent.learn_vec(n, rng)? {
            progress.gradient_steps += stats.gradient_steps;
            let k = stats.gradient_steps as f64;
            for episode in &mut running {
                episode.loss_sum += f64::from(stats.loss) * k;
                episode.q_sum += f64::from(stats.mean_q) * k;
                episode.updates += stats.gradient_steps;
            }
        }
        for (episode, info) in running.iter_mut().zip(&infos) {
            episode.episode_return += info.reward;
            episode.length += 1;
        }
        progress.env_steps += n;
        for i in 0..n {
            if !infos[i].done() {
                continue;
            }
            needs_reset[i] = true;
            let record = std::mem::take(&mut running[i]);
            let steps_before = std::mem::replace(&mut last_end, progress.env_steps);
            let stop = finish_episode(
                agent,
                config,
                &mut eval,
                progress,
                observer,
                &record,
                infos[i].terminated,
                steps_before,
            )?;
            if let Some(stop) = stop {
                progress.stop(stop, &running);
                return Ok(());
            }
        }
        std::mem::swap(&mut observations, &mut next);
    }
}

impl Progress {
    /// Stops training for `reason`; the episodes still running are cut (not counted).
    fn stop(&mut self, reason: StopReason, running: &[Running]) {
        self.stop_reason = Some(reason);
        self.cut_episodes = running
            .iter()
            .filter(|e| e.length > 0)
            .map(|e| CutEpisode { partial_return: e.episode_return, length: e.length })
            .collect();
    }
}

/// Counts a finished episode: returns, trailing window, evaluation, solve rule, observer.
/// Returns why training must stop after it, if it must.
#[allow(clippy::too_many_arguments)]
fn finish_episode<A: Agent + AsDynAgent + ?Sized>(
    agent: &mut A,
    config: &TrainConfig,
    eval: &mut Option<EvalSetup<'_, A>>,
    progress: &mut Progress,
    observer: &mut dyn FnMut(&EpisodeStats) -> ControlFlow<()>,
    record: &Running,
    terminated: bool,
    steps_before: usize,
) -> Result<Option<StopReason>> {
    let episode = progress.returns.len() + 1;
    let Running { episode_return, length, loss_sum, q_sum, updates } = *record;
    progress.returns.push(episode_return);
    progress.lengths.push(length);
    progress.window_sum += f64::from(episode_return);
    let window = config.solve_window;
    let played = progress.returns.len();
    if played > window {
        progress.window_sum -= f64::from(progress.returns[played - 1 - window]);
    }
    let in_window = played.min(window);
    let trailing_mean = (progress.window_sum / in_window as f64) as f32;
    let recent = &progress.lengths[played - in_window..];
    let trailing_mean_length =
        (recent.iter().map(|&l| l as f64).sum::<f64>() / in_window as f64) as f32;

    let mut evaluation = None;
    if let (Some(eval_config), Some(setup)) = (&config.eval, eval.as_mut())
        && eval_config.every.due(episode, steps_before, progress.env_steps)
    {
        let stats = evaluate::evaluate_capped(
            agent.as_dyn_mut(),
            &mut *setup.env,
            eval_config.episodes,
            config.max_episode_steps,
            &mut *setup.rng,
        )?;
        let best = progress.best_evaluation.map(|i| progress.evaluations[i].stats.mean);
        let best_so_far = best.is_none_or(|b| stats.mean > b);
        let record = Evaluation { episode, env_steps: progress.env_steps, stats, best_so_far };
        if best_so_far {
            progress.best_evaluation = Some(progress.evaluations.len());
            if eval_config.keep_best {
                *setup.best = Some((setup.snapshot)(agent));
            }
        }
        progress.evaluations.push(record.clone());
        evaluation = Some(record);
    }

    let solved_now = progress.solved_at.is_none()
        && in_window == window
        && config.reward_threshold.is_some_and(|t| trailing_mean >= t);
    if solved_now {
        progress.solved_at = Some(episode);
    }
    let flow = observer(&EpisodeStats {
        episode,
        episode_return,
        length,
        epsilon: agent.epsilon(),
        loss: (updates > 0).then(|| (loss_sum / updates as f64) as f32),
        mean_q: (updates > 0).then(|| (q_sum / updates as f64) as f32),
        learning_rate: agent.learning_rate(),
        trailing_mean,
        trailing_mean_length,
        env_steps: progress.env_steps,
        gradient_steps: progress.gradient_steps,
        terminated,
        evaluation,
    });
    Ok(if solved_now && config.stop_when_solved {
        Some(StopReason::Solved)
    } else if flow.is_break() {
        Some(StopReason::Observer)
    } else if config.episodes.is_some_and(|b| progress.returns.len() >= b) {
        Some(StopReason::EpisodeBudget)
    } else {
        None
    })
}
