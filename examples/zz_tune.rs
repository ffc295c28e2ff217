// scratch: not committed
use deepq::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;
fn env_f(name: &str, d: f64) -> f64 { std::env::var(name).ok().map(|v| v.parse().unwrap()).unwrap_or(d) }
fn main() -> Result<()> {
    let seeds: Vec<u64> = std::env::args().skip(1).map(|s| s.parse().unwrap()).collect();
    let v1 = env_f("V1", 0.0) > 0.0;
    for seed in seeds {
        let mut c = DqnConfig::default().with_seed(seed);
        let h = env_f("H", 64.0) as usize;
        c.hidden = vec![h, h];
        c = c.with_learning_rate(env_f("LR", 1e-3) as f32);
        c.batch_size = env_f("BS", 64.0) as usize;
        c.learning_starts = env_f("LS", 1000.0) as usize;
        c.exploration = Exploration::Linear { start: 1.0, end: env_f("EE", 0.02) as f32, steps: env_f("ES", 5000.0) as usize };
        let tau = env_f("TAU", 0.01) as f32;
        let hard = env_f("HARD", 0.0) as usize;
        c.target_update = if hard > 0 { TargetUpdate::Hard { every: hard } } else { TargetUpdate::Polyak { tau } };
        c.train_frequency = TrainFrequency::Steps(env_f("TF", 1.0) as usize);
        c.gradient_steps = env_f("GS", 1.0) as usize;
        c.gamma = env_f("G", 0.99) as f32;
        c.double_dqn = env_f("DD", 1.0) > 0.0;
        c.loss = if env_f("MSE", 0.0) > 0.0 { Loss::MaskedMse } else { Loss::Huber };
        c.memory_size = env_f("MEM", 50000.0) as usize;
        if env_f("PER", 0.0) > 0.0 { c.prioritized = Some(PrioritizedConfig::default().with_alpha(env_f("ALPHA", 0.6) as f32).with_beta_steps(env_f("BSTEPS", 30000.0) as usize)); }
        c.max_grad_norm = if env_f("CLIP", 10.0) > 0.0 { Some(env_f("CLIP", 10.0) as f32) } else { None };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut env = if v1 { CartPole::v1() } else { CartPole::v0() };
        let mut agent = DqnAgent::new(c, 4, 2, &mut rng)?;
        let tc = TrainConfig::default().with_episodes(env_f("EP", 300.0) as usize).with_reward_threshold(env.reward_threshold());
        let t = Instant::now();
        let r = train(&mut agent, &mut env, &tc, &mut rng, &mut |s| { if env_f("VERB", 0.0) > 0.0 && s.episode % 10 == 0 { println!("  ep {} ret {} mean {:.1} eps {:.3} loss {:?} steps {}", s.episode, s.episode_return, s.trailing_mean, s.epsilon, s.loss, s.env_steps); } })?;
        let wall = t.elapsed().as_secs_f64();
        let ev = evaluate(&mut agent, &mut env, 100, &mut rng)?;
        println!("seed {seed} solved_at {:?} steps {} wall {:.2} eval {:.1} min {}", r.solved_at, r.env_steps, wall, ev.mean, ev.min);
    }
    Ok(())
}
