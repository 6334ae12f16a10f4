"""An MLP in numpy: forward and backward over (weight, bias) arrays, and the observation normaliser.

Why numpy: robopg's nets are tiny (64-64) and its batches small, so on the CPU each torch call
costs more in dispatch than in arithmetic. This module is the one numpy MLP of the project: the
training sampler, the fast policy step and value fit (float32, views into flat buffers) and the
deployed ``Controller`` (float64, no torch at all) all run it. It imports numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from robopg.algo.activations import ACTIVATIONS

Array = np.ndarray


def normalize_obs(obs: Array, mean: Array, std: Array, clip: float) -> Array:
    """(x − mean) / std clipped to ±clip, for ``obs`` (N, obs_dim) of ``mean``'s dtype: the
    formula of ``robopg.algo.normalize.RunningMeanStd.normalize`` in numpy (std includes ε)."""
    h = obs - mean
    h /= std
    np.clip(h, -clip, clip, out=h)
    return h


class MLP:
    """Forward and backward of Linear layers with ``activations`` between them, none after.

    ``weights`` alternate weight (out, in) and bias (out,) per Linear, in order, and may be views
    that follow another owner's in-place updates; ``grads`` (same layout) receive the backward's
    gradients; without them the MLP only runs forward (sampling, deployment).
    """

    def __init__(
        self, activations: Sequence[str], weights: Sequence[Array], grads: Sequence[Array] = ()
    ) -> None:
        self._acts = [ACTIVATIONS[name] for name in activations]
        self._w, self._b = list(weights[0::2]), list(weights[1::2])
        self._gw, self._gb = list(grads[0::2]), list(grads[1::2])
        if len(self._acts) != len(self._w) - 1:
            raise ValueError(f"{len(self._w)} Linear layers need {len(self._w) - 1} activations.")

    def forward(self, x: Array) -> tuple[Array, list[Array]]:
        """(output (B, out), each Linear's input) for ``x`` (B, in)."""
        inputs = [x]
        h = x
        last = len(self._w) - 1
        for k, (w, b) in enumerate(zip(self._w, self._b, strict=True)):
            h = h @ w.T
            h += b
            if k < last:
                self._acts[k].apply_(h)
                inputs.append(h)
        return h, inputs

    def __call__(self, x: Array) -> Array:
        """The output (B, out) alone."""
        return self.forward(x)[0]

    def backward(self, inputs: list[Array], delta: Array) -> None:
        """Write ∂loss/∂(every weight and bias) into the gradient views, from ``delta`` =
        ∂loss/∂output (B, out) and the inputs ``forward`` returned."""
        for k in range(len(self._w) - 1, -1, -1):
            a = inputs[k]
            np.matmul(delta.T, a, out=self._gw[k])
            np.sum(delta, axis=0, out=self._gb[k])
            if k > 0:
                delta = (delta @ self._w[k]) * self._acts[k - 1].derivative(a)
