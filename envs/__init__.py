"""Arm tasks: MJCF assets, the batched MuJoCo engine, and gymnasium registration.

Installed as ``robopg.envs``. Import ``make_vector_env`` to build any task.
"""

from robopg.envs.registry import (
    BATCH_ENGINES,
    ENGINES,
    TASKS,
    TaskSpec,
    make_vector_env,
    resolve_task,
    task_rows,
)
from robopg.envs.vector import StepResult, VectorEnv, check_actions

__all__ = [
    "BATCH_ENGINES",
    "ENGINES",
    "TASKS",
    "StepResult",
    "TaskSpec",
    "VectorEnv",
    "check_actions",
    "make_vector_env",
    "resolve_task",
    "task_rows",
]
