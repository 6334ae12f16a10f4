"""What a training checkpoint's JSON header says about its run, and what a resume checks of it.

The trainer owns the objects (networks, optimisers, engine); this module owns the header's
layout: ``training_header`` lays out the fields every checkpoint carries (task, network, action
bounds, the run's settings, counters, where it ran), ``check_resumable`` refuses a checkpoint
that cannot continue the run asked for, each with one sentence saying what to do instead. The
settings arrive as a plain dict (``TrainConfig.to_dict()``), so run directories stay below the
config module.
"""

from __future__ import annotations

import math
from collections.abc import Sized
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from robopg.algo.net_config import NetConfig
from robopg.errors import CheckpointError
from robopg.runs.checkpoint import check_spaces
from robopg.runs.run_dir import RunDir


class ActionSpace(Protocol):
    """The engine's facts a policy needs to act: action bounds ``(act_dim,)`` and step length."""

    @property
    def action_low(self) -> np.ndarray: ...

    @property
    def action_high(self) -> np.ndarray: ...

    @property
    def dt(self) -> float: ...


class EvalSummary(Protocol):
    """A finished evaluation (``robopg.deploy.evaluate.EvalResult``)."""

    @property
    def mean(self) -> float: ...

    @property
    def std(self) -> float: ...

    @property
    def stderr(self) -> float: ...

    @property
    def returns(self) -> Sized: ...

    @property
    def deterministic(self) -> bool: ...


@dataclass
class RunCounters:
    """How far a run has come: what a resume restores beside the tensors."""

    update: int = 0
    env_steps: int = 0
    elapsed_s: float = 0.0
    last_return: float = float("nan")
    best_eval: float | None = None

    @classmethod
    def from_header(cls, meta: dict[str, Any]) -> RunCounters:
        """The counters a checkpoint was saved at (``last_return`` is not restored: it is the
        display value of the latest batch, and the next update sets it)."""
        return cls(
            update=int(meta["update"]),
            env_steps=int(meta["env_steps"]),
            elapsed_s=float(meta.get("elapsed_s", 0.0)),
            best_eval=meta.get("best_eval"),
        )


def training_header(
    *,
    version: str,
    task: str,
    gym_id: str,
    net: NetConfig,
    space: ActionSpace,
    config: dict[str, Any],
    counters: RunCounters,
    state_meta: dict[str, Any],
    world_size: int,
    device_type: str,
    final_eval: EvalSummary | None = None,
    obs_keys: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON header of a training checkpoint, in the order it is written.

    ``obs_keys``: ``{"obs_keys": ...}`` for a task whose Dict observations are flattened (the
    key order, ``robopg.envs.flatten.obs_keys_meta``), else nothing.

    ``state_meta`` is the JSON part of the packed train state (``optim``, ``env_state``);
    ``final_eval`` is given for ``final.safetensors`` only (its ``eval`` entry marks the run as
    finished for ``check_resumable``).
    """
    meta: dict[str, Any] = {
        "robopg_version": version,
        "task": task,
        "gym_id": gym_id,
        "net": net.to_dict(),
        "action_low": space.action_low.tolist(),
        "action_high": space.action_high.tolist(),
        "dt": space.dt,
        **(obs_keys or {}),
        "config": config,
        "update": counters.update,
        "env_steps": counters.env_steps,
        "elapsed_s": counters.elapsed_s,
        "last_return": None if math.isnan(counters.last_return) else counters.last_return,
        "best_eval": counters.best_eval,
        **state_meta,
        "world_size": world_size,
        "device_type": device_type,
        "saved_at": datetime.now().isoformat(timespec="seconds"),
    }
    if final_eval is not None:
        meta["eval"] = {
            "mean": final_eval.mean,
            "std": final_eval.std,
            "stderr": final_eval.stderr,
            "episodes": len(final_eval.returns),
            "deterministic": final_eval.deterministic,
        }
    return meta


def check_resumable(
    meta: dict[str, Any],
    path: Path,
    *,
    task: str,
    obs_dim: int,
    act_dim: int,
    steps: int,
    world_size: int,
) -> None:
    """Refuse a checkpoint that cannot continue this run: another task or sizes, a policy-only
    file, a finished run with no steps left, or another number of processes."""
    if meta.get("task") != task:
        raise CheckpointError(
            f"Checkpoint '{path}' was trained on '{meta.get('task')}', not '{task}'."
        )
    if meta.get("policy_only"):
        raise CheckpointError(
            f"'{path}' holds only a policy (a shipped or stripped file), not the optimiser "
            "and RNG state a resume needs; pass the run directory it came from."
        )
    check_spaces(meta, task, obs_dim, act_dim, path)
    done = int(meta.get("env_steps", 0))
    if "eval" in meta and done >= steps:  # final.safetensors of a finished run
        raise CheckpointError(
            f"Run '{RunDir.of_checkpoint(path).path}' is finished ({done:,} of "
            f"{int(meta['config']['steps']):,} env steps); pass --steps with more than "
            f"{done:,} to train it further."
        )
    if meta.get("world_size", 1) != world_size:
        raise CheckpointError(
            f"Checkpoint '{path}' came from {meta.get('world_size')} processes; resume it "
            f"with the same number (this run has {world_size})."
        )


def same_device(meta: dict[str, Any], device_type: str) -> bool:
    """Whether the checkpoint was trained on this kind of device: CPU and CUDA generators have
    different states, so the action noise can be restored only on the same kind."""
    return bool(meta.get("device_type", "cpu") == device_type)
