"""Snapshots of MuJoCo-based gymnasium envs, so the gymnasium backend resumes bit-for-bit.

What makes the next ``env.step`` of such an env deterministic, and therefore what is saved, per
sub-env:

- the MjData integration state: ``qpos``, ``qvel``, ``act`` (actuator activations, if any),
  ``qacc_warmstart`` (the constraint solver starts from it, so it changes the next step's
  result in the last bits) and ``time``;
- ``np_random``'s bit-generator state (episode resets after a time limit draw from it);
- the ``TimeLimit`` wrapper's ``_elapsed_steps`` (when the current episode is truncated).

Controls need no saving: ``do_simulation`` overwrites ``data.ctrl`` before every step.
Arrays are stacked over sub-envs as (N, …); the RNG states are JSON (Python ints).

That list is the whole state only of envs whose code we know: gymnasium's own MuJoCo envs and
robopg's. Another package's MuJoCo env may keep state outside MjData (gymnasium-robotics'
PointMaze keeps its goal in a Python attribute), so such envs get no snapshot and a resume
starts fresh episodes rather than continue from a half-restored one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium.wrappers import TimeLimit

from robopg.errors import EnvError

_DATA_FIELDS = ("qpos", "qvel", "act", "qacc_warmstart")


def _time_limit(env: gym.Env) -> TimeLimit | None:
    while isinstance(env, gym.Wrapper):
        if isinstance(env, TimeLimit):
            return env
        env = env.env
    return None


#: modules whose MuJoCo envs keep their whole dynamic state in what ``gym_mujoco_state`` saves
_KNOWN_ENV_MODULES = ("gymnasium.envs.mujoco.", "robopg.envs.")


def _mujoco_data(env: gym.Env) -> Any:
    unwrapped = env.unwrapped
    if not type(unwrapped).__module__.startswith(_KNOWN_ENV_MODULES):
        return None
    data = getattr(unwrapped, "data", None)
    return data if isinstance(data, mujoco.MjData) else None


def gym_mujoco_state(envs: Sequence[gym.Env]) -> dict[str, Any] | None:
    """State of every sub-env (see the module docstring), or None if any is not a MuJoCo env
    of gymnasium's or robopg's."""
    datas = [_mujoco_data(env) for env in envs]
    if not datas or any(d is None for d in datas):
        return None
    state: dict[str, Any] = {
        f"gym.{name}": np.stack([np.array(getattr(d, name), dtype=np.float64) for d in datas])
        for name in _DATA_FIELDS
    }
    state["gym.time"] = np.array([d.time for d in datas], dtype=np.float64)
    limits = [_time_limit(env) for env in envs]
    state["gym.elapsed_steps"] = np.array(
        [-1 if lim is None or lim._elapsed_steps is None else lim._elapsed_steps for lim in limits],
        dtype=np.int64,
    )
    state["gym_rng"] = [env.unwrapped.np_random.bit_generator.state for env in envs]
    return state


def load_gym_mujoco_state(task: str, envs: Sequence[gym.Env], state: dict[str, Any]) -> None:
    """Write a ``gym_mujoco_state`` snapshot back into freshly reset envs of the same task."""
    try:
        arrays = {name: np.asarray(state[f"gym.{name}"]) for name in (*_DATA_FIELDS, "time")}
        elapsed = np.asarray(state["gym.elapsed_steps"])
        rngs = list(state["gym_rng"])
    except KeyError as exc:
        raise EnvError(
            f"The saved environment state for '{task}' lacks {exc}; it was written by a "
            "different env backend (resume with the same --engine)."
        ) from None
    if len(rngs) != len(envs) or arrays["qpos"].shape[0] != len(envs):
        raise EnvError(
            f"The saved environment state holds {len(rngs)} envs of '{task}', this run has "
            f"{len(envs)}; resume with the same --num-envs."
        )
    for i, env in enumerate(envs):
        data = _mujoco_data(env)
        assert data is not None
        model = env.unwrapped.model  # type: ignore[attr-defined]
        data.qpos[:] = arrays["qpos"][i]
        data.qvel[:] = arrays["qvel"][i]
        data.act[:] = arrays["act"][i]
        data.time = float(arrays["time"][i])
        # Recompute derived quantities (positions, contacts) the way gymnasium's set_state does,
        # then restore the warm start, which mj_forward must not be left to decide.
        mujoco.mj_forward(model, data)
        data.qacc_warmstart[:] = arrays["qacc_warmstart"][i]
        env.unwrapped.np_random.bit_generator.state = rngs[i]
        limit = _time_limit(env)
        if limit is not None and elapsed[i] >= 0:
            limit._elapsed_steps = int(elapsed[i])  # type: ignore[assignment]
