"""Dict observations as one flat vector, in a key order fixed at training time.

Goal-conditioned envs (gymnasium-robotics, panda-gym) observe a ``Dict`` of Boxes:
``observation``, ``achieved_goal``, ``desired_goal``. A Gaussian policy takes one vector, so
the gymnasium backend flattens each observation, and the checkpoint records how (the header
field ``obs_keys``, see ``robopg.runs.format``), so a ``Controller`` can take the same dict
later and an exported model's input can be documented.

The order is the ``Dict`` space's own key order, which is what ``gymnasium.spaces.flatten``
uses; gymnasium sorts string keys when it builds a ``Dict``, so in practice it is the sorted
keys (``achieved_goal``, ``desired_goal``, ``observation``). Each leaf is flattened in C order
and the pieces are concatenated: exactly ``gymnasium.spaces.flatten`` for Box leaves.

Numpy only: a controller that acts on dicts imports this module without torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from robopg.errors import EnvError


@dataclass(frozen=True)
class ObsLayout:
    """Keys of a Dict observation in flattening order, with each leaf's shape.

    The flat vector is ``concat(obs[k].reshape(-1) for k in keys)``: (obs_dim,) where
    ``obs_dim = sum(prod(shape))``; batches are (N, obs_dim) from leaves (N, *shape).
    """

    keys: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    @property
    def size(self) -> int:
        """Length of the flat vector."""
        return sum(int(np.prod(s, dtype=np.int64)) for s in self.shapes)

    def describe(self) -> str:
        """The order in one line, e.g. ``achieved_goal (2), desired_goal (2), observation (4)``."""
        return ", ".join(
            f"{k} ({'×'.join(map(str, s)) or 'scalar'})"
            for k, s in zip(self.keys, self.shapes, strict=True)
        )

    def flatten(self, obs: Mapping[str, Any]) -> np.ndarray:
        """One dict observation → (obs_dim,) float64."""
        return self.flatten_batch({k: np.asarray(obs[k])[None] for k in self._present(obs)})[0]

    def flatten_batch(self, obs: Mapping[str, Any]) -> np.ndarray:
        """A batched dict (each leaf (N, *shape), as a gymnasium vector env returns it) →
        (N, obs_dim) float64."""
        parts = []
        n: int | None = None
        for key, shape in zip(self._present(obs), self.shapes, strict=True):
            leaf = np.asarray(obs[key], dtype=np.float64)
            if leaf.shape[1:] != shape or (n is not None and leaf.shape[0] != n):
                want = (n if n is not None else "N", *shape)
                raise EnvError(
                    f"Observation entry '{key}' has shape {leaf.shape}, expected "
                    f"{want} ({self.describe()})."
                )
            n = leaf.shape[0]
            parts.append(leaf.reshape(n, -1))
        return np.concatenate(parts, axis=1)

    def _present(self, obs: Mapping[str, Any]) -> tuple[str, ...]:
        missing = [k for k in self.keys if k not in obs]
        if missing:
            raise EnvError(
                f"The observation lacks {', '.join(repr(k) for k in missing)}; this policy "
                f"takes a dict of {self.describe()}."
            )
        return self.keys

    def to_meta(self) -> list[dict[str, Any]]:
        """The checkpoint header's ``obs_keys`` value: ``[{"key": ..., "shape": [...]}, ...]``
        (a list, because the order is the point)."""
        return [{"key": k, "shape": list(s)} for k, s in zip(self.keys, self.shapes, strict=True)]

    @classmethod
    def from_entries(cls, entries: Sequence[tuple[str, Sequence[int]]]) -> ObsLayout:
        """From ``(key, shape)`` pairs in flattening order."""
        return cls(
            tuple(k for k, _ in entries), tuple(tuple(int(d) for d in s) for _, s in entries)
        )


def layout_of_space(env_id: str, space: Any) -> ObsLayout | None:
    """The layout of a gymnasium observation space: None for a Box (already flat), an
    ``ObsLayout`` for a Dict of Boxes, one EnvError for anything else (Discrete, Tuple, a
    nested Dict, …), since a Gaussian policy reads one real vector."""
    import gymnasium as gym

    if isinstance(space, gym.spaces.Box):
        return None
    if not isinstance(space, gym.spaces.Dict):
        raise EnvError(
            f"Env '{env_id}' observes a {type(space).__name__} space; robopg trains on Box "
            "observations or a Dict of Boxes."
        )
    bad = [f"'{k}' ({type(s).__name__})" for k, s in space.spaces.items() if not _is_box(s)]
    if bad:
        raise EnvError(
            f"Env '{env_id}' has a Dict observation whose entries {', '.join(bad)} are not Box "
            "spaces; robopg flattens a Dict of Boxes only."
        )
    return ObsLayout.from_entries([(str(k), s.shape or ()) for k, s in space.spaces.items()])


def _is_box(space: Any) -> bool:
    import gymnasium as gym

    return isinstance(space, gym.spaces.Box)


def obs_keys_meta(env: object) -> dict[str, Any]:
    """``{"obs_keys": ...}`` for a checkpoint header when ``env`` flattens Dict observations
    (its ``obs_layout``), else ``{}``: Box tasks write the header they always did."""
    layout = getattr(env, "obs_layout", None)
    return {"obs_keys": layout.to_meta()} if isinstance(layout, ObsLayout) else {}
