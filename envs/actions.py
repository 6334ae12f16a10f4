"""Action interfaces: what a policy's action means to the robot it drives.

- ``torque``: the action is the motor command itself (``ctrl``), as every task's MJCF defines it.
- ``joint``: the action is a bounded change of a joint-position target per control step; a joint
  impedance law in the model's actuators turns the target into torque at every physics substep.
- ``cartesian``: the action is a bounded flange displacement per control step, turned into the
  same joint target by damped least squares, then the same impedance law.

An interface other than ``torque`` is an ``ActionLaw``: the model it runs on (the task's MJCF with
its actuators replaced) and the numpy step from a policy action to the next ``ctrl``. Its state
is ``ctrl`` (the joint target) and ``act`` (the target's low-pass filter), both part of MuJoCo's
integration state, so snapshots, ``attach()`` and the device engine carry it with the physics,
and the last substep's actuator force, from which the next substep's force range is set
(``torque_range``: the law's torque-rate clamp).
Which tasks offer which interfaces is their ``TaskSpec``'s (``actions``, ``laws``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import mujoco
import numpy as np

#: every interface name, the default first (its numbers are those of the MJCF's own actuators)
ACTIONS = ("torque", "joint", "cartesian")

#: what one action means to the robot, by interface: the exported files record it
#: (``robopg export``), since the file alone cannot say which law must run below it
ACTION_MEANINGS = {
    "torque": "joint torques as a fraction of each joint's torque limit, held for the step",
    "joint": (
        "the change of the joint-position target this control step, in units of its bound "
        "(0.9 x Franka's joint velocity limit x dt), the target kept 0.1 rad inside each joint's "
        "range and within delta = 0.9 x v_max x D / K of the measured angle; below it run, "
        "every 5 ms, the joint impedance law tau = K (q*_f - q) - D qdot with q*_f the target "
        "through a first-order filter, tau clamped to the torque limits and to within 990 N·m/s "
        "x 5 ms of the last torque (robopg.envs.franka_control: K, D, tau_f, TRACKING_BOUND, "
        "impedance_torque)"
    ),
    "cartesian": (
        "the flange's displacement along the base frame's x, y, z this control step, in units "
        "of robopg.envs.franka_control.CARTESIAN_STEP metres; it moves the joint target by "
        "damped least squares (CartesianLaw), then the joint impedance law as for joint"
    ),
}


#: ``ActionLaw.command``: the next (k, nu) ``ctrl`` from, in this order, the (k, action_dim)
#: float32 actions, the current target ``ctrl`` (k, nu), angles (k, nq), body positions
#: (k, nbody, 3) and joint anchors and axes (k, njnt, 3)
Command = Callable[
    [np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray
]


class ActionLaw(Protocol):
    """The low-level law of one interface on one task's model (numpy, batch-major).

    ``command`` is called once per control step with the state the env observes (body and
    joint frames as ``mj_step`` leaves them, one substep behind ``qpos``); it must compute each
    row from that row alone, so a batch of any size gives the same rows bit for bit.
    """

    name: str
    #: the policy's action size (7 joint target changes, or 3 flange displacements)
    action_dim: int

    @property
    def action_low(self) -> np.ndarray:
        """(action_dim,) lower bound of the policy's action (the action is not ``ctrl``)."""
        ...

    @property
    def action_high(self) -> np.ndarray:
        """(action_dim,) upper bound of the policy's action."""
        ...

    def reset_ctrl(self, qpos: np.ndarray) -> np.ndarray:
        """(k, nu) ``ctrl`` and ``act`` an episode starts with, from its (k, nq) start angles:
        the target is where the arm is, so a zero action holds it there."""
        ...

    @property
    def command(self) -> Command:
        """The law's step, a ``Command``: a method of the law with that signature."""
        ...

    def torque_range(self, force: np.ndarray, out: np.ndarray) -> None:
        """Write the (k, nu, 2) actuator force range of the next physics substep into ``out``
        from the (k, nu) actuator force of the last one: how the law bounds its torque rate.
        Engines call it before every substep (the force range is then per env)."""
        ...

    def check_model(self, model: mujoco.MjModel) -> None:
        """Raise one EnvError if ``model``'s actuators are not this law's (``attach()``)."""
        ...


def recorded_action(meta: Mapping[str, Any]) -> str:
    """The interface a checkpoint's policy was trained on, from its header (the saved
    ``config``); ``torque`` for a checkpoint written before the setting existed."""
    config = meta.get("config") or {}
    return str(config.get("action", "torque"))
