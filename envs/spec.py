"""What a task is: ``TaskSpec``, the row each task module contributes to the task table.

A task module (``robopg.envs.arms.<task>``, or any module of another package) defines its
``ArmTask`` (MJCF, frame skip, reset, observation, reward) and one ``SPEC = TaskSpec.of_arm(...)``;
``robopg.envs.tasks`` collects them. This module imports nothing of the training stack.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robopg.envs.batched import ArmTask
from robopg.errors import EnvError


@dataclass(frozen=True)
class Parity:
    """How closely the Warp engine follows the batched one on this task (float32 vs float64
    physics): over ``episodes`` episodes of the same actions, max |Δobs| < ``obs`` and max
    |Δreward| < ``reward`` (bounds about 4× the measured gaps)."""

    episodes: int
    obs: float
    reward: float


@dataclass(frozen=True)
class TaskSpec:
    """A named task and what backs it.

    - ``arm``: the ``ArmTask`` class the batched engine (and ``attach()``) runs; None for a task
      that only gymnasium implements (any other gymnasium id).
    - ``solved``: the deterministic-eval return we call solved (None: no bar set).
    - ``registers_gym``: robopg registers ``gym_id`` with gymnasium itself (its env is
      ``robopg.envs.gym_env.ArmGymEnv`` running ``arm``); False for ids gymnasium ships.
    - ``device``: the import string (``module:Class``) of the task's torch twin for the MuJoCo
      Warp device engine (``robopg.collect.warp``, extra ``robopg[gpu]``), None if it has none;
      a string because ``robopg.envs`` never imports torch.
    - ``parity``: how closely the device twin follows the batched engine (tested), if measured.
    - ``rank``: where ``robopg envs`` lists the task (then by name).
    """

    name: str
    gym_id: str
    description: str
    arm: type[ArmTask] | None = None
    solved: float | None = None
    registers_gym: bool = False
    device: str | None = None
    parity: Parity | None = None
    rank: int = 100

    def __post_init__(self) -> None:
        if self.registers_gym and self.arm is None:
            raise ValueError(f"Task '{self.name}': registering with gymnasium needs an ArmTask.")

    @classmethod
    def of_arm(
        cls,
        arm: type[ArmTask],
        gym_id: str,
        description: str,
        solved: float | None = None,
        registers_gym: bool = False,
        device: str | None = None,
        parity: Parity | None = None,
        rank: int = 100,
    ) -> TaskSpec:
        """The spec of an ``ArmTask``, named by the class (so the name is written once)."""
        return cls(arm.name, gym_id, description, arm, solved, registers_gym, device, parity, rank)

    @property
    def warp(self) -> bool:
        """Whether the MuJoCo Warp device engine runs the task."""
        return self.device is not None

    @property
    def engines(self) -> tuple[str, ...]:
        """Backends that can run the task, the one ``--engine auto`` picks first (auto never
        picks warp: it needs an optional extra and a kernel compilation; ask for it)."""
        if self.arm is None:
            return ("gym",)
        return ("batch", "gym", "warp") if self.warp else ("batch", "gym")

    @property
    def env_action_dtype(self) -> type[np.floating]:
        """The precision the task's own gymnasium env applies an action in.

        robopg's ``ArmGymEnv`` rounds actions to float32 (its action space's dtype, as the
        batched engine does); gymnasium's MujocoEnv writes a float64 action to ``ctrl`` as is.
        ``attach()`` needs it to retrace ``env.step(action)`` bit for bit.
        """
        return np.float32 if self.registers_gym else np.float64

    def arm_task(self) -> type[ArmTask]:
        """The ``ArmTask`` class, or one EnvError for a gymnasium-only task."""
        if self.arm is None:
            raise EnvError(
                f"Task '{self.name}' is gymnasium-only, not one of robopg's arm tasks"
                "; step it through robopg.envs.make_vector_env instead."
            )
        return self.arm
