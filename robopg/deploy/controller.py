"""Controllers: a saved policy as a plain numpy function, for use outside training.

``Controller.load(path)`` reads a checkpoint once (safetensors' numpy reader, no pickle) into
float64 numpy arrays: the mean MLP, the observation normaliser and σ (a vector, or for a
``--std state`` policy the bounded log-σ head). Neither loading nor acting
imports torch (the import contract "controllers run without torch" checks it), so a controller
runs in a robot process or a MuJoCo callback with no deep-learning stack installed.

For the Panda tasks the controller carries a safety layer by default (``robopg.deploy.safety``:
observation checks, a joint guard, torque clamp and rate limit, with counters in
``ctrl.safety.counts``); ``Controller.load(path, safety=False)`` is the bare policy.

A policy trained on Dict observations (goal-conditioned envs) records their key order in its
checkpoint; its controller takes such a dict as well as the flat vector (``flatten`` shows
the vector it builds).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from robopg.algo.net_config import OBS_NORM_EPSILON, NetConfig
from robopg.deploy.safety import FiniteGuard, SafetyLayer, safety_for_task
from robopg.envs.actions import recorded_action
from robopg.errors import CheckpointError
from robopg.fast.mlp import MLP, normalize_obs
from robopg.runs.format import read_checkpoint_file, read_obs_keys
from robopg.runs.run_dir import resolve_policy_path

if TYPE_CHECKING:
    from robopg.deploy.mujoco_control import Attachment
    from robopg.envs.flatten import ObsLayout

#: an observation: the flat vector (or batch), or for a Dict-observation policy the dict
Obs = np.ndarray | Mapping[str, Any]


def policy_shapes(net: NetConfig) -> dict[str, tuple[int, ...]]:
    """Shape of every ``policy.*`` tensor a GaussianPolicy of ``net`` saves, by name.

    The names are ``robopg.algo.policy.GaussianPolicy``'s state dict: ``mean_net`` is an
    ``nn.Sequential`` of Linear and activation modules, so its Linears sit at even indices.
    """
    shapes: dict[str, tuple[int, ...]] = {
        "obs_norm.mean": (net.obs_dim,),
        "obs_norm.var": (net.obs_dim,),
        "obs_norm.count": (),
    }
    nets = ["mean_net"]
    if net.std == "state":
        nets.append("log_std_net")
    else:
        shapes["log_std"] = (net.act_dim,)
    for name in nets:
        for i, (out, inp) in enumerate(net.linear_layers()):
            shapes[f"{name}.{2 * i}.weight"] = (out, inp)
            shapes[f"{name}.{2 * i}.bias"] = (out,)
    return shapes


def param_log_std(log_std: np.ndarray, net: NetConfig) -> np.ndarray:
    """A ``param`` policy's (act_dim,) log σ with the net's floor applied, as
    ``GaussianPolicy`` samples with it."""
    return log_std if net.log_std_floor is None else np.maximum(log_std, net.log_std_floor)


def policy_arrays(tensors: dict[str, np.ndarray], net: NetConfig) -> dict[str, np.ndarray]:
    """The checkpoint's ``policy.*`` arrays (prefix stripped) as float64, checked against ``net``.

    Mismatches get the sentences ``robopg.algo.policy.load_state_strict`` uses for the torch policy,
    so a bad file reads the same whichever way it is loaded.
    """
    state = {k.removeprefix("policy."): v for k, v in tensors.items() if k.startswith("policy.")}
    shapes = policy_shapes(net)
    missing = sorted(set(shapes) - set(state))
    extra = sorted(set(state) - set(shapes))
    if missing or extra:
        raise CheckpointError(
            "The checkpoint's policy weights do not match the network: "
            f"missing {missing[:3]}, unexpected {extra[:3]}."
        )
    for key, array in state.items():
        if tuple(array.shape) != shapes[key]:
            raise CheckpointError(
                f"The checkpoint's policy tensor '{key}' has shape {tuple(array.shape)}, "
                f"expected {shapes[key]}; it was saved for a different network."
            )
    # float32 → float64 is exact: the same numbers torch's .double() gave.
    return {k: np.asarray(v, dtype=np.float64) for k, v in state.items()}


def _mlp(weights: list[np.ndarray], biases: list[np.ndarray], activation: str) -> MLP:
    """``robopg.algo.policy.mlp`` in numpy (``robopg.fast.mlp``, the training sampler's MLP):
    Linear layers with ``activation`` between them, none after."""
    interleaved = [a for pair in zip(weights, biases, strict=True) for a in pair]
    return MLP([activation] * (len(weights) - 1), interleaved)


@dataclass(frozen=True)
class StateStd:
    """A ``--std state`` policy's log-σ head: MLP, then squashed into [log_min, log_max]."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    log_min: float
    log_max: float


@dataclass
class Controller:
    """Deterministic (or seeded stochastic) numpy policy: normalise → MLP → clip.

    ``std`` is σ (act_dim,) of a state-independent policy; a state-dependent one has
    ``std=None`` and its head in ``state_std`` (``std_batch`` gives σ(s) either way).
    ``safety``: the deployment safety layer every action passes through (None: the bare
    policy); it keeps each arm's last command, so call ``reset()`` when episodes restart.
    ``obs_layout``: the key order of a Dict-observation policy (None: flat observations only).

    ``action`` is the task's action interface the policy was trained on (its checkpoint's
    config), which says what an action means (``robopg.envs.actions``): ``torque``, the
    motor commands (a fraction of each joint's torque limit); ``joint``, the change of the
    joint-position target this control step in units of its bound (q* += a ·
    ``franka_control.VELOCITY_MARGIN`` · v_max · dt); ``cartesian``, the flange's displacement
    along the base frame's x, y, z in units of ``franka_control.CARTESIAN_STEP`` metres. For
    the last two the robot runs the joint impedance law below it (``attach()`` does in MuJoCo).
    """

    task: str
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    activation: str
    obs_mean: np.ndarray
    obs_std: np.ndarray
    obs_clip: float
    std: np.ndarray | None
    action_low: np.ndarray
    action_high: np.ndarray
    stochastic: bool = False
    rng: np.random.Generator | None = None
    state_std: StateStd | None = None
    action: str = "torque"
    safety: SafetyLayer | FiniteGuard | None = None
    obs_layout: ObsLayout | None = None

    @classmethod
    def load(
        cls,
        path: str | Path,
        stochastic: bool = False,
        seed: int | None = None,
        safety: bool | None = None,
    ) -> Controller:
        """Read a checkpoint (or a run directory, or a task name: see ``resolve_policy_path``)
        into float64 numpy arrays, with safetensors' numpy reader: no torch, ever.

        ``safety``: wrap the policy in the task's safety layer; None (default) does so for the
        tasks that have one (the Panda tasks, whose limits are Franka's) and not elsewhere;
        True on another task gives the ``FiniteGuard`` (a non-finite observation → the zero
        action), the part of the layer that needs no limits table. A policy of the ``joint`` or
        ``cartesian`` interface gets the ``FiniteGuard`` (its zero action holds the joint
        target): the torque clamp is the impedance actuators' force range, and the target's rate
        bound keeps the joint speeds and the torque rate inside Franka's limits."""
        path = resolve_policy_path(path)
        tensors, meta = read_checkpoint_file(path, framework="numpy")
        task, action = str(meta["task"]), recorded_action(meta)
        layer: SafetyLayer | FiniteGuard | None = None
        if safety is not False and action == "torque":
            layer = safety_for_task(task, finite_only=bool(safety))
        elif safety is not False:  # below a joint target the impedance law bounds the torque
            layer = FiniteGuard()
        net = NetConfig.from_dict(meta.get("net"))
        obs_keys = read_obs_keys(meta, path)
        layout = None
        if obs_keys is not None:
            from robopg.envs.flatten import ObsLayout  # only dict-observation policies need it

            layout = ObsLayout.from_entries(obs_keys)
        policy = policy_arrays(tensors, net)
        layers = range(len(net.linear_layers()))
        state_std = None
        if net.std == "state":
            state_std = StateStd(
                weights=[policy[f"log_std_net.{2 * i}.weight"] for i in layers],
                biases=[policy[f"log_std_net.{2 * i}.bias"] for i in layers],
                log_min=net.log_std_min,
                log_max=net.log_std_max,
            )
        return cls(
            task=task,
            weights=[policy[f"mean_net.{2 * i}.weight"] for i in layers],
            biases=[policy[f"mean_net.{2 * i}.bias"] for i in layers],
            activation=net.activation,
            obs_mean=policy["obs_norm.mean"],
            obs_std=np.sqrt(policy["obs_norm.var"] + OBS_NORM_EPSILON),
            obs_clip=net.obs_clip,
            std=None if state_std else np.exp(param_log_std(policy["log_std"], net)),
            action_low=np.asarray(meta["action_low"], dtype=np.float64),
            action_high=np.asarray(meta["action_high"], dtype=np.float64),
            stochastic=stochastic,
            rng=np.random.default_rng(seed) if stochastic else None,
            state_std=state_std,
            action=action,
            safety=layer,
            obs_layout=layout,
        )

    @functools.cached_property
    def _mean_net(self) -> MLP:
        return _mlp(self.weights, self.biases, self.activation)

    @functools.cached_property
    def _log_std_net(self) -> MLP:
        """A ``--std state`` policy's σ head (built once, like the mean's)."""
        assert self.state_std is not None
        return _mlp(self.state_std.weights, self.state_std.biases, self.activation)

    @property
    def obs_dim(self) -> int:
        return int(self.weights[0].shape[1])

    @property
    def act_dim(self) -> int:
        return int(self.weights[-1].shape[0])

    def flatten(self, obs: Mapping[str, Any]) -> np.ndarray:
        """One Dict observation → the flat (obs_dim,) vector the network, ``act`` and an
        exported model take: the leaves in the key order recorded at training
        (``obs_layout.describe()``), each flattened in C order, joined."""
        return self._layout().flatten(obs)

    def _layout(self) -> ObsLayout:
        if self.obs_layout is None:
            raise ValueError(
                f"The policy for '{self.task}' was trained on flat observations; pass an array "
                f"of shape ({self.obs_dim},), not a dict."
            )
        return self.obs_layout

    def _flat_batch(self, obs: Obs) -> np.ndarray:
        if isinstance(obs, Mapping):
            return self._layout().flatten_batch(obs)
        return np.asarray(obs, dtype=np.float64)

    def _checked(self, obs: Obs) -> np.ndarray:
        x = self._flat_batch(obs)
        if x.ndim != 2 or x.shape[1] != self.obs_dim:
            raise ValueError(
                f"Controller for '{self.task}' expects observations of shape (N, {self.obs_dim}), "
                f"got {x.shape}."
            )
        return x

    def _normalised(self, obs: Obs) -> np.ndarray:
        x = self._checked(obs)
        return normalize_obs(x, self.obs_mean, self.obs_std, self.obs_clip)

    def _std_of_normalised(self, norm: np.ndarray) -> np.ndarray:
        if self.state_std is None:
            assert self.std is not None
            return np.broadcast_to(self.std, (norm.shape[0], self.act_dim))
        s = self.state_std
        raw = self._log_std_net(norm)
        return np.exp(s.log_min + (s.log_max - s.log_min) * 0.5 * (np.tanh(raw) + 1.0))

    def std_batch(self, obs: Obs) -> np.ndarray:
        """(N, obs_dim) raw observations → (N, act_dim) σ(s) of the exploration noise."""
        return self._std_of_normalised(self._normalised(obs))

    def act_batch(self, obs: Obs) -> np.ndarray:
        """(N, obs_dim) raw observations (or a dict of (N, …) leaves) → (N, act_dim) actions in
        the actuator range, through the safety layer when the controller has one (always
        finite then)."""
        if self.safety is None:
            return self.policy_batch(obs)
        return self.safety.act(self._checked(obs), self.policy_batch)

    def policy_batch(self, obs: Obs) -> np.ndarray:
        """(N, obs_dim) → (N, act_dim): the bare policy, clipped, without the safety layer."""
        norm = self._normalised(obs)
        h = self._mean_net(norm)
        if self.stochastic:
            assert self.rng is not None
            h = h + self.rng.standard_normal(h.shape) * self._std_of_normalised(norm)
        return np.clip(h, self.action_low, self.action_high)

    def act(self, obs: Obs) -> np.ndarray:
        """(obs_dim,) (or one dict observation) → (act_dim,): the mean action (or a sample),
        clipped (and made safe)."""
        flat = self.flatten(obs) if isinstance(obs, Mapping) else np.asarray(obs, np.float64)
        return self.act_batch(flat[None, :])[0]

    def reset(self) -> None:
        """New episodes start: the safety layer forgets each arm's last command and velocity
        (a no-op without one). ``attach()`` calls it at every reset it sees."""
        if self.safety is not None:
            self.safety.reset()

    def attach(self, model: Any, data: Any) -> Attachment:
        """Drive ``model``/``data`` from plain ``mujoco.mj_step`` or ``mujoco.viewer``.

        Installs a MuJoCo control callback that builds this task's observation from ``data``
        and writes ``data.ctrl`` (see ``robopg.deploy.mujoco_control`` for the supported tasks).
        """
        from robopg.deploy.mujoco_control import Attachment

        return Attachment(self, model, data)
