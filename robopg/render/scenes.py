"""Where a vector env keeps each episode's MjData, so the renderer can draw what the
evaluator's loop (``evaluate.run_episodes``) is running, whichever backend runs it.

The batched engine hands out a copy per env (``BatchedArmEnv.get_data``); the gymnasium backend
holds one MuJoCo env per episode (``env.unwrapped.data``). Both auto-reset an env in the step
its episode ends, so the last state of an episode is gone by the time the loop sees the step:
``replay`` rebuilds it from the state the step started from and the action applied, with the
same ``mj_step`` both backends run (the engine is bit-identical to stepping one MjData alone).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from robopg.errors import RenderError

if TYPE_CHECKING:
    from robopg.envs import VectorEnv


class SceneSource:
    """Per-env MjData of one vector env: ``data(i)`` to draw, ``snapshot``/``replay`` for the
    state a step ends in when the env auto-resets in that same step."""

    def __init__(self, models: list[Any], frame_skip: int, get: Any) -> None:
        import mujoco

        self.models = models
        self.model = models[0]
        self.frame_skip = frame_skip
        self._get = get  # env index → its live MjData, derived fields computed
        self._spec = mujoco.mjtState.mjSTATE_INTEGRATION
        self._scratch = [mujoco.MjData(m) for m in models]

    def data(self, i: int) -> Any:
        """Env ``i``'s current MjData (do not step it: it may be the env's own)."""
        return self._get(i)

    def snapshot(self, i: int) -> np.ndarray:
        """Env ``i``'s integration state (qpos, qvel, ctrl, mocap, …), (mj_stateSize,)."""
        import mujoco

        model = self.models[i]
        state = np.empty(mujoco.mj_stateSize(model, self._spec))
        mujoco.mj_getState(model, self._get(i), state, self._spec)
        return state

    def replay(self, i: int, state: np.ndarray, action: np.ndarray) -> Any:
        """The MjData env ``i`` reaches from ``state`` under ``action`` in one env step."""
        import mujoco

        model, data = self.models[i], self._scratch[i]
        mujoco.mj_setState(model, data, state, self._spec)
        data.ctrl[:] = np.asarray(action, dtype=np.float32)  # as both backends send it
        mujoco.mj_step(model, data, nstep=self.frame_skip)
        mujoco.mj_forward(model, data)  # body poses of the final state, for drawing
        return data


def scene_source(env: VectorEnv) -> SceneSource:
    """The ``SceneSource`` of a batched-engine or gymnasium-backed MuJoCo vector env."""
    from robopg.envs.batched import BatchedArmEnv
    from robopg.envs.gym_vector import GymVectorEnv

    if isinstance(env, BatchedArmEnv):
        return SceneSource([env.model] * env.num_envs, env.arm.frame_skip, env.get_data)
    if isinstance(env, GymVectorEnv):
        subs = env.sub_envs()
        if not all(hasattr(s, "model") and hasattr(s, "data") for s in subs):
            raise RenderError(
                f"'{env.task}' is not a MuJoCo env; robopg renders MuJoCo tasks only."
            )
        if env.frame_skip is None:
            raise RenderError(
                f"robopg cannot tell how '{env.task}' steps MuJoCo; it cannot draw it."
            )
        models = [s.model for s in subs]
        return SceneSource(models, env.frame_skip, lambda i: subs[i].data)
    raise RenderError(
        f"robopg cannot draw '{env.task}' from a {type(env).__name__}; render with engine='gym'."
    )


def default_camera_config(gym_id: str) -> dict[str, Any] | None:
    """The env's own camera (gymnasium's ``default_cam_config``); RenderError if not MuJoCo.

    Read from one throwaway gymnasium env, because the batched engine has no camera of its own.
    """
    import gymnasium as gym

    env = gym.make(gym_id)
    try:
        unwrapped = env.unwrapped
        if not hasattr(unwrapped, "model") or not hasattr(unwrapped, "data"):
            raise RenderError(f"'{gym_id}' is not a MuJoCo env; robopg renders MuJoCo tasks only.")
        renderer = getattr(unwrapped, "mujoco_renderer", None)
        return getattr(renderer, "default_cam_config", None)
    finally:
        env.close()
