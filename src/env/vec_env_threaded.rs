//! [`ThreadedVecEnv`]: a [`VecEnv`] that steps its sub-environments in parallel on worker
//! threads (std threads and channels only).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, RecvError, Sender, TryRecvError, channel};
use std::thread::JoinHandle;

use ndarray::{ArrayView1, ArrayViewMut2};
use rand::RngCore;

use super::vec_env::{Episodes, VecEnv, common_sizes};
use super::{Env, StepInfo};
use crate::error::{Error, Result};

/// A [`VecEnv`] that steps its sub-environments in parallel on worker threads: Gymnasium's
/// `AsyncVectorEnv` with threads instead of processes, for environments whose step is expensive
/// (a simulator, a game engine; tens of microseconds or more). Each step is a channel round
/// trip to every worker, which a cheap step such as [`CartPole`]'s (about 40 ns) cannot repay:
/// use a [`SequentialVecEnv`] for those (`cargo bench --bench vec_env` compares the two).
///
/// The sub-environments are split into `threads` contiguous chunks (the first
/// `num_envs % threads` one larger), one per thread: the last chunk is stepped on the calling
/// thread and each other one on a worker thread of its own, so `threads` threads run at once
/// and none waits idle for the others while holding a core. A step sends each worker its chunk
/// and its actions, steps the last chunk, the workers step their sub-environments in index
/// order, and the call returns when all are back. Between calls the sub-environments are on the calling thread:
/// resets run there, one after another in index order, drawing from the one RNG given to the
/// call (so resets are not parallel). The results are the same bit for bit as a
/// [`SequentialVecEnv`]'s, whatever the number of threads.
///
/// # Errors and panics
/// A sub-environment's error comes back as [`Error::SubEnv`] (see [`VecEnv`]). A sub-environment
/// that panics in a worker is caught there and reported as [`Error::SubEnvPanicked`]; its state
/// is unknown, so every later call returns that error again (the panic's message is also printed
/// by the panic hook, as for any panic). A worker lost otherwise is [`Error::WorkerFailed`].
/// None of these hangs or aborts (a build with `panic = "abort"` aborts on any panic, here as
/// elsewhere). Dropping the vector environment stops and joins its workers.
///
/// [`CartPole`]: crate::CartPole
/// [`SequentialVecEnv`]: crate::SequentialVecEnv
///
/// # Examples
/// ```
/// use deepq::{CartPole, SequentialVecEnv, ThreadedVecEnv, VecEnv, VecStep};
/// use rand::{Rng, SeedableRng};
/// use rand_chacha::ChaCha8Rng;
///
/// # fn main() -> deepq::Result<()> {
/// let make = || (0..6).map(|_| CartPole::v1()).collect::<Vec<_>>();
/// let mut threaded = ThreadedVecEnv::new(make(), 3)?; // 3 workers, 2 sub-envs each
/// let mut sequential = SequentialVecEnv::new(make())?;
/// let (mut a, mut b) = (VecStep::new(6, 4), VecStep::new(6, 4));
/// let (mut rng_a, mut rng_b) = (ChaCha8Rng::seed_from_u64(1), ChaCha8Rng::seed_from_u64(1));
/// threaded.reset(&mut rng_a, a.observations.view_mut())?;
/// sequential.reset(&mut rng_b, b.observations.view_mut())?;
/// let mut actions_rng = ChaCha8Rng::seed_from_u64(2);
/// for _ in 0..50 {
///     let actions: Vec<usize> = (0..6).map(|_| actions_rng.random_range(0..2)).collect();
///     threaded.step_autoreset(&actions, &mut rng_a, &mut a)?;
///     sequential.step_autoreset(&actions, &mut rng_b, &mut b)?;
///     assert_eq!(a.observations, b.observations); // bit for bit
/// }
/// assert!(ThreadedVecEnv::new(make(), 7).is_err()); // more threads than sub-envs
/// # Ok(())
/// # }
/// ```
pub struct ThreadedVecEnv<E: Env + Send + 'static> {
    workers: Vec<Worker<E>>,
    episodes: Episodes,
    /// The sub-environment that panicked (or the worker lost), after which every call fails.
    broken: Option<Broken>,
}

#[derive(Debug, Clone)]
enum Broken {
    Panicked { index: usize, message: String },
    Lost { worker: usize, message: String },
}

impl Broken {
    fn error(&self) -> Error {
        match self {
            Broken::Panicked { index, message } => {
                Error::SubEnvPanicked { index: *index, message: message.clone() }
            }
            Broken::Lost { worker, message } => {
                Error::WorkerFailed { worker: *worker, message: message.clone() }
            }
        }
    }
}

/// The placeholder outcome of a sub-environment not yet stepped.
const NO_STEP: StepInfo = StepInfo { reward: 0.0, terminated: false, truncated: false };

/// What a step of one sub-environment gave.
enum Outcome {
    Stepped(StepInfo),
    Failed(Error),
    Panicked(String),
}

/// One worker's chunk and its buffers, sent to the worker for a step and back.
struct Job<E> {
    envs: Vec<E>,
    actions: Vec<usize>,
    /// `envs.len()` rows of `observation_dim` values.
    observations: Vec<f32>,
    outcomes: Vec<Outcome>,
}

struct Worker<E> {
    /// The index of the chunk's first sub-environment.
    first: usize,
    len: usize,
    /// The chunk is stepped on the calling thread (the last one): no thread, no channels.
    inline: bool,
    /// The chunk when it is on the calling thread (always, between calls, unless the worker
    /// was lost with it).
    job: Option<Job<E>>,
    jobs: Option<Sender<Job<E>>>,
    results: Receiver<Job<E>>,
    handle: Option<JoinHandle<()>>,
}

impl<E: Env + Send + 'static> ThreadedVecEnv<E> {
    /// A vector environment of `envs` stepped on `threads` threads (sub-environment `i` being
    /// `envs[i]`): the calling thread and `threads - 1` worker threads, which it starts (with
    /// `threads` 1 it steps like a [`SequentialVecEnv`](crate::SequentialVecEnv)). None is
    /// reset: call [`VecEnv::reset`] first.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty `envs`, sub-environments that differ in
    /// [`Env::observation_dim`] or [`Env::num_actions`], or `threads` not in
    /// `1..=envs.len()` (a worker without a sub-environment would have nothing to do; see
    /// [`with_available_parallelism`](ThreadedVecEnv::with_available_parallelism));
    /// [`Error::WorkerFailed`] if a thread cannot be started.
    pub fn new(envs: Vec<E>, threads: usize) -> Result<Self> {
        let (observation_dim, num_actions) = common_sizes(&envs)?;
        let num_envs = envs.len();
        if !(1..=num_envs).contains(&threads) {
            return Err(Error::InvalidArgument {
                what: "threads",
                value: format!("{threads} (for {num_envs} sub-environments)"),
                rule: "must be at least 1 and at most the number of sub-environments",
            });
        }
        let mut envs = envs.into_iter();
        let mut workers = Vec::with_capacity(threads);
        let mut first = 0;
        for w in 0..threads {
            let len = num_envs / threads + usize::from(w < num_envs % threads);
            let chunk: Vec<E> = envs.by_ref().take(len).collect();
            workers.push(if w + 1 == threads {
                Worker::inline(first, chunk, observation_dim)
            } else {
                Worker::start(w, first, chunk, observation_dim)?
            });
            first += len;
        }
        let episodes = Episodes::new(num_envs, observation_dim, num_actions);
        Ok(Self { workers, episodes, broken: None })
    }

    /// [`new`](ThreadedVecEnv::new) with as many threads as
    /// [`std::thread::available_parallelism`] reports (2 if it cannot tell), but no more than
    /// there are sub-environments.
    ///
    /// # Errors
    /// As [`new`](ThreadedVecEnv::new).
    pub fn with_available_parallelism(envs: Vec<E>) -> Result<Self> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let threads = cores.min(envs.len()).max(1);
        Self::new(envs, threads)
    }

    /// The number of threads that step it: the calling one and the workers.
    pub fn threads(&self) -> usize {
        self.workers.len()
    }

    /// Sub-environment `index`, or `None` past the last one (or if it was lost with a failed
    /// worker).
    pub fn env(&self, index: usize) -> Option<&E> {
        let worker = self.workers.iter().find(|w| (w.first..w.first + w.len).contains(&index))?;
        worker.job.as_ref()?.envs.get(index - worker.first)
    }

    /// Sub-environment `index`, mutably. Resetting or stepping it directly bypasses the vector
    /// environment's record of its episode: reset the vector environment afterwards.
    pub fn env_mut(&mut self, index: usize) -> Option<&mut E> {
        let worker =
            self.workers.iter_mut().find(|w| (w.first..w.first + w.len).contains(&index))?;
        let first = worker.first;
        worker.job.as_mut()?.envs.get_mut(index - first)
    }

    fn check_usable(&self) -> Result<()> {
        match &self.broken {
            Some(broken) => Err(broken.error()),
            None => Ok(()),
        }
    }

    /// Marks the vector environment unusable, unless it already is (the first cause stays).
    fn break_with(&mut self, broken: Broken) -> Error {
        self.broken.get_or_insert(broken).error()
    }
}

impl<E: Env + Send + 'static> Worker<E> {
    fn start(index: usize, first: usize, envs: Vec<E>, observation_dim: usize) -> Result<Self> {
        let (jobs, inbox) = channel::<Job<E>>();
        let (outbox, results) = channel::<Job<E>>();
        let handle = std::thread::Builder::new()
            .name(format!("deepq-vec-env-{index}"))
            .spawn(move || work(inbox, outbox))
            .map_err(|e| Error::WorkerFailed { worker: index, message: e.to_string() })?;
        let len = envs.len();
        let job = Some(Job::new(envs, observation_dim));
        Ok(Self { first, len, inline: false, job, jobs: Some(jobs), results, handle: Some(handle) })
    }

    /// The chunk of the calling thread.
    fn inline(first: usize, envs: Vec<E>, observation_dim: usize) -> Self {
        let len = envs.len();
        let job = Some(Job::new(envs, observation_dim));
        // A receiver whose sender is gone: never read.
        let (_, results) = channel::<Job<E>>();
        Self { first, len, inline: true, job, jobs: None, results, handle: None }
    }

    /// The worker's panic message once its thread has ended (for a lost worker).
    fn join_message(&mut self) -> String {
        self.jobs = None;
        match self.handle.take().map(JoinHandle::join) {
            Some(Err(payload)) => format!("its thread panicked: {}", panic_message(&*payload)),
            _ => "its channel closed".into(),
        }
    }
}

impl<E: Env> Job<E> {
    fn new(envs: Vec<E>, observation_dim: usize) -> Self {
        let len = envs.len();
        Job {
            envs,
            actions: vec![0; len],
            observations: vec![0.0; len * observation_dim],
            outcomes: (0..len).map(|_| Outcome::Stepped(NO_STEP)).collect(),
        }
    }

    /// Steps every sub-environment of the chunk with its action, in index order; a panic is
    /// caught and kept as the sub-environment's outcome.
    fn run(&mut self) {
        // At least one sub-environment per chunk, observations of at least one value.
        let dim = self.observations.len() / self.envs.len();
        let rows = self.observations.chunks_exact_mut(dim);
        for (((env, &action), outcome), row) in
            self.envs.iter_mut().zip(&self.actions).zip(&mut self.outcomes).zip(rows)
        {
            *outcome = match catch_unwind(AssertUnwindSafe(|| env.step_into(action, row))) {
                Ok(Ok(info)) => Outcome::Stepped(info),
                Ok(Err(e)) => Outcome::Failed(e),
                Err(payload) => Outcome::Panicked(panic_message(&*payload)),
            };
        }
    }
}

/// How long a thread waiting for a chunk polls its channel before it parks. Waking a parked
/// thread took about 100 us in the VMs this was measured on, more than many steps take; a
/// vector step follows the last one within microseconds when the environments are stepped in
/// a loop. Polling costs the waiting thread's core for at most this long.
const SPIN: std::time::Duration = std::time::Duration::from_micros(200);

/// The next value on `channel`: polled for up to [`SPIN`], then waited for; `Err` once its
/// sender is gone.
fn receive<T>(channel: &Receiver<T>) -> std::result::Result<T, RecvError> {
    let start = std::time::Instant::now();
    loop {
        match channel.try_recv() {
            Ok(value) => return Ok(value),
            Err(TryRecvError::Disconnected) => return Err(RecvError),
            Err(TryRecvError::Empty) if start.elapsed() < SPIN => std::hint::spin_loop(),
            Err(TryRecvError::Empty) => return channel.recv(),
        }
    }
}

/// The body of a worker thread: steps the chunks it receives until its channel closes.
fn work<E: Env>(inbox: Receiver<Job<E>>, outbox: Sender<Job<E>>) {
    while let Ok(mut job) = receive(&inbox) {
        job.run();
        if outbox.send(job).is_err() {
            return;
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".into()
    }
}

impl<E: Env + Send + 'static> VecEnv for ThreadedVecEnv<E> {
    fn num_envs(&self) -> usize {
        self.episodes.num_envs()
    }

    fn observation_dim(&self) -> usize {
        self.episodes.observation_dim()
    }

    fn num_actions(&self) -> usize {
        self.episodes.num_actions()
    }

    fn reset_masked(
        &mut self,
        mask: &[bool],
        rng: &mut dyn RngCore,
        mut observations: ArrayViewMut2<'_, f32>,
    ) -> Result<()> {
        self.check_usable()?;
        self.episodes.check_reset(mask, &observations)?;
        for worker in &mut self.workers {
            let job = worker.job.as_mut().expect("a usable vector environment has its chunks");
            for (k, env) in job.envs.iter_mut().enumerate() {
                let i = worker.first + k;
                if mask[i] {
                    self.episodes.reset(i, env, rng, observations.row_mut(i))?;
                }
            }
        }
        Ok(())
    }

    fn step(
        &mut self,
        actions: &[usize],
        mut observations: ArrayViewMut2<'_, f32>,
        infos: &mut [StepInfo],
    ) -> Result<()> {
        self.check_usable()?;
        self.episodes.check_step(actions, &observations, infos)?;
        let dim = self.episodes.observation_dim();
        // Send every chunk first, so that the workers run at the same time.
        let mut lost = None;
        for (w, worker) in self.workers.iter_mut().enumerate() {
            if worker.inline {
                continue;
            }
            let mut job = worker.job.take().expect("a usable vector environment has its chunks");
            job.actions.copy_from_slice(&actions[worker.first..worker.first + worker.len]);
            let Some(jobs) = &worker.jobs else {
                worker.job = Some(job);
                lost.get_or_insert((w, "its channel was closed".into()));
                continue;
            };
            if let Err(returned) = jobs.send(job) {
                worker.job = Some(returned.0); // never sent: the chunk is still here
                lost.get_or_insert((w, worker.join_message()));
            }
        }
        // The calling thread's chunk, while the workers step theirs.
        for worker in self.workers.iter_mut().filter(|w| w.inline) {
            let job = worker.job.as_mut().expect("the calling thread's chunk is always here");
            job.actions.copy_from_slice(&actions[worker.first..worker.first + worker.len]);
            job.run();
        }
        // Then take every chunk back, in order, before reporting anything.
        let mut first_error = None;
        let mut panicked = None;
        for (w, worker) in self.workers.iter_mut().enumerate() {
            let mut job = if worker.inline {
                worker.job.take().expect("the calling thread's chunk is always here")
            } else if worker.job.is_some() {
                continue; // not sent
            } else {
                let Ok(job) = receive(&worker.results) else {
                    lost.get_or_insert((w, worker.join_message()));
                    continue;
                };
                job
            };
            for (k, outcome) in job.outcomes.iter_mut().enumerate() {
                let i = worker.first + k;
                // The error is moved out (`Error` is not `Clone`); the next step overwrites it.
                match std::mem::replace(outcome, Outcome::Stepped(NO_STEP)) {
                    Outcome::Stepped(info) => {
                        infos[i] = info;
                        let row = &job.observations[k * dim..(k + 1) * dim];
                        observations.row_mut(i).assign(&ArrayView1::from(row));
                    }
                    Outcome::Failed(e) => {
                        first_error.get_or_insert((i, e));
                    }
                    Outcome::Panicked(message) => {
                        panicked.get_or_insert((i, message));
                    }
                }
            }
            worker.job = Some(job);
        }
        if let Some((index, message)) = panicked {
            return Err(self.break_with(Broken::Panicked { index, message }));
        }
        if let Some((worker, message)) = lost {
            return Err(self.break_with(Broken::Lost { worker, message }));
        }
        self.episodes.finish_step(infos, first_error)
    }
}

impl<E: Env + Send + 'static> Drop for ThreadedVecEnv<E> {
    /// Closes the workers' channels and joins their threads (each ends after its current job;
    /// between calls none has one).
    fn drop(&mut self) {
        for worker in &mut self.workers {
            worker.jobs = None;
        }
        for worker in &mut self.workers {
            if let Some(handle) = worker.handle.take() {
                let _ = handle.join();
            }
        }
    }
}

impl<E: Env + Send + 'static> std::fmt::Debug for ThreadedVecEnv<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadedVecEnv")
            .field("num_envs", &self.episodes.num_envs())
            .field("threads", &self.workers.len())
            .field("observation_dim", &self.episodes.observation_dim())
            .field("num_actions", &self.episodes.num_actions())
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}
