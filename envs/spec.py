"""What a task is: ``TaskSpec``, the row each task module contributes to the task table.

A task module (``robopg.envs.arms.<task>``, or any module of another package) defines its
``ArmTask`` (MJCF, frame skip, reset, observation, reward) and one ``SPEC = TaskSpec.of_arm(...)``;
``robopg.envs.tasks`` collects them. This module imports nothing of the training stack.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import mujoco
import numpy as np

from robopg.envs.actions import ACTIONS
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
    - ``actions``: the action interfaces the task offers (``robopg.envs.actions``), ``torque``
      (the MJCF's own actuators) first; ``laws``: the import string (``module:function``) of
      ``function(arm class, action, model or None) -> ArmTask`` building the task on another
      interface, on its own model or a given one it checks (a string, so the table imports no
      task's control laws until they are asked for).
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
    actions: tuple[str, ...] = ("torque",)
    laws: str | None = None

    def __post_init__(self) -> None:
        if self.registers_gym and self.arm is None:
            raise ValueError(f"Task '{self.name}': registering with gymnasium needs an ArmTask.")
        if self.actions[:1] != ("torque",) or not set(self.actions) <= set(ACTIONS):
            raise ValueError(f"Task '{self.name}': actions must start with torque, of {ACTIONS}.")
        if len(self.actions) > 1 and self.laws is None:
            raise ValueError(f"Task '{self.name}': interfaces beside torque need laws.")

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
        actions: tuple[str, ...] = ("torque",),
        laws: str | None = None,
    ) -> TaskSpec:
        """The spec of an ``ArmTask``, named by the class (so the name is written once)."""
        return cls(
            arm.name,
            gym_id,
            description,
            arm,
            solved,
            registers_gym,
            device,
            parity,
            rank,
            actions,
            laws,
        )

    def check_action(self, action: str) -> None:
        """One EnvError unless the task offers the action interface ``action``."""
        if action not in self.actions:
            raise EnvError(
                f"Task '{self.name}' offers the action interfaces {', '.join(self.actions)}, "
                f"not '{action}'; pass --action {self.actions[0]}."
            )

    def make_arm(self, action: str = "torque", model: mujoco.MjModel | None = None) -> ArmTask:
        """The task's ``ArmTask`` with the interface ``action``, on ``model`` or a fresh model
        of that interface: the MJCF's own for ``torque`` (``ArmTask.make``), else the one its
        ``laws`` build (a given model is checked to be that one), with ``law`` set."""
        arm = self.arm_task()
        self.check_action(action)
        if action == "torque":
            return arm.make() if model is None else arm(model)
        assert self.laws is not None  # __post_init__: interfaces beside torque have laws
        module, _, name = self.laws.partition(":")
        build: Callable[[type[ArmTask], str, mujoco.MjModel | None], ArmTask] = getattr(
            importlib.import_module(module), name
        )
        return build(arm, action, model)

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
