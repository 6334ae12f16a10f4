"""panda: our MJCF's kinematics against Franka's DH chain, and the panda-reach task (seeding
and the gymnasium twin for panda-push too; the rest of panda-push: test_panda_push.py)."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from trajectories import assert_engine_is_gym

from robopg.envs import TASKS, make_vector_env
from robopg.envs.batched import BatchedArmEnv
from robopg.envs.panda import PANDA_HOME, TARGET_HIGH, TARGET_LOW, PandaReachTask

# Franka's modified DH parameters (a_{i-1}, d_i, alpha_{i-1}) and the flange, written here
# independently of the MJCF (Franka Control Interface documentation).
DH = [
    (0.0, 0.333, 0.0),
    (0.0, 0.0, -np.pi / 2),
    (0.0, 0.316, np.pi / 2),
    (0.0825, 0.0, np.pi / 2),
    (-0.0825, 0.384, -np.pi / 2),
    (0.0, 0.0, np.pi / 2),
    (0.088, 0.0, np.pi / 2),
]
FLANGE = 0.107


def dh_flange(q: np.ndarray) -> np.ndarray:
    """Flange position: the product of Craig's RotX(α)·TransX(a)·RotZ(θ)·TransZ(d)."""

    def rot_x(t: float) -> np.ndarray:
        c, s = np.cos(t), np.sin(t)
        return np.array([[1, 0, 0, 0], [0, c, -s, 0], [0, s, c, 0], [0, 0, 0, 1]])

    def rot_z(t: float) -> np.ndarray:
        c, s = np.cos(t), np.sin(t)
        return np.array([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])

    def trans(x: float, z: float) -> np.ndarray:
        t = np.eye(4)
        t[0, 3], t[2, 3] = x, z
        return t

    pose = np.eye(4)
    for (a, d, alpha), theta in zip(DH, q, strict=True):
        pose = pose @ rot_x(alpha) @ trans(a, 0.0) @ rot_z(theta) @ trans(0.0, d)
    return (pose @ trans(0.0, FLANGE))[:3, 3]


def test_flange_matches_the_dh_chain() -> None:
    model = PandaReachTask.load_model()
    data = mujoco.MjData(model)
    lo, hi = model.jnt_range.T
    rng = np.random.default_rng(0)
    configs = [np.zeros(7), PANDA_HOME] + [rng.uniform(lo, hi) for _ in range(20)]
    for q in configs:
        data.qpos[:] = q
        mujoco.mj_kinematics(model, data)
        np.testing.assert_allclose(data.site("ee").xpos, dh_flange(q), atol=1e-12)
    # a hand-computed point: all zeros is the arm straight up, flange offset by a4 + a7
    # forward and pointing down: x = 0.0825 - 0.0825 + 0.088, z = 0.333 + 0.316 + 0.384 - 0.107
    np.testing.assert_allclose(dh_flange(np.zeros(7)), [0.088, 0.0, 0.926], atol=1e-12)


def test_model_facts() -> None:
    model = PandaReachTask.load_model()
    assert model.nq == model.nv == model.nu == 7
    np.testing.assert_array_equal(model.actuator_gear[:, 0], [87, 87, 87, 87, 12, 12, 12])
    np.testing.assert_array_equal(model.actuator_ctrlrange, [[-1.0, 1.0]] * 7)
    np.testing.assert_array_equal(model.jnt_range[3], [-3.0718, -0.0698])
    np.testing.assert_array_equal(model.jnt_range[5], [-0.0175, 3.7525])
    assert model.jnt_limited.all()
    arm = slice(model.body("link1").id, model.body("fingertip").id + 1)
    assert (model.body_gravcomp[arm] == 1).all()
    # arm mass: Menagerie's seven links plus hand and fingers
    assert model.body_subtreemass[model.body("link1").id] == pytest.approx(
        16.062132 + 0.76, abs=1e-9
    )


def test_gravcomp_holds_the_arm_under_zero_torque() -> None:
    """With gravity compensated a zero action leaves the arm at rest; without it, it falls."""
    task = PandaReachTask.make()
    data = mujoco.MjData(task.model)
    data.qpos[:] = PANDA_HOME
    for _ in range(600):  # 3 s
        mujoco.mj_step(task.model, data)
    assert np.abs(data.qpos - PANDA_HOME).max() < 1e-9
    task.model.body_gravcomp[:] = 0
    data.qpos[:], data.qvel[:] = PANDA_HOME, 0
    for _ in range(600):
        mujoco.mj_step(task.model, data)
    assert np.abs(data.qpos - PANDA_HOME).max() > 0.1


def batched(num_envs: int, threads: int = 2, task: str = "panda-reach") -> BatchedArmEnv:
    env = make_vector_env(task, num_envs, num_threads=threads)
    assert isinstance(env, BatchedArmEnv)
    return env


def test_sizes_reset_and_targets() -> None:
    env = batched(256)
    assert (env.obs_dim, env.act_dim, env.max_episode_steps) == (30, 7, 150)
    assert env.dt * env.max_episode_steps == pytest.approx(3.0)
    obs = env.reset(0)
    theta = np.arctan2(obs[:, 7:14], obs[:, 0:7])
    assert np.abs(theta - PANDA_HOME).max() <= 0.1 + 1e-12
    assert np.abs(obs[:, 14:21]).max() <= 0.005
    target = obs[:, 24:27]
    assert ((target >= TARGET_LOW) & (target <= TARGET_HIGH)).all()
    assert target.std(axis=0).min() > 0.08  # spread over the box
    np.testing.assert_array_equal(obs[:, 27:30], obs[:, 21:24] - target)
    flange = [env.get_data(i).site("ee").xpos for i in range(256)]
    np.testing.assert_array_equal(obs[:, 21:24], flange)


def test_reward_and_success() -> None:
    task = PandaReachTask.make()
    xpos = np.zeros((4, task.model.nbody, 3))
    dists = np.array([0.0, 0.019, 0.021, 0.3])
    xpos[:, task.fingertip, 2] = dists
    act = np.zeros((4, 7), dtype=np.float32)
    act[3] = 1.0
    np.testing.assert_allclose(task.reward(xpos, act), -dists - [0, 0, 0, 0.07], rtol=1e-6)
    obs = np.zeros((4, 30))
    obs[:, 29] = dists
    np.testing.assert_array_equal(PandaReachTask.success(obs), [True, True, False, False])


def test_full_torque_moves_and_joint_limits_hold() -> None:
    env = batched(2)
    env.reset(3)
    lo, hi = env.model.jnt_range.T
    for _ in range(100):
        env.step(np.ones((2, 7)))
    q = env.get_data(0).qpos
    assert np.abs(q - PANDA_HOME).max() > 1.0
    assert (q >= lo - 0.05).all() and (q <= hi + 0.05).all()  # soft limits, small violation


@pytest.mark.parametrize("task", ["panda-reach", "panda-push"])
def test_seeding_is_reproducible(task: str) -> None:
    """Same seed, any thread count: the same trace (panda-push: with contacts)."""

    def run(seed: int, threads: int) -> list[np.ndarray]:
        env = batched(3, threads, task)
        trace = [env.reset(seed)]
        rng = np.random.default_rng(0)
        for _ in range(env.max_episode_steps + 2):
            out = env.step(rng.uniform(-1, 1, size=(3, 7)))
            trace += [out.obs, out.reward]
        return trace

    a, b = run(5, 1), run(5, 2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], run(6, 2)[0])


@pytest.mark.parametrize(
    ("task", "gym_id", "steps"),
    [("panda-reach", "robopg/PandaReach-v0", 150), ("panda-push", "robopg/PandaPush-v0", 200)],
)
def test_gymnasium_registration_checker_and_bitwise_engine(
    task: str, gym_id: str, steps: int
) -> None:
    assert TASKS[task].gym_id == gym_id
    env = gym.make(gym_id)
    assert env.spec is not None and env.spec.max_episode_steps == steps
    check_env(env.unwrapped, skip_render_check=True)
    env.close()
    eng = batched(2, task=task)
    assert_engine_is_gym(eng, gym_id, eng.max_episode_steps + 5, bound=1.2)


def test_robopg_envs_lists_panda_reach() -> None:
    from typer.testing import CliRunner

    from robopg.cli import app
    from robopg.envs import task_rows

    row = {r["task"]: r for r in task_rows()}["panda-reach"]
    assert (row["gym id"], row["obs"], row["action"], row["episode"]) == (
        "robopg/PandaReach-v0",
        30,
        7,
        150,
    )
    assert row["solved"] == -2.02
    result = CliRunner().invoke(app, ["envs"], env={"COLUMNS": "250"})
    assert result.exit_code == 0 and "robopg/PandaReach-v0" in result.output


def test_eval_report_hand_computed() -> None:
    final = np.zeros((4, 30))
    final[:, 27] = [0.001, 0.01, 0.019, 0.059]  # 3 of 4 within 2 cm
    peak = np.zeros((4, 30))
    peak[2, 14 + 5] = 2.61 * 1.5  # joint 6 at 1.5× its velocity limit
    peak[0, 14 + 0] = 2.175  # joint 1 at exactly its limit
    act = np.zeros((4, 7))
    act[1, 3] = 0.8
    act[3, 4] = 0.25
    success, safety = PandaReachTask.eval_report(final, peak, act)
    assert success.startswith("success 75.0% (3/4 within 2 cm at the end)")
    # median of 1, 10, 19, 59 mm is 14.5; 95th percentile 19 + 0.85·40 = 53.0
    assert "median 14.5 mm, 95th pct 53.0 mm" in success
    assert (
        safety == "peak |joint speed| 1.50× Franka's limit (joint 6) · "
        "peak |torque| 0.80× the limit (joint 4)"
    )


def test_eval_keeps_each_episodes_last_obs_and_peaks() -> None:
    """run_episodes' final_obs is the env's last observation; the peaks bound every step."""
    from robopg.deploy.evaluate import run_episodes, task_report

    result = run_episodes("panda-reach", lambda obs: np.zeros((obs.shape[0], 7)), 3, seed=4)
    assert result.final_obs is not None and result.peak_obs is not None
    assert result.peak_action is not None and not result.peak_action.any()
    env = gym.make("robopg/PandaReach-v0")
    for i in range(3):
        obs, _ = env.reset(seed=4 + i)
        peak = np.abs(obs)
        for _ in range(150):
            obs, *_ = env.step(np.zeros(7, dtype=np.float32))
            peak = np.maximum(peak, np.abs(obs))
        np.testing.assert_array_equal(result.final_obs[i], obs)
        np.testing.assert_array_equal(result.peak_obs[i], peak)
    env.close()
    lines = task_report("panda-reach", result)
    assert lines[0].startswith("success 0.0% (0/3") and "peak |torque| 0.00×" in lines[1]
    assert task_report("reacher", result) == []  # tasks without a report print nothing more


def test_robopg_eval_prints_success_and_safety(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from robopg.cli import app
    from robopg.train.trainer import Trainer

    from ..conftest import tiny_config

    cfg = tiny_config(tmp_path, env="panda-reach", steps=1200, steps_per_batch=1200)
    run = Trainer(cfg, show_progress=False).train().run_dir
    result = CliRunner().invoke(app, ["eval", str(run), "--episodes", "2"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "success " in result.output and "within 2 cm at the end" in result.output
    assert "peak |joint speed|" in result.output and "the limit (joint" in result.output
