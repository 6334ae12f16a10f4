"""Any gymnasium Box-action task behind the VectorEnv contract, via gymnasium's SyncVectorEnv.

This is the general path (and the reference the batched engine is checked against). It costs one
Python env.step per environment per step, so the batched engine replaces it where one exists.

Any registered id works, including gymnasium's ``"module:EnvId"`` form (``gym.make`` imports
``module`` first, so a package that registers its envs on import needs no other step). A Dict
observation of Boxes (goal-conditioned envs) is flattened by gymnasium's ``FlattenObservation``
in the space's key order, which ``obs_layout`` records for the checkpoint
(``robopg.envs.flatten``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.mujoco.mujoco_env import MujocoEnv
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.wrappers import FlattenObservation

from robopg.envs.flatten import ObsLayout, layout_of_space
from robopg.envs.gym_state import gym_mujoco_state, load_gym_mujoco_state
from robopg.envs.vector import StepResult, check_actions, pair_seeds
from robopg.errors import EnvError


def make_flat_env(env_id: str) -> gym.Env[Any, Any]:
    """``gym.make(env_id)`` with a Box action space checked and a Dict observation flattened;
    one EnvError naming the space robopg cannot train on."""
    try:
        env = gym.make(env_id)
    except gym.error.Error as exc:  # unknown id, missing dependency …
        raise EnvError(f"Could not create gymnasium env '{env_id}': {exc}") from exc
    try:
        act_space = env.action_space
        if not isinstance(act_space, gym.spaces.Box):
            raise EnvError(
                f"Env '{env_id}' has a {type(act_space).__name__} action space; robopg's "
                "Gaussian policies need a Box (continuous) action space."
            )
        layout = layout_of_space(env_id, env.observation_space)
    except EnvError:
        env.close()
        raise
    return env if layout is None else FlattenObservation(env)


def mujoco_frame_skip(unwrapped: Any) -> int | None:
    """MuJoCo steps per env step of a MuJoCo env, or None for another simulator.

    gymnasium's MuJoCo envs say it (``frame_skip``); an env that wraps one (gymnasium-robotics'
    PointMaze steps its ``point_env``, which shares its MjModel) is asked through that one.
    """
    skip = getattr(unwrapped, "frame_skip", None)
    if isinstance(skip, int):
        return skip
    model = getattr(unwrapped, "model", None)
    for inner in vars(unwrapped).values():
        if isinstance(inner, MujocoEnv) and model is not None and inner.model is model:
            return int(inner.frame_skip)
    return None


class GymVectorEnv:
    """SyncVectorEnv with same-step autoreset, flattened to numpy arrays.

    ``obs_layout``: how a Dict observation is flattened (None for a Box observation).
    ``frame_skip``: MuJoCo steps per env step (None: not a MuJoCo env, or one we cannot read).
    """

    def __init__(self, env_id: str, num_envs: int, task: str | None = None) -> None:
        self.task = task or env_id
        self._vec = SyncVectorEnv(
            [lambda: make_flat_env(env_id) for _ in range(num_envs)],
            autoreset_mode=AutoresetMode.SAME_STEP,
        )
        first = self._vec.envs[0]
        self.obs_layout: ObsLayout | None = (
            layout_of_space(env_id, first.env.observation_space)
            if isinstance(first, FlattenObservation)
            else None
        )
        act_space = self._vec.single_action_space
        obs_space = self._vec.single_observation_space
        assert isinstance(act_space, gym.spaces.Box) and isinstance(obs_space, gym.spaces.Box)
        self.num_envs = num_envs
        self.obs_dim = int(np.prod(obs_space.shape))
        self.act_dim = int(np.prod(act_space.shape))
        self.action_low = np.asarray(act_space.low, dtype=np.float64).reshape(-1)
        self.action_high = np.asarray(act_space.high, dtype=np.float64).reshape(-1)
        spec = first.spec
        self.max_episode_steps = int(spec.max_episode_steps or 1000) if spec else 1000
        unwrapped = first.unwrapped
        self.frame_skip = mujoco_frame_skip(unwrapped)
        model = getattr(unwrapped, "model", None)
        if self.frame_skip is not None and model is not None:
            self.dt = float(self.frame_skip * model.opt.timestep)
        else:
            self.dt = float(
                getattr(unwrapped, "dt", 1.0 / unwrapped.metadata.get("render_fps", 30))
            )

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
