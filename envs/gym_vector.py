"""Any gymnasium Box-action task behind the VectorEnv contract, via gymnasium's SyncVectorEnv.

This is the general path (and the reference the batched engine is checked against). It costs one
Python env.step per environment per step, so the batched engine replaces it where one exists.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from robopg.envs.gym_state import gym_mujoco_state, load_gym_mujoco_state
from robopg.envs.vector import StepResult, check_actions, pair_seeds
from robopg.errors import EnvError


class GymVectorEnv:
    """SyncVectorEnv with same-step autoreset, flattened to numpy arrays."""

    def __init__(self, env_id: str, num_envs: int, task: str | None = None) -> None:
        self.task = task or env_id
        try:
            self._vec = SyncVectorEnv(
                [lambda: gym.make(env_id) for _ in range(num_envs)],
                autoreset_mode=AutoresetMode.SAME_STEP,
            )
        except gym.error.Error as exc:  # unknown id, missing dependency …
            raise EnvError(f"Could not create gymnasium env '{env_id}': {exc}") from exc
        act_space = self._vec.single_action_space
        obs_space = self._vec.single_observation_space
        if not isinstance(act_space, gym.spaces.Box) or not isinstance(obs_space, gym.spaces.Box):
            self._vec.close()
            raise EnvError(
                f"Env '{env_id}' must have Box observation and action spaces for a Gaussian "
                f"policy; it has {obs_space} and {act_space}."
            )
        self.num_envs = num_envs
        self.obs_dim = int(np.prod(obs_space.shape))
        self.act_dim = int(np.prod(act_space.shape))
        self.action_low = np.asarray(act_space.low, dtype=np.float64).reshape(-1)
        self.action_high = np.asarray(act_space.high, dtype=np.float64).reshape(-1)
        spec = self._vec.envs[0].spec
        self.max_episode_steps = int(spec.max_episode_steps or 1000) if spec else 1000
        unwrapped = self._vec.envs[0].unwrapped
        self.dt = float(getattr(unwrapped, "dt", 1.0 / unwrapped.metadata.get("render_fps", 30)))

    def reset(self, seed: int, paired: bool = False) -> np.ndarray:
        # a list gives env i its own seed (an int gives seed + i): gymnasium's own convention
        seeds: list[int | None] = [*pair_seeds(seed, self.num_envs, paired)]
        obs, _ = self._vec.reset(seed=seeds)
        return np.asarray(obs, dtype=np.float64).reshape(self.num_envs, self.obs_dim)

    def step(self, actions: np.ndarray) -> StepResult:
        acts = check_actions(self.task, actions, self.num_envs, self.act_dim)
        obs, reward, terminated, truncated, info = self._vec.step(acts.astype(np.float32))
        obs = np.asarray(obs, dtype=np.float64).reshape(self.num_envs, self.obs_dim)
        final_obs = obs.copy()
        if "final_obs" in info:
            for i in np.flatnonzero(info["_final_obs"]):
                final_obs[i] = np.asarray(info["final_obs"][i], dtype=np.float64).reshape(-1)
        return StepResult(
            obs=obs,
            reward=np.asarray(reward, dtype=np.float64),
            terminated=np.asarray(terminated, dtype=bool),
            truncated=np.asarray(truncated, dtype=bool),
            final_obs=final_obs,
        )

    def state_dict(self) -> dict[str, Any] | None:
        """Snapshot of every sub-env for exact resume, or None when that is not possible.

        Only MuJoCo-based gymnasium envs can be snapshotted: their whole dynamic state is the
        MjData integration state plus the env's RNG and the TimeLimit step counter. Anything
        else (Box2D, classic control, …) returns None and a resume starts fresh episodes.
        """
        return gym_mujoco_state(self._vec.envs)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a ``state_dict`` snapshot into envs of the same task and count."""
        if gym_mujoco_state(self._vec.envs) is None:
            raise EnvError("The gymnasium backend cannot restore a snapshot of a non-MuJoCo env.")
        # OrderEnforcing refuses step() before reset(): reset once, then overwrite everything.
        self._vec.reset(seed=0)
        load_gym_mujoco_state(self.task, self._vec.envs, state)

    def sub_envs(self) -> list[Any]:
        """The unwrapped gymnasium env behind each index (e.g. its MuJoCo ``model``/``data``,
        for drawing what the vector is running)."""
        return [env.unwrapped for env in self._vec.envs]

    def close(self) -> None:
        self._vec.close()
