"""A safety layer between a policy and a torque-controlled arm (the Franka Panda): numpy only.

A policy trained in simulation knows nothing of sensor faults or of the limits at which the real
robot aborts a motion (``robopg.envs.franka``). This layer sits between the observation and the
torque command, every control step, for each row (one arm) of a batch:

1. **Observation check.** A non-finite observation, joint angles whose (cos, sin) pair is off
   the unit circle, a joint outside its range by more than ``position_margin`` or a joint
   velocity beyond its limit by more than ``velocity_margin`` is not a state to act on: the row
   gets the *hold* command and ``flag`` marks it. Hold is zero commanded torque: the robot's
   gravity compensation (MuJoCo's ``gravcomp`` in simulation) keeps the arm up and its joint
   damping brings it to rest. A damping torque −D·θ̇ would brake faster, but it needs the very
   velocity reading that was just found untrustworthy. The policy never sees the bad row (it is
   evaluated on the normaliser's mean instead), so no NaN can reach the command.
2. **Joint guard** (after ros_control's effort soft limits, ``EffortJointSoftLimitsHandle``,
   and Polymetis' safety reflex): near a limit the allowed torque shrinks and then turns into
   a braking one. The allowed velocity v_max is ``velocity − guard_margin``, lowered to
   ``k_position``·(distance left to the range shrunk by ``guard_margin``) near a range end.
   θ̇ₚ = θ̇ + (θ̇ − θ̇_prev) is the velocity one control step ahead at the last step's
   acceleration. Below v_max the torque pushing on is kept under √(2·R·I·(v_max − θ̇ₚ)): the
   most that the rate limit R (below) can ramp back to zero before the velocity reaches v_max,
   for a joint of inertia I (``inertia``: 0.1 kg·m², the model's armature, a lower bound of
   every joint's effective inertia, so the bound errs on the safe side for one joint alone).
   Beyond v_max the torque must brake, by at least ``k_velocity``·(θ̇ₚ − v_max). A plain
   velocity-proportional band (ros_control's law) is not enough here: the rate limit lets the
   torque turn only so fast, so braking must begin well before the limit. The margin is
   0.3 rad/s rather than Polymetis' 0.1 because the guard is per joint and the others' torques
   still push a joint through the coupling of the mass matrix (benchmarks/SAFETY.md).
3. **Torque clamp** to ``torque`` (by default 86 / 11.5 N·m on the Panda: Polymetis' margins of
   1 / 0.5 N·m inside Franka's 87 / 12).
4. **Rate limit**: |τ_t − τ_{t−1}| ≤ ``torque_rate``·dt, τ_{t−1} the last command sent (zero at
   the start). 990 N·m/s, 1 % inside Franka's 1000: the command is rounded to float32 on the
   way to the simulator, and a ramp exactly at the limit could then measure a hair above it.

A command the layer does not change is returned as the policy's action, bit for bit, so a
policy that never nears a limit runs exactly as without the layer. ``counts`` tallies every
intervention since construction (or ``clear_counts``); ``reset`` forgets the per-arm history (a
new episode). Torques are action × ``gear`` (the model's motor gear: an action of 1 is the
rated torque) and actions are returned in the same units the policy produces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from robopg.envs.franka import JointLimits

#: the counters of ``SafetyLayer.counts``: rows (arms × steps) for the first five, joint
#: commands (arms × steps × joints) for the last three
COUNTS = (
    "steps",
    "intervened",
    "held",
    "nonfinite_obs",
    "out_of_range_obs",
    "guarded",
    "clamped",
    "rate_limited",
)


@dataclass
class SafetyLayer:
    """Checks observations and filters torque commands for a batch of arms (see module doc).

    ``obs_joints``: start indices of cos θ, sin θ and θ̇ in the observation, ``limits.joints``
    entries each. ``gear`` (joints,): N·m per unit of action. ``dt``: the control period (s).
    """

    limits: JointLimits
    gear: np.ndarray
    dt: float
    obs_joints: tuple[int, int, int]
    position_margin: float = 0.1  # rad beyond the range before an observation is rejected
    velocity_margin: float = 2.0  # rad/s beyond the limit before an observation is rejected
    guard_margin: float = 0.3  # rad/s and rad: the guard aims this far inside the limits
    inertia: float = 0.1  # kg·m²: a lower bound of every joint's effective inertia
    k_velocity: np.ndarray | None = None  # N·m·s/rad; default: torque limit per 0.5 rad/s
    k_position: float = 10.0  # 1/s: allowed speed toward a range end per rad left to it
    torque: np.ndarray | None = None  # N·m; default: Franka's less Polymetis' margins
    torque_rate: float = 990.0  # N·m/s
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    flag: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    intervened: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __post_init__(self) -> None:
        lim = self.limits
        self.gear = np.asarray(self.gear, dtype=np.float64)[: lim.joints]
        default_torque = lim.torque - np.where(lim.torque > 20.0, 1.0, 0.5)  # 86 / 11.5 N·m
        self._torque = default_torque if self.torque is None else np.asarray(self.torque)
        self._k_velocity = lim.torque / 0.5 if self.k_velocity is None else self.k_velocity
        self._v_max = lim.velocity - self.guard_margin
        self._q_low = lim.position_low + self.guard_margin
        self._q_high = lim.position_high - self.guard_margin
        self._prev_torque = np.zeros((0, lim.joints))
        self._prev_qvel = np.zeros((0, lim.joints))
        self._has_prev = np.zeros(0, dtype=bool)

    @property
    def joints(self) -> int:
        return self.limits.joints

    def reset(self) -> None:
        """Forget every arm's last command and velocity: the next call starts from rest."""
        self._prev_torque = np.zeros((0, self.joints))

    def clear_counts(self) -> None:
        self.counts = dict.fromkeys(COUNTS, 0)

    # -- 1. observations ------------------------------------------------------------------

    def joint_state(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, obs_dim) → θ (N, joints) unwrapped into each joint's range (±π around it) and
        θ̇ (N, joints), read from the observation's cos θ, sin θ and θ̇."""
        c, s, v = self.obs_joints
        j, lim = self.joints, self.limits
        angle = np.arctan2(obs[:, s : s + j], obs[:, c : c + j])
        centre = 0.5 * (lim.position_low + lim.position_high)
        q = centre + np.remainder(angle - centre + np.pi, 2 * np.pi) - np.pi
        return q, obs[:, v : v + j]

    def check(self, obs: np.ndarray) -> np.ndarray:
        """(N, obs_dim) → (N,) bool: rows that must not be acted on (counted)."""
        nonfinite = ~np.isfinite(obs).all(axis=1)
        safe = np.where(nonfinite[:, None], 0.0, obs)
        c, s, _ = self.obs_joints
        j, lim = self.joints, self.limits
        q, qd = self.joint_state(safe)
        radius = safe[:, c : c + j] ** 2 + safe[:, s : s + j] ** 2
        outside = (
            (np.abs(radius - 1.0) > 1e-3)
            | (q < lim.position_low - self.position_margin)
            | (q > lim.position_high + self.position_margin)
            | (np.abs(qd) > lim.velocity + self.velocity_margin)
        ).any(axis=1) & ~nonfinite
        self.counts["nonfinite_obs"] += int(nonfinite.sum())
        self.counts["out_of_range_obs"] += int(outside.sum())
        return nonfinite | outside

    # -- 2.-4. the command ----------------------------------------------------------------

    def filter(self, obs: np.ndarray, action: np.ndarray, held: np.ndarray) -> np.ndarray:
        """(N, obs_dim) observations, (N, act_dim) policy actions, (N,) rows to hold (from
        ``check``) → (N, act_dim) safe actions; updates the per-arm history and ``counts``."""
        n, j = action.shape[0], self.joints
        if self._prev_torque.shape[0] != n:  # a new batch: every arm starts from rest
            self._prev_torque = np.zeros((n, j))
            self._prev_qvel = np.zeros((n, j))
            self._has_prev = np.zeros(n, dtype=bool)
        torque, k_v = self._torque, self._k_velocity
        wanted = action[:, :j] * self.gear
        q, qd = self.joint_state(np.where(held[:, None], 0.0, obs))
        ahead = np.where(self._has_prev[:, None], 2.0 * qd - self._prev_qvel, qd)
        v_low = np.clip(self.k_position * (self._q_low - q), -self._v_max, self._v_max)
        v_high = np.clip(self.k_position * (self._q_high - q), -self._v_max, self._v_max)
        reach = 2.0 * self.torque_rate * self.inertia  # τ² per rad/s that a ramp to 0 adds
        t_high = np.where(
            ahead <= v_high,
            np.sqrt(reach * np.maximum(v_high - ahead, 0.0)),
            -k_v * (ahead - v_high),
        )
        t_low = np.where(
            ahead >= v_low, -np.sqrt(reach * np.maximum(ahead - v_low, 0.0)), k_v * (v_low - ahead)
        )
        guarded = np.clip(wanted, t_low, t_high)
        guarded = np.where(held[:, None], 0.0, guarded)
        clamped = np.clip(guarded, -torque, torque)
        step = self.torque_rate * self.dt
        out = np.clip(clamped, self._prev_torque - step, self._prev_torque + step)

        live = ~held[:, None]
        guard_hit = live & (guarded != wanted)
        clamp_hit = live & (clamped != guarded)
        rate_hit = out != clamped
        changed = (out != wanted) | held[:, None]
        c = self.counts
        c["steps"] += n
        self.intervened = changed.any(axis=1)
        c["intervened"] += int(self.intervened.sum())
        c["held"] += int(held.sum())
        c["guarded"] += int(guard_hit.sum())
        c["clamped"] += int(clamp_hit.sum())
        c["rate_limited"] += int(rate_hit.sum())
        self.flag = held.copy()

        self._prev_torque = out
        self._prev_qvel = np.where(live, qd, 0.0)
        self._has_prev = ~held
        safe = np.array(action, dtype=np.float64, copy=True)
        safe[:, :j] = np.where(changed, out / self.gear, action[:, :j])
        return safe

    # -- the whole layer around a policy --------------------------------------------------

    def act(self, obs: np.ndarray, policy: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """(N, obs_dim) observations → (N, act_dim) safe actions of ``policy`` (any function
        of a (N, obs_dim) float64 batch, e.g. an ONNX session's run). Rows that fail ``check``
        are given to the policy as zeros (its answer there is discarded) and held."""
        x = np.asarray(obs, dtype=np.float64)
        held = self.check(x)
        action = np.asarray(policy(np.where(held[:, None], 0.0, x)), dtype=np.float64)
        return self.filter(x, action, held)


@dataclass
class FiniteGuard:
    """The part of the layer every arm can have without a limits table: a row whose observation
    is not finite gets the zero action (zero torque on every arm robopg ships), flagged and
    counted; every other action passes untouched. Same interface as ``SafetyLayer``."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    flag: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def reset(self) -> None:
        """Nothing to forget: the guard keeps no history."""

    def act(self, obs: np.ndarray, policy: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        x = np.asarray(obs, dtype=np.float64)
        held: np.ndarray = np.logical_not(np.isfinite(x).all(axis=1))
        action = np.asarray(policy(np.where(held[:, None], 0.0, x)), dtype=np.float64)
        self.flag = held
        for key in ("steps", "intervened", "held", "nonfinite_obs"):
            self.counts[key] += x.shape[0] if key == "steps" else int(held.sum())
        return np.where(held[:, None], 0.0, action)


def safety_for_task(task: str, finite_only: bool = False) -> SafetyLayer | FiniteGuard | None:
    """A fresh layer for ``task`` (its ``ArmTask`` declares ``limits`` and ``obs_joints``: the
    Panda tasks), with the gear and control period of the task's own MJCF. Other tasks get the
    ``FiniteGuard`` when ``finite_only`` is asked, else None."""
    from robopg.envs.tasks import TASKS

    spec = TASKS.get(task)
    arm = None if spec is None else spec.arm
    if arm is None or arm.limits is None or arm.obs_joints is None:
        return FiniteGuard() if finite_only else None
    model = arm.load_model()
    return SafetyLayer(
        limits=arm.limits,
        gear=model.actuator_gear[:, 0].copy(),
        dt=float(model.opt.timestep * arm.frame_skip),
        obs_joints=arm.obs_joints,
    )


def safety_report(counts: dict[str, int]) -> list[str]:
    """``robopg eval --safety``'s line: how often the layer stepped in, per kind."""
    steps = max(counts["steps"], 1)
    rows = ("intervened", "held", "nonfinite_obs", "out_of_range_obs")
    joints = ("guarded", "clamped", "rate_limited")
    parts = [f"{k.replace('_', ' ')} {counts[k] / steps:.2%} of steps" for k in rows]
    parts += [f"{k.replace('_', ' ')} {counts[k] / steps:.3f} joints/step" for k in joints]
    return [f"safety layer over {counts['steps']} steps: " + " · ".join(parts)]
