"""A torch MLP and its Adam optimizer as flat numpy arrays: forward, backward and Adam's step.

Why: robopg's nets are tiny (64-64) and its batches small (~100-800 rows), so on the CPU every
torch call costs more in dispatch than in arithmetic; numpy's per-call cost is a
fraction of that, and keeping parameters, gradients and Adam's two moments in four flat float32
arrays makes Adam's update a handful of array operations for the whole net instead of a handful
per tensor. The value fit (``numpy_value_fit``) and the policy step (``numpy_policy_step``) are
built from these pieces.

The torch objects stay the truth between uses: ``FlatAdam`` copies the parameters and the
optimizer's state in, and ``write_back`` stores parameters, ``exp_avg``, ``exp_avg_sq`` and
``step`` back, so checkpoints, resumes and the autograd path see an ordinary
``torch.optim.Adam``. The arithmetic is ``torch.optim.adam``'s non-fused formula (lerp of the
first moment, bias-corrected denominator) in float32; results equal torch's to float32
rounding, not bit for bit (tests/test_numpy_value_fit.py, tests/test_numpy_policy_step.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from robopg import mlp_grad

Array = np.ndarray

#: activation (in place on z) and its derivative written with the activation's output h
ACTIVATIONS: dict[type[nn.Module], tuple[Callable[[Array], object], Callable[[Array], Array]]] = {
    nn.Tanh: (lambda z: np.tanh(z, out=z), lambda h: 1.0 - h * h),
    nn.ReLU: (lambda z: np.maximum(z, 0.0, out=z), lambda h: (h > 0).astype(h.dtype)),
    nn.ELU: (
        lambda z: np.copyto(z, np.expm1(z), where=z <= 0),
        lambda h: np.where(h > 0, np.float32(1.0), h + np.float32(1.0)),
    ),
}


def plain_mlp(net: nn.Sequential) -> bool:
    """Whether ``net`` is Linear layers (with biases) and activations this module knows,
    alternating (``mlp_grad.plain_mlp``)."""
    return mlp_grad.plain_mlp(net, ACTIVATIONS)


def adam_usable(params: Sequence[nn.Parameter], opt: torch.optim.Optimizer) -> bool:
    """Whether ``FlatAdam`` can stand in for ``opt`` on ``params``: one group of plain Adam
    (``mlp_grad.plain_adam``) over exactly ``params``, float32 on the CPU, all tensors at one
    step count (true whenever only whole-net steps have been taken)."""
    if not mlp_grad.plain_adam(opt) or len(opt.param_groups[0]["params"]) != len(params):
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
                    "step": torch.tensor(0.0, dtype=mlp_grad.scalar_dtype()),
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


class MLPGrad:
    """Forward and backward of a ``plain_mlp`` over (weight, bias) views, e.g. ``FlatAdam``'s.

    ``weights``/``grads`` alternate weight (out, in) and bias (out,) per Linear, in order;
    without ``grads`` it only runs forward (the rollout's sampler).
    """

    def __init__(
        self, net: nn.Sequential, weights: Sequence[Array], grads: Sequence[Array] = ()
    ) -> None:
        self._acts = [ACTIVATIONS[type(m)] for m in list(net)[1::2]]
        self._w, self._b = list(weights[0::2]), list(weights[1::2])
        self._gw, self._gb = list(grads[0::2]), list(grads[1::2])

    def forward(self, x: Array) -> tuple[Array, list[Array]]:
        """(output (B, out), each Linear's input) for ``x`` (B, in) float32."""
        inputs = [x]
        h = x
        last = len(self._w) - 1
        for k, (w, b) in enumerate(zip(self._w, self._b, strict=True)):
            h = h @ w.T
            h += b
            if k < last:
                self._acts[k][0](h)
                inputs.append(h)
        return h, inputs

    def backward(self, inputs: list[Array], delta: Array) -> None:
        """Write ∂loss/∂(every weight and bias) into the gradient views, from ``delta`` =
        ∂loss/∂output (B, out) and the inputs ``forward`` returned."""
        for k in range(len(self._w) - 1, -1, -1):
            a = inputs[k]
            np.matmul(delta.T, a, out=self._gw[k])
            np.sum(delta, axis=0, out=self._gb[k])
            if k > 0:
                delta = (delta @ self._w[k]) * self._acts[k - 1][1](a)
