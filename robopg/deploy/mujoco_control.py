"""Run a Controller inside plain MuJoCo: a control callback that observes through the task's code.

``attach(controller, model, data)`` installs ``mujoco.set_mjcb_control`` so that plain
``mujoco.mj_step`` (or ``mujoco.viewer``) drives the arm with the policy. The callback must build
the observation exactly as the env the policy was trained on, so it runs that task's own
``ArmTask`` (``robopg.envs.tasks``), the code the batched engine and the gymnasium env run:

- ``frame_skip``: the env holds each action for this many physics steps; the callback computes
  a new action only every ``frame_skip``-th step and repeats it in between;
- ``observe(qpos, qvel, xpos)``: the observation, from the data and the body positions;
- the action's precision: float32 for robopg's own arms, whose env rounds it so (see
  ``TaskSpec.env_action_dtype``).

One subtlety makes the match exact, not approximate: the env builds its observation right after
``mj_step``, when ``data.xpos`` still holds the body positions of the last kinematics pass inside
that step (MuJoCo computes kinematics before integrating; with RK4, the integrator of reacher and
reacher3, that is the last Runge-Kutta stage). The callback runs inside ``mj_step`` after
kinematics, so it keeps the positions it saw at its previous invocation and builds the
observation from those: the values the env saw. After a reset (the first call, or time going
backwards) the fresh positions are used, as the env's ``reset`` calls ``mj_forward``. The
callback counts its invocations to know when an action is due, so call ``mj_forward`` yourself
only right after a reset.

A policy trained on another action interface than ``torque`` (``Controller.action``) drives the
model of that interface, ``task_model(task, action)``, whose actuators run the joint impedance
law at every physics step: at each control step the callback turns the action into the next
joint target with the task's own ``ActionLaw.command`` (from the positions and joint frames the
env saw, kept as the body positions are) and holds it in ``data.ctrl``; ``data.ctrl`` and
``data.act`` are the law's state. The law also bounds its torque rate: at every physics step
the callback sets ``model.actuator_forcerange`` from the last step's ``data.actuator_force``
(``ActionLaw.torque_range``), as the engine does per env; ``detach()`` restores the model's
own force range.

A controller with a safety layer (the Panda tasks' default) keeps each arm's last command; the
callback calls the controller's ``reset()`` (when it has one) at every reset it sees, so an
attached controller acts exactly as it does on the env's episode from its start.

Start the data where the env would: ``reset_data(task, model, data, seed)`` is ``env.reset(seed)``
on your MjData (reacher3 and arm7 place their target by mocap there). Every arm task in the table
is supported. MuJoCo allows one control callback per process; ``Attachment.detach()`` (or leaving
its ``with`` block) removes it.
"""

from __future__ import annotations

from typing import Any, Protocol

import mujoco
import numpy as np

from robopg.envs.batched import ArmTask, make_rng
from robopg.envs.tasks import ARM_TASKS, TASKS
from robopg.errors import EnvError


class ActsOnTask(Protocol):
    """What the callback needs of a policy: ``robopg.deploy.controller.Controller`` is one.

    An ``action`` attribute (the interface it was trained on, ``robopg.envs.actions``) is read
    when present, else ``torque``. A Protocol rather than the Controller class, so this module
    never imports the controller (which imports it back for ``Controller.attach``): no import
    cycle.
    """

    @property
    def task(self) -> str:
        """The task's short name (``reacher``, ``pusher``, ...)."""
        ...

    @property
    def act_dim(self) -> int:
        """Number of actions, which must equal the model's actuators."""
        ...

    def act(self, obs: np.ndarray) -> np.ndarray:
        """(obs_dim,) float64 observation → (act_dim,) action."""
        ...


def arm_class(task: str) -> type[ArmTask]:
    """The task's ``ArmTask`` class from the task table, or one EnvError naming those there."""
    cls = ARM_TASKS.get(task)
    if cls is None:
        raise EnvError(
            f"attach() supports the tasks {', '.join(sorted(ARM_TASKS))}; '{task}' has no "
            "ArmTask in robopg's task table (step it through robopg.envs instead)."
        )
    return cls


def task_model(task: str, action: str = "torque") -> tuple[Any, Any]:
    """A fresh (MjModel, MjData) of a task's MJCF, the model the shipped policies control, or
    of its action interface ``action`` (the impedance actuators of ``joint`` and ``cartesian``).

    The data is at the model's home pose; ``reset_data`` puts it where an env reset would.
    """
    arm_class(task)
    model = TASKS[task].make_arm(action).model
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    return model, data


def reset_data(task: str, model: Any, data: Any, seed: int, action: str = "torque") -> np.ndarray:
    """Put ``data`` in the state the task's env starts from after ``env.reset(seed=seed)``.

    Returns that (obs_dim,) first observation. Same generator, same draws, same
    ``mj_resetData`` + ``mj_forward`` as the env (``ArmTask.reset_data``; with an ``action``
    interface's law, its target and filter start at the arm's angles), so a policy attached
    afterwards retraces the env's episode under plain ``mj_step``.
    """
    arm_class(task)
    return TASKS[task].make_arm(action, model).reset_data(data, make_rng(seed))


class Attachment:
    """An installed control callback; ``detach()`` removes it. Also a context manager."""

    def __init__(self, controller: ActsOnTask, model: Any, data: Any) -> None:
        arm_class(controller.task)
        action = getattr(controller, "action", "torque")
        if action == "torque" and model.nu != controller.act_dim:
            raise EnvError(
                f"The model has {model.nu} actuators but the '{controller.task}' policy outputs "
                f"{controller.act_dim} actions; pass the task's own model."
            )
        self.controller = controller
        # the task's own observation code and action law, on the caller's model (checked)
        self.arm = TASKS[controller.task].make_arm(action, model)
        self.law = self.arm.law
        self.model = model
        self.data = data
        # mj_step calls the callback once per physics step, or 4 times with the RK4 integrator
        # (once per stage); a new action is due every frame_skip physics steps.
        stages = 4 if model.opt.integrator == mujoco.mjtIntegrator.mjINT_RK4 else 1
        self._period = self.arm.frame_skip * stages
        self._action_dtype = TASKS[controller.task].env_action_dtype  # as the env rounds it
        self._calls = 0
        self._last_time: float | None = None
        self._prev_xpos: np.ndarray | None = None  # (nbody, 3) at the previous invocation
        self._prev_frames: tuple[np.ndarray, np.ndarray] | None = None  # xanchor, xaxis
        self._action = np.zeros(model.nu)
        self._forcerange = np.array(model.actuator_forcerange)  # restored by detach()
        self._reset_controller = getattr(controller, "reset", None)  # optional: safety state
        mujoco.set_mjcb_control(self._callback)

    def observation(self, data: Any, stale_xpos: np.ndarray | None = None) -> np.ndarray:
        """The task's (obs_dim,) observation from ``data`` (body positions (nbody, 3) from
        ``stale_xpos`` if given), computed by the task's own ``ArmTask.observe``."""
        xpos = data.xpos if stale_xpos is None else stale_xpos
        return self.arm.observe(data.qpos[None], data.qvel[None], np.asarray(xpos)[None])[0]

    def _callback(self, model: Any, data: Any) -> None:
        if self._last_time is None or data.time < self._last_time:  # first call or a reset
            self._calls, self._prev_xpos, self._prev_frames = 0, None, None
            if self._reset_controller is not None:
                self._reset_controller()
        if self.law is not None:  # the torque-rate clamp, from the last step's force (zero
            # after mj_resetData: the engine clamps a reset's mj_forward from rest torque too)
            force = np.array(data.actuator_force)[None]
            self.law.torque_range(force, model.actuator_forcerange[None])
        if self._calls % self._period == 0:
            action = self.controller.act(self.observation(data, self._prev_xpos))
            self._action = np.asarray(action, dtype=self._action_dtype)
            if self.law is not None:  # the action moves the joint target, held in ctrl
                self._action = self._target(data, self._action)
        self._calls += 1
        self._last_time = data.time
        self._prev_xpos = np.array(data.xpos)
        if self.law is not None:
            self._prev_frames = (np.array(data.xanchor), np.array(data.xaxis))
        data.ctrl[:] = self._action

    def _target(self, data: Any, action: np.ndarray) -> np.ndarray:
        """The law's next (nu,) ctrl from the (act_dim,) action, with the frames the env saw."""
        assert self.law is not None
        xpos = np.array(data.xpos) if self._prev_xpos is None else self._prev_xpos
        anchor, axis = self._prev_frames or (np.array(data.xanchor), np.array(data.xaxis))
        return self.law.command(
            action[None],
            np.array(data.ctrl)[None],
            data.qpos[None],
            xpos[None],
            anchor[None],
            axis[None],
        )[0]

    def detach(self) -> None:
        """Remove the control callback (MuJoCo then leaves ``data.ctrl`` as it is) and give
        the model back its own actuator force range."""
        mujoco.set_mjcb_control(None)
        self.model.actuator_forcerange[:] = self._forcerange

    def __enter__(self) -> Attachment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.detach()
