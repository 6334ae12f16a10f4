"""panda-push: the Panda, a puck on the table and contacts; resets, reward, success and pushing
that really moves the puck (seeding and the engine = gymnasium bit for bit: test_panda.py)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from scripted_push import push_action, push_direction

from robopg.envs import make_vector_env
from robopg.envs.batched import BatchedArmEnv
from robopg.envs.panda import (
    GOAL_HIGH,
    GOAL_LOW,
    MIN_PUSH,
    PANDA_HOME,
    PUCK_HIGH,
    PUCK_LOW,
    PandaPushTask,
)

GYM_ID = "robopg/PandaPush-v0"


def batched(num_envs: int, threads: int = 2) -> BatchedArmEnv:
    env = make_vector_env("panda-push", num_envs, num_threads=threads)
    assert isinstance(env, BatchedArmEnv)
    return env


def test_sizes_reset_puck_and_goal() -> None:
    env = batched(256)
    assert (env.obs_dim, env.act_dim, env.max_episode_steps) == (35, 7, 200)
    assert env.dt * env.max_episode_steps == pytest.approx(4.0)
    assert env.model.nq == env.model.nv == 9  # 7 arm joints + the puck's two slides
    obs = env.reset(0)
    theta = np.arctan2(obs[:, 7:14], obs[:, 0:7])
    assert np.abs(theta - PANDA_HOME).max() <= 0.1 + 1e-12
    assert np.abs(obs[:, 14:21]).max() <= 0.005
    puck, goal = obs[:, 24:26], obs[:, 28:30]
    assert ((puck >= PUCK_LOW) & (puck <= PUCK_HIGH)).all()
    assert ((goal >= GOAL_LOW) & (goal <= GOAL_HIGH)).all()
    assert np.linalg.norm(puck - goal, axis=1).min() >= MIN_PUSH
    assert puck.std(axis=0).min() > 0.05 and goal.std(axis=0).min() > 0.05
    assert not obs[:, 26:28].any()  # the puck starts at rest
    data = [env.get_data(i) for i in range(256)]
    np.testing.assert_array_equal(
        obs[:, 30:33], obs[:, 21:24] - [d.body("puck").xpos for d in data]
    )
    np.testing.assert_array_equal(obs[:, 33:35], puck - goal)
    # the goal sits at the puck's centre height: the 3-D distance in the reward is planar
    assert all(d.body("target").xpos[2] == d.body("puck").xpos[2] for d in data)


def test_reward_and_success_hand_computed() -> None:
    task = PandaPushTask.make()
    xpos = np.zeros((3, task.model.nbody, 3))
    xpos[:, task.puck] = [[0.5, 0.0, 0.02], [0.5, 0.0, 0.02], [0.4, 0.1, 0.02]]
    xpos[:, task.goal] = [[0.5, 0.04, 0.02], [0.5, 0.3, 0.02], [0.4, 0.1, 0.02]]
    xpos[:, task.fingertip] = [[0.5, -0.05, 0.02], [0.5, 0.0, 0.42], [0.4, 0.1, 0.02]]
    act = np.zeros((3, 7), dtype=np.float32)
    act[2] = 1.0
    want = [-0.04 - 0.5 * 0.05, -0.3 - 0.5 * 0.4, -0.07]
    np.testing.assert_allclose(task.reward(xpos, act), want, rtol=1e-6)
    obs = np.zeros((3, 35))
    obs[:, 33:35] = [[0.049, 0.0], [0.03, 0.04], [0.0, 0.0]]  # 4.9 cm, 5 cm, 0
    np.testing.assert_array_equal(PandaPushTask.success(obs), [True, False, True])


def test_contacts_push_the_puck_and_nothing_else_moves_it() -> None:
    """Zero torque leaves the puck exactly where it is (it rests on the table); a scripted
    push (hand behind the puck, then to where it stands when the puck is at the goal) moves
    it most of the way. Without the contact pairs the hand would pass through it."""
    env = gym.make(GYM_ID)
    model, data = env.unwrapped.model, env.unwrapped.data  # type: ignore[attr-defined]
    obs, _ = env.reset(seed=4)
    start = obs[24:26].copy()
    for _ in range(50):
        obs, *_ = env.step(np.zeros(7, dtype=np.float32))
    np.testing.assert_allclose(obs[24:26], start, atol=1e-6)

    before, after = [], []
    for seed in range(4):
        obs, _ = env.reset(seed=seed)
        goal, u = obs[28:30].copy(), push_direction(obs)
        before.append(np.linalg.norm(goal - obs[24:26]))
        for t in range(200):
            obs, *_ = env.step(push_action(model, data, obs, goal, u, t))
        after.append(np.linalg.norm(obs[33:35]))
    env.close()
    assert np.mean(after) < 0.6 * np.mean(before), (before, after)


def test_eval_report_hand_computed() -> None:
    final = np.zeros((4, 35))
    final[:, 33] = [0.01, 0.03, 0.049, 0.2]  # 3 of 4 pucks within 5 cm of their goals
    peak = np.zeros((4, 35))
    peak[1, 14 + 2] = 2.175 * 2  # joint 3 at twice its velocity limit
    act = np.zeros((4, 7))
    act[0, 6] = 0.5
    success, safety = PandaPushTask.eval_report(final, peak, act)
    assert success.startswith("success 75.0% (3/4 puck within 5 cm of the goal at the end)")
    # median of 10, 30, 49, 200 mm is 39.5; 95th percentile 49 + 0.85·151 = 177.35 (177.3 in float)
    assert "median 39.5 mm, 95th pct 177.3 mm" in success
    assert safety == (
        "peak |joint speed| 2.00× Franka's limit (joint 3) · peak |torque| 0.50× the limit "
        "(joint 7)"
    )
