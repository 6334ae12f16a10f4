"""Tiny gymnasium envs registered on import, so ``toy_dict_envs:<id>`` exercises the
``module:EnvId`` path without any robotics package.

- ``ToyDict-v0``: a point on a line chasing a goal. Observation, a Dict given in unsorted order
  on purpose: ``velocity`` (1,) = the last action, ``goal`` (1, 2) = [[g, 2g]] (a 2-D leaf),
  ``position`` (1,) = x. Flattened (sorted keys): [g, 2g, x, v]. x starts at the reset seed,
  g = 1; ``step(a)``: x += a, reward −|x − g|; 3 steps per episode.
- ``ToyDiscreteAction-v0``: a Box observation but a Discrete action space.
- ``ToyDiscreteLeaf-v0``: a Dict observation with a Discrete entry ``mode``.
"""

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

GOAL = 1.0


class ToyDictEnv(gym.Env[dict[str, np.ndarray], np.ndarray]):
    def __init__(self) -> None:
        box = spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float64)
        self.observation_space = spaces.Dict(
            {
                "velocity": box,
                "goal": spaces.Box(-np.inf, np.inf, shape=(1, 2), dtype=np.float64),
                "position": box,
            }
        )
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.x = 0.0
        self.v = 0.0

    def _obs(self) -> dict[str, np.ndarray]:
        return {
            "velocity": np.array([self.v]),
            "goal": np.array([[GOAL, 2 * GOAL]]),
            "position": np.array([self.x]),
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        self.x, self.v = float(seed or 0), 0.0
        return self._obs(), {}

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        self.v = float(np.asarray(action).reshape(-1)[0])
        self.x += self.v
        return self._obs(), -abs(self.x - GOAL), False, False, {}


class ToyDiscreteActionEnv(gym.Env[np.ndarray, int]):
    observation_space = spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float64)
    action_space = spaces.Discrete(2)


class ToyDiscreteLeafEnv(gym.Env[dict[str, Any], np.ndarray]):
    observation_space = spaces.Dict(
        {"position": spaces.Box(-1.0, 1.0, shape=(2,)), "mode": spaces.Discrete(3)}
    )
    action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)


for _id, _cls, _steps in (
    ("ToyDict-v0", ToyDictEnv, 3),
    ("ToyDiscreteAction-v0", ToyDiscreteActionEnv, 10),
    ("ToyDiscreteLeaf-v0", ToyDiscreteLeafEnv, 10),
):
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=_cls, max_episode_steps=_steps)
