"""Our arms as ordinary gymnasium envs, so any library can ``gym.make("robopg/Reacher3-v0")``.

The env runs one MjData with the same ``ArmTask`` code the batched engine runs over many rows,
so the two agree bit for bit (``tests/engines/test_engine_own_arms.py`` checks it) and
``--engine gym`` is a true second implementation rather than a different task. Rendering comes
from gymnasium's ``MujocoEnv`` (``render_mode="rgb_array"``).

Importing ``robopg.envs`` registers the ids; another library that only knows the id can write
``gym.make("robopg.envs:robopg/Reacher3-v0")`` to import us first.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.mujoco.mujoco_env import MujocoEnv
from gymnasium.spaces import Box
from numpy.typing import NDArray

from robopg.envs.spec import TaskSpec
from robopg.envs.tasks import TASKS


class ArmGymEnv(MujocoEnv):
    """One env of an ``ArmTask``; actions are rounded to float32 like the batched engine's."""

    # gymnasium reads the class attribute before __init__ adds render_fps
    metadata = {"render_modes": ["human", "rgb_array", "depth_array"]}  # noqa: RUF012

    def __init__(self, task: str, **kwargs: Any) -> None:
        task_cls = TASKS[task].arm_task()
        observation_space = Box(-np.inf, np.inf, shape=(task_cls.obs_dim,), dtype=np.float64)
        super().__init__(
            str(task_cls.xml_path),
            task_cls.frame_skip,
            observation_space=observation_space,
            **kwargs,
        )
        self.task = task_cls(self.model)
        self.metadata = {
            "render_modes": ["human", "rgb_array", "depth_array"],
            "render_fps": int(np.round(1.0 / self.dt)),
        }

    def step(
        self, action: NDArray[np.float32]
    ) -> tuple[NDArray[np.float64], np.float64, bool, bool, dict[str, np.float64]]:
        act = np.asarray(action, dtype=np.float32).reshape(1, -1)
        self.do_simulation(act[0], self.frame_skip)
        xpos = self.data.xpos[None]
        obs = self.task.observe(self.data.qpos[None], self.data.qvel[None], xpos)[0]
        reward = np.float64(self.task.reward(xpos, act)[0])
        terminated = bool(self.task.terminated(xpos)[0])
        if self.render_mode == "human":
            self.render()
        return obs, reward, terminated, False, {}

    def reset_model(self) -> np.ndarray:
        return self.task.reset_data(self.data, self.np_random)


def register_gym_env(spec: TaskSpec) -> None:
    """Register ``spec``'s gymnasium id, running its ``ArmTask`` (idempotent)."""
    if not spec.registers_gym or spec.gym_id in gym.registry:
        return
    gym.register(
        id=spec.gym_id,
        entry_point="robopg.envs.gym_env:ArmGymEnv",
        max_episode_steps=spec.arm_task().max_episode_steps,
        reward_threshold=spec.solved,
        kwargs={"task": spec.name},
    )


def register_gym_envs() -> None:
    """Register every task whose spec says ``registers_gym`` with gymnasium (idempotent)."""
    for spec in TASKS.values():
        register_gym_env(spec)
