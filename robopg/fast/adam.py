"""The bridge between torch's objects and the numpy fast path: which nets and optimizers it can
take, and Adam's state as flat numpy arrays.

The torch objects stay the truth between uses: ``FlatAdam`` copies the parameters and the
optimizer's state in, and ``write_back`` stores parameters, ``exp_avg``, ``exp_avg_sq`` and
``step`` back, so checkpoints, resumes and the autograd path see an ordinary
``torch.optim.Adam``. The arithmetic is ``torch.optim.adam``'s non-fused formula (lerp of the
first moment, bias-corrected denominator) in float32: equal to torch's to float32 rounding, not
bit for bit (tests/unit/test_fast_value_fit.py, tests/unit/test_fast_policy_step.py). Keeping
parameters, gradients and both moments in four flat arrays makes Adam's update a handful of
array operations for the whole net instead of a handful per tensor.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from robopg.algo.activations import ACTIVATIONS

Array = np.ndarray

#: torch module class name → activation name (``robopg.algo.activations``)
_BY_MODULE = {a.torch_module: name for name, a in ACTIVATIONS.items()}


def activation_names(net: nn.Sequential) -> list[str]:
    """The activation names between ``net``'s Linears (``net`` must be a ``plain_mlp``)."""
    return [_BY_MODULE[type(m).__name__] for m in list(net)[1::2]]


def plain_mlp(net: nn.Sequential) -> bool:
    """Whether ``net`` is Linear layers (with biases) alternating with activations of the table
    (ELU only at α = 1), ending in a Linear: ``robopg.algo.policy.mlp``'s shape, which the numpy
    forward and backward assume."""
    layers = list(net)
    if not layers or not isinstance(layers[-1], nn.Linear):
        return False
    for i, layer in enumerate(layers):
        want_linear = i % 2 == 0
        if want_linear != isinstance(layer, nn.Linear):
            return False
        if isinstance(layer, nn.Linear) and layer.bias is None:
            return False
        if not want_linear and (
            type(layer).__name__ not in _BY_MODULE
            or type(layer) is not getattr(nn, type(layer).__name__)
        ):
            return False
        if isinstance(layer, nn.ELU) and layer.alpha != 1.0:
            return False
    return True


def plain_adam(opt: torch.optim.Optimizer) -> bool:
    """Whether ``opt`` is a one-group Adam without the options ``FlatAdam`` leaves out."""
    if type(opt) is not torch.optim.Adam or len(opt.param_groups) != 1:
        return False
    group = opt.param_groups[0]
    off = ("amsgrad", "maximize", "fused", "capturable", "differentiable", "decoupled_weight_decay")
    return not any(group.get(k) for k in off) and not group["weight_decay"]


def scalar_dtype() -> torch.dtype:
    """The dtype Adam gives its CPU ``step`` counter (float64 only under a float64 default)."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


def adam_usable(params: Sequence[nn.Parameter], opt: torch.optim.Optimizer) -> bool:
    """Whether ``FlatAdam`` can stand in for ``opt`` on ``params``: one group of plain Adam
    (``plain_adam``) over exactly ``params``, float32 on the CPU, all tensors at one
    step count (true whenever only whole-net steps have been taken)."""
    if not plain_adam(opt) or len(opt.param_groups[0]["params"]) != len(params):
        return False
    if any(p.dtype != torch.float32 or p.device.type != "cpu" for p in params):
        return False
    started = [p for p in params if opt.state.get(p)]
    steps = {float(opt.state[p]["step"]) for p in started}
    return len(started) in (0, len(params)) and len(steps) <= 1


class FlatAdam:
    """Flat copies of ``params`` and ``opt``'s Adam state; ``weights``/``grads`` are per-tensor
    views into them (parameter order), ``step()`` is one Adam step on ``grad``."""

    def __init__(self, params: Sequence[nn.Parameter], opt: torch.optim.Optimizer) -> None:
        self._params = list(params)
        self._opt = opt
        offsets = np.cumsum([0, *(p.numel() for p in self._params)])
        n = int(offsets[-1])
        self.flat = np.empty(n, dtype=np.float32)
        self.grad = np.zeros(n, dtype=np.float32)
        self.exp_avg = np.zeros(n, dtype=np.float32)
        self.exp_avg_sq = np.zeros(n, dtype=np.float32)
        self._slices = [slice(int(lo), int(hi)) for lo, hi in itertools.pairwise(offsets)]
        state = [opt.state.get(p) for p in self._params]
        self.steps = int(float(state[0]["step"])) if state[0] else 0
        self.weights: list[Array] = []
        self.grads: list[Array] = []
        for p, st, sl in zip(self._params, state, self._slices, strict=True):
            self.flat[sl] = p.detach().reshape(-1).numpy()
            if st:
                self.exp_avg[sl] = st["exp_avg"].reshape(-1).numpy()
                self.exp_avg_sq[sl] = st["exp_avg_sq"].reshape(-1).numpy()
            self.weights.append(self.flat[sl].reshape(tuple(p.shape)))
            self.grads.append(self.grad[sl].reshape(tuple(p.shape)))
        (group,) = opt.param_groups
        self._beta1, self._beta2 = (float(b) for b in group["betas"])
        self._eps = float(group["eps"])

    def step(self) -> None:
        """One Adam step on ``self.grad`` at the optimizer's current learning rate."""
        self.steps += 1
        b1, b2, g = self._beta1, self._beta2, self.grad
        self.exp_avg += (g - self.exp_avg) * np.float32(1.0 - b1)  # lerp(grad, 1 − β1)
        self.exp_avg_sq *= np.float32(b2)
        self.exp_avg_sq += np.float32(1.0 - b2) * g * g
        step_size = float(self._opt.param_groups[0]["lr"]) / (1.0 - b1**self.steps)
        denom = np.sqrt(self.exp_avg_sq)
        denom /= np.float32((1.0 - b2**self.steps) ** 0.5)
        denom += np.float32(self._eps)
        self.flat -= np.float32(step_size) * self.exp_avg / denom

    @torch.no_grad()
    def write_back(self) -> None:
        """Parameters, the last step's gradient (``.grad``) and Adam state (``exp_avg``,
        ``exp_avg_sq``, ``step``) into torch."""
        for p in self._opt.param_groups[0]["params"]:  # Adam's own order, as Adam creates it
            if not self._opt.state.get(p):
                self._opt.state[p] = {
                    "step": torch.tensor(0.0, dtype=scalar_dtype()),
                    "exp_avg": torch.zeros_like(p),
                    "exp_avg_sq": torch.zeros_like(p),
                }
        for p, sl in zip(self._params, self._slices, strict=True):
            p.copy_(torch.from_numpy(self.flat[sl]).view_as(p))
            p.grad = torch.from_numpy(self.grad[sl].copy()).view_as(p)  # as autograd leaves it
            st = self._opt.state[p]
            st["exp_avg"].copy_(torch.from_numpy(self.exp_avg[sl]).view_as(p))
            st["exp_avg_sq"].copy_(torch.from_numpy(self.exp_avg_sq[sl]).view_as(p))
            st["step"].fill_(float(self.steps))
