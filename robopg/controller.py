"""Controllers: a saved policy as a plain numpy function, for use outside training.

``Controller.load(path)`` reads a checkpoint once (safetensors, no pickle), converts the policy
and its observation normaliser to numpy arrays, and from then on ``act(obs)`` needs numpy only:
no torch at call time, so a controller runs in a robot process or a MuJoCo callback with no
deep-learning stack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from robopg.runs import resolve_policy_path

if TYPE_CHECKING:
    from robopg.mujoco_control import Attachment

_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
}


@dataclass
class Controller:
    """Deterministic (or seeded stochastic) numpy policy: normalise → MLP → clip."""

    task: str
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    activation: str
    obs_mean: np.ndarray
    obs_std: np.ndarray
    obs_clip: float
    std: np.ndarray
    action_low: np.ndarray
    action_high: np.ndarray
    stochastic: bool = False
    rng: np.random.Generator | None = None

    @classmethod
    def load(
        cls, path: str | Path, stochastic: bool = False, seed: int | None = None
    ) -> Controller:
        """Read a checkpoint (or a run directory, or a task name: see ``resolve_policy_path``)
        into numpy arrays; torch is needed only here, never at call time."""
        import torch

        from robopg.checkpoint import load_checkpoint
        from robopg.normalize import RunningMeanStd
        from robopg.policy import GaussianPolicy, NetConfig, load_state_strict

        ckpt = load_checkpoint(resolve_policy_path(path))
        net_cfg = NetConfig.from_dict(ckpt.meta.get("net"))
        policy = GaussianPolicy(net_cfg)
        load_state_strict(policy, ckpt.section("policy"), "policy")
        norm: RunningMeanStd = policy.obs_norm
        linears = [m for m in policy.mean_net if isinstance(m, torch.nn.Linear)]
        return cls(
            task=str(ckpt.meta["task"]),
            weights=[m.weight.detach().double().numpy().copy() for m in linears],
            biases=[m.bias.detach().double().numpy().copy() for m in linears],
            activation=net_cfg.activation,
            obs_mean=norm.mean.numpy().copy(),
            obs_std=np.sqrt(norm.var.numpy() + norm.epsilon),
            obs_clip=norm.clip,
            std=np.exp(policy.log_std.detach().double().numpy()),
            action_low=np.asarray(ckpt.meta["action_low"], dtype=np.float64),
            action_high=np.asarray(ckpt.meta["action_high"], dtype=np.float64),
            stochastic=stochastic,
            rng=np.random.default_rng(seed) if stochastic else None,
        )

    @property
    def obs_dim(self) -> int:
        return int(self.weights[0].shape[1])

    @property
    def act_dim(self) -> int:
        return int(self.weights[-1].shape[0])

    def act_batch(self, obs: np.ndarray) -> np.ndarray:
        """(N, obs_dim) raw observations → (N, act_dim) actions in the actuator range."""
        x = np.asarray(obs, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.obs_dim:
            raise ValueError(
                f"Controller for '{self.task}' expects observations of shape (N, {self.obs_dim}), "
                f"got {x.shape}."
            )
        h = np.clip((x - self.obs_mean) / self.obs_std, -self.obs_clip, self.obs_clip)
        act = _ACTIVATIONS[self.activation]
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w.T + b
            if i < last:
                h = act(h)
        if self.stochastic:
            assert self.rng is not None
            h = h + self.rng.standard_normal(h.shape) * self.std
        return np.clip(h, self.action_low, self.action_high)

    def act(self, obs: np.ndarray) -> np.ndarray:
        """(obs_dim,) → (act_dim,): the mean action (or a sample), clipped."""
        return self.act_batch(np.asarray(obs, dtype=np.float64)[None, :])[0]

    def attach(self, model: Any, data: Any) -> Attachment:
        """Drive ``model``/``data`` from plain ``mujoco.mj_step`` or ``mujoco.viewer``.

        Installs a MuJoCo control callback that builds this task's observation from ``data``
        and writes ``data.ctrl`` (see ``robopg.mujoco_control`` for the supported tasks).
        """
        from robopg.mujoco_control import Attachment

        return Attachment(self, model, data)
