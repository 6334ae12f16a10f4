"""Controller.attach: plain mujoco.mj_step under the callback reproduces the gymnasium env."""

import dataclasses
from pathlib import Path

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from trajectories import attach_trajectory, env_trajectory

from robopg.deploy.controller import Controller
from robopg.errors import EnvError


@pytest.mark.parametrize(
    ("source", "task", "gym_id", "frame_skip", "steps"),
    [
        ("tiny", "reacher", "Reacher-v5", 2, 50),
        ("pusher", "pusher", "Pusher-v5", 5, 40),
        ("reacher3", "reacher3", "robopg/Reacher3-v0", 2, 50),
        ("arm7", "arm7", "robopg/Arm7-v0", 5, 40),
        ("panda-reach", "panda-reach", "robopg/PandaReach-v0", 4, 150),
        ("panda-push", "panda-push", "robopg/PandaPush-v0", 4, 200),  # with contacts
    ],
)
def test_mj_step_with_callback_matches_env(
    tiny_run: Path, source: str, task: str, gym_id: str, frame_skip: int, steps: int
) -> None:
    ctrl = Controller.load(tiny_run if source == "tiny" else source, safety=False)
    if ctrl.action != "torque":
        # The shipped panda-reach acts through the joint interface, which gymnasium's env does
        # not offer: its network, read as a torque policy, is a state-dependent action stream
        # for this torque path (tests/engines/test_actions.py retraces the joint interface).
        ctrl = dataclasses.replace(ctrl, action="torque")
    expected = env_trajectory(ctrl, gym_id, seed=3, steps=steps)
    got = attach_trajectory(ctrl, task, seed=3, steps=steps, frame_skip=frame_skip)
    np.testing.assert_array_equal(got, expected)
    assert np.abs(expected[-1] - expected[0]).max() > 0.05  # the arm really moved


@pytest.mark.parametrize(
    ("task", "gym_id"),
    [
        ("reacher", "Reacher-v5"),
        ("pusher", "Pusher-v5"),
        ("reacher3", "robopg/Reacher3-v0"),
        ("arm7", "robopg/Arm7-v0"),
        ("panda-reach", "robopg/PandaReach-v0"),
        ("panda-push", "robopg/PandaPush-v0"),
    ],
)
def test_reset_data_is_the_env_reset(task: str, gym_id: str) -> None:
    """Same seed, same start: qpos, qvel, the mocap target and the first observation."""
    from robopg.deploy.mujoco_control import reset_data, task_model

    env = gym.make(gym_id)
    model, data = task_model(task)
    for seed in (0, 3, 12345):
        obs, _ = env.reset(seed=seed)
        src = env.unwrapped.data  # type: ignore[attr-defined]
        got = reset_data(task, model, data, seed)
        np.testing.assert_array_equal(got, obs)
        np.testing.assert_array_equal(data.qpos, src.qpos)
        np.testing.assert_array_equal(data.qvel, src.qvel)
        np.testing.assert_array_equal(data.mocap_pos, src.mocap_pos)
        assert data.time == src.time == 0.0
    env.close()


def test_detach_removes_the_callback(tiny_run: Path) -> None:
    ctrl = Controller.load(tiny_run)
    from robopg.deploy.mujoco_control import task_model

    model, data = task_model("reacher")
    with ctrl.attach(model, data):
        mujoco.mj_step(model, data)
        assert np.any(data.ctrl != 0)
    data.ctrl[:] = 0.0
    mujoco.mj_step(model, data)
    assert np.all(data.ctrl == 0)


def test_attach_refuses_a_model_of_another_arm(tiny_run: Path) -> None:
    from robopg.deploy.mujoco_control import task_model

    model, data = task_model("pusher")
    with pytest.raises(EnvError, match="actuators"):
        Controller.load(tiny_run).attach(model, data)


def test_attach_refuses_a_task_without_an_arm(tiny_run: Path) -> None:
    """Any object with task/act_dim/act can be attached; the task must be in the table."""
    from robopg.deploy.mujoco_control import Attachment, task_model

    model, data = task_model("reacher")

    class Pendulum:
        task, act_dim = "InvertedPendulum-v5", 1

        def act(self, obs: np.ndarray) -> np.ndarray:
            return np.zeros(1)

    with pytest.raises(
        EnvError, match="attach\\(\\) supports the tasks arm7, panda-push, panda-reach"
    ):
        Attachment(Pendulum(), model, data)
    with pytest.raises(EnvError, match="supports the tasks"):
        task_model("InvertedPendulum-v5")
