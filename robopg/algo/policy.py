"""Networks: the Gaussian policy π(a|s) = N(μ_θ(s), diag σ²) and the value baseline V_φ(s).

The mean is an MLP of the normalised observation. log σ is either a free parameter vector
(``std="param"``, state-independent, as in the classic VPG/TRPO setups) or a second MLP head of
the same observation (``std="state"``), squashed by a tanh into [log σ_min, log σ_max]: a
state-dependent σ can explore widely where the task is still open and little where the mean is
already right (on Pusher, a single σ is 7-20× the mean action's energy while pushing). Either
way the deterministic action is the mean. Log-probabilities are of the *unclipped*
sample; clipping to the actuator range happens only when the action is sent to the simulator
(see ``rollout.py``), so the estimator stays the exact score function of the sampled action.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from robopg.algo import activations
from robopg.algo.net_config import NetConfig
from robopg.algo.normalize import RunningMeanStd

#: the torch module of each activation of ``robopg.algo.activations`` (the one table), by name
ACTIVATIONS: dict[str, type[nn.Module]] = {
    name: getattr(nn, a.torch_module) for name, a in activations.ACTIVATIONS.items()
}


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


def run_mlp(net: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """``net(x)`` without ``Module.__call__``'s hook machinery on every layer: the same
    operations (so bitwise the same result), ~15 % less time for a 64-64 net at a few dozen
    rows, which is every env step of a rollout and every value-fit minibatch. No module here
    has hooks; export traces the modules themselves."""
    for layer in net:
        x = layer.forward(x)
    return x


def squash_log_std(raw: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Map the head's output into [low, high]: low + (high − low)·(tanh(raw) + 1)/2."""
    return low + (high - low) * 0.5 * (torch.tanh(raw) + 1.0)


class GaussianPolicy(nn.Module):
    """Diagonal Gaussian over actions: an MLP mean and a learned log σ (a free vector, or a
    bounded head of the state; see the module docstring).

    Owns the observation normaliser: ``forward`` takes *raw* observations.
    """

    log_std: nn.Parameter  # std="param": (act_dim,)
    log_std_net: nn.Sequential  # std="state": obs_dim → … → act_dim, before the squash

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.obs_norm = RunningMeanStd(cfg.obs_dim, clip=cfg.obs_clip)
        self.mean_net = mlp([cfg.obs_dim, *cfg.hidden, cfg.act_dim], cfg.activation, out_gain=0.01)
        self.state_std = cfg.std == "state"
        if self.state_std:
            # Small output weights and a bias at the squash's preimage of log_std_init: the first
            # σ(s) is log_std_init everywhere (within a few hundredths), as with the free
            # parameter.
            head = mlp([cfg.obs_dim, *cfg.hidden, cfg.act_dim], cfg.activation, out_gain=0.01)
            out = head[-1]
            assert isinstance(out, nn.Linear)
            frac = (cfg.log_std_init - cfg.log_std_min) / (cfg.log_std_max - cfg.log_std_min)
            with torch.no_grad():
                out.bias.fill_(math.atanh(2.0 * frac - 1.0))
            self.log_std_net = head
        else:
            self.log_std = nn.Parameter(torch.full((cfg.act_dim,), float(cfg.log_std_init)))

    def mean_action(self, obs: torch.Tensor) -> torch.Tensor:
        """μ_θ(s) for raw observations (..., obs_dim) → (..., act_dim)."""
        return run_mlp(self.mean_net, self.obs_norm(obs))

    def _log_std_of_normed(self, norm_obs: torch.Tensor) -> torch.Tensor:
        if self.state_std:
            raw = run_mlp(self.log_std_net, norm_obs)
            return squash_log_std(raw, self.cfg.log_std_min, self.cfg.log_std_max)
        return self.param_log_std()

    def param_log_std(self) -> torch.Tensor:
        """The free (act_dim,) log σ, raised to ``log_std_floor`` if one is set (below the
        floor it has no gradient: the floor is the σ the policy explores with)."""
        if self.cfg.log_std_floor is None:
            return self.log_std
        return self.log_std.clamp_min(self.cfg.log_std_floor)

    def log_std_of(self, obs: torch.Tensor) -> torch.Tensor:
        """log σ for raw observations (..., obs_dim) → (..., act_dim) (broadcast for ``param``)."""
        return self._log_std_of_normed(self.obs_norm(obs)).expand(*obs.shape[:-1], -1)

    def mean_and_log_std(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(μ(s), log σ(s)) from one normalisation; log σ is (act_dim,) for ``param``."""
        norm = self.obs_norm(obs)
        return run_mlp(self.mean_net, norm), self._log_std_of_normed(norm)

    def distribution(self, obs: torch.Tensor) -> torch.distributions.Normal:
        """π_θ(·|s) as a torch Normal (used for sampling; log-prob and entropy are ours below)."""
        mean, log_std = self.mean_and_log_std(obs)
        return torch.distributions.Normal(mean, log_std.exp())

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log π_θ(a|s) summed over action dims: (..., act_dim) → (...)."""
        mean, log_std = self.mean_and_log_std(obs)
        z = (actions - mean) * torch.exp(-log_std)
        per_dim = -0.5 * z.square() - log_std - 0.5 * math.log(2 * math.pi)
        return per_dim.sum(-1)

    def entropy(self, obs: torch.Tensor | None = None) -> torch.Tensor:
        """Entropy Σ_i (½ log 2πe + log σ_i): a scalar for ``param``; for ``state`` the mean
        over the states ``obs`` (..., obs_dim), which it then needs."""
        if not self.state_std:
            return (0.5 * math.log(2 * math.pi * math.e) + self.param_log_std()).sum()
        if obs is None:
            raise ValueError("A state-dependent σ has an entropy per state: pass obs.")
        per_state = (0.5 * math.log(2 * math.pi * math.e) + self.log_std_of(obs)).sum(-1)
        return per_state.mean()

    def mean_std(self, obs: torch.Tensor) -> torch.Tensor:
        """σ averaged over action dims (and over the states ``obs`` for ``state``): a scalar."""
        if not self.state_std:
            return self.param_log_std().exp().mean()
        return self.log_std_of(obs).exp().mean()

    @torch.no_grad()
    def act(
        self,
        obs: torch.Tensor,
        deterministic: bool = False,
        generator: torch.Generator | None = None,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Sample a ~ π(·|s) (or the mean when deterministic), unclipped: μ(s) + σ·ε with ε
        drawn from ``generator``, or ``noise`` (standard normal, the shape of the actions) when
        given (antithetic pairs draw their own; ``robopg.algo.antithetic``)."""
        if deterministic:
            return self.mean_action(obs)
        mean, log_std = self.mean_and_log_std(obs)
        if noise is None:
            noise = torch.randn(
                mean.shape, generator=generator, device=mean.device, dtype=mean.dtype
            )
        return mean + noise * log_std.exp()


class ValueNet(nn.Module):
    """V_φ(s), a separate MLP on the policy's normalised observation (fit by regression)."""

    def __init__(
        self, cfg: NetConfig, hidden: tuple[int, ...] | None = None, activation: str | None = None
    ) -> None:
        """``hidden`` and ``activation``: the value net's own layer widths and hidden activation
        (default: the policy's). The value net is never deployed, so it may differ freely."""
        super().__init__()
        sizes = cfg.hidden if hidden is None else hidden
        self.net = mlp([cfg.obs_dim, *sizes, 1], activation or cfg.activation, out_gain=1.0)

    def forward(self, norm_obs: torch.Tensor) -> torch.Tensor:
        """(..., obs_dim) normalised observations → (...) values."""
        return run_mlp(self.net, norm_obs).squeeze(-1)


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
