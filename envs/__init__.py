"""Arm tasks: MJCF assets, the batched MuJoCo engine, and gymnasium registration.

Installed as ``robopg.envs``. Import ``make_vector_env`` to build any task; the task table
(one ``TaskSpec`` per task, from one module per task in ``robopg.envs.arms``) is
``robopg.envs.tasks``; ``register_task(module)`` adds a task module of another package.
"""

from robopg.envs.registry import ENGINES, make_vector_env, register_task, resolve_task, task_rows
from robopg.envs.spec import TaskSpec
from robopg.envs.tasks import ARM_TASKS, TASKS
from robopg.envs.vector import StepResult, VectorEnv, check_actions

__all__ = [
    "ARM_TASKS",
    "ENGINES",
    "TASKS",
    "StepResult",
    "TaskSpec",
    "VectorEnv",
    "check_actions",
    "make_vector_env",
    "register_task",
    "resolve_task",
    "task_rows",
]
