"""Task lookup and construction: short names or gymnasium ids to a vector of envs.

The table itself is ``robopg.envs.tasks``; ``make_vector_env`` is the single construction point
the trainer, evaluator and renderer use, so a backend choice is made here and nowhere else.

Envs of other packages are named the way gymnasium names them: ``"module:EnvId"``
(``gymnasium_robotics:PointMaze_UMazeDense-v3``) imports ``module``, which registers its ids,
then looks the id up; gymnasium's ``make`` parses the same string, so the whole string is the
task's name and its gymnasium id, and every later command (eval, render, resume) that reads it
from a run re-imports the module the same way.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
from collections.abc import Iterable

import gymnasium as gym
from gymnasium.envs.registration import _find_spec

from robopg.envs.batched import BatchedArmEnv
from robopg.envs.gym_env import register_gym_env, register_gym_envs
from robopg.envs.gym_vector import GymVectorEnv
from robopg.envs.randomize import RandomizeSettings
from robopg.envs.spec import TaskSpec
from robopg.envs.tasks import ARM_TASKS, TASKS, task_module_spec
from robopg.envs.vector import VectorEnv
from robopg.errors import EnvError

__all__ = ["ARM_TASKS", "ENGINES", "TASKS", "TaskSpec", "make_vector_env", "resolve_task"]

ENGINES = ("auto", "batch", "gym")

#: packages known to register robot-learning envs with gymnasium when imported; ``robopg envs
#: --all`` imports those installed (gymnasium has no plugin discovery of its own)
ENV_PACKAGES = ("gymnasium_robotics", "panda_gym")

register_gym_envs()


def register_task(module: str) -> TaskSpec:
    """Add the task of ``module`` (any importable task module: an ``ArmTask`` and its
    ``SPEC = TaskSpec.of_arm(...)``) to robopg's tasks, with its gymnasium id if the spec
    registers one; then every command and engine knows it by name. Idempotent."""
    spec = task_module_spec(module)
    register_gym_env(spec)
    return spec


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
    if ":" in key:
        return _module_task(name, key)
    known = sorted(TASKS)
    close = difflib.get_close_matches(key.lower(), known + list(gym.registry), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise EnvError(
        f"Unknown task '{name}'.{hint} Known tasks: {', '.join(known)}, any gymnasium id "
        "with a Box action space, or module:EnvId for another package's env (run "
        "`robopg envs --all` to list them)."
    )


def _module_task(name: str, key: str) -> TaskSpec:
    """The task of a ``"module:EnvId"`` string: gymnasium's own lookup (``_find_spec``, what
    ``gym.make`` runs) imports the module and finds the id, or one EnvError says which failed."""
    module, _, env_id = key.partition(":")
    try:
        _find_spec(key)
    except ValueError:  # gymnasium splits on ':' into exactly two parts
        raise EnvError(
            f"'{name}' has more than one ':'; write a third-party env as module:EnvId, "
            "e.g. gymnasium_robotics:PointMaze_UMazeDense-v3."
        ) from None
    except ImportError as exc:
        raise EnvError(
            f"Cannot import '{module}' for the env '{env_id}' ({exc.__cause__ or exc}); "
            "install the package "
            "that provides it, or check the module name before the ':'."
        ) from None
    except gym.error.Error as exc:
        raise EnvError(
            f"Importing '{module}' registered no env '{env_id}' ({exc}); "
            f"list its ids with `robopg envs --all` or gymnasium.pprint_registry()."
        ) from None
    for spec in TASKS.values():
        if spec.gym_id == env_id:
            return spec
    return TaskSpec(key, key, f"gymnasium environment registered by {module}")


def registered_ids(packages: Iterable[str] = ENV_PACKAGES) -> dict[str, list[str]]:
    """Every id in gymnasium's registry after importing the installed ``packages``, grouped by
    the top-level package of its entry point, each written as ``robopg train`` takes it
    (``"package:EnvId"`` for another package's id, so the package is imported first).

    Whether an env trains here (a Box action space, a Box or Dict-of-Box observation) is only
    known by building it, which this listing does not do."""
    for package in packages:
        if importlib.util.find_spec(package) is not None:
            importlib.import_module(package)
    groups: dict[str, list[str]] = {}
    for env_id, env_spec in sorted(gym.registry.items()):
        entry = env_spec.entry_point
        source = entry.split(":")[0] if isinstance(entry, str) else getattr(entry, "__module__", "")
        package = source.split(".")[0] or "?"
        if package in ("gymnasium", "robopg"):
            groups.setdefault(package, []).append(env_id)
        else:
            groups.setdefault(package, []).append(f"{package}:{env_id}")
    return groups


def make_vector_env(
    name: str,
    num_envs: int,
    engine: str = "auto",
    num_threads: int | None = None,
    action: str = "torque",
    randomize: RandomizeSettings | None = None,
) -> VectorEnv:
    """Build ``num_envs`` copies of a task on the fastest backend available (or the one asked).

    ``engine``: ``auto`` (batched engine where the task has one, else gymnasium), ``batch``, or
    ``gym``. ``action``: the action interface (``robopg.envs.actions``); one beside ``torque``
    runs on the batched engine. ``randomize``: domain randomization (``robopg.envs.randomize``),
    on the batched engine only. Seeding happens at ``reset(seed)``.
    """
    if engine not in ENGINES:
        raise EnvError(f"Unknown engine '{engine}'; choose one of {', '.join(ENGINES)}.")
    if num_envs < 1:
        raise EnvError(f"num_envs must be at least 1, got {num_envs}.")
    spec = resolve_task(name)
    if engine == "batch" and spec.arm is None:
        raise EnvError(f"Task '{spec.name}' has no batched engine; use --engine gym (or auto).")
    if action != "torque":
        spec.check_action(action)
        if engine == "gym":
            raise EnvError(
                f"--action {action} runs on the batched or warp engine; drop --engine gym."
            )
    if spec.arm is not None and engine in ("auto", "batch"):
        return BatchedArmEnv(spec.make_arm(action), num_envs, num_threads, randomize)
    if randomize is not None:
        raise EnvError(
            f"--randomize needs robopg's batched or warp engine; '{spec.name}' on --engine gym "
            "has none (use --engine auto)."
        )
    return GymVectorEnv(spec.gym_id, num_envs, task=spec.name)


def task_rows() -> list[dict[str, object]]:
    """One row per named task for ``robopg envs``: sizes, episode length, engines.

    ``engines`` lists every backend that runs the task (from its spec), ``engine`` the one
    ``--engine auto`` picks.
    """
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
                    "engines": ", ".join(spec.engines),
                    "engine": spec.engines[0],
                    "solved": "—" if spec.solved is None else spec.solved,
                    "description": spec.description,
                }
            )
        finally:
            env.close()
    return rows
