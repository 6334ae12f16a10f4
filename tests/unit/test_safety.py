"""The deployment safety layer: never a NaN out, exact clamp and rate limit, flags and counters,
off = today's controller, and attach() with it on."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from trajectories import attach_trajectory, env_trajectory

from robopg.deploy.controller import Controller
from robopg.deploy.safety import FiniteGuard, SafetyLayer, safety_for_task
from robopg.envs.franka import PANDA_LIMITS
from robopg.policies import POLICY_DIR

SHIPPED = sorted(p.stem for p in POLICY_DIR.glob("*.safetensors"))
HOME = np.array([0.0, -np.pi / 4, 0.0, -3 * np.pi / 4, 0.0, np.pi / 2, np.pi / 4])


def test_safety_is_on_for_the_panda_tasks_only() -> None:
    for task in SHIPPED:
        ctrl = Controller.load(task)
        # a Panda torque policy gets the full layer; under the joint or Cartesian interface the
        # impedance law bounds torque, speed and torque rate, so only the finite guard is left
        assert (ctrl.safety is not None) == task.startswith("panda")
        full = task.startswith("panda") and ctrl.action == "torque"
        assert isinstance(ctrl.safety, SafetyLayer) == full
        assert isinstance(ctrl.safety, FiniteGuard) == (task.startswith("panda") and not full)
        assert Controller.load(task, safety=False).safety is None
    assert isinstance(Controller.load("reacher", safety=True).safety, FiniteGuard)


@pytest.mark.parametrize("task", SHIPPED)
def test_no_nonfinite_observation_gives_a_nonfinite_action(task: str) -> None:
    """Every shipped policy with its layer on: NaN, +Inf or -Inf in any single component of an
    observation (and whole rows of them) gives a finite action, flagged; the clean rows act as
    they would alone."""
    ctrl = Controller.load(task, safety=True)
    assert ctrl.safety is not None
    clean = np.random.default_rng(0).normal(0, 0.3, size=(1, ctrl.obs_dim))
    if task.startswith("panda"):  # a valid Panda state: cos, sin of the home pose, at rest
        clean[0, 0:7], clean[0, 7:14], clean[0, 14:21] = np.cos(HOME), np.sin(HOME), 0.0
    for bad in (np.nan, np.inf, -np.inf):
        obs = np.repeat(clean, ctrl.obs_dim + 2, axis=0)
        obs[np.arange(ctrl.obs_dim), np.arange(ctrl.obs_dim)] = bad  # one component per row
        obs[ctrl.obs_dim] = bad  # a whole row
        ctrl.reset()
        act = ctrl.act_batch(obs)
        assert np.isfinite(act).all()
        assert ctrl.safety.flag.tolist() == [True] * (ctrl.obs_dim + 1) + [False]
        assert np.isfinite(ctrl.act(np.full(ctrl.obs_dim, bad))).all()
    assert ctrl.safety.counts["nonfinite_obs"] == 3 * (ctrl.obs_dim + 2)


@pytest.mark.parametrize("task", SHIPPED)
def test_off_is_todays_controller(task: str) -> None:
    """safety=False: the bare policy (normalise → MLP → clip), recomputed here by hand."""
    ctrl = Controller.load(task, safety=False)
    obs = np.random.default_rng(1).normal(0, 2, size=(64, ctrl.obs_dim))
    h = np.clip((obs - ctrl.obs_mean) / ctrl.obs_std, -ctrl.obs_clip, ctrl.obs_clip)
    acts = {"tanh": np.tanh, "relu": lambda x: np.maximum(x, 0.0)}
    for i, (w, b) in enumerate(zip(ctrl.weights, ctrl.biases, strict=True)):
        h = h @ w.T + b
        if i < len(ctrl.weights) - 1:
            h = acts.get(ctrl.activation, lambda x: np.where(x > 0, x, np.expm1(x)))(h)
    np.testing.assert_allclose(
        ctrl.act_batch(obs), np.clip(h, ctrl.action_low, ctrl.action_high), rtol=0, atol=1e-12
    )
    np.testing.assert_array_equal(ctrl.act_batch(obs), ctrl.policy_batch(obs))


def layer() -> SafetyLayer:
    found = safety_for_task("panda-reach")
    assert isinstance(found, SafetyLayer)
    return found


def state(n: int, qvel: float = 0.0) -> np.ndarray:
    obs = np.zeros((n, 30))
    obs[:, 0:7], obs[:, 7:14], obs[:, 14:21] = np.cos(HOME), np.sin(HOME), qvel
    return obs


def test_rate_limit_and_clamp_hold_exactly() -> None:
    """A hand-made torque sequence on joints 1 and 5 (the guard made inert by a huge inertia):
    each step moves at most 990 N·m/s · 20 ms = 19.8 N·m toward the command, clamped to
    86 / 11.5 N·m."""
    safe = dataclasses.replace(layer(), inertia=1e12)
    assert safe.dt == 0.02 and safe.gear.tolist() == [87] * 4 + [12] * 3
    wanted = [(1.0, 1.0), (1.0, 1.0), (1.0, 1.0), (1.0, 1.0), (1.0, 1.0), (-0.1, 0.5), (0.0, 0.0)]
    expected = [
        (19.8, 11.5),
        (39.6, 11.5),
        (59.4, 11.5),
        (79.2, 11.5),
        (86.0, 11.5),
        (86.0 - 19.8, 6.0),
        (86.0 - 39.6, 0.0),
    ]
    for (a1, a5), (t1, t5) in zip(wanted, expected, strict=True):
        act = np.zeros((1, 7))
        act[0, 0], act[0, 4] = a1, a5
        out = safe.filter(state(1), act, np.zeros(1, dtype=bool)) * safe.gear
        assert out[0, 0] == pytest.approx(t1, abs=1e-12)
        assert out[0, 4] == pytest.approx(t5, abs=1e-12)
        assert not out[0, [1, 2, 3, 5, 6]].any()
    c = safe.counts
    assert c["steps"] == 7 and c["held"] == 0 and c["guarded"] == 0
    assert c["clamped"] == 5 + 5  # joint 1 on steps 0-4 (87 > 86), joint 5 on steps 0-4
    assert c["rate_limited"] == 4 + 2  # joint 1 on steps 0-3 and 5-6


def test_an_untouched_action_is_the_policys_bit_for_bit() -> None:
    safe = layer()
    act = np.array([[0.01, -0.02, 0.003, 0.1, -0.3, 0.2, 0.0001]])  # small: inside every limit
    out = safe.filter(state(1), act, np.zeros(1, dtype=bool))
    assert out.tobytes() == act.tobytes() and not safe.intervened.any()


def test_the_velocity_guard_brakes_a_joint_near_its_limit() -> None:
    """Joint 2 at 2.0 rad/s (0.175 under its limit, inside the 0.3 guard margin): pushing on is
    refused and a braking torque comes out; at 0.5 rad/s the same push passes."""
    safe = layer()
    obs = state(2)
    obs[0, 15], obs[1, 15] = 2.0, 0.5
    push = np.zeros((2, 7))
    push[:, 1] = 0.1  # 8.7 N·m along the motion
    out = safe.filter(obs, push, np.zeros(2, dtype=bool)) * safe.gear
    assert out[0, 1] == pytest.approx(-19.8)  # braking, as fast as the rate limit allows
    assert out[1, 1] == pytest.approx(8.7)
    assert safe.counts["guarded"] == 1
    fast = dataclasses.replace(layer(), torque_rate=1e9)  # the guard's own answer
    out = fast.filter(obs, push, np.zeros(2, dtype=bool)) * fast.gear
    assert out[0, 1] == pytest.approx(-87 / 0.5 * (2.0 - (2.175 - 0.3)))  # k_v · overshoot
    # under v_max: at most √(2 · 990 N·m/s · 0.1 kg·m² · (1.875 − 0.5 rad/s)) pushing on
    push[1, 1] = 1.0
    fresh = layer()
    out = fresh.filter(obs, push, np.zeros(2, dtype=bool)) * fresh.gear
    assert out[1, 1] == pytest.approx(np.sqrt(2 * 990 * 0.1 * (2.175 - 0.3 - 0.5)))


def test_bad_rows_are_held_flagged_and_counted() -> None:
    """Out of range by more than the margins: a joint past its range, a velocity past its
    limit + 2 rad/s, angles off the unit circle. Held rows ramp to zero torque."""
    safe = layer()
    obs = state(4)
    q = HOME.copy()
    q[3] = PANDA_LIMITS.position_high[3] + 0.2
    obs[0, 0:7], obs[0, 7:14] = np.cos(q), np.sin(q)
    obs[1, 14] = 2.175 + 2.5
    obs[2, 0:7] *= 2.0
    act = np.full((4, 7), 0.1)
    held = safe.check(obs)
    assert held.tolist() == [True, True, True, False]
    first = safe.filter(obs, act, held) * safe.gear
    assert not first[:3].any() and first[3, 0] == pytest.approx(8.7)
    held_again = np.array([False, False, False, True])  # row 3 now held: ramps down from 8.7
    second = safe.filter(state(4), act, held_again) * safe.gear
    assert not second[3].any()
    assert safe.flag.tolist() == [False, False, False, True]
    assert safe.counts["out_of_range_obs"] == 3 and safe.counts["held"] == 4


def test_joint_state_reads_angles_past_pi() -> None:
    """Joint 6 runs to 3.75 rad, past π: atan2 alone would read it as −2.53."""
    safe = layer()
    q = HOME.copy()
    q[5] = 3.7
    obs = state(1)
    obs[0, 0:7], obs[0, 7:14] = np.cos(q), np.sin(q)
    got, _ = safe.joint_state(obs)
    np.testing.assert_allclose(got[0], q, atol=1e-12)
    assert not safe.check(obs).any()


def _torque_reach(safety: bool) -> Controller:
    """The shipped panda-reach network (trained for the joint interface) read as a torque
    policy: a strong, state-dependent torque stream, with the torque layer or without."""
    ctrl = dataclasses.replace(Controller.load("panda-reach", safety=False), action="torque")
    return dataclasses.replace(ctrl, safety=safety_for_task("panda-reach") if safety else None)


def test_attach_with_safety_on_reproduces_the_env() -> None:
    """A torque policy through its layer (which intervenes): the callback and the env step the
    same safe controller bit for bit, attach() resetting it at the reset."""
    ctrl = _torque_reach(safety=True)
    expected = env_trajectory(ctrl, "robopg/PandaReach-v0", 3, 60)
    assert ctrl.safety is not None and ctrl.safety.counts["rate_limited"] > 0
    got = attach_trajectory(ctrl, "panda-reach", 3, 60)
    np.testing.assert_array_equal(got, expected)


def test_a_policy_that_never_triggers_it_is_untouched(tmp_path: Path) -> None:
    """A gentle policy (the shipped one's output layer scaled by 1/200): with the layer on,
    attach() retraces the env run of the bare policy bit for bit, and nothing intervened."""
    bare = _torque_reach(safety=False)
    gentle = dataclasses.replace(
        bare,
        weights=[*bare.weights[:-1], bare.weights[-1] / 200],
        biases=[*bare.biases[:-1], bare.biases[-1] / 200],
    )
    guarded = dataclasses.replace(gentle, safety=safety_for_task("panda-reach"))
    expected = env_trajectory(gentle, "robopg/PandaReach-v0", 3, 150)
    got = attach_trajectory(guarded, "panda-reach", 3, 150)
    np.testing.assert_array_equal(got, expected)
    assert guarded.safety is not None and guarded.safety.counts["intervened"] == 0
    assert np.abs(expected[-1] - expected[0]).max() > 0.05  # the arm moved
