"""A controller's joint trajectory two ways, for the tests that compare them bit for bit: the
gymnasium env stepping it, and plain ``mujoco.mj_step`` under ``Controller.attach`` from the
env's reset state (``reset_data``). Both return (steps + 1, nq) ``qpos``, the start included.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from robopg.deploy.controller import Controller
from robopg.deploy.mujoco_control import reset_data, task_model


def env_trajectory(ctrl: Controller, gym_id: str, seed: int, steps: int) -> np.ndarray:
    """``qpos`` of the gymnasium env ``gym_id`` reset with ``seed``, stepped by ``ctrl.act``."""
    env = gym.make(gym_id)
    obs, _ = env.reset(seed=seed)
    qpos = [env.unwrapped.data.qpos.copy()]  # type: ignore[attr-defined]
    for _ in range(steps):
        obs, *_ = env.step(ctrl.act(obs))
        qpos.append(env.unwrapped.data.qpos.copy())  # type: ignore[attr-defined]
    env.close()
    return np.array(qpos)


def attach_trajectory(
    ctrl: Controller, task: str, seed: int, steps: int, frame_skip: int = 4, action: str = "torque"
) -> np.ndarray:
    """``qpos`` every ``frame_skip`` substeps of ``task``'s model (its ``action`` interface's)
    from the env's reset state, with nothing but ``mj_step`` and ``ctrl`` attached."""
    model, data = task_model(task, action)
    reset_data(task, model, data, seed, action)
    qpos = [data.qpos.copy()]
    with ctrl.attach(model, data):
        for _ in range(steps):
            for _ in range(frame_skip):
                mujoco.mj_step(model, data)
            qpos.append(data.qpos.copy())
    return np.array(qpos)


def assert_engine_is_gym(engine: Any, gym_id: str, steps: int, bound: float) -> None:
    """``engine`` (a batched engine of N envs) and N ``gym.make(gym_id)`` in a same-step
    autoreset ``SyncVectorEnv`` give identical observations, rewards and flags, bit for bit:
    both reset with seed 17, then ``steps`` steps of float32 actions uniform in ±``bound``."""
    from gymnasium.vector import AutoresetMode, SyncVectorEnv

    n = engine.num_envs
    ref = SyncVectorEnv(
        [lambda: gym.make(gym_id) for _ in range(n)], autoreset_mode=AutoresetMode.SAME_STEP
    )
    assert np.array_equal(engine.reset(17), ref.reset(seed=17)[0])
    rng = np.random.default_rng(2)
    for _ in range(steps):
        a = rng.uniform(-bound, bound, size=(n, engine.act_dim)).astype(np.float32)
        out = engine.step(a)
        obs, rew, term, trunc, _ = ref.step(a)
        assert np.array_equal(out.obs, obs)
        assert np.array_equal(out.reward, rew)
        assert np.array_equal(out.terminated, term)
        assert np.array_equal(out.truncated, trunc)
    ref.close()
