"""A scripted operational-space push on panda-push, for the tests that need the hand to really
hit the puck (random actions almost never touch it).

The hand goes above and behind the puck (7 cm back along puck → goal, 20 cm up), comes down to
the puck's height at step 30, and from step 60 drives to 5 cm short of the goal, through the
puck. The torques come from ``benchmarks/panda_baseline.py``'s controller at soft gains.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import mujoco
import numpy as np

_BASELINE = Path(__file__).resolve().parents[2] / "benchmarks" / "panda_baseline.py"
_spec = importlib.util.spec_from_file_location("panda_baseline", _BASELINE)
assert _spec is not None and _spec.loader is not None
_baseline = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_baseline)
osc_action = _baseline.osc_action


def push_direction(obs: np.ndarray) -> np.ndarray:
    """(2,) unit vector from the puck to the goal, read from a (35,) start observation."""
    v = obs[28:30] - obs[24:26]
    return v / np.linalg.norm(v)


def push_action(
    model: mujoco.MjModel, data: mujoco.MjData, obs: np.ndarray, goal: np.ndarray,
    u: np.ndarray, t: int,
) -> np.ndarray:  # fmt: skip
    """(7,) float32 action at step ``t`` of an episode whose goal is ``goal`` (2,) and whose push
    direction (fixed at the start) is ``u`` (2,); ``obs`` is the current (35,) observation."""
    xy = obs[24:26] - 0.07 * u if t < 60 else goal - 0.05 * u
    z = 0.2 if t < 30 else 0.08
    return osc_action(model, data, np.array([*xy, z]), 150.0, 10.0).astype(np.float32)
