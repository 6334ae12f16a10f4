"""The value fit on the CPU in numpy: minibatch MSE regression of V_φ with Adam, off torch.

Why: the value regression is several epochs × minibatches of ~100 rows on a 64-64 net per
update, and at that size a torch step is mostly dispatch (see ``robopg.fast.mlp``). The same
fit as ``robopg.algo.reinforce.fit_value`` (same permutations from the same generator, same
loss), equal to it to float32 rounding.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from robopg.algo.policy import ValueNet
from robopg.fast.adam import FlatAdam, activation_names, adam_usable, plain_mlp
from robopg.fast.mlp import MLP


def usable(net: nn.Sequential, opt: torch.optim.Optimizer) -> bool:
    """Whether ``fit`` can fit ``net`` (a plain MLP with one output) with ``opt`` (plain Adam,
    float32, on the CPU)."""
    last = list(net)[-1] if len(net) else None
    return (
        plain_mlp(net)
        and isinstance(last, nn.Linear)
        and last.out_features == 1
        and adam_usable(list(net.parameters()), opt)
    )


class NumpyValueFit:
    """``step(x, y)``: one Adam step on ½·mean((net(x) − y)²) for ``x`` (B, in), ``y`` (B,)
    float32, returning the loss; ``write_back()`` stores the result in the torch net and
    optimizer."""

    def __init__(self, net: nn.Sequential, opt: torch.optim.Optimizer) -> None:
        self._adam = FlatAdam(list(net.parameters()), opt)
        self._mlp = MLP(activation_names(net), self._adam.weights, self._adam.grads)

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
    """The value fit for ``x`` (B, in), ``y`` (B,) float32: per epoch one permutation from
    ``generator`` (the torch path's draws, so both see the same minibatches) and
    ``minibatches`` Adam steps; returns the last epoch's mean loss."""
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


def fit_value(
    value_net: ValueNet,
    opt: torch.optim.Optimizer,
    norm_obs: torch.Tensor,
    targets: torch.Tensor,
    *,
    epochs: int,
    minibatches: int,
    generator: torch.Generator,
    average_gradients: Callable[[list[nn.Parameter]], None] | None = None,
) -> torch.Tensor:
    """``robopg.algo.reinforce.fit_value``'s signature over ``fit``: the numpy backend's value
    fit (one process, so ``average_gradients`` must be None). Returns the last epoch's mean
    loss as a float32 scalar tensor."""
    if average_gradients is not None:
        raise ValueError("the numpy value fit runs in one process; use the torch backend.")
    with np.errstate(all="ignore"):  # a diverging fit is caught by the update's checks
        mean_loss = fit(
            value_net.net,
            opt,
            norm_obs.detach().numpy(),
            targets.detach().numpy(),
            epochs=epochs,
            minibatches=minibatches,
            generator=generator,
        )
    return torch.tensor(mean_loss, dtype=torch.float32)
