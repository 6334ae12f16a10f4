"""The policy's architecture as plain data, importable without torch.

Why it is not in ``robopg.algo.policy``: every checkpoint stores this config as its ``net`` header,
and ``robopg.deploy.controller`` rebuilds the network from it in numpy, in processes that must never
import torch. ``robopg.algo.policy`` builds the torch modules from the same class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from robopg.errors import CheckpointError

#: RunningMeanStd's defaults (robopg/algo/normalize.py). ε is not stored in checkpoints, so a numpy
#: controller standardises with this one; the clip is stored as ``obs_clip`` (format 3) and
#: defaults to this value for older files. tests/engines/test_controller.py checks they agree.
OBS_NORM_CLIP = 10.0
OBS_NORM_EPSILON = 1e-8

#: How σ is parameterised: ``param`` (one free log σ per action dim, state-independent) or
#: ``state`` (a second MLP head, log σ(s) bounded to [log_std_min, log_std_max] by a tanh).
STD_KINDS = ("param", "state")


@dataclass(frozen=True)
class NetConfig:
    """Network architecture, saved in every checkpoint so a policy can be rebuilt from it."""

    obs_dim: int
    act_dim: int
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    log_std_init: float = -0.5
    std: str = "param"
    log_std_min: float = -5.0
    log_std_max: float = 1.0
    #: σ floor of a ``param`` policy: log σ = max(log σ_θ, floor) (None: no floor). Stops the
    #: free σ from collapsing before the mean is right; a state σ has ``log_std_min`` instead.
    log_std_floor: float | None = None
    #: Normalised observations are clipped to ±obs_clip before the networks see them.
    obs_clip: float = OBS_NORM_CLIP

    def __post_init__(self) -> None:
        if self.std not in STD_KINDS:
            raise CheckpointError(f"Unknown std kind '{self.std}'; expected one of {STD_KINDS}.")
        if self.std == "state" and not (self.log_std_min < self.log_std_init < self.log_std_max):
            raise CheckpointError(
                f"log_std_init {self.log_std_init} must lie strictly inside "
                f"[log_std_min, log_std_max] = [{self.log_std_min}, {self.log_std_max}]."
            )
        if self.log_std_floor is not None and self.std != "param":
            raise CheckpointError("A log σ floor applies to std 'param' only.")
        if not self.obs_clip > 0:
            raise CheckpointError(f"obs_clip must be positive, got {self.obs_clip}.")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in every checkpoint's ``net`` header."""
        return {
            "obs_dim": self.obs_dim,
            "act_dim": self.act_dim,
            "hidden": list(self.hidden),
            "activation": self.activation,
            "log_std_init": self.log_std_init,
            "std": self.std,
            "log_std_min": self.log_std_min,
            "log_std_max": self.log_std_max,
            "log_std_floor": self.log_std_floor,
            "obs_clip": self.obs_clip,
        }

    @classmethod
    def from_dict(cls, net: object) -> NetConfig:
        """Inverse of ``to_dict``; a missing or incomplete config is one CheckpointError."""
        if not isinstance(net, dict):
            raise CheckpointError("Checkpoint has no network config ('net'); it is not a policy.")
        floor = net.get("log_std_floor")
        try:
            return cls(
                obs_dim=int(net["obs_dim"]),
                act_dim=int(net["act_dim"]),
                hidden=tuple(int(h) for h in net["hidden"]),
                activation=str(net["activation"]),
                log_std_init=float(net["log_std_init"]),
                # Checkpoints written before state-dependent σ existed are all ``param``.
                std=str(net.get("std", "param")),
                log_std_min=float(net.get("log_std_min", -5.0)),
                log_std_max=float(net.get("log_std_max", 1.0)),
                # Format ≤ 2 files have neither: no floor, the fixed clip of 10.
                log_std_floor=None if floor is None else float(floor),
                obs_clip=float(net.get("obs_clip", OBS_NORM_CLIP)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"Checkpoint network config is incomplete: {exc}.") from None

    def linear_layers(self) -> list[tuple[int, int]]:
        """(out, in) weight shape of each Linear of the mean MLP (and of the log-σ head, which
        has the same shape), input layer first."""
        sizes = [self.obs_dim, *self.hidden, self.act_dim]
        return [(sizes[i + 1], sizes[i]) for i in range(len(sizes) - 1)]
