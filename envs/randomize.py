"""Domain randomization: per-episode model parameters, observation noise and an action delay.

Why: a policy that has only seen its exact MJCF meets a real arm whose link masses, joint
friction, damping and motor constants differ from the model, whose sensors are noisy and whose
commands arrive late. Training and scoring under perturbations of each is how mjlab and MuJoCo
Playground prepare a policy for hardware. Off by default: an engine built without settings
never creates a ``Randomizer``, so every number stays what it was.

What one setting file (TOML, a shipped preset such as ``panda`` or a user's file) holds, every
entry optional (absent: that part is not randomized):

- ``[links] mass_scale = [lo, hi]``: each body moved by the actuated joints has its mass and
  its inertia multiplied by one factor U(lo, hi) (the same shape, a different density).
  ``gravcomp = "nominal"`` (default) keeps the gravity compensation at the nominal model's
  (MuJoCo's ``gravcomp`` is rescaled by 1/factor), as a real robot compensates the gravity of
  the model it knows; ``"actual"`` compensates the drawn masses exactly.
- ``[joints] damping_scale = [lo, hi]``: each actuated joint's damping × U(lo, hi);
  ``frictionloss = [lo, hi]``: each actuated joint's dry friction, U(lo, hi) N·m (absolute:
  the MJCF may have none).
- ``[motors] strength_scale = [lo, hi]``: each actuator delivers U(lo, hi) × its torque: a
  motor's gear is scaled; an impedance actuator's (the joint/Cartesian interfaces: a position
  bias, τ = K(q* − q) − D q̇) gain K and bias terms are scaled instead, because scaling its gear
  would also move its position reference (gear × q), a joint-target error, not a weak motor.
- ``[action] delay_probability = p``: an episode applies every action one control step late
  with probability p (the first step of such an episode applies zero, the arm at rest).
- ``[obs_noise]``: Gaussian noise, drawn at every step, on the measured quantities an
  observation is computed from: ``joint_position`` σ (rad; m for slide joints) on ``qpos``,
  ``joint_velocity`` σ (rad/s; m/s) on ``qvel``, ``body_position`` σ (m) on every body's
  position (``xpos``: the flange, the target, the puck). The task's ``observe`` then derives its
  observation from the noisy quantities, so cos θ/sin θ stay on the unit circle and differences
  (flange − target) stay consistent with their parts. Rewards, success and the limit monitor
  read the true state.
- ``[puck]`` (tasks whose model has a body ``puck``: panda-push): ``mass_scale`` as the links
  (inertia with it), ``friction_scale``: the sliding friction of every contact pair touching
  the puck, one factor per pair.

Seeding: env ``i`` reset with seed ``s`` (``s = seed + i``, or ``seed + i // 2`` for antithetic
pairs) draws its episode parameters at every reset from its own generator seeded with ``(s,
PARAM_STREAM)``, in the fixed order of ``draw_episode``: the same seed gives the same numbers, a
pair gets the same draws, and the task's own reset stream (starts, targets) is untouched, so an
episode seeded s starts in the same state with and without randomization. Observation noise
comes from one generator per engine seeded with ``(seed, NOISE_STREAM)``; with pairs, each pair
shares its rows.

Derived model constants that MuJoCo computes from masses at compile time (``dof_invweight0``
and the like, which scale the softness of constraints, not the dynamics) keep their nominal
values; the Warp engine does the same.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from robopg.envs.vector import restore_rngs
from robopg.errors import ConfigError

#: the second word of the seed of each env's parameter generator, and of the noise generator
PARAM_STREAM = 0x52414E44  # "RAND"
NOISE_STREAM = 0x4E4F4953  # "NOIS"

#: the observation-noise groups and the physics quantity each perturbs
NOISE_GROUPS = ("joint_position", "joint_velocity", "body_position")

#: where shipped randomization presets live (``robopg/presets/randomize/<name>.toml``)
PRESET_PACKAGE = "robopg.presets"
PRESET_FOLDER = "randomize"

Range = tuple[float, float]


@dataclass(frozen=True)
class RandomizeSettings:
    """One randomization setting, as its TOML file says (see the module docstring)."""

    name: str = ""
    link_mass: Range | None = None
    gravcomp: str = "nominal"
    damping: Range | None = None
    frictionloss: Range | None = None
    motor_strength: Range | None = None
    delay_probability: float = 0.0
    obs_noise: dict[str, float] = field(default_factory=dict)
    puck_mass: Range | None = None
    puck_friction: Range | None = None

    @property
    def model_fields(self) -> tuple[str, ...]:
        """The MjModel fields this setting changes per env (``Batch.expand`` / Warp's
        ``batch_sizes``)."""
        fields: list[str] = []
        if self.link_mass or self.puck_mass:
            fields += ["body_mass", "body_inertia"]
        if self.link_mass and self.gravcomp == "nominal":
            fields.append("body_gravcomp")
        if self.damping:
            fields.append("dof_damping")
        if self.frictionloss:
            fields.append("dof_frictionloss")
        if self.motor_strength:
            fields += ["actuator_gear", "actuator_gainprm", "actuator_biasprm"]
        if self.puck_friction:
            fields.append("pair_friction")
        return tuple(fields)

    @property
    def noise(self) -> bool:
        return any(s > 0 for s in self.obs_noise.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for ``config.json``."""
        out = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def _range(table: Mapping[str, Any], key: str, where: str, low: float = 0.0) -> Range | None:
    value = table.get(key)
    if value is None:
        return None
    ok = (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and all(math.isfinite(v) for v in value)
    )
    if not ok or not low <= value[0] <= value[1]:
        raise ConfigError(
            f"'{key}' in [{where}] must be a range [low, high] with {low} ≤ low ≤ high, got "
            f"{value!r}."
        )
    return float(value[0]), float(value[1])


_SECTIONS: dict[str, tuple[str, ...]] = {
    "links": ("mass_scale", "gravcomp"),
    "joints": ("damping_scale", "frictionloss"),
    "motors": ("strength_scale",),
    "action": ("delay_probability",),
    "obs_noise": NOISE_GROUPS,
    "puck": ("mass_scale", "friction_scale"),
}


def parse_settings(data: Mapping[str, Any], name: str) -> RandomizeSettings:
    """Settings from a TOML table, every unknown section or key refused by name."""
    for section, table in data.items():
        if section not in _SECTIONS:
            raise ConfigError(
                f"Unknown section [{section}] in randomization '{name}'; valid sections: "
                f"{', '.join(_SECTIONS)}."
            )
        if not isinstance(table, dict):
            raise ConfigError(f"[{section}] in randomization '{name}' must be a table.")
        for key in table:
            if key not in _SECTIONS[section]:
                raise ConfigError(
                    f"Unknown setting '{key}' in [{section}] of randomization '{name}'; valid: "
                    f"{', '.join(_SECTIONS[section])}."
                )
    links, joints = data.get("links", {}), data.get("joints", {})
    gravcomp = links.get("gravcomp", "nominal")
    if gravcomp not in ("nominal", "actual"):
        raise ConfigError(f"'gravcomp' in [links] must be nominal or actual, got {gravcomp!r}.")
    p = data.get("action", {}).get("delay_probability", 0.0)
    if not isinstance(p, int | float) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
        raise ConfigError(f"'delay_probability' in [action] must be in [0, 1], got {p!r}.")
    noise: dict[str, float] = {}
    for group, sigma in data.get("obs_noise", {}).items():
        bad = isinstance(sigma, bool) or not isinstance(sigma, int | float)
        if bad or not math.isfinite(sigma) or sigma < 0:
            raise ConfigError(f"'{group}' in [obs_noise] must be a σ ≥ 0, got {sigma!r}.")
        noise[group] = float(sigma)
    return RandomizeSettings(
        name=name,
        link_mass=_range(links, "mass_scale", "links", low=1e-3),
        gravcomp=gravcomp,
        damping=_range(joints, "damping_scale", "joints"),
        frictionloss=_range(joints, "frictionloss", "joints"),
        motor_strength=_range(data.get("motors", {}), "strength_scale", "motors", low=1e-3),
        delay_probability=float(p),
        obs_noise=noise,
        puck_mass=_range(data.get("puck", {}), "mass_scale", "puck", low=1e-3),
        puck_friction=_range(data.get("puck", {}), "friction_scale", "puck"),
    )


def preset_names() -> list[str]:
    """The shipped randomization presets (``robopg/presets/randomize/*.toml``)."""
    folder = resources.files(PRESET_PACKAGE) / PRESET_FOLDER
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_settings(source: str | None) -> RandomizeSettings | None:
    """``--randomize``'s value: a shipped preset's name, a TOML file's path, or None / "" /
    "off" (None: no randomization)."""
    text = (source or "").strip()
    if text in ("", "off", "none"):
        return None
    if text in preset_names():
        res = resources.files(PRESET_PACKAGE) / PRESET_FOLDER / f"{text}.toml"
        raw, name = res.read_text(encoding="utf-8"), text
    else:
        path = Path(text)
        if not path.is_file():
            raise ConfigError(
                f"--randomize '{text}' is neither a preset ({', '.join(preset_names())}) nor a "
                "TOML file; name a preset, or give the path of a file like "
                "robopg/presets/randomize/panda.toml."
            )
        raw, name = path.read_text(encoding="utf-8"), str(path)
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Randomization '{name}' is not valid TOML: {exc}.") from None
    return parse_settings(data, name)


@dataclass(frozen=True)
class ModelLayout:
    """Which rows of a model's fields the settings touch, and their nominal values.

    ``arm_bodies``: every body moved by an actuated joint (the joints' bodies and all their
    descendants, the puck excluded); ``arm_dofs``: the actuated joints' dofs; ``puck``: the id
    of body ``puck`` (-1: none) and ``puck_pairs`` the contact pairs touching its geoms.
    """

    arm_bodies: np.ndarray
    arm_dofs: np.ndarray
    nu: int
    puck: int
    puck_pairs: np.ndarray
    nominal: dict[str, np.ndarray]

    @staticmethod
    def of(model: mujoco.MjModel) -> ModelLayout:
        joints = model.actuator_trnid[:, 0]
        puck = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "puck")
        roots = set(model.jnt_bodyid[joints].tolist())
        bodies = []
        for b in range(1, model.nbody):
            a = b
            while a > 0 and a not in roots:
                a = int(model.body_parentid[a])
            if a > 0 and b != puck and model.body_mass[b] > 0:
                bodies.append(b)
        pairs = np.zeros(0, dtype=np.int64)
        if puck >= 0:
            geoms = np.flatnonzero(model.geom_bodyid == puck)
            touch = np.isin(model.pair_geom1, geoms) | np.isin(model.pair_geom2, geoms)
            pairs = np.flatnonzero(touch)
        fields = (
            "body_mass",
            "body_inertia",
            "body_gravcomp",
            "dof_damping",
            "dof_frictionloss",
            "actuator_gear",
            "actuator_gainprm",
            "actuator_biasprm",
            "pair_friction",
        )
        return ModelLayout(
            arm_bodies=np.array(bodies, dtype=np.int64),
            arm_dofs=model.jnt_dofadr[joints].astype(np.int64),
            nu=int(model.nu),
            puck=int(puck),
            puck_pairs=pairs,
            nominal={f: getattr(model, f).copy() for f in fields},
        )


@dataclass
class EpisodeParams:
    """The drawn parameters of N envs (one row per env), what ``ModelLayout`` rows they scale.

    link_mass (N, arm bodies), damping (N, arm dofs), frictionloss (N, arm dofs), strength (N,
    nu), delay (N,) bool, puck_mass (N,), puck_friction (N, puck pairs); factors are 1 and
    frictionloss the nominal where a part is not randomized.
    """

    link_mass: np.ndarray
    damping: np.ndarray
    frictionloss: np.ndarray
    strength: np.ndarray
    delay: np.ndarray
    puck_mass: np.ndarray
    puck_friction: np.ndarray

    @staticmethod
    def nominal(layout: ModelLayout, n: int) -> EpisodeParams:
        fl = layout.nominal["dof_frictionloss"][layout.arm_dofs]
        return EpisodeParams(
            link_mass=np.ones((n, layout.arm_bodies.size)),
            damping=np.ones((n, layout.arm_dofs.size)),
            frictionloss=np.tile(fl, (n, 1)),
            strength=np.ones((n, layout.nu)),
            delay=np.zeros(n, dtype=bool),
            puck_mass=np.ones(n),
            puck_friction=np.ones((n, layout.puck_pairs.size)),
        )

    def as_dict(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in vars(self).items()}


def draw_episode(
    settings: RandomizeSettings, layout: ModelLayout, rng: np.random.Generator
) -> dict[str, np.ndarray | float | bool]:
    """One env's episode parameters from its generator, in this order (each only if set):
    link masses, joint damping, joint friction loss, motor strengths, the delay coin, the puck's
    mass, the puck's pair frictions."""
    out: dict[str, np.ndarray | float | bool] = {}
    s = settings
    if s.link_mass:
        out["link_mass"] = rng.uniform(*s.link_mass, size=layout.arm_bodies.size)
    if s.damping:
        out["damping"] = rng.uniform(*s.damping, size=layout.arm_dofs.size)
    if s.frictionloss:
        out["frictionloss"] = rng.uniform(*s.frictionloss, size=layout.arm_dofs.size)
    if s.motor_strength:
        out["strength"] = rng.uniform(*s.motor_strength, size=layout.nu)
    if s.delay_probability > 0:
        out["delay"] = bool(rng.uniform() < s.delay_probability)
    if layout.puck >= 0 and s.puck_mass:
        out["puck_mass"] = float(rng.uniform(*s.puck_mass))
    if layout.puck >= 0 and s.puck_friction:
        out["puck_friction"] = rng.uniform(*s.puck_friction, size=layout.puck_pairs.size)
    return out


def model_values(
    layout: ModelLayout, params: EpisodeParams, ids: np.ndarray, gravcomp: str
) -> dict[str, np.ndarray]:
    """The per-env values (len(ids), *field shape) of every field for the envs ``ids``: the
    nominal model with the drawn factors applied (what ``Batch.expand`` rows or Warp's batched
    fields receive)."""
    k, nom = len(ids), layout.nominal
    mass = np.tile(nom["body_mass"], (k, 1))
    inertia = np.tile(nom["body_inertia"], (k, 1, 1))
    gravc = np.tile(nom["body_gravcomp"], (k, 1))
    b = layout.arm_bodies
    scale = np.ones((k, mass.shape[1]))
    scale[:, b] = params.link_mass[ids]
    if layout.puck >= 0:
        scale[:, layout.puck] = params.puck_mass[ids]
    mass *= scale
    inertia *= scale[:, :, None]
    if gravcomp == "nominal":
        gravc[:, b] = nom["body_gravcomp"][b] / params.link_mass[ids]
    damping = np.tile(nom["dof_damping"], (k, 1))
    damping[:, layout.arm_dofs] *= params.damping[ids]
    friction = np.tile(nom["dof_frictionloss"], (k, 1))
    friction[:, layout.arm_dofs] = params.frictionloss[ids]
    gear = np.tile(nom["actuator_gear"], (k, 1, 1))
    gain = np.tile(nom["actuator_gainprm"], (k, 1, 1))
    bias = np.tile(nom["actuator_biasprm"], (k, 1, 1))
    servo = nom["actuator_biasprm"][:, 1] != 0  # (nu,) impedance actuators: scale K and D
    strength = params.strength[ids]
    gear[:, ~servo, 0] *= strength[:, ~servo]
    gain[:, servo, 0] *= strength[:, servo]
    bias[:, servo, 1:3] *= strength[:, servo, None]
    pair = np.tile(nom["pair_friction"], (k, 1, 1))
    pair[:, layout.puck_pairs, :2] *= params.puck_friction[ids][:, :, None]
    return {
        "body_mass": mass,
        "body_inertia": inertia,
        "body_gravcomp": gravc,
        "dof_damping": damping,
        "dof_frictionloss": friction,
        "actuator_gear": gear,
        "actuator_gainprm": gain,
        "actuator_biasprm": bias,
        "pair_friction": pair,
    }


def pair_rows(num_envs: int, paired: bool) -> np.ndarray:
    """(num_envs,) the noise row each env reads: its own, or its pair's (``i // 2``)."""
    return np.arange(num_envs) // 2 if paired else np.arange(num_envs)


class Randomizer:
    """The numpy side of randomization for ``BatchedArmEnv``: one per engine.

    ``seed(seeds, paired)`` at the engine's reset; ``reset(ids)`` draws the episodes' parameters
    of envs ``ids`` and writes them into ``fields`` (the engine's per-env model rows, ``{name:
    (N, ...) array}``); ``command(actions)`` turns the (N, nu) actions the policy sent into those
    applied this step; ``perturb(qpos, qvel, xpos)`` gives the noisy measurements.
    """

    def __init__(
        self,
        settings: RandomizeSettings,
        model: mujoco.MjModel,
        num_envs: int,
        act_dim: int | None = None,
    ) -> None:
        self.settings = settings
        self.layout = ModelLayout.of(model)
        self.num_envs = num_envs
        self.params = EpisodeParams.nominal(self.layout, num_envs)
        self.fields: dict[str, np.ndarray] = {}
        self._rngs: list[np.random.Generator] = []
        self._noise = np.random.Generator(np.random.PCG64(0))
        self._rows = pair_rows(num_envs, False)
        width = self.layout.nu if act_dim is None else act_dim  # an action law's own size
        self._prev = np.zeros((num_envs, width), dtype=np.float32)

    def bind(self, fields: dict[str, np.ndarray]) -> None:
        """The engine's live per-env rows of each field of ``settings.model_fields``."""
        self.fields = fields

    def seed(self, seeds: list[int], paired: bool) -> None:
        """Fresh generators: env i's from ``(seeds[i], PARAM_STREAM)``, the noise generator from
        ``(seeds[0], NOISE_STREAM)``, pairs sharing noise rows when ``paired``."""
        self._rngs = [
            np.random.Generator(np.random.PCG64(np.random.SeedSequence([s, PARAM_STREAM])))
            for s in seeds
        ]
        self._noise = np.random.Generator(
            np.random.PCG64(np.random.SeedSequence([seeds[0], NOISE_STREAM, int(paired)]))
        )
        self._rows = pair_rows(self.num_envs, paired)

    def reset(self, ids: np.ndarray) -> None:
        """Draw the new episodes' parameters of envs ``ids`` and write their model rows."""
        p = self.params
        for i in ids:
            for key, value in draw_episode(self.settings, self.layout, self._rngs[i]).items():
                getattr(p, key)[i] = value
        self._prev[ids] = 0.0
        self._write(np.asarray(ids))

    def _write(self, ids: np.ndarray) -> None:
        values = model_values(self.layout, self.params, ids, self.settings.gravcomp)
        for name, rows in self.fields.items():
            rows[ids] = values[name]

    def command(self, actions: np.ndarray) -> np.ndarray:
        """The (N, act_dim) float32 actions applied this step (what an action law receives):
        the previous step's where an episode is delayed (zero at its first step), ``actions``
        elsewhere."""
        if self.settings.delay_probability <= 0:
            return actions
        applied = np.where(self.params.delay[:, None], self._prev, actions)
        self._prev[:] = actions
        return applied

    def perturb(
        self, qpos: np.ndarray, qvel: np.ndarray, xpos: np.ndarray, ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Noisy copies of the (k, nq), (k, nv), (k, nbody, 3) measurements of envs ``ids``
        (None: all N), each group's noise drawn only if its σ is positive, in the order of
        ``NOISE_GROUPS``, one row per env (per pair when paired)."""
        if ids is None:  # every env: one row per pair, repeated, or one per env
            paired = self._rows.size > 1 and self._rows[1] == 0
            draws, expand = (self.num_envs // 2, 2) if paired else (self.num_envs, 1)
            inverse = None
        else:
            unique, inverse = np.unique(self._rows[ids], return_inverse=True)
            draws, expand = unique.size, 1
        out = []
        for group, x in zip(NOISE_GROUPS, (qpos, qvel, xpos), strict=True):
            sigma = self.settings.obs_noise.get(group, 0.0)
            if sigma > 0:
                eps = self._noise.standard_normal((draws, *x.shape[1:]))
                if inverse is not None:
                    eps = eps[inverse]
                elif expand > 1:
                    eps = np.repeat(eps, expand, axis=0)
                x = x + sigma * eps
            out.append(x)
        return out[0], out[1], out[2]

    def state_dict(self) -> dict[str, Any]:
        """Generators, drawn parameters and the held actions (flat ``randomize_*`` keys)."""
        return {
            "randomize_rng": [rng.bit_generator.state for rng in self._rngs],
            "randomize_noise": self._noise.bit_generator.state,
            "randomize_rows": self._rows.copy(),
            "randomize_prev": self._prev.copy(),
            **{f"randomize_{k}": v for k, v in self.params.as_dict().items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()``, writing the restored parameters into the model rows."""
        self._rngs = restore_rngs(state["randomize_rng"])
        self._noise.bit_generator.state = state["randomize_noise"]
        self._rows = np.asarray(state["randomize_rows"], dtype=np.int64)
        self._prev[:] = np.asarray(state["randomize_prev"])
        for key in vars(self.params):
            getattr(self.params, key)[:] = np.asarray(state[f"randomize_{key}"])
        self._write(np.arange(self.num_envs))
