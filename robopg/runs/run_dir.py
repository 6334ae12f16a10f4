"""The run directory: its layout, which checkpoint each command picks, and reading it back.

Every command that touches a run (train, resume, eval, info, export, render, variance and
``scripts/ship_policy.py``) goes through ``RunDir``, so the layout is written down once::

    runs/<task>-<time>/
      config.json            resolved TrainConfig
      metrics.jsonl, .csv    one row per update
      checkpoints/step_<env steps, 10 digits>.safetensors   periodic (resumable)
      final.safetensors      written when the run reaches its step budget
      videos/                training videos, if asked for
      .lock, owner.json      held by the one process that trains in it

Which checkpoint a command picks (``RunDir.policy_checkpoint`` / ``resume_checkpoint``):

- acting (eval, render, export, Controller, variance, shipping): ``final.safetensors`` if the
  run finished, else its newest periodic checkpoint;
- resuming: the newest periodic checkpoint (it holds optimiser, RNG and env state); a run whose
  only checkpoint is ``final.safetensors`` is resumed from it (to extend ``--steps``).

"Newest" is the largest step count in the file name (zero-padded, so name order is step order).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from robopg.errors import CheckpointError, ConfigError, RunDirError

FINAL = "final.safetensors"


@dataclass(frozen=True)
class RunDir:
    """Paths and checkpoint choice of one run directory (it need not exist yet)."""

    path: Path

    @property
    def config(self) -> Path:
        return self.path / "config.json"

    @property
    def metrics_jsonl(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def metrics_csv(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def final(self) -> Path:
        return self.path / FINAL

    @property
    def videos(self) -> Path:
        return self.path / "videos"

    @property
    def finished(self) -> bool:
        return self.final.is_file()

    def checkpoint_path(self, env_steps: int) -> Path:
        """Where the periodic checkpoint at ``env_steps`` goes."""
        return self.checkpoints / f"step_{env_steps:010d}.safetensors"

    def video_path(self, update: int) -> Path:
        return self.videos / f"update_{update:06d}.mp4"

    def periodic_checkpoints(self) -> list[Path]:
        """Periodic checkpoints, oldest first."""
        return sorted(self.checkpoints.glob("step_*.safetensors"))

    def all_checkpoints(self) -> list[Path]:
        """Periodic checkpoints, oldest first, then ``final.safetensors`` if present."""
        return self.periodic_checkpoints() + ([self.final] if self.finished else [])

    def policy_checkpoint(self) -> Path:
        """The checkpoint to act with: final if the run finished, else the newest periodic one."""
        if self.finished:
            return self.final
        periodic = self.periodic_checkpoints()
        if periodic:
            return periodic[-1]
        raise CheckpointError(f"Run directory '{self.path}' holds no checkpoint.")

    def resume_checkpoint(self) -> Path:
        """The checkpoint to resume from: final if the run finished (it is the newest state and
        holds everything a resume needs), else the newest periodic one."""
        if self.finished:
            return self.final
        periodic = self.periodic_checkpoints()
        if periodic:
            return periodic[-1]
        raise CheckpointError(f"Run directory '{self.path}' holds no checkpoint to resume from.")

    @contextmanager
    def owned(self) -> Iterator[None]:
        """Hold the run directory for this process: a second trainer is refused.

        The lock is an OS file lock (``filelock``, ``flock`` on POSIX) on ``.lock``: the kernel
        releases it when the holder exits, however it exits, so a lock left by a killed process
        is simply taken over. ``owner.json`` says who holds it, for the refusal message.
        """
        lock = FileLock(self.path / ".lock", timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise RunDirError(
                f"Run directory '{self.path}' is in use by {self._owner_text()}; wait for it to "
                "finish or stop it (Ctrl-C) before resuming."
            ) from None
        try:
            owner = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                "command": " ".join(sys.argv),
            }
            (self.path / "owner.json").write_text(json.dumps(owner) + "\n", encoding="utf-8")
            yield
        finally:
            lock.release()

    def _owner_text(self) -> str:
        try:
            owner = json.loads((self.path / "owner.json").read_text(encoding="utf-8"))
            return (
                f"process {owner['pid']} on {owner['host']} (started {owner['started']}: "
                f"{owner['command']})"
            )
        except (OSError, ValueError, KeyError, TypeError):
            return "another process"

    @classmethod
    def of_checkpoint(cls, checkpoint: Path) -> RunDir:
        """The run directory a checkpoint file belongs to."""
        parent = checkpoint.parent
        return cls(parent.parent if parent.name == "checkpoints" else parent)

    @classmethod
    def claim(cls, out: Path, name: str) -> RunDir:
        """Create ``out/name`` (or ``name-2``, ``name-3`` …) with its ``checkpoints/`` folder.

        ``mkdir`` itself is the claim: two runs started in the same second (parallel benchmark
        jobs, two terminals) can both see a name as free, but only one ``mkdir`` of it succeeds,
        so the other moves on to the next suffix instead of failing or sharing a directory.
        """
        try:
            out.mkdir(parents=True, exist_ok=True)
            n = 1
            while True:
                path = out / (name if n == 1 else f"{name}-{n}")
                try:
                    path.mkdir()
                except FileExistsError:
                    n += 1
                    continue
                (path / "checkpoints").mkdir()
                return cls(path)
        except OSError as exc:
            raise ConfigError(
                f"Cannot create a run directory in '{out}': {exc.strerror}; "
                "pass a writable folder with --out."
            ) from None


def checkpoint_for_resume(source: Path) -> Path:
    """A checkpoint file as given, or a run directory's ``resume_checkpoint``."""
    source = Path(source)
    if source.is_file():
        return source
    if source.is_dir():
        return RunDir(source).resume_checkpoint()
    raise CheckpointError(f"'{source}' is neither a checkpoint file nor a run directory.")


def resolve_policy_path(source: str | Path) -> Path:
    """A checkpoint file, a run directory (its ``policy_checkpoint``), or a task name (the
    policy shipped with robopg for it)."""
    path = Path(source)
    if path.is_file():
        return path
    if path.is_dir():
        return RunDir(path).policy_checkpoint()
    from robopg.envs import resolve_task
    from robopg.errors import EnvError
    from robopg.policies import shipped_policy

    try:
        task = resolve_task(str(source)).name
    except EnvError:
        raise CheckpointError(
            f"'{source}' is not a checkpoint file, a run directory or a task name."
        ) from None
    shipped = shipped_policy(task)
    if shipped is None:
        raise CheckpointError(
            f"robopg ships no trained policy for '{task}'; train one with `robopg train {task}` "
            "and pass its run directory."
        )
    return shipped


@dataclass(frozen=True)
class RunRecord:
    """One run directory: its saved config and one metrics dict per update (file order)."""

    path: Path
    config: dict[str, Any]
    rows: list[dict[str, Any]]

    def series(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(env_steps, values) of a metric over the updates that have a value for it."""
        pairs = [
            (row["time/env_steps"], row[name])
            for row in self.rows
            if isinstance(row.get(name), (int, float)) and "time/env_steps" in row
        ]
        if not pairs:
            return np.zeros(0), np.zeros(0)
        steps, values = zip(*pairs, strict=True)
        return np.asarray(steps, dtype=np.float64), np.asarray(values, dtype=np.float64)


def is_run_dir(path: Path) -> bool:
    return RunDir(path).metrics_jsonl.is_file()


def expand_runs(paths: list[Path]) -> list[Path]:
    """Run directories as given, or every run directory inside a folder (e.g. ``runs/``)."""
    found: list[Path] = []
    for path in paths:
        if is_run_dir(path):
            found.append(path)
        elif path.is_dir():
            children = sorted(p for p in path.iterdir() if p.is_dir() and is_run_dir(p))
            if not children:
                raise RunDirError(
                    f"'{path}' is neither a run directory (no metrics.jsonl) nor a folder of them."
                )
            found.extend(children)
        else:
            raise RunDirError(f"Run directory '{path}' does not exist.")
    return found


def load_run(path: Path) -> RunRecord:
    """Parse a run directory. A torn last line (a run killed mid-write) is skipped."""
    if not is_run_dir(path):
        raise RunDirError(f"'{path}' is not a run directory (it has no metrics.jsonl).")
    run = RunDir(path)
    rows: list[dict[str, Any]] = []
    lines = run.metrics_jsonl.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):
                break
            raise RunDirError(f"'{run.metrics_jsonl}' line {number} is not JSON.") from None
    config: dict[str, Any] = {}
    if run.config.is_file():
        config = json.loads(run.config.read_text(encoding="utf-8"))
    return RunRecord(path, config, rows)
