"""The hidden activations robopg's nets may use, by name: the one table every implementation reads.

The torch nets (``robopg.algo.policy.mlp``), the numpy fast path (``robopg.fast``), the numpy
``Controller`` and the config's validation all key on these names, so a name valid in one place
is valid in all of them. This module imports numpy only: the deployed controller uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Array = np.ndarray


@dataclass(frozen=True)
class Activation:
    """One activation: in numpy (applied in place to the pre-activation ``z``), its derivative
    written with the activation's *output* ``h`` (what backpropagation keeps), and the name of
    the ``torch.nn`` module the torch nets build (``alpha = 1`` for ELU)."""

    apply_: Callable[[Array], object]
    derivative: Callable[[Array], Array]
    torch_module: str


def _elu(z: Array) -> None:
    np.copyto(z, np.expm1(z), where=z <= 0)


ACTIVATIONS: dict[str, Activation] = {
    "tanh": Activation(lambda z: np.tanh(z, out=z), lambda h: 1.0 - h * h, "Tanh"),
    "relu": Activation(
        lambda z: np.maximum(z, 0.0, out=z), lambda h: (h > 0).astype(h.dtype), "ReLU"
    ),
    # e^z = h + 1 below zero, so the derivative needs only the output
    "elu": Activation(
        _elu, lambda h: np.where(h > 0, h.dtype.type(1.0), h + h.dtype.type(1.0)), "ELU"
    ),
}

#: the names ``--activation`` / ``--value-activation`` accept
NAMES: tuple[str, ...] = tuple(ACTIVATIONS)
