//! Training over a vector environment: with one sub-environment it is the single-environment
//! run bit for bit (weights, memory, RNGs, returns, losses); with N it is the same run whatever
//! the implementation and the thread count; every transition reaches the memory in
//! sub-environment order (n-step windows per sub-environment); the counting is
//! Stable-Baselines3's (train_frequency and hard target copies in vector steps, learning_starts
//! and exploration in environment steps); episodes are counted per finished sub-episode; and a
//! vector run resumes from a checkpoint bit for bit.
#![cfg(feature = "safetensors")]

use std::ops::ControlFlow;

use deepq::{
    Agent, Batch, CartPole, DqnAgent, DqnConfig, Env, EpisodeStats, Error, EvalConfig, Exploration,
    Interval, LearnStats, Memory, Mlp, MlpConfig, QNetwork, ReplayBuffer, ReplayConfig, Result,
    SequentialVecEnv, Step, StopReason, TargetUpdate, ThreadedVecEnv, TrainConfig, TrainFrequency,
    Trainer, Transition, train, train_vec,
};
use ndarray::{Array1, ArrayView1, ArrayView2, array};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A small, fast DQN (the default's algorithm: 3-step returns, prioritized replay, Polyak
/// target, value bounds and penalty) that starts learning within the first episodes.
fn dqn() -> DqnConfig {
    DqnConfig::default()
        .with_seed(11)
        .with_hidden(vec![32, 32])
        .with_learning_starts(100)
        .with_memory_size(5_000)
}

fn eval_config(config: TrainConfig) -> TrainConfig {
    config.with_eval(
        EvalConfig::default()
            .with_episodes(2)
            .with_every(Interval::EnvSteps(150))
            .with_keep_best(true),
    )
}

fn cartpoles(n: usize) -> Vec<CartPole> {
    (0..n).map(|_| CartPole::v0()).collect()
}

/// How a run steps its environments.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Single,
    Sequential(usize),
    Threaded(usize, usize),
}

/// Two calls of a `Trainer` (a step budget that cuts an episode, then an episode budget), with
/// evaluation and the best network kept; every episode's statistics.
fn run(kind: Kind, dqn: DqnConfig) -> (Trainer, Vec<EpisodeStats>) {
    let mut trainer =
        Trainer::new(dqn, eval_config(TrainConfig::default().with_max_env_steps(1_201)), 4, 2)
            .unwrap();
    let mut seen = Vec::new();
    let mut eval_env = CartPole::v0();
    let mut sequential;
    let mut threaded;
    let mut single = CartPole::v0();
    for call in 0..2 {
        if call == 1 {
            trainer.set_config(eval_config(TrainConfig::default().with_episodes(45))).unwrap();
        }
        let mut observer = |s: &EpisodeStats| {
            seen.push(s.clone());
            ControlFlow::Continue(())
        };
        let eval: Option<&mut dyn Env> = Some(&mut eval_env);
        match kind {
            Kind::Single => trainer.train(&mut single, eval, &mut observer),
            Kind::Sequential(n) => {
                sequential = SequentialVecEnv::new(cartpoles(n)).unwrap();
                trainer.train_vec(&mut sequential, eval, &mut observer)
            }
            Kind::Threaded(n, threads) => {
                threaded = ThreadedVecEnv::new(cartpoles(n), threads).unwrap();
                trainer.train_vec(&mut threaded, eval, &mut observer)
            }
        }
        .unwrap();
    }
    (trainer, seen)
}

fn assert_same_run(a: &(Trainer, Vec<EpisodeStats>), b: &(Trainer, Vec<EpisodeStats>), what: &str) {
    assert_eq!(a.0.report(), b.0.report(), "{what}: reports differ");
    assert_eq!(a.1, b.1, "{what}: episode statistics (returns, losses, evaluations) differ");
    // Everything else: both networks, optimizer, memory with priorities, counters, RNGs.
    assert!(a.0.to_bytes().unwrap() == b.0.to_bytes().unwrap(), "{what}: checkpoints differ");
}

#[test]
fn one_environment_is_the_single_environment_run_bit_for_bit() {
    let single = run(Kind::Single, dqn());
    let report = single.0.report();
    assert!(report.evaluations.len() >= 3 && report.gradient_steps > 500, "{report:?}");
    assert!(single.1.iter().any(|s| s.loss.is_some()));
    assert_same_run(&single, &run(Kind::Sequential(1), dqn()), "sequential, 1 env");
    assert_same_run(&single, &run(Kind::Threaded(1, 1), dqn()), "threaded, 1 env");
}

#[test]
fn one_environment_is_train_bit_for_bit_with_the_other_schedules() {
    // Uniform replay, one-step targets, a hard target copy, training every 2 steps: the
    // counting paths that differ from the default's.
    let config = dqn()
        .with_prioritized(None)
        .with_n_step(1)
        .with_target_update(TargetUpdate::Hard { every: 50 })
        .with_train_frequency(TrainFrequency::Steps(2))
        .with_gradient_steps(2);
    let train_config = TrainConfig::default().with_episodes(30);
    let go = |vector: bool| {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let mut agent = DqnAgent::new(config.clone(), 4, 2, &mut rng).unwrap();
        let mut losses = Vec::new();
        let mut observer = |s: &EpisodeStats| {
            losses.push((s.episode_return, s.loss.map(f32::to_bits), s.mean_q.map(f32::to_bits)));
            ControlFlow::Continue(())
        };
        let report = if vector {
            let mut envs = SequentialVecEnv::new(cartpoles(1)).unwrap();
            train_vec(&mut agent, &mut envs, &train_config, &mut rng, &mut observer)
        } else {
            train(&mut agent, &mut CartPole::v0(), &train_config, &mut rng, &mut observer)
        }
        .unwrap();
        let weights: Vec<Vec<u32>> = agent
            .network()
            .parameters()
            .iter()
            .chain(agent.target_network().unwrap().parameters().iter())
            .map(|p| p.iter().map(|v| v.to_bits()).collect())
            .collect();
        (report, losses, weights, rng.get_word_pos())
    };
    let (single, vector) = (go(false), go(true));
    assert!(single.0.gradient_steps > 0);
    assert_eq!(single, vector);
}

#[test]
fn a_vector_run_is_the_same_whatever_the_implementation_and_thread_count() {
    let sequential = run(Kind::Sequential(4), dqn());
    assert_same_run(&sequential, &run(Kind::Threaded(4, 2), dqn()), "2 threads");
    assert_same_run(&sequential, &run(Kind::Threaded(4, 3), dqn()), "3 threads");
    assert_same_run(&sequential, &run(Kind::Sequential(4), dqn()), "run twice");
    let report = sequential.0.report();
    // Evaluations after the episodes during which the step count crossed a multiple of 150.
    let crossings: Vec<usize> = report.evaluations.iter().map(|e| e.env_steps / 150).collect();
    assert!(crossings.len() >= 3 && crossings.windows(2).all(|w| w[0] < w[1]), "{crossings:?}");
    // Episodes end in several sub-environments: four at a time, never the single run's.
    assert_ne!(report.returns, run(Kind::Single, dqn()).0.report().returns);
}

/// Sub-environment `id`: observations `[id, t]`, reward `id + t`; its episodes last
/// `3 + id` steps, ending by termination and truncation in turn.
#[derive(Debug, Clone)]
struct Tagged {
    id: usize,
    t: usize,
    episode: usize,
}

impl Tagged {
    fn many(n: usize) -> Vec<Tagged> {
        (0..n).map(|id| Tagged { id, t: 0, episode: 0 }).collect()
    }
}

impl Env for Tagged {
    fn observation_dim(&self) -> usize {
        2
    }

    fn num_actions(&self) -> usize {
        2
    }

    fn reset(&mut self, _: &mut dyn RngCore) -> Array1<f32> {
        self.t = 0;
        self.episode += 1;
        array![self.id as f32, 0.0]
    }

    fn step(&mut self, _: usize) -> Result<Step> {
        self.t += 1;
        let end = self.t == 3 + self.id;
        Ok(Step {
            observation: array![self.id as f32, self.t as f32],
            reward: (self.id + self.t) as f32,
            terminated: end && self.episode % 2 == 1,
            truncated: end && self.episode.is_multiple_of(2),
        })
    }
}

/// One push into the memory: `(observation, next_observation, steps, terminated, truncated)`.
type Push = (Vec<f32>, Vec<f32>, usize, bool, bool);

/// A uniform replay buffer that also records every push.
struct Recording {
    inner: ReplayBuffer,
    pushes: Vec<Push>,
}

impl Memory for Recording {
    fn observation_dim(&self) -> usize {
        self.inner.observation_dim()
    }

    fn push(&mut self, t: Transition<'_>) -> Result<()> {
        self.push_n_step(t, 1)
    }

    fn push_n_step(&mut self, t: Transition<'_>, steps: usize) -> Result<()> {
        self.pushes.push((
            t.observation.to_vec(),
            t.next_observation.to_vec(),
            steps,
            t.terminated,
            t.truncated,
        ));
        self.inner.push_n_step(t, steps)
    }

    fn len(&self) -> usize {
        self.inner.len()
    }

    fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    fn sample_into(&mut self, size: usize, rng: &mut dyn RngCore, batch: &mut Batch) -> Result<()> {
        self.inner.sample_into(size, rng, batch)
    }

    fn update_priorities(&mut self, indices: &[usize], td: &[f32]) -> Result<()> {
        self.inner.update_priorities(indices, td)
    }
}

fn recording_agent(n_step: usize) -> DqnAgent<Mlp, Recording> {
    let config = DqnConfig::default().with_prioritized(None).with_n_step(n_step);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let net = Mlp::new(MlpConfig::new(2, vec![16], 2), &mut rng).unwrap();
    let inner =
        ReplayBuffer::new(ReplayConfig { capacity: 1_000, observation_dim: 2, replacement: true })
            .unwrap();
    DqnAgent::with_parts(config, net, Recording { inner, pushes: Vec::new() }).unwrap()
}

fn steps(max_env_steps: usize) -> TrainConfig {
    TrainConfig::default().with_max_env_steps(max_env_steps)
}

#[test]
fn every_transition_reaches_the_memory_in_sub_environment_order() {
    let mut agent = recording_agent(1);
    let mut envs = SequentialVecEnv::new(Tagged::many(3)).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    train_vec(&mut agent, &mut envs, &steps(60), &mut rng, &mut |_| ControlFlow::Continue(()))
        .unwrap();
    let pushes = &agent.memory().pushes;
    assert_eq!(pushes.len(), 60);
    for (k, (obs, next, n, terminated, truncated)) in pushes.iter().enumerate() {
        let id = k % 3; // vector step k / 3, sub-environment k % 3
        assert_eq!((obs[0], next[0], *n), (id as f32, id as f32, 1), "push {k}");
        assert_eq!(next[1], obs[1] + 1.0, "push {k}: one step");
        let end = next[1] as usize == 3 + id;
        assert_eq!(*terminated || *truncated, end, "push {k}: the final observation ends it");
    }
    assert!(pushes.iter().any(|p| p.3) && pushes.iter().any(|p| p.4));
}

#[test]
fn each_sub_environment_has_its_own_n_step_window() {
    let mut agent = recording_agent(3);
    let mut envs = SequentialVecEnv::new(Tagged::many(3)).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    train_vec(&mut agent, &mut envs, &steps(60), &mut rng, &mut |_| ControlFlow::Continue(()))
        .unwrap();
    let pushes = &agent.memory().pushes;
    // 60 steps, every episode ends within them except the last of each sub-environment, whose
    // held steps wait in its window: 20 steps each, episodes of 3, 4 and 5 steps.
    let held: usize = [20 % 3, 20 % 4, 20 % 5].iter().map(|&r| r.min(2)).sum();
    assert_eq!(pushes.len(), 60 - held);
    let mut full = 0;
    for (k, (obs, next, n, terminated, truncated)) in pushes.iter().enumerate() {
        assert_eq!(obs[0], next[0], "push {k} mixes sub-environments");
        assert_eq!(next[1], obs[1] + *n as f32, "push {k}: {n} steps");
        let id = obs[0] as usize;
        let end = next[1] as usize == 3 + id;
        assert!(*n == 3 || end, "push {k}: shorter than 3 steps only at an episode's end");
        assert_eq!(*terminated || *truncated, end, "push {k}");
        full += usize::from(*n == 3);
    }
    assert!(full > 20);
}

/// One fake transition per sub-environment of a vector step.
fn observe_vector_step(agent: &mut DqnAgent, n: usize, v: usize) {
    for i in 0..n {
        let (s, s2) = (array![0.1 * i as f32, v as f32], array![0.1 * i as f32, v as f32 + 1.0]);
        let t = Transition {
            observation: s.view(),
            action: (i + v) % 2,
            reward: 1.0,
            next_observation: s2.view(),
            terminated: false,
            truncated: false,
        };
        agent.observe_env(i, t).unwrap();
    }
}

fn same_weights(agent: &DqnAgent) -> bool {
    let (online, target) = (agent.network(), agent.target_network().unwrap());
    online.parameters() == target.parameters()
}

#[test]
fn counting_is_stable_baselines3s() {
    const N: usize = 4;
    let config = DqnConfig::default()
        .with_prioritized(None)
        .with_n_step(1)
        .with_batch_size(4)
        .with_learning_starts(20) // environment steps: reached at vector step 5
        .with_train_frequency(TrainFrequency::Steps(2)) // vector steps
        .with_gradient_steps(2)
        .with_target_update(TargetUpdate::Hard { every: 14 }) // max(14 / 4, 1) = 3 vector steps
        .with_exploration(Exploration::Linear { start: 1.0, end: 0.0, steps: 40 });
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut agent = DqnAgent::new(config, 2, 2, &mut rng).unwrap();
    agent.check_num_envs(N).unwrap();
    let mut trained = Vec::new();
    for v in 1..=12 {
        observe_vector_step(&mut agent, N, v);
        // Epsilon follows the environment steps.
        assert!((agent.epsilon() - (1.0 - (N * v) as f32 / 40.0).max(0.0)).abs() < 1e-6);
        if let Some(stats) = agent.learn_vec(N, &mut rng).unwrap() {
            assert_eq!(stats.gradient_steps, 2);
            trained.push(v);
        }
        // A second call for the same step does nothing.
        assert!(agent.learn_vec(N, &mut rng).unwrap().is_none());
        // Copies at vector steps 6, 9 and 12 (counted in environment steps, every 14, there
        // would be one, at vector step 7).
        match v {
            6 | 7 | 9 | 12 => assert!(same_weights(&agent), "copied at vector step {v}"),
            8 | 10 | 11 => assert!(!same_weights(&agent), "trained since the last copy at {v}"),
            _ => {}
        }
    }
    // Every 2 vector steps once learning started (20 environment steps, at vector step 5).
    assert_eq!(trained, [6, 8, 10, 12]);
    assert_eq!((agent.env_steps(), agent.gradient_steps()), (48, 8));
}

#[test]
fn episodic_training_frequency_needs_one_environment() {
    let config = DqnConfig::default().with_train_frequency(TrainFrequency::Episodes(1));
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut agent = DqnAgent::new(config, 4, 2, &mut rng).unwrap();
    assert!(agent.check_num_envs(1).is_ok());
    assert!(matches!(
        agent.check_num_envs(0),
        Err(Error::InvalidArgument { what: "num_envs", .. })
    ));
    assert!(matches!(
        agent.check_num_envs(2),
        Err(Error::InvalidConfig { field: "train_frequency", .. })
    ));
    let mut envs = SequentialVecEnv::new(cartpoles(2)).unwrap();
    let e =
        train_vec(&mut agent, &mut envs, &steps(100), &mut rng, &mut |_| ControlFlow::Continue(()))
            .unwrap_err();
    assert!(matches!(e, Error::InvalidConfig { field: "train_frequency", .. }), "{e}");
    assert_eq!(agent.env_steps(), 0, "refused before anything ran");
}

/// Episode `k` of sub-environment `i` lasts `lengths[i]` steps, reward 1 per step.
struct Fixed {
    length: usize,
    t: usize,
}

impl Env for Fixed {
    fn observation_dim(&self) -> usize {
        1
    }

    fn num_actions(&self) -> usize {
        2
    }

    fn reset(&mut self, _: &mut dyn RngCore) -> Array1<f32> {
        self.t = 0;
        array![0.0]
    }

    fn step(&mut self, _: usize) -> Result<Step> {
        self.t += 1;
        let terminated = self.t == self.length;
        Ok(Step { observation: array![self.t as f32], reward: 1.0, terminated, truncated: false })
    }
}

fn fixed(lengths: &[usize]) -> SequentialVecEnv<Fixed> {
    SequentialVecEnv::new(lengths.iter().map(|&length| Fixed { length, t: 0 }).collect()).unwrap()
}

/// Records what the loop asks of it; every vector step "learns" with loss = the step count.
#[derive(Default)]
struct Counting {
    batches: Vec<usize>,
    observed: Vec<usize>,
    learned: Vec<usize>,
}

impl Agent for Counting {
    fn observation_dim(&self) -> usize {
        1
    }

    fn num_actions(&self) -> usize {
        2
    }

    fn act(&mut self, _: ArrayView1<'_, f32>, _: &mut dyn RngCore) -> Result<usize> {
        Ok(0)
    }

    fn act_batch(
        &mut self,
        observations: ArrayView2<'_, f32>,
        _: &mut dyn RngCore,
        actions: &mut [usize],
    ) -> Result<()> {
        self.batches.push(observations.nrows());
        actions.fill(1);
        Ok(())
    }

    fn greedy_action(&mut self, _: ArrayView1<'_, f32>) -> Result<usize> {
        Ok(0)
    }

    fn observe(&mut self, _: Transition<'_>) -> Result<()> {
        unreachable!("the vector loop calls observe_env")
    }

    fn observe_env(&mut self, env: usize, _: Transition<'_>) -> Result<()> {
        self.observed.push(env);
        Ok(())
    }

    fn learn(&mut self, _: &mut dyn RngCore) -> Result<Option<LearnStats>> {
        unreachable!("the vector loop calls learn_vec")
    }

    fn learn_vec(&mut self, n: usize, _: &mut dyn RngCore) -> Result<Option<LearnStats>> {
        self.learned.push(n);
        let loss = self.learned.len() as f32;
        Ok(Some(LearnStats { loss, mean_q: 0.0, gradient_steps: 1 }))
    }
}

fn collect(
    lengths: &[usize],
    config: &TrainConfig,
    stop_at: Option<usize>,
) -> (deepq::TrainReport, Vec<EpisodeStats>, Counting) {
    let mut agent = Counting::default();
    let mut seen = Vec::new();
    let report = train_vec(
        &mut agent,
        &mut fixed(lengths),
        config,
        &mut ChaCha8Rng::seed_from_u64(0),
        &mut |s| {
            seen.push(s.clone());
            if Some(s.episode) == stop_at {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    )
    .unwrap();
    (report, seen, agent)
}

#[test]
fn episodes_are_counted_per_finished_sub_episode() {
    // Sub-environments of 2, 3 and 5 steps: vector step 2 ends sub-env 0's first episode, 3
    // sub-env 1's, 4 sub-env 0's, 5 sub-env 2's, 6 sub-env 0's and 1's, ...
    let (report, seen, agent) = collect(&[2, 3, 5], &TrainConfig::default().with_episodes(5), None);
    assert_eq!(report.returns, [2.0, 3.0, 2.0, 5.0, 2.0]);
    assert_eq!(report.lengths, [2, 3, 2, 5, 2]);
    let at: Vec<usize> = seen.iter().map(|s| s.env_steps).collect();
    assert_eq!(at, [6, 9, 12, 15, 18]);
    // Losses: the mean of the vector steps' losses during each episode.
    assert_eq!(seen[0].loss, Some(1.5)); // vector steps 1, 2
    assert_eq!(seen[3].loss, Some(3.0)); // vector steps 1 to 5
    assert_eq!(seen[4].loss, Some(5.5)); // vector steps 5, 6
    assert_eq!(report.stop_reason, StopReason::EpisodeBudget);
    // Vector step 6 also ended sub-env 1's second episode, after the budget was spent; sub-env
    // 2's was running: both cut, in sub-environment order.
    let cut: Vec<(f32, usize)> =
        report.cut_episodes.iter().map(|c| (c.partial_return, c.length)).collect();
    assert_eq!(cut, [(3.0, 3), (1.0, 1)]);
    assert_eq!(report.cut_episode, report.cut_episodes.first().copied());
    assert_eq!(report.env_steps, 18);
    // One batch of 3 observations, 3 transitions in order and one learn per vector step.
    assert_eq!(agent.batches, [3; 6]);
    assert_eq!(agent.observed, (0..18).map(|k| k % 3).collect::<Vec<_>>());
    assert_eq!(agent.learned, [3; 6]);
}

#[test]
fn a_step_budget_stops_at_the_first_vector_step_that_reaches_it() {
    let (report, _, _) = collect(&[2, 3, 5], &TrainConfig::default().with_max_env_steps(14), None);
    assert_eq!(report.stop_reason, StopReason::StepBudget);
    assert_eq!(report.env_steps, 15, "5 vector steps of 3: one step over, as SB3");
    assert_eq!(report.returns, [2.0, 3.0, 2.0, 5.0]);
    let cut: Vec<(f32, usize)> =
        report.cut_episodes.iter().map(|c| (c.partial_return, c.length)).collect();
    assert_eq!(cut, [(1.0, 1), (2.0, 2)]); // sub-env 2's episode ended at step 15: counted
}

#[test]
fn the_observer_and_the_solve_rule_stop_after_their_episode() {
    let (report, seen, _) = collect(&[2, 3, 5], &TrainConfig::default().with_episodes(50), Some(2));
    assert_eq!((report.stop_reason, seen.len()), (StopReason::Observer, 2));
    assert_eq!(report.cut_episodes.len(), 2); // sub-envs 0 and 2 were running
    let solve =
        TrainConfig::default().with_episodes(50).with_reward_threshold(2.5).with_solve_window(2);
    let (report, _, _) = collect(&[2, 3, 5], &solve, None);
    // Returns 2, 3: the window of 2 reaches 2.5 at episode 2.
    assert_eq!((report.stop_reason, report.solved_at), (StopReason::Solved, Some(2)));
}

#[test]
fn bad_setups_are_errors() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut agent = DqnAgent::new(dqn(), 4, 2, &mut rng).unwrap();
    let mut wrong = fixed(&[3, 3]);
    let e =
        train_vec(&mut agent, &mut wrong, &steps(10), &mut rng, &mut |_| ControlFlow::Continue(()))
            .unwrap_err();
    assert!(
        matches!(e, Error::DimensionMismatch { what: "observation_dim", agent: 4, env: 1 }),
        "{e}"
    );
    let never = TrainConfig::default().with_episodes(3).with_max_episode_steps(7);
    let mut agent = Counting::default();
    let e = train_vec(&mut agent, &mut fixed(&[5, 100]), &never, &mut rng, &mut |_| {
        ControlFlow::Continue(())
    })
    .unwrap_err();
    assert!(matches!(e, Error::EpisodeTooLong { max_steps: 7, .. }), "{e}");
}

#[test]
fn act_batch_draws_as_act_does_row_by_row() {
    let config = dqn().with_exploration(Exploration::Linear { start: 0.5, end: 0.5, steps: 0 });
    let observations = ndarray::Array2::from_shape_fn((16, 4), |(i, j)| {
        ((i * 7 + j * 3) % 11) as f32 / 11.0 - 0.5
    });
    let agent = || DqnAgent::new(config.clone(), 4, 2, &mut ChaCha8Rng::seed_from_u64(3)).unwrap();
    let (mut batched, mut one_by_one) = (agent(), agent());
    let (mut rng_a, mut rng_b) = (ChaCha8Rng::seed_from_u64(5), ChaCha8Rng::seed_from_u64(5));
    let mut actions = vec![0; 16];
    batched.act_batch(observations.view(), &mut rng_a, &mut actions).unwrap();
    let expected: Vec<usize> = observations
        .rows()
        .into_iter()
        .map(|row| one_by_one.act(row, &mut rng_b).unwrap())
        .collect();
    assert_eq!(actions, expected);
    assert_eq!(rng_a.get_word_pos(), rng_b.get_word_pos(), "the same draws");
    let mut short = vec![0; 3];
    assert!(matches!(
        batched.act_batch(observations.view(), &mut rng_a, &mut short),
        Err(Error::LengthMismatch { .. })
    ));
    let mut bad = observations.clone();
    bad[[9, 2]] = f32::NAN;
    let before = rng_a.get_word_pos();
    assert!(matches!(
        batched.act_batch(bad.view(), &mut rng_a, &mut actions),
        Err(Error::NonFinite { .. })
    ));
    assert_eq!(rng_a.get_word_pos(), before, "refused before any draw");
}

#[test]
fn a_vector_run_resumes_from_a_checkpoint_bit_for_bit() {
    let config = |episodes| eval_config(TrainConfig::default().with_episodes(episodes));
    let first_half = || {
        let mut trainer = Trainer::new(dqn(), config(20), 4, 2).unwrap();
        let mut envs = ThreadedVecEnv::new(cartpoles(3), 2).unwrap();
        trainer
            .train_vec(&mut envs, Some(&mut CartPole::v0()), &mut |_| ControlFlow::Continue(()))
            .unwrap();
        trainer
    };
    let second_half = |trainer: &mut Trainer| {
        trainer.set_config(config(40)).unwrap();
        let mut envs = SequentialVecEnv::new(cartpoles(3)).unwrap();
        trainer
            .train_vec(&mut envs, Some(&mut CartPole::v0()), &mut |_| ControlFlow::Continue(()))
            .unwrap();
    };
    let mut straight = first_half();
    let saved = straight.to_bytes().unwrap();
    // The other sub-environments' n-step windows held steps when the first call stopped.
    let dict = straight.state_dict().unwrap();
    assert!(dict.tensors().contains_key("agent.n_step.envs"), "no window of sub-environments 1, 2");
    assert!(!straight.report().cut_episodes.is_empty());
    second_half(&mut straight);
    let mut resumed = Trainer::from_bytes(&saved).unwrap();
    assert!(resumed.to_bytes().unwrap() == saved, "a loaded checkpoint saves as it was");
    second_half(&mut resumed);
    assert_eq!(straight.report(), resumed.report());
    assert!(straight.to_bytes().unwrap() == resumed.to_bytes().unwrap(), "the runs differ");
    assert_eq!(straight.report().episodes(), 40);
}
