//! [`Policy`]: a trained Q-network that acts greedily, for deployment.

use ndarray::ArrayView1;

use crate::agent::DqnAgent;
use crate::error::{Error, Result};
use crate::memory::Memory;
use crate::nn::{Mlp, QNetwork, argmax};

/// A trained Q-network that acts greedily: the action of the largest Q-value (the first on
/// ties, as [`DqnAgent`]'s greedy action).
///
/// Built from a trained agent ([`Policy::from_agent`]), a network ([`Policy::from_network`]) or
/// a weights file ([`Policy::load`], for example the `dqn_cartpole.safetensors` the main example
/// writes). [`act`](Policy::act) takes `&self` and no buffer of the caller's, and a `Policy` is
/// `Send + Sync`, so a server can share one (in an `Arc`) across threads. It computes exactly
/// what the agent's [`greedy_action`](crate::Agent::greedy_action) computes, so both choose the
/// same action.
///
/// # Examples
/// ```
/// use deepq::{CartPole, DqnAgent, DqnConfig, Env, Policy};
/// use rand::SeedableRng;
/// use rand_chacha::ChaCha8Rng;
///
/// # fn main() -> deepq::Result<()> {
/// let mut rng = ChaCha8Rng::seed_from_u64(0);
/// let mut env = CartPole::v0();
/// let agent = DqnAgent::new(DqnConfig::default(), 4, 2, &mut rng)?;
/// let policy = Policy::from_agent(&agent);
/// let observation = env.reset(&mut rng);
/// let action = policy.act(observation.view())?;
/// assert!(action < 2);
/// assert!(policy.act(ndarray::array![1.0f32].view()).is_err()); // wrong length
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Policy {
    network: Mlp,
    widths: Vec<usize>,
}

impl Policy {
    /// The greedy policy of `network` (copied).
    pub fn from_network(network: &Mlp) -> Policy {
        Policy { widths: network.layer_widths(), network: network.clone() }
    }

    /// The greedy policy of the agent's online network (copied).
    pub fn from_agent<M: Memory>(agent: &DqnAgent<Mlp, M>) -> Policy {
        Policy::from_network(agent.network())
    }

    /// The network.
    pub fn network(&self) -> &Mlp {
        &self.network
    }

    /// The length of an observation.
    pub fn observation_dim(&self) -> usize {
        self.network.input_dim()
    }

    /// The number of actions.
    pub fn num_actions(&self) -> usize {
        self.network.num_actions()
    }

    /// The Q-value of every action for `observation`.
    ///
    /// # Errors
    /// [`Error::ObservationLength`] for an observation of the wrong length,
    /// [`Error::NonFinite`] for a NaN or infinite value.
    pub fn q_values(&self, observation: ArrayView1<'_, f32>) -> Result<Vec<f32>> {
        let dim = self.observation_dim();
        if observation.len() != dim {
            return Err(Error::ObservationLength {
                what: "observation",
                expected: dim,
                actual: observation.len(),
            });
        }
        if let Some(&v) = observation.iter().find(|v| !v.is_finite()) {
            return Err(Error::NonFinite { what: "observation".into(), value: f64::from(v) });
        }
        let input: Vec<f32> = observation.iter().copied().collect();
        let mut single: Vec<Vec<f32>> = self.widths.iter().map(|&w| vec![0.0; w]).collect();
        self.network.single_forward(&input, &mut single);
        Ok(single.pop().expect("an Mlp has at least one layer"))
    }

    /// The greedy action for `observation`.
    ///
    /// # Errors
    /// As [`q_values`](Policy::q_values).
    pub fn act(&self, observation: ArrayView1<'_, f32>) -> Result<usize> {
        Ok(argmax(&self.q_values(observation)?))
    }
}

impl From<Mlp> for Policy {
    fn from(network: Mlp) -> Policy {
        Policy { widths: network.layer_widths(), network }
    }
}

#[cfg(feature = "safetensors")]
impl Policy {
    /// Reads a weights file written by [`Mlp::save`] (the main example writes
    /// `dqn_cartpole.safetensors`, the trainer `model.safetensors` and `best.safetensors`).
    ///
    /// # Errors
    /// As [`Mlp::load`].
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Policy> {
        Mlp::load(path).map(Policy::from)
    }

    /// Writes the network as a weights file ([`Mlp::save`]).
    ///
    /// # Errors
    /// As [`Mlp::save`].
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        self.network.save(path)
    }

    /// Reads a network trained in PyTorch, of architecture `config`, from the safetensors file
    /// of its `state_dict()` (`safetensors.torch.save_file(model.state_dict(), path)`): the
    /// names, layouts and dtypes of [`Mlp::from_torch_safetensors`].
    ///
    /// # Errors
    /// As [`Mlp::load_torch`].
    ///
    /// # Examples
    /// ```
    /// use deepq::{Mlp, MlpConfig, Policy};
    /// use rand::SeedableRng;
    /// use rand_chacha::ChaCha8Rng;
    ///
    /// # fn main() -> deepq::Result<()> {
    /// let config = MlpConfig::new(4, vec![64, 64], 2);
    /// let mut rng = ChaCha8Rng::seed_from_u64(0);
    /// let path = std::env::temp_dir().join(format!("deepq-q-{}.safetensors", std::process::id()));
    /// Mlp::new(config.clone(), &mut rng)?.save_torch(&path)?; // as PyTorch would write it
    ///
    /// let policy = Policy::load_torch(&config, &path)?;
    /// assert!(policy.act(ndarray::array![0.0f32, 0.1, 0.0, -0.1].view())? < 2);
    /// # std::fs::remove_file(&path).ok();
    /// # Ok(())
    /// # }
    /// ```
    pub fn load_torch(
        config: &crate::nn::MlpConfig,
        path: impl AsRef<std::path::Path>,
    ) -> Result<Policy> {
        Mlp::load_torch(config, path).map(Policy::from)
    }

    /// Writes the network as an `nn.Sequential` state dict that PyTorch loads
    /// ([`Mlp::save_torch`]).
    ///
    /// # Errors
    /// As [`Mlp::save_torch`].
    pub fn save_torch(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        self.network.save_torch(path)
    }
}
