"""One construction point for every engine: the numpy engines and the device engine.

Why outside ``robopg.envs``: the envs package never imports torch (an import contract), and the
device engine's observations are torch tensors. ``make_engine`` builds what ``--engine`` names;
``make_collector`` picks the rollout collector by the engine's kind, so the
trainer holds either pair through the same few calls.

``--engine auto`` never picks warp: it needs the optional extra and a one-time kernel
compilation, and on a CPU it is slower than the batched engine; ask for it by name.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from robopg.algo.policy import GaussianPolicy
from robopg.collect.device_rollout import DeviceRolloutCollector
from robopg.collect.rollout import RolloutCollector, SamplerFactory
from robopg.collect.warp.engine import WarpArmEnv
from robopg.config import ANTITHETIC_WARP
from robopg.envs import VectorEnv, make_vector_env, resolve_task
from robopg.envs.randomize import RandomizeSettings
from robopg.errors import EnvError

#: what ``--engine`` accepts
ENGINE_CHOICES = ("auto", "batch", "gym", "warp")

#: a numpy engine or the device engine (which imports Warp only when built)
Engine = VectorEnv | WarpArmEnv
Collector = RolloutCollector | DeviceRolloutCollector


def host_engine(engine: str) -> str:
    """The numpy engine to evaluate or render with when training used ``engine``."""
    return "auto" if engine == "warp" else engine


def make_engine(
    name: str,
    num_envs: int,
    engine: str = "auto",
    device: torch.device | str = "cpu",
    num_threads: int | None = None,
    log: Callable[[str], None] | None = None,
    action: str = "torque",
    randomize: RandomizeSettings | None = None,
) -> Engine:
    """``num_envs`` copies of task ``name`` on ``engine`` with the action interface ``action``;
    warp runs on ``device``; ``randomize``: domain randomization (``robopg.envs.randomize``)."""
    if engine != "warp":
        return make_vector_env(
            name,
            num_envs,
            engine=engine,
            num_threads=num_threads,
            action=action,
            randomize=randomize,
        )
    spec = resolve_task(name)
    if spec.arm is None:
        raise EnvError(f"Task '{spec.name}' is gymnasium-only; --engine warp runs robopg's arms.")
    return WarpArmEnv(spec.make_arm(action), num_envs, device=device, log=log, randomize=randomize)


def make_collector(
    env: Engine,
    policy: GaussianPolicy,
    device: torch.device,
    generator: torch.Generator,
    antithetic: bool = False,
    make_sampler: SamplerFactory | None = None,
) -> Collector:
    """The rollout collector for ``env``'s kind (device-resident or numpy); ``antithetic``
    pairs the envs (``robopg.algo.antithetic``), which the numpy engines support;
    ``make_sampler`` is the backend's host sampler (the device collector samples on the
    device, in torch, whatever the backend)."""
    if isinstance(env, WarpArmEnv):
        if antithetic:
            raise EnvError(ANTITHETIC_WARP)
        return DeviceRolloutCollector(env, policy, device, generator)
    return RolloutCollector(env, policy, device, generator, antithetic, make_sampler)
