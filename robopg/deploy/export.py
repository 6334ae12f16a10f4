"""Export a saved policy as one self-contained model file: ONNX or TorchScript.

The exported graph is the whole deterministic controller, the same function as
``Controller.act_batch``: raw observation → normalise with the saved running statistics (and
clip to ±clip) → mean MLP → clip to the actuator range. Nothing else is needed to run it: no
robopg, no normaliser file, no hand-written wrapper. Input ``obs`` is float32 (batch, obs_dim),
output ``action`` is float32 (batch, act_dim); the batch size is dynamic. What the action means
depends on the task's action interface the policy was trained on (``robopg.envs.actions``): the
file's metadata records it (``robopg.action``) with a sentence saying what to run below it
(``robopg.action_meaning``): torques for ``torque``, else the change of a joint target or a
flange step that the joint impedance law of ``robopg.envs.franka_control`` turns into torque.

ONNX goes through torch's TorchScript-based exporter (``dynamo=False``): it needs only the
``onnx`` package, where the dynamo exporter would also need ``onnxscript``.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import torch
from torch import nn

from robopg import __version__
from robopg.algo.policy import GaussianPolicy
from robopg.envs.actions import ACTION_MEANINGS, recorded_action
from robopg.errors import ConfigError
from robopg.runs.checkpoint import atomic_write
from robopg.runs.saved_policy import load_policy

FORMATS = ("onnx", "torchscript")
SUFFIX = {"onnx": ".onnx", "torchscript": ".pt"}


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
    return module, info


def export_policy(source: str | Path, fmt: str, out: Path | None = None) -> Path:
    """Write ``source``'s policy as ``fmt`` (onnx or torchscript) to ``out`` (atomically).

    Default ``out``: ``<task>.onnx`` / ``<task>.pt`` in the current folder.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got '{fmt}'.")
    module, info = load_deployed(source)
    out = Path(out) if out is not None else Path(f"{info['task']}{SUFFIX[fmt]}")
    example = torch.zeros(1, int(str(info["obs_dim"])))
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation notices for the legacy paths
        if fmt == "torchscript":
            scripted = torch.jit.trace(module, example)
            torch.jit.save(scripted, buf, _extra_files={"robopg.json": json.dumps(info)})
        else:
            torch.onnx.export(
                module,
                (example,),
                buf,  # type: ignore[arg-type]  # the legacy exporter writes file objects too
                dynamo=False,
                input_names=["obs"],
                output_names=["action"],
                dynamic_axes={"obs": {0: "batch"}, "action": {0: "batch"}},
                opset_version=17,
            )
    data = buf.getvalue()
    if fmt == "onnx":
        data = _with_onnx_metadata(data, info)
    atomic_write(out, data)
    return out


def _with_onnx_metadata(data: bytes, info: dict[str, object]) -> bytes:
    """Record task, sizes and provenance in the ONNX model's metadata_props."""
    import onnx

    model = onnx.load_from_string(data)
    for key, value in info.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = f"robopg.{key}", str(value)
    return bytes(model.SerializeToString())
