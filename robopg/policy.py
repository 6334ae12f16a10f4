"""Networks: the Gaussian policy π(a|s) = N(μ_θ(s), diag σ²) and the value baseline V_φ(s).

The mean is an MLP of the normalised observation; log σ is a free parameter vector
(state-independent), as in the classic VPG/TRPO setups. Log-probabilities are of the *unclipped*
sample; clipping to the actuator range happens only when the action is sent to the simulator
(see ``rollout.py``), so the estimator stays the exact score function of the sampled action.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from robopg.net_config import NetConfig
from robopg.normalize import RunningMeanStd

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU}


def mlp(sizes: list[int], activation: str = "tanh", out_gain: float = 1.0) -> nn.Sequential:
    """Fully connected net ``sizes[0] → … → sizes[-1]``, activation between hidden layers.

    Hidden layers use orthogonal init with gain √2; the output layer uses ``out_gain``, so a small
    gain makes the first actions (or values) start near zero.
    """
    act = ACTIVATIONS[activation]
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        linear = nn.Linear(sizes[i], sizes[i + 1])
        last = i == len(sizes) - 2
        nn.init.orthogonal_(linear.weight, gain=out_gain if last else math.sqrt(2))
        nn.init.zeros_(linear.bias)
        layers.append(linear)
        if not last:
            layers.append(act())
    return nn.Sequential(*layers)


class GaussianPolicy(nn.Module):
    """Diagonal Gaussian over actions with an MLP mean and a learned state-independent log σ.

    Owns the observation normaliser: ``forward`` takes *raw* observations.
    """

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.obs_norm = RunningMeanStd(cfg.obs_dim)
        self.mean_net = mlp([cfg.obs_dim, *cfg.hidden, cfg.act_dim], cfg.activation, out_gain=0.01)
        self.log_std = nn.Parameter(torch.full((cfg.act_dim,), float(cfg.log_std_init)))

    def mean_action(self, obs: torch.Tensor) -> torch.Tensor:
        """μ_θ(s) for raw observations (..., obs_dim) → (..., act_dim)."""
        return self.mean_net(self.obs_norm(obs))

    def distribution(self, obs: torch.Tensor) -> torch.distributions.Normal:
        """π_θ(·|s) as a torch Normal (used for sampling; log-prob and entropy are ours below)."""
        return torch.distributions.Normal(self.mean_action(obs), self.log_std.exp())

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log π_θ(a|s) summed over action dims: (..., act_dim) → (...)."""
        mean = self.mean_action(obs)
        z = (actions - mean) * torch.exp(-self.log_std)
        per_dim = -0.5 * z.square() - self.log_std - 0.5 * math.log(2 * math.pi)
        return per_dim.sum(-1)

    def entropy(self) -> torch.Tensor:
        """Entropy of the Gaussian (state-independent, so a scalar): Σ_i (½ log 2πe + log σ_i)."""
        return (0.5 * math.log(2 * math.pi * math.e) + self.log_std).sum()

    @torch.no_grad()
    def act(
        self,
        obs: torch.Tensor,
        deterministic: bool = False,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Sample a ~ π(·|s) (or the mean when deterministic), unclipped."""
        mean = self.mean_action(obs)
        if deterministic:
            return mean
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + noise * self.log_std.exp()


class ValueNet(nn.Module):
    """V_φ(s), a separate MLP on the policy's normalised observation (fit by regression)."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.net = mlp([cfg.obs_dim, *cfg.hidden, 1], cfg.activation, out_gain=1.0)

    def forward(self, norm_obs: torch.Tensor) -> torch.Tensor:
        """(..., obs_dim) normalised observations → (...) values."""
        return self.net(norm_obs).squeeze(-1)


def load_state_strict(module: nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """load_state_dict that turns key/shape mismatches into one CheckpointError sentence."""
    from robopg.errors import CheckpointError

    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    if missing or extra:
        raise CheckpointError(
            f"The checkpoint's {what} weights do not match the network: "
            f"missing {missing[:3]}, unexpected {extra[:3]}."
        )
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(own[key].shape):
            raise CheckpointError(
                f"The checkpoint's {what} tensor '{key}' has shape {tuple(tensor.shape)}, "
                f"expected {tuple(own[key].shape)}; it was saved for a different network."
            )
    module.load_state_dict(state)
