"""The value fit on the CPU in numpy: minibatch MSE regression of V_φ with Adam, off torch.

Why: the value regression is 5 epochs × 8 minibatches of ~100 rows on a 64-64 net per update
(Reacher's defaults), and at that size a torch step is mostly dispatch (see ``numpy_mlp``).
numpy's step costs a fraction of ``mlp_grad``'s torch version, so the fit per update is the
part of training that gains most (docs/experiments.md, "Throughput").
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from robopg import mlp_grad
from robopg.numpy_mlp import FlatAdam, MLPGrad, adam_usable, plain_mlp


def usable(net: nn.Sequential, opt: torch.optim.Optimizer, device: torch.device) -> bool:
    """Whether ``NumpyValueFit`` can fit ``net`` (a plain MLP with one output) with ``opt``
    (plain Adam, float32, on the CPU)."""
    return (
        device.type == "cpu"
        and mlp_grad.supports(net)
        and plain_mlp(net)
        and adam_usable(list(net.parameters()), opt)
    )


class NumpyValueFit:
    """``step(x, y)``: one Adam step on ½·mean((net(x) − y)²) for ``x`` (B, in), ``y`` (B,)
    float32, returning the loss; ``write_back()`` stores the result in the torch net and
    optimizer."""

    def __init__(self, net: nn.Sequential, opt: torch.optim.Optimizer) -> None:
        self._adam = FlatAdam(list(net.parameters()), opt)
        self._mlp = MLPGrad(net, self._adam.weights, self._adam.grads)

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        out, inputs = self._mlp.forward(x)
        resid = out[:, 0] - y
        loss = 0.5 * float(np.dot(resid, resid)) / resid.shape[0]
        self._mlp.backward(inputs, (resid * np.float32(1.0 / resid.shape[0]))[:, None])
        self._adam.step()
        return loss

    def write_back(self) -> None:
        self._adam.write_back()


def fit(
    net: nn.Sequential,
    opt: torch.optim.Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    minibatches: int,
    generator: torch.Generator,
) -> float:
    """``reinforce.fit_value``'s loop for ``x`` (B, in), ``y`` (B,) float32: per epoch one
    permutation from ``generator`` (the torch path's draws, so both see the same minibatches)
    and ``minibatches`` Adam steps; returns the last epoch's mean loss."""
    B = y.shape[0]
    mb = max(1, B // minibatches)
    step = NumpyValueFit(net, opt)
    last = 0.0
    for _ in range(epochs):
        perm = torch.randperm(B, generator=generator, device="cpu").numpy()
        xp, yp = x[perm], y[perm]
        rows = [slice(i * mb, (i + 1) * mb) for i in range(minibatches)]
        last = sum(step.step(xp[r], yp[r]) for r in rows) / minibatches
    step.write_back()
    return last
