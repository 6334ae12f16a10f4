"""The task table: short names, what backs them, and how to build a vector of them.

``make_vector_env`` is the single construction point the trainer, evaluator and renderer use, so
a new backend (the batched engine) drops in here and nowhere else.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym

from robopg.envs.engine import ArmTask, BatchedArmEnv
from robopg.envs.gym_arms import PusherTask, ReacherTask
from robopg.envs.gym_env import register_gym_envs
from robopg.envs.gym_vector import GymVectorEnv
from robopg.envs.own_arms import ARM7_SOLVED, REACHER3_SOLVED, Arm7Task, Reacher3Task
from robopg.envs.vector import VectorEnv
from robopg.errors import EnvError

ENGINES = ("auto", "batch", "gym")


@dataclass(frozen=True)
class TaskSpec:
    """A named arm task. ``solved`` is the deterministic-eval return we call solved."""

    name: str
    gym_id: str
    description: str
    solved: float | None = None


TASKS: dict[str, TaskSpec] = {
    "reacher": TaskSpec(
        "reacher", "Reacher-v5", "2-link planar arm reaching a random target", solved=-3.75
    ),
    "pusher": TaskSpec("pusher", "Pusher-v5", "7-DoF arm pushing a puck to a goal", solved=0.0),
}
# our own arms (envs/own_arms.py), also registered with gymnasium under the robopg/ namespace
TASKS.update(
    {
        "reacher3": TaskSpec(
            "reacher3", Reacher3Task.gym_id, Reacher3Task.description, solved=REACHER3_SOLVED
        ),
        "arm7": TaskSpec("arm7", Arm7Task.gym_id, Arm7Task.description, solved=ARM7_SOLVED),
    }
)

# Batched-engine factories by task name: (task, num_envs, num_threads) -> VectorEnv.
# The engine module registers itself here; tasks without a factory use gymnasium.
BatchFactory = Callable[[str, int, int | None], VectorEnv]
BATCH_ENGINES: dict[str, BatchFactory] = {}

#: the arm tasks the batched MuJoCo engine implements, by short name
ARM_TASKS: dict[str, type[ArmTask]] = {
    cls.name: cls for cls in (ReacherTask, PusherTask, Reacher3Task, Arm7Task)
}


def make_batched_arm_env(task: str, num_envs: int, num_threads: int | None = None) -> VectorEnv:
    """The batched engine for one of ``ARM_TASKS`` (threads default to the available cores)."""
    return BatchedArmEnv(ARM_TASKS[task].make(), num_envs, num_threads)


BATCH_ENGINES.update(dict.fromkeys(ARM_TASKS, make_batched_arm_env))
register_gym_envs()


def resolve_task(name: str) -> TaskSpec:
    """Map a short name or any gymnasium id to a TaskSpec, or raise one helpful sentence."""
    key = name.strip()
    if key.lower() in TASKS:
        return TASKS[key.lower()]
    for spec in TASKS.values():
        if spec.gym_id == key:
            return spec
    if key in gym.registry:
        return TaskSpec(key, key, "gymnasium environment")
    known = sorted(TASKS)
    close = difflib.get_close_matches(key.lower(), known + list(gym.registry), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise EnvError(
        f"Unknown task '{name}'.{hint} Known tasks: {', '.join(known)}, or any gymnasium id "
        "with a Box action space (run `robopg envs` to list them)."
    )


def make_vector_env(
    name: str,
    num_envs: int,
    engine: str = "auto",
    num_threads: int | None = None,
) -> VectorEnv:
    """Build ``num_envs`` copies of a task on the fastest backend available (or the one asked).

    ``engine``: ``auto`` (batched engine where the task has one, else gymnasium), ``batch``, or
    ``gym``. Seeding happens at ``reset(seed)``.
    """
    if engine not in ENGINES:
        raise EnvError(f"Unknown engine '{engine}'; choose one of {', '.join(ENGINES)}.")
    if num_envs < 1:
        raise EnvError(f"num_envs must be at least 1, got {num_envs}.")
    spec = resolve_task(name)
    factory = BATCH_ENGINES.get(spec.name)
    if engine == "batch" and factory is None:
        raise EnvError(f"Task '{spec.name}' has no batched engine; use --engine gym (or auto).")
    if factory is not None and engine in ("auto", "batch"):
        return factory(spec.name, num_envs, num_threads)
    return GymVectorEnv(spec.gym_id, num_envs, task=spec.name)


def task_rows() -> list[dict[str, object]]:
    """One row per named task for ``robopg envs``: sizes, episode length, backing engine."""
    rows: list[dict[str, object]] = []
    for spec in TASKS.values():
        env = gym.make(spec.gym_id)
        try:
            obs_shape = env.observation_space.shape or (0,)
            act_shape = env.action_space.shape or (0,)
            rows.append(
                {
                    "task": spec.name,
                    "gym id": spec.gym_id,
                    "obs": int(obs_shape[0]),
                    "action": int(act_shape[0]),
                    "episode": env.spec.max_episode_steps if env.spec else "?",
                    "engine": "batch" if spec.name in BATCH_ENGINES else "gym",
                    "solved": "—" if spec.solved is None else spec.solved,
                    "description": spec.description,
                }
            )
        finally:
            env.close()
    return rows
