"""The Franka Panda's low-level control laws: joint impedance, Cartesian steps by IK, and OSC.

These are the laws a robot user deploys below a policy (``robopg.envs.actions``):

- ``joint``: the policy moves a joint-position target q* by at most ``VELOCITY_MARGIN`` ·
  v_max · dt per 50 Hz control step (so the target never asks for more than 90 % of Franka's
  joint velocity limits), kept ``RANGE_MARGIN`` inside each joint's range and within
  ``TRACKING_BOUND`` of the measured angle (so the law stores no large error for a contact's
  release to turn into speed); at every physics
  substep (5 ms) the actuators apply Franka's joint impedance law on top of gravity
  compensation (the MJCF's ``gravcomp``), with the torque and its rate clamped:

      τ_k = clip(K (q*_f − q) − D q̇,  τ_{k−1} ± r·h,  ±τ_max),    dq*_f/dt = (q* − q*_f) / τ_f,

  where q*_f is the target through a first-order low-pass filter, as libfranka filters
  commands, h the substep and r = ``TORQUE_RATE_BOUND`` (libfranka's ``limitRate`` clamps a
  torque command the same way, on by default). MuJoCo runs the law inside the physics: a
  ``general`` actuator with gain K, bias (0, −K, −D), ``filterexact`` dynamics of time constant
  τ_f and a force range is exactly that law once the force range of each substep is
  τ_{k−1} ± r·h within ±τ_max (``JointTargetLaw.torque_range``: one (k, 7) numpy operation
  between substeps in the batched engine, one kernel on MuJoCo Warp, a line in ``attach()``'s
  callback). Why the rate clamp: a contact (the hand meeting the puck or the table) jumps q̇
  within a substep, and −D q̇ follows it at any rate; the clamp is what keeps such a step inside
  Franka's 1000 N·m/s, as the robot's own limiter would.
- ``cartesian``: the policy moves the flange by at most ``CARTESIAN_STEP`` per axis per step;
  damped least squares on the flange's position Jacobian turns the displacement (plus a small
  pull of the redundant joints towards Franka's ready pose) into a change of the same joint
  target, scaled down as a whole if it would exceed the joint target's rate bound, then the
  same impedance actuators. This is panda-gym's design (IK below a Cartesian step), chosen
  over the operational-space law because that law needs the Jacobian and mass matrix at every
  substep: a Python loop of linear algebra per substep in the batched engine.
- ``osc_action``: the operational-space law of the panda-reach baseline
  (``benchmarks/panda_baseline.py``), torque at 50 Hz; kept here so the baseline and any
  controller share one implementation.

Gains (``JOINT_STIFFNESS``, ``JOINT_DAMPING``, ``TARGET_FILTER_TIME``): K is half of Franka's
example joint impedance gains (libfranka ``joint_impedance_control``: k = 600, 600, 600, 600,
250, 150, 50) and D makes each joint critically damped (ζ = D / 2√(K·M_ii) = 1) at the ready pose
with the model's inertia (``tests/engines/test_actions.py`` checks it). Why half, and τ_f = 50 ms
rather than libfranka's 100 Hz filter: libfranka filters a 1 kHz command that is already smooth;
here the target moves in 50 Hz steps of up to 0.04 rad, and the torque rate of the law is about
K·(dq*_f/dt − q̇). With Franka's full K a policy reversing every joint at full speed drives it
past the 1000 N·m/s torque-rate limit; half K and a 50 ms filter keep it under without the
clamp ever acting in free motion (measured in ``benchmarks/ACTIONS.md``, tested on random
full-scale actions), so the clamp changes only contact steps.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import mujoco
import numpy as np

from robopg.envs.batched import ArmTask
from robopg.envs.franka import PANDA_LIMITS
from robopg.envs.panda import PANDA_HOME, VELOCITY_LIMITS
from robopg.errors import EnvError

#: the joint frames an ``ActionLaw.command`` is given, as a law's ``joint_step`` takes them: body
#: positions (k, nbody, 3), joint anchors and joint axes (k, njnt, 3)
Frames = tuple[np.ndarray, np.ndarray, np.ndarray]

#: the arm's degrees of freedom: the first 7 joints, DoFs and actuators of both Panda models
ARM = 7

#: joint stiffness K (N·m/rad): half of libfranka's example joint impedance gains
JOINT_STIFFNESS = np.array([300.0, 300.0, 300.0, 300.0, 125.0, 75.0, 25.0])

#: joint damping D (N·m·s/rad): 2√(K·M_ii) at Franka's ready pose (ζ = 1), rounded
JOINT_DAMPING = np.array([27.5, 44.5, 36.0, 35.5, 8.5, 6.8, 3.3])

#: time constant τ_f (s) of the target's first-order low-pass filter (the actuators' dynamics)
TARGET_FILTER_TIME = 0.05

#: the joint target moves at most this fraction of Franka's joint velocity limit: the arm's
#: coupled joints overshoot a target ramp at the full limit by up to 9 % (measured)
VELOCITY_MARGIN = 0.9

#: the torque rate (N·m/s) the law never exceeds between substeps: 1 % inside Franka's 1000, as
#: the deployment safety layer's bound (the commanded torque is rounded to float32 on its way)
TORQUE_RATE_BOUND = 990.0

#: the joint target stays this far (rad) inside each joint's range, as Polymetis keeps its hard
#: limits 0.1 rad inside Franka's: a target at the range end would drive the joint onto it, and
#: a joint at its range end is a reflex (an abort) on the real arm
RANGE_MARGIN = 0.1

#: (7,) rad: the joint target stays within this of the measured angle, δ = ``VELOCITY_MARGIN`` ·
#: v_max · D / K. Why: where the arm is blocked (the hand pressed on the table or the puck) the
#: policy's steps would otherwise carry the target away from q, and the law's stored K·(q* − q)
#: throws the joint past its speed limit the moment it slips free (on panda-push a wrist joint
#: held by the contact, its filtered error 0.5-0.75 rad and torque saturated at 12 N·m, then
#: over 2.61 rad/s for about eight control steps). With the error bounded by δ the law's
#: free-running speed, K·δ / D, is at most ``VELOCITY_MARGIN`` of the limit.
TRACKING_BOUND = VELOCITY_MARGIN * PANDA_LIMITS.velocity * JOINT_DAMPING / JOINT_STIFFNESS

#: the largest flange displacement (m) per axis per control step: 0.6 m/s at 50 Hz. At the
#: ready pose the flange reaches 0.73 m/s in every direction within the joint velocity limits
#: (0.66 within the margin); beyond, the step is scaled down to the joint target's bound.
CARTESIAN_STEP = 0.012

#: damping λ (m) of the least-squares inverse Jᵀ(JJᵀ + λ²I)⁻¹: bounds joint steps near
#: singular poses, negligible elsewhere (JJᵀ's eigenvalues are ~0.1 m² in the workspace)
IK_DAMPING = 0.03

#: fraction of the way to the ready pose the redundant joints' target moves per step (null
#: space of the flange position; time constant 50 steps = 1 s), as the OSC baseline's posture
POSTURE_GAIN = 0.02


def impedance_model(xml_path: Path) -> mujoco.MjModel:
    """The MJCF at ``xml_path`` with its 7 arm motors replaced by joint impedance actuators.

    Each motor (gear = the joint's torque limit τ_max) becomes a ``general`` actuator on the
    same joint: ctrl = the joint target (ctrlrange = the joint's range), force = K·act − K·q −
    D·q̇ with ``act`` the target through ``filterexact`` dynamics of time constant τ_f, clamped
    to ±τ_max. Everything else of the model (inertias, gravcomp, contacts) is unchanged.
    """
    spec = mujoco.MjSpec.from_file(str(xml_path))
    motors = spec.actuators[:ARM]
    if len(motors) != ARM:
        raise EnvError(f"'{xml_path}' has {len(motors)} actuators; the Panda's arm needs {ARM}.")
    for i, act in enumerate(motors):
        limit = float(act.gear[0])
        k, d = float(JOINT_STIFFNESS[i]), float(JOINT_DAMPING[i])
        act.gear = [1.0, 0, 0, 0, 0, 0]
        act.gaintype = mujoco.mjtGain.mjGAIN_FIXED
        act.biastype = mujoco.mjtBias.mjBIAS_AFFINE
        act.dyntype = mujoco.mjtDyn.mjDYN_FILTEREXACT
        act.gainprm = [k] + [0.0] * 9
        act.biasprm = [0.0, -k, -d] + [0.0] * 7
        act.dynprm = [TARGET_FILTER_TIME] + [0.0] * 9
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.forcerange = [-limit, limit]
    model = spec.compile()
    model.actuator_ctrlrange[:ARM] = model.jnt_range[:ARM]
    return model


def impedance_torque(
    target_filtered: np.ndarray,
    qpos: np.ndarray,
    qvel: np.ndarray,
    limit: np.ndarray,
    last: np.ndarray | None = None,
    dt: float = 0.0,
) -> np.ndarray:
    """(…, 7) joint torque of the law, τ = clip(K (q*_f − q) − D q̇, last ± r·dt, ±limit): what
    the model's actuators apply, for a controller outside MuJoCo (a 1 kHz loop on the robot).
    ``last``: the torque commanded ``dt`` seconds before (None: no rate clamp, the first
    command); r = ``TORQUE_RATE_BOUND``."""
    tau = JOINT_STIFFNESS * (target_filtered - qpos) - JOINT_DAMPING * qvel
    if last is not None:
        tau = np.clip(tau, last - TORQUE_RATE_BOUND * dt, last + TORQUE_RATE_BOUND * dt)
    return np.clip(tau, -limit, limit)


def filter_target(target_filtered: np.ndarray, target: np.ndarray, dt: float) -> np.ndarray:
    """The filtered target after ``dt`` seconds: the exact solution of dq*_f/dt = (q* − q*_f)/τ_f
    with q* held (MuJoCo's ``filterexact``), for a controller running the law itself."""
    return target_filtered + (target - target_filtered) * (1.0 - np.exp(-dt / TARGET_FILTER_TIME))


def flange_jacobian(flange: np.ndarray, xanchor: np.ndarray, xaxis: np.ndarray) -> np.ndarray:
    """(k, 3, 7) position Jacobian of the flange from the arm's joint frames: column i is
    axisᵢ × (flange − anchorᵢ) for the revolute joint i; from (k, 3), (k, 7, 3), (k, 7, 3)."""
    cols = np.cross(xaxis, flange[:, None, :] - xanchor)  # (k, 7, 3)
    return np.swapaxes(cols, 1, 2)


def least_squares_step(jac: np.ndarray, dx: np.ndarray, dq0: np.ndarray) -> np.ndarray:
    """(k, 7) joint step dq = dq0 + J⁺(dx − J dq0), J⁺ = Jᵀ(JJᵀ + λ²I)⁻¹: the flange moves by
    about ``dx`` (k, 3) while the joints move by ``dq0`` (k, 7) where the flange allows."""
    jjt = jac @ np.swapaxes(jac, 1, 2) + IK_DAMPING**2 * np.eye(3)
    rhs = dx - (jac @ dq0[:, :, None])[:, :, 0]
    y = np.linalg.solve(jjt, rhs[:, :, None])  # (k, 3, 1)
    return dq0 + (np.swapaxes(jac, 1, 2) @ y)[:, :, 0]


class JointTargetLaw:
    """``joint``: q*ₜ₊₁ = clip(clip(q*ₜ + a·Δ, joint range ∓ ``RANGE_MARGIN``), q ± δ), Δ =
    ``VELOCITY_MARGIN``·v_max·dt, δ = ``TRACKING_BOUND``; the actuators' force range follows
    ``torque_range``."""

    name = "joint"
    #: the policy's action size: one target change per joint
    action_dim = ARM

    def __init__(self, model: mujoco.MjModel, dt: float) -> None:
        self.nu = int(model.nu)
        self.step_bound = VELOCITY_MARGIN * VELOCITY_LIMITS * dt  # (7,) rad per control step
        self.low = model.jnt_range[:ARM, 0] + RANGE_MARGIN
        self.high = model.jnt_range[:ARM, 1] - RANGE_MARGIN
        self.tracking_bound = TRACKING_BOUND.copy()  # (7,) rad: |q* − q| at most this
        #: (nu,) the actuators' torque limit, and the most the torque moves in one substep
        self.torque_limit = np.array(PANDA_LIMITS.torque)
        self.rate_step = TORQUE_RATE_BOUND * float(model.opt.timestep)

    @property
    def action_low(self) -> np.ndarray:
        return -np.ones(self.action_dim)

    @property
    def action_high(self) -> np.ndarray:
        return np.ones(self.action_dim)

    def reset_ctrl(self, qpos: np.ndarray) -> np.ndarray:
        return np.array(qpos[:, :ARM], dtype=np.float64)

    def joint_step(self, actions: np.ndarray, ctrl: np.ndarray, frames: Frames) -> np.ndarray:
        """(k, 7) change of the target asked for by the (k, action_dim) actions (clipped to ±1),
        from the current target ``ctrl`` (k, 7) and the frames ``command`` is given."""
        return np.clip(actions.astype(np.float64), -1.0, 1.0) * self.step_bound

    def command(
        self,
        actions: np.ndarray,
        ctrl: np.ndarray,
        qpos: np.ndarray,
        xpos: np.ndarray,
        xanchor: np.ndarray,
        xaxis: np.ndarray,
    ) -> np.ndarray:
        step = self.joint_step(actions, ctrl, (xpos, xanchor, xaxis))
        target = np.clip(ctrl + step, self.low, self.high)
        q = qpos[:, :ARM]
        return np.clip(target, q - self.tracking_bound, q + self.tracking_bound)

    def torque_range(self, force: np.ndarray, out: np.ndarray) -> None:
        """Write the (k, nu, 2) actuator force range of the next physics substep into ``out``,
        from the (k, nu) actuator force of the last one: force ± ``rate_step``, within the
        torque limit. MuJoCo clamps the law's torque to it, which bounds the torque rate."""
        np.maximum(force - self.rate_step, -self.torque_limit, out=out[..., 0])
        np.minimum(force + self.rate_step, self.torque_limit, out=out[..., 1])

    def check_model(self, model: mujoco.MjModel) -> None:
        dyn = model.actuator_dyntype[:ARM]
        gains = model.actuator_gainprm[:ARM, 0]
        if (
            model.nu != self.nu
            or not np.all(dyn == mujoco.mjtDyn.mjDYN_FILTEREXACT)
            or not np.array_equal(gains, JOINT_STIFFNESS)
        ):
            raise EnvError(
                f"The model's actuators are not the joint impedance law of the '{self.name}' "
                f"interface; build the model with task_model(task, '{self.name}')."
            )


class CartesianLaw(JointTargetLaw):
    """``cartesian``: the joint target moves by dq = z + J⁺(a·``CARTESIAN_STEP`` − J z), z =
    ``POSTURE_GAIN``·(ready pose − q*), scaled as a whole to the joint law's rate bound."""

    name = "cartesian"
    #: the policy's action size: the flange's displacement along x, y, z of the base frame
    action_dim = 3

    def __init__(self, model: mujoco.MjModel, dt: float, flange: int) -> None:
        super().__init__(model, dt)
        self.flange = flange  # body id of the flange ("fingertip")

    def joint_step(self, actions: np.ndarray, ctrl: np.ndarray, frames: Frames) -> np.ndarray:
        xpos, xanchor, xaxis = frames
        dx = np.clip(actions.astype(np.float64), -1.0, 1.0) * CARTESIAN_STEP
        jac = flange_jacobian(xpos[:, self.flange], xanchor[:, :ARM], xaxis[:, :ARM])
        dq = least_squares_step(jac, dx, POSTURE_GAIN * (PANDA_HOME - ctrl))
        over = np.max(np.abs(dq) / self.step_bound, axis=1, keepdims=True)
        return dq / np.maximum(over, 1.0)


def panda_task(arm: type[ArmTask], action: str, model: mujoco.MjModel | None = None) -> ArmTask:
    """A Panda task (``arm``: panda-reach's or panda-push's class) on the interface ``action``,
    with the law set as ``task.law``: on ``model`` (checked to have the law's actuators, as
    ``attach()`` passes the caller's) or on a fresh ``impedance_model`` of the task's MJCF."""
    task = arm(impedance_model(arm.xml_path) if model is None else model)
    dt = float(task.model.opt.timestep * arm.frame_skip)
    law: JointTargetLaw
    if action == "joint":
        law = JointTargetLaw(task.model, dt)
    elif action == "cartesian":
        law = CartesianLaw(task.model, dt, task.body("fingertip"))
    else:
        raise EnvError(f"The Panda tasks have no '{action}' interface beside torque.")
    law.check_model(task.model)
    task.law = law
    return task


def substep_peaks(
    arm: ArmTask, data: mujoco.MjData, actions: Iterable[np.ndarray]
) -> tuple[float, float]:
    """Peak torque rate (N·m/s, between physics substeps) and peak |q̇| / Franka's velocity limit
    of ``arm`` run in plain MuJoCo from ``data``'s state, one (action_dim,) float32 action per
    control step: through ``arm.law`` as the engine runs it, or as ``ctrl`` under torque. What a
    law's gains are judged by (``benchmarks/actions.py``, the rate-bound tests): the engine's
    limit monitor reads control steps, the robot every millisecond."""
    model, law = arm.model, arm.law
    prev = data.qfrc_actuator[:ARM].copy()
    rate = speed = 0.0
    nominal = model.actuator_forcerange.copy()
    for a in actions:
        if law is None:
            data.ctrl[:] = a
        else:
            frames = (data.xpos[None], data.xanchor[None], data.xaxis[None])
            data.ctrl[:] = law.command(a[None], data.ctrl[None], data.qpos[None], *frames)[0]
        for _ in range(arm.frame_skip):
            if law is not None:  # the torque-rate clamp, as the engines set it
                law.torque_range(data.actuator_force[None], model.actuator_forcerange[None])
            mujoco.mj_step(model, data)
            force = data.qfrc_actuator[:ARM].copy()
            rate = max(rate, float(np.abs(force - prev).max()) / model.opt.timestep)
            speed = max(speed, float((np.abs(data.qvel[:ARM]) / VELOCITY_LIMITS).max()))
            prev = force
    model.actuator_forcerange[:] = nominal
    return rate, speed


def osc_action(
    model: mujoco.MjModel,
    data: mujoco.MjData,
    target: np.ndarray,
    kp: float,
    kq: float,
    home: np.ndarray = PANDA_HOME,
) -> np.ndarray:
    """(7,) torque action in [-1, 1] driving the flange (site ``ee``) to ``target`` (3,):

        F = Λ (kp·(target − x) − kd·ẋ),   τ = Jᵀ F + Nᵀ M (kq·(home − q) − kv·q̇),

    J the flange's position Jacobian, Λ = (J M⁻¹ Jᵀ)⁻¹ the task-space inertia, N the dynamically
    consistent null-space projector, kd = 2√kp and kv = 2√kq (critically damped), then
    τ / torque limit clipped to ±1. The arm is the model's first 7 DoFs (panda-push appends
    the puck's two slides); gravity is compensated by the model (``gravcomp``).
    """
    site = model.site("ee").id
    jac = np.zeros((3, model.nv))
    mujoco.mj_jacSite(model, data, jac, None, site)
    jac = jac[:, :ARM]
    mass = np.zeros((model.nv, model.nv))
    mujoco.mj_fullM(model, data, mass)
    mass = mass[:ARM, :ARM]
    qpos, qvel = data.qpos[:ARM], data.qvel[:ARM]
    m_inv = np.linalg.inv(mass)
    lam = np.linalg.inv(jac @ m_inv @ jac.T)
    kd, kv = 2.0 * np.sqrt(kp), 2.0 * np.sqrt(kq)
    force = lam @ (kp * (target - data.site_xpos[site]) - kd * (jac @ qvel))
    jbar = m_inv @ jac.T @ lam  # dynamically consistent pseudo-inverse (7, 3)
    null = np.eye(ARM) - jac.T @ jbar.T
    posture = mass @ (kq * (home - qpos) - kv * qvel)
    tau = jac.T @ force + null @ posture
    return np.clip(tau / model.actuator_gear[:ARM, 0], -1.0, 1.0)
