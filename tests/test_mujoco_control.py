"""Controller.attach: plain mujoco.mj_step under the callback reproduces the gymnasium env."""

from pathlib import Path

import gymnasium as gym
import mujoco
import numpy as np
import pytest

from robopg.controller import Controller
from robopg.errors import EnvError


def _env_trajectory(ctrl: Controller, gym_id: str, seed: int, steps: int) -> list[np.ndarray]:
    env = gym.make(gym_id)
    obs, _ = env.reset(seed=seed)
    qpos = [env.unwrapped.data.qpos.copy()]  # type: ignore[attr-defined]
    for _ in range(steps):
        obs, *_ = env.step(ctrl.act(obs))
        qpos.append(env.unwrapped.data.qpos.copy())  # type: ignore[attr-defined]
    env.close()
    return qpos


def _callback_trajectory(
    ctrl: Controller, gym_id: str, seed: int, steps: int, frame_skip: int
) -> list[np.ndarray]:
    """Same start state as the env's reset, then nothing but mj_step with the callback."""
    env = gym.make(gym_id)
    env.reset(seed=seed)
    model = env.unwrapped.model  # type: ignore[attr-defined]
    src = env.unwrapped.data  # type: ignore[attr-defined]
    data = mujoco.MjData(model)
    data.qpos[:], data.qvel[:] = src.qpos, src.qvel
    mujoco.mj_forward(model, data)
    qpos = [data.qpos.copy()]
    with ctrl.attach(model, data):
        for _ in range(steps):
            for _ in range(frame_skip):
                mujoco.mj_step(model, data)
            qpos.append(data.qpos.copy())
    env.close()
    return qpos


@pytest.mark.parametrize(
    ("source", "gym_id", "frame_skip", "steps"),
    [("tiny", "Reacher-v5", 2, 50), ("pusher", "Pusher-v5", 5, 40)],
)
def test_mj_step_with_callback_matches_env(
    tiny_run: Path, source: str, gym_id: str, frame_skip: int, steps: int
) -> None:
    ctrl = Controller.load(tiny_run if source == "tiny" else source)
    expected = _env_trajectory(ctrl, gym_id, seed=3, steps=steps)
    got = _callback_trajectory(ctrl, gym_id, seed=3, steps=steps, frame_skip=frame_skip)
    np.testing.assert_array_equal(np.array(got), np.array(expected))
    assert np.abs(expected[-1] - expected[0]).max() > 0.05  # the arm really moved


def test_detach_removes_the_callback(tiny_run: Path) -> None:
    ctrl = Controller.load(tiny_run)
    from robopg.mujoco_control import task_model

    model, data = task_model("reacher")
    with ctrl.attach(model, data):
        mujoco.mj_step(model, data)
        assert np.any(data.ctrl != 0)
    data.ctrl[:] = 0.0
    mujoco.mj_step(model, data)
    assert np.all(data.ctrl == 0)


def test_attach_refuses_a_model_of_another_arm(tiny_run: Path) -> None:
    from robopg.mujoco_control import task_model

    model, data = task_model("pusher")
    with pytest.raises(EnvError, match="actuators"):
        Controller.load(tiny_run).attach(model, data)
