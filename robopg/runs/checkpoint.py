"""Checkpoints: one ``.safetensors`` file holding tensors plus a JSON header. Never pickle.

Why one file: safetensors stores a string-to-string ``__metadata__`` map in its header, so the
network config, env spaces, counters and RNG states (JSON) travel in the same file as the weights,
and a single atomic rename publishes the whole checkpoint. Loading parses a JSON header and raw
tensor bytes: no code from the file is ever executed.

The format itself (constants, reading, header checks) is torch-free in
``robopg.runs.format``, shared with ``robopg.deploy.controller``.

Tensor names: ``policy.*`` (incl. the observation normaliser), ``value.*``, ``optim.<name>.*``,
``env.*`` (batched-engine state), ``rng.*``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as st_save

from robopg.errors import CheckpointError, WriteError
from robopg.runs.format import FORMAT, META_KEY, format_version_for, read_checkpoint_file


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a mix.

    Temp file in the same folder → fsync → rename → fsync the folder. A crash (or kill -9)
    at any point leaves the previous file intact.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise CheckpointError(
            f"Cannot write to '{path.parent}': {exc.strerror}; choose a writable folder."
        ) from None
    try:
        # mkstemp creates 0600 files; give the checkpoint the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # disk full, quota, I/O error: say so, keep the old file
        Path(tmp).unlink(missing_ok=True)
        raise WriteError(
            f"Could not write '{path}': {exc.strerror or exc}; the previous version of the file "
            "is intact and no partial file was left. Free some space and run again (a training "
            "run resumes with `robopg train --resume RUN`)."
        ) from None
    except BaseException:  # Ctrl-C mid-write: remove the temp file, keep the old one
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@dataclass
class Checkpoint:
    """Tensors and JSON metadata of one checkpoint, as stored."""

    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any] = field(default_factory=dict)

    def section(self, prefix: str) -> dict[str, torch.Tensor]:
        """Tensors under ``prefix.`` with the prefix stripped (e.g. a state_dict)."""
        p = prefix + "."
        return {k[len(p) :]: v for k, v in self.tensors.items() if k.startswith(p)}


def save_checkpoint(path: Path, ckpt: Checkpoint) -> None:
    """Serialise and atomically write ``ckpt`` to ``path``."""
    meta = {"format": FORMAT, "format_version": format_version_for(ckpt.meta), **ckpt.meta}
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in ckpt.tensors.items()}
    data = st_save(tensors, metadata={META_KEY: json.dumps(meta)})
    atomic_write(Path(path), data)


def load_checkpoint(path: Path | str) -> Checkpoint:
    """Read a checkpoint onto the CPU, or raise CheckpointError with what is wrong."""
    tensors, meta = read_checkpoint_file(path, framework="pt")
    return Checkpoint(tensors=tensors, meta=meta)


def policy_only(ckpt: Checkpoint) -> Checkpoint:
    """The acting part of a checkpoint: policy (with its normaliser) and value weights.

    Drops optimiser moments, RNG, collector and env state (and their JSON), which only resuming
    needs: this is what robopg ships in ``policies/``. The result cannot be resumed from.
    """
    tensors = {k: v for k, v in ckpt.tensors.items() if k.startswith(("policy.", "value."))}
    drop = {"optim", "env_state", "format", "format_version"}
    meta = {k: v for k, v in ckpt.meta.items() if k not in drop}
    meta["policy_only"] = True
    return Checkpoint(tensors, meta)


def check_spaces(meta: dict[str, Any], task: str, obs_dim: int, act_dim: int, path: Path) -> None:
    """Refuse a checkpoint whose observation/action sizes differ from the env it is used on.

    Without this, a policy for another arm fails deep inside a matrix product (or, worse, a
    broadcast silently succeeds).
    """
    net = meta.get("net") or {}
    saved = (net.get("obs_dim"), net.get("act_dim"))
    if saved != (obs_dim, act_dim):
        raise CheckpointError(
            f"'{path}' was trained on '{meta.get('task')}' with observations of size {saved[0]} "
            f"and actions of size {saved[1]}, but '{task}' has {obs_dim} and {act_dim}; use a "
            f"policy trained on '{task}'."
        )


def optimizer_to_tensors(
    opt: torch.optim.Optimizer, prefix: str
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimiser state_dict into named tensors and JSON (param groups, scalars)."""
    state = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, pstate in state["state"].items():
        for key, value in pstate.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.{idx}.{key}"] = value
            else:
                scalars.setdefault(str(idx), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def optimizer_from_tensors(
    opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> None:
    """Inverse of ``optimizer_to_tensors``; loads into ``opt`` (moving to its device)."""
    per_param: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        idx, key = name.split(".", 1)
        per_param.setdefault(int(idx), {})[key] = value
    for idx, extra in meta.get("scalars", {}).items():
        per_param.setdefault(int(idx), {}).update(extra)
    opt.load_state_dict({"state": per_param, "param_groups": meta["param_groups"]})
