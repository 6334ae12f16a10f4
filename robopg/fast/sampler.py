"""Sampling a live ``GaussianPolicy`` on the CPU in numpy, for the rollout's every env step.

Why: a rollout step runs the policy on a few dozen observations (Reacher: 32 × 10 → 64 → 64 →
2), where each of the forward's ~15 torch calls costs more in dispatch than in arithmetic; numpy
does the same operations for a fraction of that (docs/experiments.md, "Throughput"). The
sampler reads the policy's own parameters through zero-copy numpy views, so it always acts with
the current weights, and draws its noise from the collector's torch generator, so the random
stream is the one the torch path consumes. It covers what training on the CPU uses by default:
a float32 ``param``-σ policy (with or without a σ floor); anything else samples in torch.

Its means equal ``GaussianPolicy.mean_action``'s to float32 rounding (numpy's and torch's matrix
products sum in different orders), tested in tests/test_numpy_sampler.py.
"""

from __future__ import annotations

import numpy as np
import torch

from robopg.algo.antithetic import exploration_noise
from robopg.algo.policy import GaussianPolicy
from robopg.fast.adam import activation_names, plain_mlp
from robopg.fast.mlp import MLP, normalize_obs


def usable(policy: GaussianPolicy) -> bool:
    """Whether ``NumpySampler`` can sample ``policy``: float32 on the CPU, a free log σ, and a
    plain MLP mean (``robopg.fast.adam.plain_mlp``)."""
    return (
        not policy.state_std
        and all(p.device.type == "cpu" for p in policy.parameters())
        and all(p.dtype == torch.float32 for p in policy.parameters())
        and plain_mlp(policy.mean_net)
    )


class NumpySampler:
    """a = μ(s) + σ·ε for raw float64 observations (N, obs_dim), from the policy as it is now.

    Build one per batch: the normaliser's statistics and σ are read at construction (they change
    only between batches), the weights through views that follow the optimizer's in-place steps.
    """

    def __init__(
        self, policy: GaussianPolicy, generator: torch.Generator, antithetic: bool = False
    ) -> None:
        """``antithetic``: envs 2k and 2k+1 get opposite noise (``robopg.algo.antithetic``)."""
        weights = [p.detach().numpy() for p in policy.mean_net.parameters()]  # zero-copy views
        self._mean_net = MLP(activation_names(policy.mean_net), weights)
        mean, std = policy.obs_norm.stats_in(torch.float32, torch.device("cpu"))
        self._obs_mean, self._obs_std = mean.numpy(), std.numpy()
        self._clip = float(policy.obs_norm.clip)
        with torch.no_grad():
            self._std = policy.param_log_std().exp().numpy().copy()
        self._act_dim = policy.cfg.act_dim
        self._generator = generator
        self._antithetic = antithetic

    def sample(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(obs as float32 (N, obs_dim), action (N, act_dim) float32, unclipped)."""
        obs32 = obs.astype(np.float32)
        h = self._mean_net(normalize_obs(obs32, self._obs_mean, self._obs_std, self._clip))
        noise = exploration_noise(
            obs.shape[0], self._act_dim, self._generator, self._antithetic
        ).numpy()
        noise *= self._std
        h += noise
        return obs32, h
