"""The task table: one ``TaskSpec`` per named task. Every other list of tasks derives from it.

Why one table: the batched engines, the gymnasium ids robopg registers, the solved bars, the
``robopg envs`` listing and ``attach()``'s observation code all read it, so no two lists
have to agree. Adding a task is one ``TaskSpec`` entry in ``TASK_TABLE`` (plus its
``ArmTask`` class, which holds the physics-side definition: MJCF, frame skip, reset,
observation and reward).

This module imports no gymnasium registration and nothing of the training stack, so the engine,
the gymnasium env and ``robopg.mujoco_control`` can all read it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robopg.envs.engine import ArmTask
from robopg.envs.gym_arms import PusherTask, ReacherTask
from robopg.envs.own_arms import Arm7Task, Reacher3Task
from robopg.envs.panda import PandaPushTask, PandaReachTask
from robopg.errors import EnvError


@dataclass(frozen=True)
class TaskSpec:
    """A named task and what backs it.

    - ``arm``: the ``ArmTask`` class the batched engine (and ``attach()``) runs; None for a task
      that only gymnasium implements (any other gymnasium id).
    - ``solved``: the deterministic-eval return we call solved (None: no bar set).
    - ``registers_gym``: robopg registers ``gym_id`` with gymnasium itself (its env is
      ``robopg.envs.gym_env.ArmGymEnv`` running ``arm``); False for ids gymnasium ships.
    - ``warp``: the MuJoCo Warp device engine (``robopg.warp_engine``, extra ``robopg[gpu]``)
      runs the task; listed here because ``robopg.envs`` may not import that torch module.
    """

    name: str
    gym_id: str
    description: str
    arm: type[ArmTask] | None = None
    solved: float | None = None
    registers_gym: bool = False
    warp: bool = False

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
        warp: bool = False,
    ) -> TaskSpec:
        """The spec of an ``ArmTask``, named by the class (so the name is written once)."""
        return cls(arm.name, gym_id, description, arm, solved, registers_gym, warp)

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
                f"Task '{self.name}' is gymnasium-only, not one of robopg's arm tasks "
                f"({', '.join(ARM_TASKS)}); step it through robopg.envs.make_vector_env instead."
            )
        return self.arm


#: Solved bars of our own arms. Calibration (256 envs × 2 episodes for the scripted controller
#: τ = K·Jᵀ(target − tip) − D·θ̇ at the best gains of a sweep; 100 eval episodes for
#: `robopg train` with default settings, seed 0):
#: reacher3: zero action −11.5, scripted −6.1, REINFORCE −4.17 at 1M steps, −3.47 at 2M
#: (Reacher-v5: −11.5, −6.5, −3.64 at 1M), so it gets Reacher's bar.
#: arm7: zero action −78, scripted −32 (it stalls near joint limits), REINFORCE −15.4 at 1M
#: steps (10 episodes), −14.9 at 3M: the bar is what a few million steps of REINFORCE reach.
#: panda-reach: the bar is the hand-written operational-space controller's return at its best
#: gains (benchmarks/panda_baseline.py, kp 700 and kq 25 from a sweep of kp 50-1200 and kq
#: 5-100, episodes seeded 0-499): −2.02, 100 % success (kp 150 gives −2.86, kp 50 −5.10). A
#: policy is solved when it does better than a tuned model-based controller with the same torque
#: limits.
TASK_TABLE: tuple[TaskSpec, ...] = (
    TaskSpec.of_arm(
        ReacherTask,
        "Reacher-v5",
        "2-link planar arm reaching a random target",
        solved=-3.75,
        warp=True,
    ),
    TaskSpec.of_arm(
        PusherTask, "Pusher-v5", "7-DoF arm pushing a puck to a goal", solved=0.0, warp=True
    ),
    TaskSpec.of_arm(
        Reacher3Task,
        "robopg/Reacher3-v0",
        "3-link planar arm (redundant joint) reaching a random target",
        solved=-3.75,
        registers_gym=True,
        warp=True,
    ),
    TaskSpec.of_arm(
        Arm7Task,
        "robopg/Arm7-v0",
        "7-DoF arm (Pusher kinematics) reaching a random 3-D target",
        solved=-15.0,
        registers_gym=True,
        warp=True,
    ),
    TaskSpec.of_arm(
        PandaReachTask,
        "robopg/PandaReach-v0",
        "Franka Panda (torque control, gravity compensated) reaching a random 3-D target",
        solved=-2.02,
        registers_gym=True,
        warp=True,
    ),
    TaskSpec.of_arm(
        PandaPushTask,
        "robopg/PandaPush-v0",
        "Franka Panda pushing a puck across a table to a random goal (contacts)",
        registers_gym=True,
        warp=True,
    ),
)

#: the table by short name
TASKS: dict[str, TaskSpec] = {spec.name: spec for spec in TASK_TABLE}

#: the arm tasks the batched MuJoCo engine implements, by short name
ARM_TASKS: dict[str, type[ArmTask]] = {
    spec.name: spec.arm for spec in TASK_TABLE if spec.arm is not None
}
