"""Arm tasks: MJCF assets, the batched MuJoCo engine, and gymnasium registration.

Installed as ``robopg.envs``. Import ``make_vector_env`` to build any task; the task table
(one ``TaskSpec`` per task) is ``robopg.envs.tasks``.
"""

from robopg.envs.registry import ENGINES, make_vector_env, resolve_task, task_rows
from robopg.envs.tasks import ARM_TASKS, TASK_TABLE, TASKS, TaskSpec
from robopg.envs.vector import StepResult, VectorEnv, check_actions

__all__ = [
    "ARM_TASKS",
    "ENGINES",
    "TASKS",
    "TASK_TABLE",
    "StepResult",
    "TaskSpec",
    "VectorEnv",
    "check_actions",
    "make_vector_env",
    "resolve_task",
    "task_rows",
]
