"""The task table: every task robopg knows, gathered from one module per task.

Why one table: the batched engines, the gymnasium ids robopg registers, the solved bars, the
``robopg envs`` listing, the CLI's help, ``attach()``'s observation code and the tests'
parametrisation all derive from it, so they cannot disagree. The table is filled from the
modules of ``robopg.envs.arms`` (each one ``SPEC``) and from ``robopg.envs.register_task``, which
takes a task module of any package: adding a task is one module plus its MJCF.

This module imports no gymnasium registration and nothing of the training stack, so the engine,
the gymnasium env and ``robopg.deploy.mujoco_control`` can all read it.
"""

from __future__ import annotations

import importlib
import pkgutil

from robopg.envs import arms
from robopg.envs.batched import ArmTask
from robopg.envs.spec import TaskSpec
from robopg.errors import EnvError

#: every task by short name, in listing order (``TaskSpec.rank``, then name)
TASKS: dict[str, TaskSpec] = {}

#: the tasks the batched MuJoCo engine implements, by short name
ARM_TASKS: dict[str, type[ArmTask]] = {}


def add_task(spec: TaskSpec) -> None:
    """Put ``spec`` in the table (a second, different spec of the same name is refused)."""
    known = TASKS.get(spec.name)
    if known is not None and known != spec:
        raise EnvError(f"A task named '{spec.name}' is already registered ({known.gym_id}).")
    others = [s for s in TASKS.values() if s.name != spec.name]
    table = sorted([*others, spec], key=lambda s: (s.rank, s.name))
    TASKS.clear()
    TASKS.update({s.name: s for s in table})
    ARM_TASKS.clear()
    ARM_TASKS.update({s.name: s.arm for s in table if s.arm is not None})


def task_module_spec(module: str) -> TaskSpec:
    """Import ``module`` (a task module: an ``ArmTask`` and its ``SPEC``) and add its task to the
    table; returns the spec (idempotent). ``robopg.envs.register_task`` also registers its
    gymnasium id."""
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise EnvError(f"Cannot import task module '{module}': {exc}.") from None
    spec = getattr(mod, "SPEC", None)
    if not isinstance(spec, TaskSpec):
        raise EnvError(
            f"Task module '{module}' has no SPEC = TaskSpec.of_arm(...); see the README's "
            "'How to add a task'."
        )
    add_task(spec)
    return spec


def _discover() -> None:
    for info in pkgutil.iter_modules(arms.__path__):
        if not info.name.startswith("_"):
            spec = importlib.import_module(f"{arms.__name__}.{info.name}").SPEC
            add_task(spec)


_discover()
