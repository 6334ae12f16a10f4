"""The vector-environment contract every backend (batched engine or gymnasium) satisfies.

Arrays are numpy, batch-major: observations (N, obs_dim) float64, rewards (N,) float64,
flags (N,) bool. Episodes auto-reset in the same step they end ("same-step" autoreset): the
returned ``obs`` is already the first observation of the next episode and ``final_obs`` holds the
last observation of the finished one, which the trainer needs to bootstrap V(s_T) at a time-limit
truncation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from robopg.errors import EnvError


@dataclass(frozen=True)
class StepResult:
    """One step of N environments. ``final_obs[i]`` equals ``obs[i]`` where env i did not end."""

    obs: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    final_obs: np.ndarray


@runtime_checkable
class VectorEnv(Protocol):
    """N copies of one task stepped together."""

    task: str
    num_envs: int
    obs_dim: int
    act_dim: int
    action_low: np.ndarray
    action_high: np.ndarray
    max_episode_steps: int
    dt: float

    def reset(self, seed: int, paired: bool = False) -> np.ndarray:
        """Reset every env; env i is seeded with ``seed + i`` (gymnasium's vector convention).

        ``paired``: env i is seeded with ``seed + i // 2`` instead, so envs 2k and 2k+1 start
        every episode alike for as long as their episodes end together (antithetic pairs, see
        ``robopg.algo.antithetic``); needs an even number of envs."""
        ...

    def step(self, actions: np.ndarray) -> StepResult: ...

    def state_dict(self) -> dict[str, Any] | None:
        """JSON/array state to continue bit-for-bit (physics, step counters, RNGs), or None.

        None means the backend cannot snapshot itself; resuming then starts fresh episodes.
        Arrays in the dict are numpy; everything else must be JSON-serialisable.
        """
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


def pair_seeds(seed: int, num_envs: int, paired: bool) -> list[int]:
    """The reset seed of each env: ``seed + i``, or ``seed + i // 2`` when ``paired``."""
    if seed < 0:
        raise EnvError(f"Seeds must be non-negative integers, got {seed}.")
    if paired and num_envs % 2:
        raise EnvError(f"Paired resets need an even number of envs, got {num_envs}.")
    return [int(seed) + (i // 2 if paired else i) for i in range(num_envs)]


def restore_rngs(states: list[dict[str, Any]]) -> list[np.random.Generator]:
    """Generators continuing exactly from their saved ``bit_generator.state`` dicts (PCG64, as
    ``make_rng`` makes them): how an engine snapshot brings back its per-env generators."""
    rngs = []
    for state in states:
        rng = np.random.Generator(np.random.PCG64())
        rng.bit_generator.state = state
        rngs.append(rng)
    return rngs


def check_actions(task: str, actions: np.ndarray, num_envs: int, act_dim: int) -> np.ndarray:
    """Validate a batch of actions and return it as float64 (N, act_dim).

    Shape and NaN errors name the task and the expected shape, because a silent broadcast or a
    NaN fed to MuJoCo surfaces much later as a confusing simulator warning.
    """
    arr = np.asarray(actions, dtype=np.float64)
    if arr.shape != (num_envs, act_dim):
        raise EnvError(
            f"Task '{task}' expects actions of shape ({num_envs}, {act_dim}) "
            f"(num_envs, action_dim), got {tuple(arr.shape)}."
        )
    if not np.all(np.isfinite(arr)):
        raise EnvError(
            f"Task '{task}' received a NaN or infinite action; check the policy output "
            "(a diverged policy is the usual cause)."
        )
    return arr
