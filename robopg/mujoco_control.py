"""Run a Controller inside plain MuJoCo: observation builders per task and a control callback.

``attach(controller, model, data)`` installs ``mujoco.set_mjcb_control`` so that plain
``mujoco.mj_step`` (or ``mujoco.viewer``) drives the arm with the policy. The callback must build
the observation exactly as the gymnasium task the policy was trained on, so per task we keep:

- ``frame_skip``: gymnasium holds each action for this many physics steps; the callback computes
  a new action only every ``frame_skip``-th step and repeats it in between;
- an observation builder from (model, data, body positions).

One subtlety makes the match exact, not approximate: gymnasium builds its observation right
after ``mj_step``, when ``data.xpos`` still holds the body positions of the last kinematics pass
inside that step (MuJoCo computes kinematics before integrating; with RK4, Reacher's integrator,
that is the last Runge-Kutta stage). The callback runs inside ``mj_step`` after kinematics, so it
keeps the positions it saw at its previous invocation and builds the observation from those: the
values gymnasium saw. After a reset (the first call, or time going backwards) the fresh positions
are used, as gymnasium's ``reset`` calls ``mj_forward``. The callback counts its invocations to
know when an action is due, so call ``mj_forward`` yourself only right after a reset.

Supported tasks: ``reacher`` (Reacher-v5) and ``pusher`` (Pusher-v5). MuJoCo allows one control
callback per process; ``Attachment.detach()`` (or leaving its ``with`` block) removes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import mujoco
import numpy as np

from robopg.errors import EnvError


class ActsOnTask(Protocol):
    """What the callback needs of a policy: ``robopg.controller.Controller`` is one.

    A Protocol rather than the Controller class, so this module never imports the controller
    (which imports it back for ``Controller.attach``): no import cycle.
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


# (model, data, body_name -> position used by gymnasium's observation) -> observation
ObsBuilder = Callable[[Any, Any, Callable[[str], np.ndarray]], np.ndarray]


def _reacher_obs(model: Any, data: Any, body: Callable[[str], np.ndarray]) -> np.ndarray:
    """Reacher-v5: cos/sin of the 2 arm angles, target position, 2 arm velocities, tip − target."""
    theta = data.qpos[:2]
    tip_to_target = body("fingertip") - body("target")
    return np.concatenate(
        [np.cos(theta), np.sin(theta), data.qpos[2:], data.qvel[:2], tip_to_target[:2]]
    )


def _pusher_obs(model: Any, data: Any, body: Callable[[str], np.ndarray]) -> np.ndarray:
    """Pusher-v5: 7 joint angles and velocities, then tip, object and goal positions."""
    return np.concatenate(
        [data.qpos[:7], data.qvel[:7], body("tips_arm"), body("object"), body("goal")]
    )


@dataclass(frozen=True)
class TaskObs:
    frame_skip: int
    bodies: tuple[str, ...]
    build: ObsBuilder


TASK_OBS: dict[str, TaskObs] = {
    "reacher": TaskObs(2, ("fingertip", "target"), _reacher_obs),
    "pusher": TaskObs(5, ("tips_arm", "object", "goal"), _pusher_obs),
}


def task_model(task: str) -> tuple[Any, Any]:
    """A fresh (MjModel, MjData) of a task's MJCF, the model the shipped policies control."""
    import gymnasium as gym

    from robopg.envs import resolve_task

    spec = resolve_task(task)
    env = gym.make(spec.gym_id)
    try:
        model = env.unwrapped.model  # type: ignore[attr-defined]
    finally:
        env.close()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    return model, data


class Attachment:
    """An installed control callback; ``detach()`` removes it. Also a context manager."""

    def __init__(self, controller: ActsOnTask, model: Any, data: Any) -> None:
        spec = TASK_OBS.get(controller.task)
        if spec is None:
            raise EnvError(
                f"attach() supports the tasks {', '.join(sorted(TASK_OBS))}; '{controller.task}' "
                "has no MuJoCo observation builder (step it through robopg.envs instead)."
            )
        if model.nu != controller.act_dim:
            raise EnvError(
                f"The model has {model.nu} actuators but the '{controller.task}' policy outputs "
                f"{controller.act_dim} actions; pass the task's own model."
            )
        self.controller = controller
        self.spec = spec
        self.model = model
        self.data = data
        self._ids = [model.body(name).id for name in spec.bodies]
        # mj_step calls the callback once per physics step, or 4 times with the RK4 integrator
        # (once per stage); a new action is due every frame_skip physics steps.
        stages = 4 if model.opt.integrator == mujoco.mjtIntegrator.mjINT_RK4 else 1
        self._period = spec.frame_skip * stages
        self._calls = 0
        self._last_time: float | None = None
        self._prev_xpos: np.ndarray | None = None
        self._action = np.zeros(model.nu)
        mujoco.set_mjcb_control(self._callback)

    def observation(self, data: Any, stale_xpos: np.ndarray | None = None) -> np.ndarray:
        """The task's observation from ``data`` (body positions from ``stale_xpos`` if given)."""
        xpos = data.xpos[self._ids] if stale_xpos is None else stale_xpos
        index = {name: i for i, name in enumerate(self.spec.bodies)}
        return self.spec.build(self.model, data, lambda name: np.array(xpos[index[name]]))

    def _callback(self, model: Any, data: Any) -> None:
        if self._last_time is None or data.time < self._last_time:  # first call or a reset
            self._calls, self._prev_xpos = 0, None
        if self._calls % self._period == 0:
            self._action = self.controller.act(self.observation(data, self._prev_xpos))
        self._calls += 1
        self._last_time = data.time
        self._prev_xpos = np.array(data.xpos[self._ids])
        data.ctrl[:] = self._action

    def detach(self) -> None:
        """Remove the control callback (MuJoCo then leaves ``data.ctrl`` as it is)."""
        mujoco.set_mjcb_control(None)

    def __enter__(self) -> Attachment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.detach()
