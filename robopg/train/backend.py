"""The one seam between the reference implementation and the fast CPU path.

A run's three hot operations (sampling the policy at every env step, the policy step, the value
fit) exist twice: in torch with autograd (``robopg.algo``: the reference; GPU, a state-dependent
σ, torchrun) and in numpy (``robopg.fast``: the same arithmetic by hand, several times faster on
the CPU at robopg's net sizes, equal to torch to float32 rounding). ``pick_backend`` chooses one
of the two for the whole run, from what the run is, before the first batch; the trainer prints
its choice at start and records it in ``config.json`` (``backend``), so a run always says which
implementation trained it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from robopg.algo.distributed import DistContext
from robopg.algo.policy import GaussianPolicy, ValueNet
from robopg.algo.reinforce import PolicyStep, ValueFit, fit_value, torch_policy_step
from robopg.collect.rollout import Sample, SamplerFactory
from robopg.fast import policy_step as numpy_policy_step
from robopg.fast import sampler as numpy_sampler
from robopg.fast import value_fit as numpy_value_fit

#: the names ``pick_backend`` gives
BACKENDS = ("numpy", "torch")


@dataclass(frozen=True)
class Backend:
    """The implementations a run uses: ``make_sampler`` (None: the collector samples in torch),
    ``policy_step`` and ``value_fit`` for ``robopg.algo.reinforce.update``, and why this one."""

    name: str
    reason: str
    make_sampler: SamplerFactory | None
    policy_step: PolicyStep
    value_fit: ValueFit


def _numpy_sampler(policy: GaussianPolicy, generator: torch.Generator, antithetic: bool) -> Sample:
    return numpy_sampler.NumpySampler(policy, generator, antithetic).sample


def torch_backend(reason: str) -> Backend:
    """Autograd and torch sampling: every device, policy and process count."""
    return Backend("torch", reason, None, torch_policy_step, fit_value)


def numpy_backend(reason: str) -> Backend:
    """The numpy sampler, policy step and value fit (one CPU process; see ``pick_backend``)."""
    return Backend(
        "numpy", reason, _numpy_sampler, numpy_policy_step.policy_step, numpy_value_fit.fit_value
    )


def pick_backend(
    policy: GaussianPolicy,
    policy_opt: torch.optim.Optimizer | None,
    value_net: ValueNet | None,
    value_opt: torch.optim.Optimizer | None,
    device: torch.device,
    dist: DistContext,
) -> Backend:
    """numpy where it covers the whole run (CPU, one process, a free log σ, plain MLPs and Adam),
    else torch; the ``reason`` says why. Without optimizers (a study that only samples and fits
    fresh value nets with plain Adam) the policy's own shape decides."""
    if device.type != "cpu":
        return torch_backend(f"the run is on {device.type}")
    if dist.active:
        return torch_backend("torchrun averages gradients across processes")
    if policy.state_std:
        return torch_backend("--std state (the numpy step covers a free log σ)")
    if not numpy_sampler.usable(policy) or (
        policy_opt is not None and not numpy_policy_step.usable(policy, policy_opt)
    ):
        return torch_backend(
            "the policy net or optimizer is not a plain float32 MLP with plain Adam"
        )
    if value_net is not None and (
        value_opt is None or not numpy_value_fit.usable(value_net.net, value_opt)
    ):
        return torch_backend(
            "the value net or optimizer is not a plain float32 MLP with plain Adam"
        )
    return numpy_backend("CPU, one process, plain MLPs: the fast path covers the run")
