"""Checkpoint → GaussianPolicy: the one way every torch-side command loads a saved policy.

Export, variance, evaluation helpers and tests rebuild the network from the checkpoint's ``net``
header and load its weights strictly (a mismatch is one sentence, not a torch traceback). The
numpy ``Controller`` reads the same file without torch and needs no network object.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robopg.algo.policy import GaussianPolicy, NetConfig, load_state_strict
from robopg.runs.checkpoint import Checkpoint, load_checkpoint
from robopg.runs.run_dir import resolve_policy_path


@dataclass(frozen=True)
class SavedPolicy:
    """A policy (on the CPU, eval mode) with the checkpoint header it came with."""

    policy: GaussianPolicy
    meta: dict[str, Any]
    path: Path

    @property
    def task(self) -> str:
        return str(self.meta["task"])


def policy_from_checkpoint(ckpt: Checkpoint) -> GaussianPolicy:
    """The GaussianPolicy (normaliser included) stored in an already-read checkpoint."""
    policy = GaussianPolicy(NetConfig.from_dict(ckpt.meta.get("net")))
    load_state_strict(policy, ckpt.section("policy"), "policy")
    return policy.eval()


def load_policy(source: str | Path) -> SavedPolicy:
    """A checkpoint file, run directory or task name (shipped policy) → ``SavedPolicy``."""
    path = resolve_policy_path(source)
    ckpt = load_checkpoint(path)
    return SavedPolicy(policy_from_checkpoint(ckpt), ckpt.meta, path)
