"""The batch REINFORCE learns from: a time-major block of transitions from the current policy.

Both collectors (``robopg.collect``: host engines and the device engine) fill it; the update
(``robopg.algo.reinforce``) reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Rollout:
    """Time-major batch. ``next_obs[t]`` is the true successor of ``obs[t]`` (the final
    observation where the episode ended at t), used to bootstrap V at cuts."""

    obs: torch.Tensor  # (T, N, obs_dim) raw observations
    actions: torch.Tensor  # (T, N, act_dim) unclipped samples
    rewards: torch.Tensor  # (T, N)
    terminated: torch.Tensor  # (T, N) bool
    truncated: torch.Tensor  # (T, N) bool
    next_obs: torch.Tensor  # (T, N, obs_dim)
    episode_returns: list[float] = field(default_factory=list)
    episode_lengths: list[int] = field(default_factory=list)

    @property
    def num_steps(self) -> int:
        return int(self.rewards.numel())
