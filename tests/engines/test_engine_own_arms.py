"""reacher3 and arm7: resets, rewards, episode length, seeding, gymnasium registration, render."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from trajectories import assert_engine_is_gym

from robopg.envs import TASKS, make_vector_env
from robopg.envs.arms.arm7 import Arm7Task
from robopg.envs.arms.reacher3 import Reacher3Task
from robopg.envs.batched import BatchedArmEnv

OWN = ["reacher3", "arm7"]


def batched(task: str, num_envs: int, threads: int = 2) -> BatchedArmEnv:
    env = make_vector_env(task, num_envs, num_threads=threads)  # engine="auto" picks the batch
    assert isinstance(env, BatchedArmEnv)
    return env


def test_sizes_and_registry() -> None:
    r3, a7 = batched("reacher3", 2), batched("arm7", 2)
    assert (r3.obs_dim, r3.act_dim, r3.max_episode_steps) == (13, 3, 50)
    assert (a7.obs_dim, a7.act_dim, a7.max_episode_steps) == (23, 7, 100)
    assert np.array_equal(r3.action_high, [1.0, 1.0, 1.0])
    assert np.array_equal(a7.action_low, [-2.0] * 7)
    assert TASKS["reacher3"].gym_id == "robopg/Reacher3-v0"
    assert TASKS["arm7"].gym_id == "robopg/Arm7-v0"


def test_reacher3_reset_within_bounds() -> None:
    env = batched("reacher3", 256)
    obs = env.reset(0)
    theta = np.arctan2(obs[:, 3:6], obs[:, 0:3])
    assert np.abs(theta).max() <= 0.1
    assert np.abs(obs[:, 8:11]).max() <= 0.005
    target = obs[:, 6:8]
    assert np.linalg.norm(target, axis=1).max() < 0.2
    assert target.std(axis=0).min() > 0.05  # targets spread over the disc, not one point


def test_arm7_reset_within_bounds() -> None:
    env = batched("arm7", 256)
    obs = env.reset(0)
    lo, hi = env.model.jnt_range.T
    assert ((obs[:, :7] >= lo) & (obs[:, :7] <= hi)).all()
    assert np.abs(obs[:, :7]).max() <= 0.1
    assert np.abs(obs[:, 7:14]).max() <= 0.005
    shoulder = env.model.body("shoulder_pan").pos  # the pan axis; every other joint follows
    reach = 0.1 + 0.4 + 0.321 + 0.1  # shoulder offset + upper arm + forearm + fingers
    target = obs[:, 17:20]
    assert np.linalg.norm(target - shoulder, axis=1).max() <= reach + 1e-9
    assert target.std(axis=0).min() > 0.05
    assert np.array_equal(obs[:, 20:23], obs[:, 14:17] - target)


@pytest.mark.parametrize("task", OWN)
def test_reward_decreases_with_distance(task: str) -> None:
    env = batched(task, 1)
    spec = env.arm
    assert isinstance(spec, Reacher3Task | Arm7Task)
    xpos = np.zeros((6, env.model.nbody, 3))
    dists = np.array([0.0, 0.01, 0.05, 0.1, 0.2, 0.4])
    xpos[:, spec.fingertip, 0] = dists
    zero = np.zeros((6, env.act_dim), dtype=np.float32)
    reward = spec.reward(xpos, zero)
    assert np.allclose(reward, -dists)
    assert (np.diff(reward) < 0).all()
    # the control cost is quadratic in the action and independent of the distance
    push = np.ones((6, env.act_dim), dtype=np.float32)
    assert np.all(spec.reward(xpos, push) < reward)


@pytest.mark.parametrize("task", OWN)
def test_episode_length_and_never_terminates(task: str) -> None:
    env = batched(task, 3)
    env.reset(1)
    horizon = env.max_episode_steps
    zero = np.zeros((3, env.act_dim))
    for t in range(1, 2 * horizon + 1):
        out = env.step(zero)
        assert not out.terminated.any()
        assert out.truncated.all() == (t % horizon == 0)
        assert out.truncated.any() == (t % horizon == 0)


@pytest.mark.parametrize("task", OWN)
def test_seeding_is_reproducible(task: str) -> None:
    def run(seed: int, threads: int) -> list[np.ndarray]:
        env = batched(task, 4, threads)
        trace = [env.reset(seed)]
        rng = np.random.default_rng(0)
        for _ in range(env.max_episode_steps + 2):
            out = env.step(rng.uniform(-1, 1, size=(4, env.act_dim)))
            trace += [out.obs, out.reward]
        return trace

    same = run(5, 1), run(5, 2)
    assert all(np.array_equal(a, b) for a, b in zip(*same, strict=True))
    other = run(6, 2)
    assert not np.array_equal(same[0][0], other[0])
    # env i is seeded with seed + i: env 1 of seed 5 is env 0 of seed 6
    assert np.array_equal(same[0][0][1], other[0][0])


@pytest.mark.parametrize("task", OWN)
def test_gymnasium_registration_and_checker(task: str) -> None:
    env = gym.make(TASKS[task].gym_id)
    assert env.spec is not None
    assert env.spec.max_episode_steps == batched(task, 1).max_episode_steps
    # the "human" render mode needs a display; rendering is tested headless below
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("task", OWN)
def test_gymnasium_env_is_bitwise_the_engine(task: str) -> None:
    """gym.make(...) and the batched engine run the same task code: identical trajectories."""
    env = batched(task, 3)
    assert_engine_is_gym(env, TASKS[task].gym_id, 2 * env.max_episode_steps + 1, bound=2.5)


RENDER_SCRIPT = textwrap.dedent(
    """
    import gymnasium as gym, mujoco, numpy as np
    from robopg.envs import TASKS, make_vector_env
    for task in ("reacher3", "arm7", "panda-reach", "panda-push"):
        env = make_vector_env(task, 2)
        env.reset(0)
        with mujoco.Renderer(env.model, 120, 160) as renderer:
            renderer.update_scene(env.get_data(1))
            frame = renderer.render()
        assert frame.shape == (120, 160, 3) and frame.std() > 0, task
        genv = gym.make(TASKS[task].gym_id, render_mode="rgb_array")
        genv.reset(seed=0)
        assert genv.render().std() > 0, task
        genv.close()
    print("rendered")
    """
)


def test_own_arms_render_headless(tmp_path: Path) -> None:
    """mujoco.Renderer draws the engine's envs and gymnasium's rgb_array works (EGL)."""
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    proc = subprocess.run(
        [sys.executable, "-c", RENDER_SCRIPT],
        env=env,
        cwd=tmp_path,  # not the checkout, whose robopg/ would shadow the installed package
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0 and ("GL" in proc.stderr or "EGL" in proc.stderr):
        pytest.skip(f"no headless OpenGL here: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stderr
    assert "rendered" in proc.stdout
