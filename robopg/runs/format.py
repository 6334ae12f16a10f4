"""The checkpoint file format, readable without torch: constants, reading and header checks.

Why a module of its own: ``robopg.runs.checkpoint`` (training, torch tensors) and
``robopg.deploy.controller`` (deployment, numpy only) read the same files and must refuse the
same bad ones with the same sentences. Everything here is torch-free, so a controller loads a
checkpoint in a process that has no deep-learning stack; the caller picks the array framework.

A checkpoint is one ``.safetensors`` file whose string ``__metadata__`` holds a JSON header
under ``META_KEY``: ``{"format": FORMAT, "format_version": int, ...}``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open

from robopg.algo.net_config import OBS_NORM_CLIP
from robopg.errors import CheckpointError

FORMAT = "robopg-checkpoint"
#: 2: the ``net`` header may say ``std: "state"`` (a ``log_std_net`` head instead of
#: ``log_std``). Files of a ``param`` policy are still written as 1, so an older robopg that
#: can act with them keeps reading them; it refuses a 2 with the "newer format" sentence.
#: 3: the ``net`` header may set ``log_std_floor`` (σ floor) or an ``obs_clip`` other than 10;
#: a reader that ignored them would act differently, so such files are 3 and others stay ≤ 2.
FORMAT_VERSION = 3


def format_version_for(meta: dict[str, Any]) -> int:
    """The oldest format version that describes a checkpoint with this header."""
    net = meta.get("net")
    if not isinstance(net, dict):
        return 1
    if net.get("log_std_floor") is not None or net.get("obs_clip", OBS_NORM_CLIP) != OBS_NORM_CLIP:
        return 3
    return 2 if net.get("std", "param") != "param" else 1


META_KEY = "robopg"

#: Optional header field of a policy trained on Dict observations: the keys in the order they
#: are flattened, with each leaf's shape, ``[{"key": "achieved_goal", "shape": [2]}, ...]``
#: (``robopg.envs.flatten``). The network itself takes the flat vector, so a reader that ignores
#: the field acts the same on flat observations: it needs no new format version.
OBS_KEYS = "obs_keys"


def read_checkpoint_file(path: Path | str, framework: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read every tensor of a checkpoint and its validated robopg header.

    ``framework`` is safetensors' array type: ``"pt"`` gives torch tensors (CPU), ``"numpy"``
    numpy arrays. Returns ``(tensors by name, header dict)``, or raises CheckpointError saying
    what is wrong with the file.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"'{path}' is a folder; pass a .safetensors checkpoint file.")
    if not path.is_file():
        raise CheckpointError(f"Checkpoint '{path}' does not exist.")
    try:
        with safe_open(str(path), framework=framework, device="cpu") as fh:
            raw_meta = (fh.metadata() or {}).get(META_KEY)
            if raw_meta is None:
                raise CheckpointError(
                    f"'{path}' is a safetensors file but not a robopg checkpoint "
                    "(no robopg metadata)."
                )
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 (not a dict)
    except SafetensorError as exc:
        raise CheckpointError(
            f"'{path}' is not a readable robopg checkpoint (corrupt, truncated or another "
            f"format: {exc})."
        ) from None
    except (OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"'{path}' could not be read as a checkpoint: {exc}.") from None
    return tensors, parse_header(path, raw_meta)


def parse_header(path: Path, raw_meta: str) -> dict[str, Any]:
    """The robopg JSON header as a dict, refusing foreign, corrupt or too-new headers."""
    try:
        meta = json.loads(raw_meta)
    except json.JSONDecodeError:
        raise CheckpointError(f"'{path}' has corrupt robopg metadata.") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"'{path}' is not a robopg checkpoint.")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"'{path}' uses checkpoint format {version}, newer than this robopg understands "
            f"({FORMAT_VERSION}); upgrade robopg to load it."
        )
    return meta


def read_obs_keys(
    meta: dict[str, Any], path: Path | str
) -> list[tuple[str, tuple[int, ...]]] | None:
    """The header's ``obs_keys`` as ``(key, shape)`` pairs in flattening order, or None when
    the policy takes a flat observation (every checkpoint without the field)."""
    raw = meta.get(OBS_KEYS)
    if raw is None:
        return None
    try:
        entries = [(entry["key"], tuple(entry["shape"])) for entry in raw]
        ok = all(
            isinstance(k, str) and all(isinstance(d, int) and d >= 0 for d in s) for k, s in entries
        )
    except (TypeError, KeyError):
        ok = False
    if not ok or not entries:
        raise CheckpointError(
            f"'{path}' has a corrupt '{OBS_KEYS}' header (expected a list of "
            '{"key": name, "shape": [sizes]}).'
        )
    size = sum(math.prod(s) for _, s in entries)
    obs_dim = (meta.get("net") or {}).get("obs_dim")
    if obs_dim is not None and size != obs_dim:
        raise CheckpointError(
            f"'{path}' flattens its dict observation to {size} numbers but its network takes "
            f"{obs_dim}; the file is inconsistent."
        )
    return entries
