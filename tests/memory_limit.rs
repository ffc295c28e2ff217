//! Under a process memory limit (`ulimit -v`), an agent whose replay memory is near the limit is
//! refused with an error or built and trained; it is never aborted by a later small allocation
//! (issue 12, D3: a 30M memory used to reserve its storage and then abort on the batch buffer).
//! Linux only: the test re-runs itself in a child shell under each limit.

use std::ops::ControlFlow;
use std::process::Command;

use deepq::{CartPole, DqnAgent, DqnConfig, TrainConfig, train};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const CHILD: &str = "DEEPQ_MEMORY_LIMIT_CHILD";
const TEST: &str = "near_a_memory_limit_an_agent_is_refused_or_built_never_aborted";

/// In the child: build an agent with a 5,000,000-transition prioritized memory
/// (50 MB of transitions and a 32 MB sum tree) and train it for 200 steps; exit 0 when that
/// worked, 3 when it was refused.
fn child() -> ! {
    println!("started");
    let config = DqnConfig::default().with_memory_size(1_000_000).with_learning_starts(100);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    match DqnAgent::new(config, 4, 2, &mut rng) {
        Ok(mut agent) => {
            let mut env = CartPole::v0();
            let budget = TrainConfig::default().with_max_env_steps(200);
            match train(&mut agent, &mut env, &budget, &mut rng, &mut |_| ControlFlow::Continue(()))
            {
                Ok(_) => {
                    println!("built");
                    std::process::exit(0)
                }
                Err(err) => {
                    println!("refused while training: {err}");
                    std::process::exit(3)
                }
            }
        }
        Err(err) => {
            println!("refused: {err}");
            std::process::exit(3)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// The process could not start under the limit (nothing of deepq ran).
    NotStarted,
    Built,
    Refused,
    /// Started, then died without an answer: an abort.
    Aborted,
}

fn run_under(limit_kib: u64) -> Outcome {
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {limit_kib} && exec \"$0\" --exact {TEST} --test-threads=1 --nocapture"
        ))
        .arg(&exe)
        .env(CHILD, "1")
        .output()
        .expect("sh runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !stdout.contains("started") {
        return Outcome::NotStarted;
    }
    match output.status.code() {
        Some(0) if stdout.contains("built") => Outcome::Built,
        Some(3) if stdout.contains("refused") => Outcome::Refused,
        _ => Outcome::Aborted,
    }
}

#[test]
fn near_a_memory_limit_an_agent_is_refused_or_built_never_aborted() {
    if std::env::var_os(CHILD).is_some() {
        child();
    }
    if !cfg!(target_os = "linux") {
        return;
    }
    // The smallest limit (KiB) under which the agent is built, by bisection between a limit
    // under which it cannot be (64 MiB) and one under which it can (8 GiB).
    let (mut low, mut high) = (64 * 1024u64, 8 * 1024 * 1024u64);
    assert_ne!(run_under(low), Outcome::Built);
    assert_eq!(run_under(high), Outcome::Built, "8 GiB of address space must be enough");
    while high - low > 16 {
        let mid = (low + high) / 2;
        if run_under(mid) == Outcome::Built {
            high = mid;
        } else {
            low = mid;
        }
    }
    // Around that threshold, every limit gives an answer: 16 KiB steps from 1 MiB below it to
    // 2 MiB above it (the old abort window was 60 KB wide, just above the threshold), then
    // 256 KiB steps to 20 MiB above it.
    let mut aborted = Vec::new();
    let mut counts = [0usize; 3];
    let mut limit = high - 1024;
    while limit <= high + 20 * 1024 {
        match run_under(limit) {
            Outcome::Aborted => aborted.push(limit),
            Outcome::NotStarted => counts[0] += 1,
            Outcome::Refused => counts[1] += 1,
            Outcome::Built => counts[2] += 1,
        }
        limit += if limit < high + 2 * 1024 { 16 } else { 256 };
    }
    println!("threshold {high} KiB; not started / refused / built: {counts:?}");
    assert!(aborted.is_empty(), "aborted under limits (KiB) {aborted:?}");
    assert!(counts[1] > 0 && counts[2] > 0, "the scan crosses the threshold: {counts:?}");
}
