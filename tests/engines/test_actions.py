"""The Panda's action interfaces: the joint impedance law, its rate bounds, Cartesian steps,
and the interface travelling with the policy (engines, checkpoint, attach(), warp)."""

import dataclasses
from pathlib import Path

import mujoco
import numpy as np
import pytest
from trajectories import attach_trajectory

from robopg import config
from robopg.config import TrainConfig
from robopg.deploy.controller import Controller
from robopg.deploy.mujoco_control import task_model
from robopg.deploy.safety import FiniteGuard
from robopg.envs import make_vector_env
from robopg.envs.actions import ACTIONS
from robopg.envs.franka_control import (
    CARTESIAN_STEP,
    JOINT_DAMPING,
    JOINT_STIFFNESS,
    RANGE_MARGIN,
    TORQUE_RATE_BOUND,
    TRACKING_BOUND,
    VELOCITY_MARGIN,
    filter_target,
    impedance_torque,
    substep_peaks,
)
from robopg.envs.panda import PANDA_HOME, VELOCITY_LIMITS
from robopg.envs.tasks import TASKS
from robopg.errors import ConfigError, EnvError
from robopg.train.trainer import Trainer

TORQUE_RATE_LIMIT = 1000.0  # N·m/s, Franka's documented limit
TORQUE_LIMIT = np.array([87.0] * 4 + [12.0] * 3)
REACH, PUSH = TASKS["panda-reach"], TASKS["panda-push"]
#: joint-interface steps that swing panda-push's hand down onto the table (shoulder, elbow, wrist)
PRESS_DOWN = [0.0, 0.5, 0.0, -0.5, 0.0, 1.0, 0.0]


def test_torque_stays_the_mjcf_and_its_motors():
    arm = REACH.make_arm("torque")
    assert arm.law is None
    assert np.all(arm.model.actuator_dyntype == mujoco.mjtDyn.mjDYN_NONE)
    np.testing.assert_array_equal(arm.model.actuator_gear[:, 0], TORQUE_LIMIT)
    assert TrainConfig().action == "torque"


def test_impedance_actuators_apply_the_law_and_filter_the_target():
    model, data = task_model("panda-reach", "joint")
    rng = np.random.default_rng(0)
    data.qpos[:] = PANDA_HOME + rng.uniform(-0.3, 0.3, 7)
    data.qvel[:] = rng.uniform(-1, 1, 7)
    data.act[:] = data.qpos + rng.uniform(-0.05, 0.05, 7)
    data.act[0] = data.qpos[0] + 0.5  # far enough that joint 1 saturates at 87 N·m
    data.ctrl[:] = data.act + 0.04
    act0 = data.act.copy()
    mujoco.mj_forward(model, data)
    want = impedance_torque(data.act, data.qpos, data.qvel, TORQUE_LIMIT)
    np.testing.assert_allclose(data.actuator_force, want, rtol=0, atol=1e-9)
    assert data.actuator_force[0] == 87.0
    mujoco.mj_step(model, data)
    np.testing.assert_allclose(
        data.act, filter_target(act0, data.ctrl, model.opt.timestep), rtol=0, atol=1e-12
    )


def test_damping_is_critical_at_the_ready_pose():
    model, data = task_model("panda-reach", "joint")
    data.qpos[:] = PANDA_HOME
    mujoco.mj_forward(model, data)
    mass = np.zeros((model.nv, model.nv))
    mujoco.mj_fullM(model, data, mass)
    zeta = JOINT_DAMPING / (2 * np.sqrt(JOINT_STIFFNESS * np.diag(mass)))
    assert np.all(np.abs(zeta - 1) < 0.03), zeta


def test_joint_target_moves_at_most_its_bound_and_stays_in_range():
    env = make_vector_env("panda-reach", 2, action="joint")
    assert env.law is not None
    env.law.tracking_bound = np.full(7, np.inf)  # type: ignore[attr-defined]  # the range alone
    env.reset(0)
    bound = VELOCITY_MARGIN * VELOCITY_LIMITS * env.dt
    before = env._ctrl.copy()
    env.step(np.array([[5.0] * 7, [-0.5] * 7]))
    np.testing.assert_allclose(env._ctrl - before, [bound, -0.5 * bound], rtol=1e-12)
    for _ in range(200):  # pushing on: every joint ends at its range's end, not beyond
        res = env.step(np.ones((2, 7)))
    low, high = env.model.jnt_range[:, 0], env.model.jnt_range[:, 1]
    assert np.all(env._ctrl >= low + RANGE_MARGIN) and np.all(env._ctrl <= high - RANGE_MARGIN)
    assert np.isclose(env._ctrl, high - RANGE_MARGIN, rtol=0, atol=1e-12).any()
    assert not np.isnan(res.obs).any()
    assert env.limits is not None and env.limits.counts[:, 2].sum() == 0  # no joint at its end


def test_the_target_stays_within_the_tracking_bound_where_the_arm_is_blocked():
    """panda-push's hand pressed down onto the table for 2 s: without the bound the policy's
    steps carry the target away from the blocked joints (the stored K·(q* − q) that throws a
    joint past its speed limit when it slips free); with it |q* − q| ≤ δ at every command, and
    δ's free-running speed K·δ/D is 90 % of each joint's limit."""
    np.testing.assert_allclose(
        TRACKING_BOUND * JOINT_STIFFNESS / JOINT_DAMPING, VELOCITY_MARGIN * VELOCITY_LIMITS
    )
    down = np.tile(PRESS_DOWN, (4, 1))

    def errors(bounded: bool) -> np.ndarray:
        env = make_vector_env("panda-push", 4, action="joint")
        assert env.law is not None
        if not bounded:
            env.law.tracking_bound = np.full(7, np.inf)  # type: ignore[attr-defined]
        env.reset(2)
        out = []
        for _ in range(100):
            q = env._qpos[:, :7].copy()
            env.step(down)
            out.append(np.abs(env._ctrl - q))
        return np.array(out)  # (steps, envs, 7)

    free, bounded = errors(False), errors(True)
    assert free.max() > 1.5 * TRACKING_BOUND.max(), free.max()  # runs away from the blocked joints
    assert np.all(bounded <= TRACKING_BOUND + 1e-12)
    assert np.isclose(bounded, TRACKING_BOUND, rtol=0, atol=1e-12).any()  # and it binds


def test_the_force_range_clamps_the_laws_torque_rate():
    """With the force range ``torque_range`` sets from the last torque, the actuators apply
    ``impedance_torque`` with its rate clamp: a target jump asks for far more than 990 N·m/s,
    the torque ramps by exactly the bound per substep instead."""
    model, data = task_model("panda-reach", "joint")
    arm = REACH.make_arm("joint", model)
    assert arm.law is not None
    data.qpos[:] = PANDA_HOME
    data.ctrl[:] = data.act[:] = PANDA_HOME + 40.0 / JOINT_STIFFNESS  # 40 N·m asked at once
    mujoco.mj_forward(model, data)
    last = np.zeros(7)
    h = model.opt.timestep
    for _ in range(2):  # 2 · 4.95 N·m: under every torque limit
        arm.law.torque_range(last[None], model.actuator_forcerange[None])
        mujoco.mj_forward(model, data)
        want = impedance_torque(data.act, data.qpos, data.qvel, TORQUE_LIMIT, last, h)
        np.testing.assert_allclose(data.actuator_force, want, rtol=0, atol=1e-12)
        np.testing.assert_allclose(np.abs(data.actuator_force - last), TORQUE_RATE_BOUND * h)
        mujoco.mj_step(model, data)
        last = data.actuator_force.copy()
    unclamped = impedance_torque(data.act, data.qpos, data.qvel, TORQUE_LIMIT)
    assert np.all(unclamped > last + 2.0)  # the law asks for more: the clamp held it back


def test_contacts_cannot_break_the_torque_rate_limit():
    """panda-push's hand swung down onto the table at speed, then random full-scale steps: the
    contacts jump q̇, and −D q̇ with it; the clamp keeps every substep under Franka's 1000 N·m/s
    where the law alone (no rate clamp) exceeds it (measured 2168 N·m/s)."""

    def peak(clamp: bool) -> float:
        env = make_vector_env("panda-push", 8, action="joint")
        assert env.limits is not None and env.law is not None
        if not clamp:
            env.law.rate_step = np.inf  # type: ignore[attr-defined]
        env.reset(2)
        rng = np.random.default_rng(0)
        down = np.tile(PRESS_DOWN, (8, 1))
        for t in range(env.max_episode_steps - 1):
            env.step(down if t <= 30 else rng.choice([-1.0, 1.0], (8, 7)))
        return float(env.limits.peaks[:, 4].max()) * TORQUE_RATE_LIMIT

    clamped, free = peak(True), peak(False)
    assert free > TORQUE_RATE_LIMIT, free
    assert clamped <= TORQUE_RATE_BOUND * (1 + 1e-9), clamped


def test_joint_interface_tracks_a_target_and_holds_it():
    env = make_vector_env("panda-reach", 1, action="joint")
    env.reset(4)
    for _ in range(10):  # 10 full steps up: the target moves 10 bounds
        env.step(np.ones((1, 7)))
    target = env._ctrl[0].copy()
    for _ in range(50):  # hold for one second
        res = env.step(np.zeros((1, 7)))
    q = env._qpos[0, :7]
    assert np.abs(q - target).max() < 2e-3, q - target
    assert np.abs(res.obs[0, 14:21]).max() < 0.02  # at rest


def _substep_peaks(action: str, task: str, seed: int, steps: int) -> tuple[float, float]:
    """Peak torque rate (N·m/s, over physics substeps) and peak |q̇| / Franka's limit under
    independent full-scale random actions (±1 on every axis, a fresh sign each step)."""
    arm = TASKS[task].make_arm(action)
    data = mujoco.MjData(arm.model)
    assert arm.law is not None
    arm.reset_data(data, np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 100)
    dim = arm.law.action_dim
    actions = (rng.choice([-1.0, 1.0], dim).astype(np.float32) for _ in range(steps))
    return substep_peaks(arm, data, actions)


@pytest.mark.parametrize("action", ["joint", "cartesian"])
def test_the_engines_limit_monitor_sees_the_substeps_torque_rate(action):
    env = make_vector_env("panda-reach", 1, action=action)
    assert env.limits is not None
    env.reset(0)
    rng = np.random.default_rng(100)  # _substep_peaks' actions for seed 0
    for _ in range(env.max_episode_steps - 1):
        env.step(rng.choice([-1.0, 1.0], (1, env.act_dim)))
    rate, speed = _substep_peaks(action, "panda-reach", seed=0, steps=env.max_episode_steps - 1)
    peaks = env.limits.peaks[0]  # (PEAKS, joints): velocity, …, torque rate
    assert peaks[4].max() * TORQUE_RATE_LIMIT == pytest.approx(rate, rel=1e-9)
    assert peaks[0].max() <= speed  # control steps see a subset of the substeps' speeds
    assert env.limits.counts[0].sum() == 0


@pytest.mark.parametrize("action", ["joint", "cartesian"])
def test_torque_rate_and_speed_stay_in_frankas_limits_under_random_full_scale_actions(action):
    rate, speed = _substep_peaks(action, "panda-reach", seed=0, steps=300)
    assert rate < TORQUE_RATE_LIMIT, rate
    assert speed < 1.0, speed
    assert rate > 100  # the actions really drive the arm


def test_cartesian_steps_move_the_flange_along_the_axis_asked():
    env = make_vector_env("panda-reach", 1, action="cartesian")
    obs = env.reset(0)
    start = obs[0, 21:24].copy()
    for _ in range(20):
        env.step(np.array([[0.5, 0.0, 0.0]]))
    for _ in range(25):
        res = env.step(np.zeros((1, 3)))
    moved = res.obs[0, 21:24] - start
    assert abs(moved[0] - 20 * 0.5 * CARTESIAN_STEP) < 0.01, moved
    # the Jacobian is the arm's, which lags the target: the path bends (measured 1.5 cm in z)
    assert np.abs(moved[1:]).max() < 0.15 * moved[0], moved


@pytest.mark.parametrize("action", ["joint", "cartesian"])
def test_rows_do_not_depend_on_the_batch_and_a_snapshot_resumes_bitwise(action):
    one = make_vector_env("panda-push", 1, action=action, num_threads=1)
    three = make_vector_env("panda-push", 3, action=action, num_threads=2)
    one.reset(7), three.reset(7)
    rng = np.random.default_rng(0)
    acts = rng.uniform(-1, 1, (260, 3, one.act_dim))
    for t in range(120):
        a, b = one.step(acts[t, :1]), three.step(acts[t])
        np.testing.assert_array_equal(a.obs[0], b.obs[0])
    state = three.state_dict()
    ref = [three.step(acts[t]).obs for t in range(120, 260)]  # through an auto-reset
    again = make_vector_env("panda-push", 3, action=action)
    again.load_state_dict(state)
    got = [again.step(acts[t]).obs for t in range(120, 260)]
    np.testing.assert_array_equal(np.array(got), np.array(ref))


def _controller(action: str) -> Controller:
    """The shipped panda-reach policy's network, read as a policy of ``action`` (the first 3
    outputs for cartesian): a policy-like, state-dependent action stream for any interface."""
    ctrl = Controller.load("panda-reach", safety=False)
    if action == "cartesian":
        weights, biases = list(ctrl.weights), list(ctrl.biases)
        weights[-1], biases[-1] = weights[-1][:3], biases[-1][:3]
        ctrl = dataclasses.replace(
            ctrl, weights=weights, biases=biases, action_low=-np.ones(3), action_high=np.ones(3)
        )
    return dataclasses.replace(ctrl, action=action)


@pytest.mark.parametrize(
    ("action", "task", "steps"),
    [("joint", "panda-reach", 149), ("cartesian", "panda-reach", 149), ("joint", "panda-push", 80)],
)
def test_attach_retraces_the_engine_bit_for_bit(action, task, steps):
    ctrl = dataclasses.replace(_controller(action), task=task)
    if task == "panda-push":  # a 35-input network: the shipped panda-push policy
        ctrl = dataclasses.replace(Controller.load("panda-push", safety=False), action=action)
    env = make_vector_env(task, 1, action=action)  # steps < the episode: no auto-reset
    obs = env.reset(3)
    expected = [env.get_data(0).qpos.copy()]
    for _ in range(steps):
        obs = env.step(ctrl.act_batch(obs)).obs
        expected.append(env.get_data(0).qpos.copy())
    got = attach_trajectory(ctrl, task, 3, steps, action=action)
    np.testing.assert_array_equal(got, np.array(expected))
    assert np.abs(expected[-1][:7] - expected[0][:7]).max() > 0.05  # the arm really moved


def test_attach_refuses_the_torque_model_for_a_joint_policy():
    model, data = task_model("panda-reach")
    with pytest.raises(EnvError, match=r"task_model\(task, 'joint'\)"):
        _controller("joint").attach(model, data)


def test_an_interface_a_task_lacks_or_gym_is_one_sentence():
    assert ACTIONS == config.ACTIONS  # the CLI's list, kept apart so it imports no MuJoCo
    with pytest.raises(EnvError, match="offers the action interfaces torque, not 'joint'"):
        make_vector_env("reacher", 1, action="joint")
    with pytest.raises(ConfigError, match="--action must be one of torque, joint, cartesian"):
        TrainConfig(env="panda-reach", action="position").validate()
    with pytest.raises(ConfigError, match="drop --engine gym"):
        TrainConfig(env="panda-reach", action="joint", engine="gym").validate()


def test_the_checkpoint_records_the_interface_and_eval_uses_it(tmp_path: Path):
    from robopg.deploy.evaluate import evaluate_saved_policy

    cfg = TrainConfig().updated(
        {
            "env": "panda-reach",
            "action": "cartesian",
            "steps": 1200,
            "num_envs": 4,
            "steps_per_batch": 600,
            "final_eval_episodes": 2,
            "device": "cpu",
            "out": str(tmp_path),
        },
        "test",
    )
    run = Trainer(cfg, show_progress=False).train().run_dir
    assert run is not None
    ctrl = Controller.load(run)
    assert (ctrl.action, ctrl.act_dim) == ("cartesian", 3)
    assert isinstance(ctrl.safety, FiniteGuard)  # the impedance law clamps the torque
    _, _, result = evaluate_saved_policy(run, episodes=2, seed=0)
    assert result.lengths == [150, 150]
    assert result.peak_action is not None and result.peak_action.shape == (2, 3)


class _Scripted:
    """A controller playing fixed (steps, 7) joint actions in order (the ``ActsOnTask`` shape)."""

    task, act_dim, action = "panda-push", 7, "joint"

    def __init__(self, actions: np.ndarray) -> None:
        self.actions, self.t = actions, 0

    def act(self, obs: np.ndarray) -> np.ndarray:
        self.t += 1
        return self.actions[self.t - 1]


def test_attach_clamps_the_torque_rate_as_the_engine_bit_for_bit():
    """The swing onto the table, where the clamp binds: attach()'s callback sets the force range
    as the engine does, and gives the model its own range back on detach."""
    from robopg.deploy.mujoco_control import Attachment, reset_data

    rng = np.random.default_rng(0)  # env 0 of test_contacts_cannot_break_…: binds at step 186
    down = np.tile(PRESS_DOWN, (31, 1))
    flail = rng.choice([-1.0, 1.0], (160, 8, 7))[:, 0]
    actions = np.concatenate([down, flail]).astype(np.float32)
    env = make_vector_env("panda-push", 1, action="joint")
    env.reset(2)
    expected = [env.get_data(0).qpos.copy()]
    for a in actions:
        env.step(a[None])
        expected.append(env.get_data(0).qpos.copy())
    assert env.limits is not None
    assert env.limits.peaks[0, 4].max() == pytest.approx(TORQUE_RATE_BOUND / TORQUE_RATE_LIMIT)
    model, data = task_model("panda-push", "joint")
    nominal = model.actuator_forcerange.copy()
    reset_data("panda-push", model, data, 2, "joint")
    got = [data.qpos.copy()]
    with Attachment(_Scripted(actions), model, data):
        for _ in actions:
            for _ in range(4):
                mujoco.mj_step(model, data)
            got.append(data.qpos.copy())
    np.testing.assert_array_equal(np.array(got), np.array(expected))
    np.testing.assert_array_equal(model.actuator_forcerange, nominal)
