"""Franka Emika Panda's control limits, and a monitor that counts what the real robot aborts on.

The numbers are Franka's documented control parameters for the Panda (Franka Control Interface
documentation, "Robot and interface specifications", section "Limits for Panda"; the Franka
Research 3 has other values). The joint ranges equal those of ``envs/assets/panda.xml``
(``tests/engines/test_panda_limits.py`` checks it).

What the robot aborts on (the "necessary conditions" of that page, and libfranka's reflexes):
a joint velocity over its limit, a commanded torque changing faster than 1000 N·m/s, a joint
reaching its position range. Acceleration and jerk limits are conditions on *commanded
trajectories* (the position and velocity interfaces); under torque control they are a measure
of how violently the arm moves, so the monitor tracks their peak ratios without counting them.

How the monitor samples, and why that is enough for the torque interface:

- Joint velocity, position and the finite-difference acceleration and jerk are read at control
  steps (every ``dt`` of the task, 20 ms on the Panda tasks), not at the physics substeps in
  between. Reading the substeps needs one engine call per substep; on the shipped Panda policies
  the substep peaks are within 0.7 % of the control-step peaks (benchmarks/SAFETY.md), and
  libfranka itself checks at 1 kHz, finer than either.
- The commanded torque of the torque interface is constant within a control step (the action
  is held for ``frame_skip`` substeps), so its rate inside a step is exactly zero; between steps
  it is |τ_t − τ_{t−1}| / dt, the rate of a 1 kHz loop that ramps linearly from one command to
  the next (libfranka's rate limiter, on by default, turns a step into exactly such a ramp when
  the jump is within 1000 N·m/s · dt). The first command of an episode is measured from zero
  torque (the arm starts at rest). An interface whose torque varies within a step (an impedance
  law run at every substep) passes its in-step peak rate as ``inner_rate``.
- The commanded torque is the policy's: gravity is compensated by the robot (MuJoCo's
  ``gravcomp`` in the model), outside the command, as on the real arm.

Everything is numpy over the whole batch: a handful of (N, 7) array operations per step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from robopg.errors import ConfigError


@dataclass(frozen=True)
class JointLimits:
    """Per-joint limits of a torque-controlled arm, each (n_joints,) in SI units."""

    position_low: np.ndarray  # rad
    position_high: np.ndarray  # rad
    velocity: np.ndarray  # rad/s
    acceleration: np.ndarray  # rad/s²
    jerk: np.ndarray  # rad/s³
    torque: np.ndarray  # N·m
    torque_rate: np.ndarray  # N·m/s

    @property
    def joints(self) -> int:
        return int(self.velocity.shape[0])


def _a(*values: float) -> np.ndarray:
    array = np.array(values, dtype=np.float64)
    array.flags.writeable = False
    return array


#: Franka Emika Panda ("Limits for Panda", Franka Control Interface documentation).
PANDA_LIMITS = JointLimits(
    position_low=_a(-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973),
    position_high=_a(2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973),
    velocity=_a(2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61),
    acceleration=_a(15, 7.5, 10, 12.5, 15, 20, 20),
    jerk=_a(7500, 3750, 5000, 6250, 7500, 10000, 10000),
    torque=_a(87, 87, 87, 87, 12, 12, 12),
    torque_rate=_a(1000, 1000, 1000, 1000, 1000, 1000, 1000),
)

#: the monitor's per-env arrays a snapshot holds
_STATE = ("prev_qvel", "prev_torque", "prev_acc", "has_acc", "counts", "peaks")

#: what the real robot aborts a motion on, counted per step (columns of ``LimitMonitor.counts``)
VIOLATIONS = ("velocity", "torque rate", "joint range")
#: peak |x| / limit per episode (rows of ``LimitMonitor.peaks``)
PEAKS = ("velocity", "acceleration", "jerk", "torque", "torque rate")


@dataclass(frozen=True)
class LimitRecord:
    """Episodes' limit statistics: ``counts`` (episodes, 3) steps with each violation
    (``VIOLATIONS``), ``peaks`` (episodes, 5, joints) peak |x| / limit (``PEAKS``)."""

    counts: np.ndarray
    peaks: np.ndarray

    @staticmethod
    def concatenate(records: list[LimitRecord]) -> LimitRecord:
        return LimitRecord(
            np.concatenate([r.counts for r in records]), np.concatenate([r.peaks for r in records])
        )


class LimitMonitor:
    """Per-env limit bookkeeping for a batch of ``num_envs`` arms, one call per control step.

    ``reset(ids, qvel)`` starts new episodes (and keeps the finished ones' statistics in
    ``last_counts`` / ``last_peaks``); ``step(qpos, qvel, actions)`` returns which envs violated
    a limit in that step. With ``abort`` set (``set_abort``), the engine ends those episodes
    (terminated) and charges ``penalty`` (see ``abort_reward``); with ``shaped`` set
    (``set_penalize``) the episodes go on and every step is charged by ``shaped_reward``.
    """

    def __init__(
        self,
        limits: JointLimits,
        num_envs: int,
        dt: float,
        torque_per_action: np.ndarray,
        action_low: np.ndarray,
        action_high: np.ndarray,
    ) -> None:
        j = limits.joints
        self.limits = limits
        self.dt = float(dt)
        self.num_envs = num_envs
        self.torque_per_action = np.asarray(torque_per_action, dtype=np.float64)[:j]
        self.action_low = np.asarray(action_low, dtype=np.float64)[:j]
        self.action_high = np.asarray(action_high, dtype=np.float64)[:j]
        # 1 / limit of each PEAKS row, (5, joints): the ratios are products, not divisions
        self._inv = 1.0 / np.stack(
            [limits.velocity, limits.acceleration, limits.jerk, limits.torque, limits.torque_rate]
        )
        self.abort = False
        self.shaped = False
        self.penalty = 0.0
        self._prev_qvel = np.zeros((num_envs, j))
        self._prev_torque = np.zeros((num_envs, j))
        self._prev_acc = np.zeros((num_envs, j))
        self._has_acc = np.zeros(num_envs, dtype=bool)  # jerk needs two accelerations
        self._counts = np.zeros((num_envs, len(VIOLATIONS)), dtype=np.int64)
        self._peaks = np.zeros((num_envs, len(PEAKS), j))
        self.last_counts = self._counts.copy()
        self.last_peaks = self._peaks.copy()
        self._ratio = np.empty((num_envs, len(PEAKS), j))

    @property
    def counts(self) -> np.ndarray:
        """(N, 3) int: steps of the running episodes over each limit (``VIOLATIONS``)."""
        return self._counts

    @property
    def peaks(self) -> np.ndarray:
        """(N, 5, joints): the running episodes' peak |x| / limit (``PEAKS``)."""
        return self._peaks

    def set_abort(self, penalty: float) -> None:
        """End an episode at its first violation, charging ``penalty`` per step (see
        ``abort_reward``)."""
        self.abort, self.shaped, self.penalty = True, False, float(penalty)

    def set_penalize(self, penalty: float) -> None:
        """Charge each step by ``shaped_reward`` with coefficient ``penalty``; episodes go on."""
        self.abort, self.shaped, self.penalty = False, True, float(penalty)

    def reset(self, ids: np.ndarray, qvel: np.ndarray) -> None:
        """Envs ``ids`` start new episodes at joint velocities ``qvel`` (len(ids), ≥ joints)
        from rest torque; their finished episodes' statistics move to ``last_*``."""
        j = self.limits.joints
        self.last_counts[ids] = self.counts[ids]
        self.last_peaks[ids] = self.peaks[ids]
        self.counts[ids] = 0
        self.peaks[ids] = 0.0
        self._prev_qvel[ids] = qvel[:, :j]
        self._prev_torque[ids] = 0.0
        self._prev_acc[ids] = 0.0
        self._has_acc[ids] = False

    def torque(self, actions: np.ndarray) -> np.ndarray:
        """(N, joints) commanded torque of (N, ≥ joints) actions: clipped to the actuator range
        as MuJoCo clamps ``ctrl``, times the gear."""
        j = self.limits.joints
        return np.clip(actions[:, :j], self.action_low, self.action_high) * self.torque_per_action

    def step(
        self,
        qpos: np.ndarray,
        qvel: np.ndarray,
        actions: np.ndarray,
        inner_rate: np.ndarray | None = None,
    ) -> np.ndarray:
        """Account one control step of every env: ``qpos``/``qvel`` (N, ≥ joints) after it,
        ``actions`` (N, ≥ joints) applied during it, ``inner_rate`` (N, joints) the peak
        |dτ/dt| inside the step (None: a torque held constant). Returns (N,) bool: the envs
        that violated a limit the robot aborts on (``VIOLATIONS``) in this step."""
        lim, j, dt = self.limits, self.limits.joints, self.dt
        q, qd = qpos[:, :j], qvel[:, :j]
        torque = self.torque(actions)
        acc = (qd - self._prev_qvel) / dt
        jerk = np.where(self._has_acc[:, None], (acc - self._prev_acc) / dt, 0.0)
        rate = np.abs(torque - self._prev_torque) / dt
        if inner_rate is not None:
            rate = np.maximum(rate, inner_rate)
        r = self._ratio
        np.multiply(np.abs(qd), self._inv[0], out=r[:, 0])
        np.multiply(np.abs(acc), self._inv[1], out=r[:, 1])
        np.multiply(np.abs(jerk), self._inv[2], out=r[:, 2])
        np.multiply(np.abs(torque), self._inv[3], out=r[:, 3])
        np.multiply(rate, self._inv[4], out=r[:, 4])
        np.maximum(self.peaks, r, out=self.peaks)
        over = r[:, (0, 4)].max(axis=2) > 1.0  # (N, 2): velocity, torque rate
        hit = ((q <= lim.position_low) | (q >= lim.position_high)).any(axis=1)
        self.counts[:, :2] += over
        self.counts[:, 2] += hit
        self._prev_qvel[:] = qd
        self._prev_torque[:] = torque
        self._prev_acc[:] = acc
        self._has_acc[:] = True
        return over.any(axis=1) | hit

    def abort_reward(
        self, violated: np.ndarray, reward: np.ndarray, steps_left: np.ndarray
    ) -> np.ndarray:
        """``reward`` (N,) less ``penalty`` for this step and each of the ``steps_left`` (N,)
        steps a violating episode loses to its time limit.

        Why per lost step: the Panda tasks' rewards are negative every step, so ending an
        episode early would otherwise *save* reward; with ``penalty`` above the worst per-step
        cost (the TrainConfig default does it for both Panda tasks) a violation never pays.
        """
        return np.where(violated, reward - self.penalty * (1 + steps_left), reward)

    def shaped_reward(self, violated: np.ndarray, reward: np.ndarray) -> np.ndarray:
        """``reward`` (N,) less ``penalty`` × (``violated`` (N,) bool + Σ_j max(0, |q̇_j| / v̄_j
        − 1)), for the step ``step`` has just accounted: a step the robot would abort on costs
        ``penalty`` plus as much again per unit of speed ratio over each joint's limit.

        Why this shape: on panda-push the aborts happen in a few percent of the episodes, while
        the hand is in contact. Ending the episode there (``--limits abort``) makes any contact
        the dangerous act and the policy stops pushing; charging the step and going on keeps the
        task worth doing. Only what the robot aborts on is charged: charging speed from 90 % of
        the limit up slows every motion, and the task with it. Measured in docs/experiments.md
        ("panda-push"): it trades success for aborts; the joint law's tracking bound
        (``franka_control.TRACKING_BOUND``) is what removes their cause.
        """
        excess = np.maximum(self._ratio[:, 0] - 1.0, 0.0).sum(axis=1)
        return reward - self.penalty * (violated + excess)

    def state_dict(self) -> dict[str, Any]:
        """The per-env arrays, to continue a run bit for bit (flat ``limits_*`` keys, so an
        engine snapshot can hold them beside its own arrays)."""
        return {f"limits_{name}": getattr(self, f"_{name}").copy() for name in _STATE}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()``'s arrays; a snapshot without them (taken before limits
        were tracked) starts the statistics afresh."""
        for name in _STATE:
            if f"limits_{name}" in state:
                getattr(self, f"_{name}")[:] = np.asarray(state[f"limits_{name}"])


def apply_limits(env: object, mode: str, penalty: float, task: str) -> None:
    """Give ``env``'s limit monitor the ``--limits`` ``mode``: report (nothing to do), abort
    (violations end episodes) or penalize (``shaped_reward``); or say why it cannot."""
    if mode == "report":
        return
    monitor = getattr(env, "limits", None)  # BatchedArmEnv.limits; other engines have none
    if not isinstance(monitor, LimitMonitor):
        raise ConfigError(
            f"--limits {mode} needs a task with a real arm's limits (panda-reach, panda-push) on "
            f"the batched engine (--engine batch or auto); '{task}' on this engine has none."
        )
    if mode == "abort":
        monitor.set_abort(penalty)
    else:
        monitor.set_penalize(penalty)


def limit_report(record: LimitRecord) -> list[str]:
    """``robopg eval``'s lines: the share of episodes with each violation, and each peak ratio
    (median and max over episodes, with the joint of the max)."""
    n = record.counts.shape[0]
    share = (record.counts > 0).mean(axis=0)
    parts = [f"{name} {s:.1%}" for name, s in zip(VIOLATIONS, share, strict=True)]
    anyv = (record.counts > 0).any(axis=1).mean()
    peaks = record.peaks.max(axis=2)  # (episodes, 5)
    joint = record.peaks.max(axis=0).argmax(axis=1)  # (5,) joint of each kind's max
    ratio = [
        f"{name} {np.median(peaks[:, k]):.2f} (max {peaks[:, k].max():.2f}, joint {joint[k] + 1})"
        for k, name in enumerate(PEAKS)
    ]
    return [
        f"Franka limits: episodes the robot would abort {anyv:.1%} of {n} · " + " · ".join(parts),
        "peak |x| / Franka's limit, median over episodes: " + " · ".join(ratio),
    ]
