"""A torch policy as a numpy act function, the form every episode loop takes.

Evaluation during training and training videos both run a live ``GaussianPolicy`` through loops
that speak numpy (``evaluate.run_episodes``); this is the one adapter between the two, so the
dtype, device and clipping rules are the same everywhere. Saved policies use the numpy
``Controller`` instead, which needs no torch at all.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from robopg.algo.policy import GaussianPolicy

# obs (N, obs_dim) float64 → actions (N, act_dim) float64
ActFn = Callable[[np.ndarray], np.ndarray]


def policy_act_fn(
    policy: GaussianPolicy,
    device: torch.device,
    low: np.ndarray | None = None,
    high: np.ndarray | None = None,
    deterministic: bool = True,
) -> ActFn:
    """obs → the policy's mean action (or a sample), float64, clipped to [low, high] if given.

    The forward pass runs in float32 on ``device`` without gradients, exactly as in training.
    """

    @torch.no_grad()
    def act(obs: np.ndarray) -> np.ndarray:
        o = torch.as_tensor(obs, dtype=torch.float32, device=device)
        a = policy.act(o, deterministic=deterministic).cpu().numpy().astype(np.float64)
        return a if low is None or high is None else np.clip(a, low, high)

    return act
