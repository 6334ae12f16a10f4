"""A training run's resumable state, gathered from the components that own it.

Each component already knows how to snapshot itself: modules and optimisers through
``state_dict``, torch generators through ``get_state``, the collector and the env through their
own ``state_dict`` (numpy arrays plus JSON). ``pack_state`` lays those out as a checkpoint's
tensors and JSON, ``unpack_state`` loads them back; the trainer only names the parts.

Checkpoint names (unchanged since format 1, so old run directories still resume):
``<module>.*`` for modules, ``optim.<name>.*`` + ``meta["optim"][name]`` for optimisers,
``rng.<name>`` for generators, ``collector.*``, and ``env.*`` + ``meta["env_state"]`` for the env.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from robopg.algo.policy import load_state_strict
from robopg.runs.checkpoint import Checkpoint, optimizer_from_tensors, optimizer_to_tensors


class Stateful(Protocol):
    """Anything with a numpy/JSON ``state_dict`` (the rollout collector, a vector env)."""

    def state_dict(self) -> dict[str, Any] | None: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass
class TrainState:
    """The named parts of a run; ``None`` entries (no value net, say) are skipped."""

    modules: dict[str, nn.Module | None] = field(default_factory=dict)
    optimizers: dict[str, torch.optim.Optimizer | None] = field(default_factory=dict)
    generators: dict[str, torch.Generator] = field(default_factory=dict)
    collector: Stateful | None = None
    env: Stateful | None = None


def split_arrays(prefix: str, state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict]:
    """Arrays/tensors of ``state`` as ``prefix.<key>`` tensors; everything else as JSON."""
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, Any] = {}
    for key, value in state.items():
        if isinstance(value, torch.Tensor):
            tensors[f"{prefix}.{key}"] = value
        elif isinstance(value, np.ndarray):
            tensors[f"{prefix}.{key}"] = torch.from_numpy(np.ascontiguousarray(value))
        else:
            plain[key] = value
    return tensors, plain


def pack_state(state: TrainState) -> Checkpoint:
    """Tensors and the state part of the JSON header (``optim``, ``env_state``)."""
    tensors: dict[str, torch.Tensor] = {}
    for name, module in state.modules.items():
        if module is not None:
            tensors.update(split_arrays(name, module.state_dict())[0])
    optim_meta: dict[str, Any] = {}
    for name, opt in state.optimizers.items():
        if opt is not None:
            opt_tensors, optim_meta[name] = optimizer_to_tensors(opt, f"optim.{name}")
            tensors.update(opt_tensors)
    for name, gen in state.generators.items():
        tensors[f"rng.{name}"] = gen.get_state()
    if state.collector is not None:
        tensors.update(split_arrays("collector", state.collector.state_dict() or {})[0])
    env_json: dict[str, Any] | None = None
    env_state = state.env.state_dict() if state.env is not None else None
    if env_state is not None:
        env_tensors, env_json = split_arrays("env", env_state)
        tensors.update(env_tensors)
    return Checkpoint(tensors, {"optim": optim_meta, "env_state": env_json})


def unpack_state(
    ckpt: Checkpoint, state: TrainState, skip_generators: tuple[str, ...] = ()
) -> bool:
    """Load ``ckpt`` into the parts of ``state``; True if the env (and collector) resumed.

    ``skip_generators`` keeps generators whose saved state does not fit (a CPU generator's state
    cannot seed a CUDA one). A checkpoint without ``env_state`` leaves env and collector as they
    are: the caller starts fresh episodes.
    """
    for name, module in state.modules.items():
        if module is not None:
            load_state_strict(module, ckpt.section(name), name)
    for name, opt in state.optimizers.items():
        if opt is not None:
            optimizer_from_tensors(opt, ckpt.section(f"optim.{name}"), ckpt.meta["optim"][name])
    for name, gen in state.generators.items():
        if name not in skip_generators:
            gen.set_state(ckpt.tensors[f"rng.{name}"])
    env_json = ckpt.meta.get("env_state")
    if env_json is None or state.env is None:
        return False
    env_state: dict[str, Any] = dict(env_json)
    env_state.update({k: v.numpy() for k, v in ckpt.section("env").items()})
    state.env.load_state_dict(env_state)
    if state.collector is not None:
        state.collector.load_state_dict(
            {k: v.numpy() for k, v in ckpt.section("collector").items()}
        )
    return True
