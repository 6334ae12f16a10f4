"""Discounted reward-to-go and GAE(λ) over a time-major batch with episode ends inside it.

All inputs are (T, N) tensors: step t of env n. Conventions:

- ``terminated[t]``: the episode really ended at step t (no future reward: bootstrap 0).
- ``truncated[t]``: it was cut (time limit) at step t; the future is worth V(s_{t+1}),
  where s_{t+1} is the *final* observation of that episode, given in ``next_values[t]``.
- The last row is cut by the batch end unless it is done; it bootstraps from ``next_values[T-1]``.

``next_values[t]`` = V(s_{t+1}) for the true successor state of step t (for ended episodes, the
final observation, not the first of the next episode). Pass zeros for no bootstrap.
These functions are pure so that tests can check them against hand-computed numbers.
"""

from __future__ import annotations

import torch


def discounted_returns(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    next_values: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    """Reward-to-go G_t = Σ_{k≥t} γ^{k-t} r_k within each episode, bootstrapped where cut.

    G_t = r_t + γ·[ (1-done_t)·G_{t+1} + (trunc_t ∨ t=T-1 and not done)·V(s_{t+1}) ], with the
    bootstrap term zeroed at a true termination.
    """
    T = rewards.shape[0]
    returns = torch.zeros_like(rewards)
    done = terminated | truncated
    alive = (~terminated).to(rewards.dtype)
    future = next_values[T - 1] * alive[T - 1]  # batch end: bootstrap (0 if terminated)
    for t in range(T - 1, -1, -1):
        if t < T - 1:
            cont = (~done[t]).to(rewards.dtype)
            future = cont * returns[t + 1] + (1.0 - cont) * alive[t] * next_values[t]
        returns[t] = rewards[t] + gamma * future
    return returns


def gae_advantages(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    gamma: float,
    lam: float,
) -> torch.Tensor:
    """GAE(λ): Â_t = Σ_k (γλ)^k δ_{t+k} within the episode.

    δ_t = r_t + γ(1 − term_t)·V(s_{t+1}) − V(s_t).

    λ = 1 gives exactly ``discounted_returns(...) − values``; λ = 0 gives the one-step TD error.
    """
    T = rewards.shape[0]
    alive = (~terminated).to(rewards.dtype)
    cont = (~(terminated | truncated)).to(rewards.dtype)
    deltas = rewards + gamma * alive * next_values - values
    adv = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in range(T - 1, -1, -1):
        running = deltas[t] + gamma * lam * cont[t] * running
        adv[t] = running
    return adv
