"""Export a saved policy as one self-contained model file: ONNX, torch.export or TorchScript.

The exported graph is the whole deterministic controller, the same function as
``Controller.act_batch``: raw observation → normalise with the saved running statistics (and
clip to ±clip) → mean MLP → clip to the actuator range. Nothing else is needed to run it: no
robopg, no normaliser file, no hand-written wrapper. Input ``obs`` is float32 (batch, obs_dim),
output ``action`` is float32 (batch, act_dim); the batch size is dynamic. What the action means
depends on the task's action interface the policy was trained on (``robopg.envs.actions``): the
file's metadata records it (``robopg.action``) with a sentence saying what to run below it
(``robopg.action_meaning``): torques for ``torque``, else the change of a joint target or a
flange step that the joint impedance law of ``robopg.envs.franka_control`` turns into torque.

Formats, each with the one file extension it is written under:

- ``onnx`` (``.onnx``): for any ONNX runtime; written by torch's recommended exporter
  (``torch.onnx.export(..., dynamo=True)``, which captures the graph with ``torch.export`` and
  translates it with ``onnxscript``), with the batch axis declared dynamic.
- ``torch.export`` (``.pt2``): torch's own current format, an ``ExportedProgram`` saved with
  ``torch.export.save``; ``torch.export.load(path).module()`` gives back a callable module.
- ``torchscript`` (``.pt``): the legacy format for runtimes that only read TorchScript
  (``torch.jit.load``, libtorch in C++); torch deprecates TorchScript in favour of torch.export.

A policy trained on Dict observations (goal-conditioned envs) still takes the flat vector: the
dict's entries flattened and joined in the key order the checkpoint records (gymnasium's
``flatten_space`` order: sorted keys, e.g. ``achieved_goal``, ``desired_goal``,
``observation``). The file's metadata states that order (ONNX: ``robopg.obs_keys`` and the
``io`` line; the others: the same keys in ``robopg.json``), and ``Controller.flatten(obs_dict)``
builds the vector it expects.
"""

from __future__ import annotations

import io
import json
import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from robopg import __version__
from robopg.algo.policy import GaussianPolicy
from robopg.envs.actions import ACTION_MEANINGS, recorded_action
from robopg.errors import ConfigError
from robopg.runs.checkpoint import atomic_write
from robopg.runs.format import read_obs_keys
from robopg.runs.saved_policy import load_policy

FORMATS = ("onnx", "torch.export", "torchscript")
SUFFIX = {"onnx": ".onnx", "torch.export": ".pt2", "torchscript": ".pt"}


class DeployedPolicy(nn.Module):
    """normalise → mean MLP → clip, with every constant stored as a float32 buffer."""

    obs_mean: torch.Tensor
    obs_std: torch.Tensor
    low: torch.Tensor
    high: torch.Tensor

    def __init__(self, policy: GaussianPolicy, low: list[float], high: list[float]) -> None:
        super().__init__()
        norm = policy.obs_norm
        self.obs_clip = float(norm.clip)
        self.register_buffer("obs_mean", norm.mean.detach().float().clone())
        self.register_buffer("obs_std", torch.sqrt(norm.var + norm.epsilon).float())
        self.register_buffer("low", torch.tensor(low, dtype=torch.float32))
        self.register_buffer("high", torch.tensor(high, dtype=torch.float32))
        self.mean_net = policy.mean_net
        self.requires_grad_(False)  # a deployed controller is never trained

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = torch.clamp((obs - self.obs_mean) / self.obs_std, -self.obs_clip, self.obs_clip)
        return torch.minimum(torch.maximum(self.mean_net(x), self.low), self.high)


def load_deployed(source: str | Path) -> tuple[DeployedPolicy, dict[str, object]]:
    """The deployable module of a checkpoint/run/shipped policy, and a small description."""
    saved = load_policy(source)
    policy, meta, path = saved.policy, saved.meta, saved.path
    module = DeployedPolicy(policy, meta["action_low"], meta["action_high"]).eval()
    action = recorded_action(meta)
    info: dict[str, object] = {
        "task": meta["task"],
        "gym_id": meta.get("gym_id"),
        "obs_dim": policy.cfg.obs_dim,
        "act_dim": policy.cfg.act_dim,
        "env_steps": meta.get("env_steps"),
        "robopg_version": __version__,
        "source": str(path),
        "io": "obs float32 (batch, obs_dim) -> action float32 (batch, act_dim), clipped",
        "action": action,
        "action_meaning": ACTION_MEANINGS[action],
    }
    obs_keys = read_obs_keys(meta, path)
    if obs_keys is not None:
        order = ", ".join(f"{key} {list(shape)}" for key, shape in obs_keys)
        info["obs_keys"] = order
        info["io"] = f"{info['io']}; obs = the dict observation flattened in key order: {order}"
    return module, info


def output_format(fmt: str | None, out: Path | None) -> str:
    """The format to write: ``fmt`` if given, else the one ``out``'s extension names, else onnx.

    A file whose extension is not its format's (``--out model.txt``) is refused: a model saved
    under the wrong name is opened with the wrong loader later.
    """
    if fmt is not None and fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got '{fmt}'.")
    if out is None:
        return fmt or "onnx"
    by_suffix = {suffix: name for name, suffix in SUFFIX.items()}
    suffix = out.suffix.lower()
    if fmt is None and suffix in by_suffix:
        return by_suffix[suffix]
    if fmt is None:
        known = ", ".join(f"{s} ({n})" for n, s in SUFFIX.items())
        raise ConfigError(
            f"--out {out} has no model extension robopg knows; end it in one of {known}."
        )
    if suffix != SUFFIX[fmt]:
        raise ConfigError(
            f"--out {out} does not end in {SUFFIX[fmt]}, the extension of --format {fmt}; "
            f"name it {out.with_suffix(SUFFIX[fmt])}."
        )
    return fmt


def export_policy(source: str | Path, fmt: str | None = None, out: Path | None = None) -> Path:
    """Write ``source``'s policy as ``fmt`` (see FORMATS) to ``out``, atomically.

    ``fmt`` None: taken from ``out``'s extension, onnx without one. Default ``out``:
    ``<task>`` plus the format's extension, in the current folder (for a ``module:EnvId``
    task, the env id alone).
    """
    fmt = output_format(fmt, None if out is None else Path(out))
    module, info = load_deployed(source)
    # the env id alone names the file: no ':' of module:EnvId, no '/' of a namespace
    stem = str(info["task"]).split(":")[-1].replace("/", "_")
    out = Path(out) if out is not None else Path(f"{stem}{SUFFIX[fmt]}")
    example = torch.zeros(2, int(str(info["obs_dim"])))  # 2: a size 1 would be specialised
    with torch.no_grad():
        data = _WRITERS[fmt](module, example, info)
    atomic_write(out, data)
    return out


def _batch_dynamic() -> dict[str, dict[int, Any]]:
    """The batch axis of ``obs`` as a dynamic dimension (torch.export's dynamic_shapes)."""
    return {"obs": {0: torch.export.Dim("batch")}}


def _onnx_bytes(module: nn.Module, example: torch.Tensor, info: dict[str, object]) -> bytes:
    # The exporter's registry logs one warning per torchvision op when torchvision is absent,
    # and torch's pytree warns about its own LeafSpec on the way: noise about torch's internals.
    registry_log = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registry_log.level
    registry_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*LeafSpec.*", category=FutureWarning)
            program = torch.onnx.export(
                module,
                (example,),
                dynamo=True,
                input_names=["obs"],
                output_names=["action"],
                dynamic_shapes=_batch_dynamic(),
                verbose=False,
            )
    finally:
        registry_log.setLevel(level)
    if program is None:  # only the legacy exporter returns nothing
        raise RuntimeError("torch.onnx.export(dynamo=True) returned no ONNX program")
    model = program.model_proto
    for key, value in info.items():  # task, sizes and provenance in metadata_props
        entry = model.metadata_props.add()
        entry.key, entry.value = f"robopg.{key}", str(value)
    return bytes(model.SerializeToString())


def _torch_export_bytes(module: nn.Module, example: torch.Tensor, info: dict[str, object]) -> bytes:
    program = torch.export.export(module, (example,), dynamic_shapes=_batch_dynamic())
    buf = io.BytesIO()
    torch.export.save(program, buf, extra_files={"robopg.json": json.dumps(info)})
    return buf.getvalue()


def _torchscript_bytes(module: nn.Module, example: torch.Tensor, info: dict[str, object]) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # The format itself is the deprecated thing; a user who asked for it has chosen it.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        traced = torch.jit.trace(module, example)
        torch.jit.save(traced, buf, _extra_files={"robopg.json": json.dumps(info)})
    return buf.getvalue()


_WRITERS: dict[str, Callable[[nn.Module, torch.Tensor, dict[str, object]], bytes]] = {
    "onnx": _onnx_bytes,
    "torch.export": _torch_export_bytes,
    "torchscript": _torchscript_bytes,
}
