"""TrainConfig: the single source of training defaults, their documentation and ``config.json``.

The CLI generates its ``train`` options from these fields (help text from ``metadata['help']``,
the help panel that groups it from ``metadata['panel']``),
presets and ``--config`` TOML files map onto them, and the resolved config is saved with every
run. Precedence: defaults ← preset ← config file ← command-line flags.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
import types
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from robopg.algo import activations
from robopg.algo.net_config import STD_KINDS, NetConfig
from robopg.errors import ConfigError

#: why ``--antithetic`` and ``--engine warp`` do not combine (validation and make_collector say it)
ANTITHETIC_WARP = (
    "--antithetic needs --engine batch, gym or auto: the warp engine draws every world's start "
    "from one generator, so it cannot give a pair of envs the same starts (--no-antithetic "
    "turns the pairs off)."
)

BASELINES = ("value", "mean", "none")
DEVICES = ("auto", "cpu", "cuda")
LR_SCHEDULES = ("constant", "linear")
LIMITS = ("report", "abort", "penalize")
#: the action interfaces (``robopg.envs.actions.ACTIONS``, a test holds them equal; the task
#: table, which says which task offers which, is checked when the engine is built)
ACTIONS = ("torque", "joint", "cartesian")
ACTIVATIONS = activations.NAMES  # the one table's names (robopg.algo.activations, no torch)


def _own_task_names() -> list[str]:
    """robopg's own tasks, one per module of ``envs/arms`` (module ``panda_reach`` is task
    ``panda-reach``; a test holds every module to it), read from the files: importing the task
    table would import MuJoCo, which the CLI must not do before it knows whether the command
    draws (``MUJOCO_GL`` is read at MuJoCo's import)."""
    arms = Path(__file__).resolve().parent / "envs" / "arms"
    return sorted(p.stem.replace("_", "-") for p in arms.glob("[!_]*.py"))


def _layer_sizes(text: str, name: str) -> tuple[int, ...]:
    """``"64,64"`` (the CLI's and older files' spelling) → ``(64, 64)``, or one ConfigError."""
    try:
        sizes = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        sizes = ()
    _check_sizes(sizes, name, text)
    return sizes


def _check_sizes(sizes: tuple[int, ...], name: str, text: str | None = None) -> None:
    if not sizes or min(sizes) < 1:
        shown = text if text is not None else ",".join(str(s) for s in sizes)
        raise ConfigError(
            f"{name} must be comma-separated positive layer sizes like '64,64', got '{shown}'."
        )


def spell_sizes(sizes: tuple[int, ...]) -> str:
    """``(64, 64)`` → ``"64,64"``: how the CLI takes layer sizes."""
    return ",".join(str(s) for s in sizes)


#: the spellings of "not set" that files written before these fields were optional hold (and
#: that the CLI and TOML files still accept): ``value_lam = -1``, ``value_hidden = ""`` …
UNSET_SPELLINGS: dict[str, Any] = {
    "value_lam": -1,
    "value_hidden": "",
    "value_activation": "",
    "std_final": 0,  # "anneal σ to 0" cannot be meant: it is the schedule's off switch
}


def _is_unset(name: str, value: Any) -> bool:
    """Whether ``value`` is an older spelling of "not set" for field ``name``."""
    if name not in UNSET_SPELLINGS or isinstance(value, bool):
        return False
    if name == "value_hidden" and isinstance(value, str):
        return not value.strip()  # blank sizes meant "as --hidden"
    return bool(value == UNSET_SPELLINGS[name])


# The help panels that group ``robopg train --help``, in the order they are shown; every field
# names its panel, so the grouping lives next to the field it describes.
TASK = "Task and budget"
ALGO = "Algorithm"
NETS = "Networks"
EXPLORE = "Exploration"
ENGINE = "Engine and device"
EVAL = "Evaluation and logging"
RUNDIR = "Run directory"
PANELS = (TASK, ALGO, NETS, EXPLORE, ENGINE, EVAL, RUNDIR)


def _f(default: Any, help: str, panel: str) -> Any:
    return field(default=default, metadata={"help": help, "panel": panel})


@dataclass
class TrainConfig:
    """Every knob of a training run. Field docs double as CLI help."""

    env: str = _f("reacher", f"Task: {', '.join(_own_task_names())}, or a gymnasium id.", TASK)
    steps: int = _f(1_000_000, "Total environment steps to train for.", TASK)
    seed: int = _f(0, "Seed for envs, torch and numpy (all derived from it).", TASK)
    # 32 (not 16) by measurement: the same learning at 1M steps, ~1.2× the env steps/s
    # (half as many policy forwards per batch); docs/experiments.md, "The batch shape".
    num_envs: int = _f(32, "Parallel environments per process.", ENGINE)
    antithetic: bool = _f(
        False,
        "Pair envs 2k and 2k+1: the same episode starts, opposite exploration noise "
        "(a variance reduction; needs an even --num-envs).",
        ALGO,
    )
    steps_per_batch: int = _f(800, "Transitions per policy update (a multiple of num_envs).", ALGO)
    gamma: float = _f(0.99, "Discount factor γ in [0, 1].", ALGO)
    lam: float = _f(0.95, "GAE λ in [0, 1]; 1 gives plain reward-to-go minus baseline.", ALGO)
    value_lam: float | None = _f(
        None, "λ of the value net's targets GAE(λ)+V, in [0, 1] (-1: the same as --lam).", ALGO
    )
    lr: float = _f(3e-3, "Policy learning rate (Adam).", ALGO)
    lr_schedule: str = _f(
        "linear", "Policy learning-rate schedule: constant or linear (to 0).", ALGO
    )
    baseline: str = _f("value", "Baseline subtracted from returns: value, mean or none.", ALGO)
    value_lr: float = _f(1e-3, "Value-network learning rate (Adam).", ALGO)
    value_epochs: int = _f(5, "Passes over the batch fitting the value net per update.", ALGO)
    value_minibatches: int = _f(8, "Minibatches per value epoch.", ALGO)
    max_grad_norm: float = _f(0.5, "Clip the policy gradient to this global norm (0: off).", ALGO)
    ent_coef: float = _f(
        0.0, "Entropy bonus: the policy step ascends J + c·H(π) (0: plain REINFORCE).", EXPLORE
    )
    normalize_adv: bool = _f(True, "Standardise advantages per batch.", ALGO)
    normalize_obs: bool = _f(True, "Normalise observations with running statistics.", NETS)
    hidden: tuple[int, ...] = _f(
        (64, 64), "Hidden layer sizes of policy and value nets, comma-separated.", NETS
    )
    value_hidden: tuple[int, ...] | None = _f(
        None, "Hidden layer sizes of the value net alone (empty: --hidden).", NETS
    )
    value_activation: str | None = _f(
        None, "Hidden activation of the value net alone (empty: --activation).", NETS
    )
    activation: str = _f("tanh", "Hidden activation: tanh, relu or elu.", NETS)
    log_std_init: float = _f(-0.5, "Initial log standard deviation of the policy.", EXPLORE)
    std: str = _f(
        "param",
        "Policy σ: param (one free log σ per joint) or state (a bounded head of s).",
        EXPLORE,
    )
    log_std_min: float = _f(-5.0, "Lower bound of a state-dependent log σ (--std state).", EXPLORE)
    log_std_max: float = _f(1.0, "Upper bound of a state-dependent log σ (--std state).", EXPLORE)
    std_floor: float = _f(
        0.0, "Floor of the free σ (--std param): σ ≥ this (0: no floor).", EXPLORE
    )
    std_final: float | None = _f(
        None,
        "Anneal the free σ (--std param): a ceiling falling log-linearly from exp(log-std-init) "
        "to this at the end (0: off).",
        EXPLORE,
    )
    obs_clip: float = _f(10.0, "Clip normalised observations to ±this before the networks.", NETS)
    reward_scale: float = _f(
        1.0, "Multiply rewards by this in the update only (value targets; reports stay raw).", ALGO
    )
    lr_warmup: int = _f(
        0, "Ramp the policy learning rate up linearly over the first K updates.", ALGO
    )
    device: str = _f("auto", "auto (CUDA if available), cpu or cuda.", ENGINE)
    engine: str = _f(
        "auto",
        "Env backend: auto (batched where available), batch, gym, or warp (MuJoCo Warp on "
        "--device; needs the extra robopg[gpu]).",
        ENGINE,
    )
    limits: str = _f(
        "report",
        "Franka's limits on the Panda tasks: report (count violations; eval prints them), "
        "abort (a step the real robot would abort on ends the episode, with --limit-penalty) or "
        "penalize (such a step costs --limit-penalty, more the further a joint's speed is over "
        "its limit; episodes go on). Can change on --resume.",
        TASK,
    )
    randomize: str | None = _f(
        None,
        "Domain randomization: a preset (panda) or a TOML file of masses, friction, damping, "
        "motor strength, observation noise and action delay per episode (unset: off).",
        TASK,
    )
    limit_penalty: float = _f(
        2.0,
        "With --limits abort: reward charged for the violating step and for each step the "
        "episode loses (above the worst per-step cost, so ending early never pays); with "
        "penalize: reward per violating step and per unit of speed ratio over the limit.",
        TASK,
    )
    action: str = _f(
        "torque",
        "Action interface: torque (joint torques), joint (steps of a joint-position target "
        "under a joint impedance law) or cartesian (flange steps, IK to that target); the Panda "
        "tasks offer all three.",
        TASK,
    )
    num_threads: int = _f(0, "Threads for the batched engine (0: all cores).", ENGINE)
    eval_every: int = _f(
        0, "Evaluate deterministically every K updates (0: only at the end).", EVAL
    )
    eval_episodes: int = _f(10, "Episodes per periodic evaluation.", EVAL)
    final_eval_episodes: int = _f(
        500,
        "Episodes of the final deterministic evaluation (its standard error is reported).",
        EVAL,
    )
    tensorboard: bool = _f(False, "Also write TensorBoard event files (needs robopg[tb]).", EVAL)
    checkpoint_every: int = _f(
        50, "Write a checkpoint every K updates (the last one is kept).", RUNDIR
    )
    video_every: int = _f(
        0, "Record a short eval video in <run>/videos every K updates (0: off).", EVAL
    )
    out: str = _f(
        "runs", "Folder in which the run directory runs/<env>-<time>/ is created.", RUNDIR
    )

    def __post_init__(self) -> None:
        """Read the older spellings wherever a config is built: layer sizes as ``"64,64"`` or a
        list, "not set" as ``-1`` or ``""`` (``UNSET_SPELLINGS``)."""
        for name in UNSET_SPELLINGS:
            if _is_unset(name, getattr(self, name)):
                setattr(self, name, None)
        for name in SIZE_FIELDS:
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, _layer_sizes(value, name))
            elif isinstance(value, list):
                setattr(self, name, tuple(value))

    def net_config(self, obs_dim: int, act_dim: int) -> NetConfig:
        """The policy architecture these settings describe, for a task of the given sizes."""
        return NetConfig(
            obs_dim=obs_dim,
            act_dim=act_dim,
            hidden=self.hidden_sizes(),
            activation=self.activation,
            log_std_init=self.log_std_init,
            std=self.std,
            log_std_min=self.log_std_min,
            log_std_max=self.log_std_max,
            log_std_floor=math.log(self.std_floor) if self.std_floor > 0 else None,
            obs_clip=self.obs_clip,
        )

    def hidden_sizes(self) -> tuple[int, ...]:
        """The policy's (and by default the value net's) hidden layer widths."""
        return self.hidden

    def value_hidden_sizes(self) -> tuple[int, ...]:
        """The value net's layer widths: ``value_hidden``, or ``hidden`` when it is not set."""
        return self.hidden if self.value_hidden is None else self.value_hidden

    def value_activation_name(self) -> str:
        """The value net's activation: ``value_activation``, or ``activation`` when not set."""
        return self.activation if self.value_activation is None else self.value_activation

    def value_targets_lam(self) -> float:
        """λ of the value targets: ``value_lam``, or ``lam`` when it is not set."""
        return self.lam if self.value_lam is None else self.value_lam

    @property
    def rollout_len(self) -> int:
        """Steps each env takes per batch (T in the (T, N) batch)."""
        return self.steps_per_batch // self.num_envs

    def validate(self) -> TrainConfig:
        """Raise ConfigError with one actionable sentence for the first invalid value."""

        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise ConfigError(msg)

        for name in (
            "gamma",
            "lam",
            "lr",
            "value_lr",
            "log_std_init",
            "log_std_min",
            "log_std_max",
            "max_grad_norm",
            "ent_coef",
            "obs_clip",
            "reward_scale",
            "std_floor",
            "limit_penalty",
        ):
            value = getattr(self, name)
            need(math.isfinite(value), f"{name} must be a finite number, got {value}.")
        need(0.0 <= self.gamma <= 1.0, f"--gamma must be in [0, 1], got {self.gamma}.")
        need(0.0 <= self.lam <= 1.0, f"--lam must be in [0, 1], got {self.lam}.")
        need(self.steps > 0, f"--steps must be a positive number of env steps, got {self.steps}.")
        need(
            0 <= self.seed < 2**31,
            f"--seed must be an integer in [0, 2^31), got {self.seed}; seeds name random "
            "streams and are never negative.",
        )
        need(self.num_envs >= 1, f"--num-envs must be at least 1, got {self.num_envs}.")
        need(
            not self.antithetic or self.num_envs % 2 == 0,
            f"--antithetic pairs envs 2k and 2k+1, so --num-envs must be even, got "
            f"{self.num_envs} (--no-antithetic turns the pairs off).",
        )
        need(not self.antithetic or self.engine != "warp", ANTITHETIC_WARP)
        need(
            self.steps_per_batch >= self.num_envs and self.steps_per_batch % self.num_envs == 0,
            f"--steps-per-batch ({self.steps_per_batch}) must be a positive multiple of "
            f"--num-envs ({self.num_envs}).",
        )
        need(self.lr > 0, f"--lr must be positive, got {self.lr}.")
        need(self.value_lr > 0, f"--value-lr must be positive, got {self.value_lr}.")
        need(self.value_epochs >= 1, f"--value-epochs must be ≥ 1, got {self.value_epochs}.")
        need(
            1 <= self.value_minibatches <= self.steps_per_batch,
            f"--value-minibatches must be between 1 and steps-per-batch, "
            f"got {self.value_minibatches}.",
        )
        need(self.max_grad_norm >= 0, f"--max-grad-norm must be ≥ 0, got {self.max_grad_norm}.")
        need(self.ent_coef >= 0, f"--ent-coef must be ≥ 0, got {self.ent_coef}.")
        need(self.obs_clip > 0, f"--obs-clip must be positive, got {self.obs_clip}.")
        need(self.reward_scale > 0, f"--reward-scale must be positive, got {self.reward_scale}.")
        need(self.lr_warmup >= 0, f"--lr-warmup must be ≥ 0 updates, got {self.lr_warmup}.")
        need(self.std_floor >= 0, f"--std-floor must be ≥ 0 (0: none), got {self.std_floor}.")
        need(
            self.std_floor == 0 or self.std == "param",
            "--std-floor applies to --std param; a state σ is bounded by --log-std-min instead.",
        )
        need(
            self.std_final is None or self.std_final >= 0,
            f"--std-final must be ≥ 0 (0: off), got {self.std_final}.",
        )
        need(
            self.std_final is None or self.std == "param",
            "--std-final anneals the free σ of --std param; a state σ has no single σ to anneal.",
        )
        need(
            self.std_final is None or self.std_final > self.std_floor,
            f"--std-final ({self.std_final}) must lie above --std-floor ({self.std_floor}).",
        )
        need(
            self.baseline in BASELINES,
            f"--baseline must be one of {', '.join(BASELINES)}, got '{self.baseline}'.",
        )
        need(
            self.lr_schedule in LR_SCHEDULES,
            f"--lr-schedule must be one of {', '.join(LR_SCHEDULES)}, got '{self.lr_schedule}'.",
        )
        need(
            self.device in DEVICES,
            f"--device must be one of {', '.join(DEVICES)}, got '{self.device}'.",
        )
        need(
            self.activation in ACTIVATIONS,
            f"--activation must be tanh, relu or elu, got '{self.activation}'.",
        )
        need(
            self.value_activation is None or self.value_activation in ACTIVATIONS,
            "--value-activation must be tanh, relu or elu (or empty: --activation), "
            f"got '{self.value_activation}'.",
        )
        need(
            self.value_lam is None or 0 <= self.value_lam <= 1,
            f"--value-lam must be in [0, 1] (or -1: --lam), got {self.value_lam}.",
        )
        need(
            self.std in STD_KINDS,
            f"--std must be one of {', '.join(STD_KINDS)}, got '{self.std}'.",
        )
        need(
            self.std == "param" or self.log_std_min < self.log_std_init < self.log_std_max,
            f"--log-std-init ({self.log_std_init}) must lie strictly between --log-std-min "
            f"({self.log_std_min}) and --log-std-max ({self.log_std_max}) with --std state.",
        )
        need(
            self.limits in LIMITS,
            f"--limits must be one of {', '.join(LIMITS)}, got '{self.limits}'.",
        )
        need(self.limit_penalty >= 0, f"--limit-penalty must be ≥ 0, got {self.limit_penalty}.")
        need(
            self.action in ACTIONS,
            f"--action must be one of {', '.join(ACTIONS)}, got '{self.action}'.",
        )
        need(
            self.action == "torque" or self.engine != "gym",
            f"--action {self.action} runs on the batched or warp engine; drop --engine gym.",
        )
        need(self.num_threads >= 0, f"--num-threads must be ≥ 0, got {self.num_threads}.")
        need(self.eval_every >= 0, f"--eval-every must be ≥ 0, got {self.eval_every}.")
        need(self.eval_episodes >= 1, f"--eval-episodes must be ≥ 1, got {self.eval_episodes}.")
        need(
            self.final_eval_episodes >= 1,
            f"--final-eval-episodes must be ≥ 1, got {self.final_eval_episodes}.",
        )
        need(self.video_every >= 0, f"--video-every must be ≥ 0, got {self.video_every}.")
        need(
            self.checkpoint_every >= 1,
            f"--checkpoint-every must be ≥ 1, got {self.checkpoint_every}.",
        )
        for name in SIZE_FIELDS:
            sizes = getattr(self, name)
            if sizes is not None:
                _check_sizes(sizes, name)
        return self

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON values (layer sizes as lists, "not set" as None): what a run's
        ``config.json`` and its checkpoints hold."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> TrainConfig:
        """Build from a mapping, rejecting unknown keys (typos must not pass silently)."""
        return cls().updated(data, source)

    def updated(self, overrides: dict[str, Any], source: str) -> TrainConfig:
        """A copy with ``overrides`` applied, type-checked against the field types."""
        known = {f.name: f for f in dataclasses.fields(self)}
        values = self.to_dict()
        for key, value in overrides.items():
            name = key.replace("-", "_")
            if name not in known:
                raise ConfigError(
                    f"Unknown setting '{key}' in {source}; valid settings: {', '.join(known)}."
                )
            values[name] = _coerce(name, value, _field_types()[name], source)
        return TrainConfig(**values)


#: integer settings that count things; they also accept 1e6 and 1_000_000
COUNT_FIELDS = ("steps", "steps_per_batch", "num_envs", "eval_episodes", "final_eval_episodes")
#: settings that are hidden-layer sizes: a tuple of ints, a TOML/JSON list, or "64,64"
SIZE_FIELDS = ("hidden", "value_hidden")


def _field_types() -> dict[str, Any]:
    """Each TrainConfig field's declared type (the annotations are strings until resolved)."""
    return get_type_hints(TrainConfig)


def _optional_inner(hint: Any) -> Any | None:
    """``X`` for ``X | None``, else None."""
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(get_args(hint)) == 2:
            return args[0]
    return None


def cli_type(name: str) -> Any:
    """The annotation of a field's command-line option: ``str`` for counts (``1e6``) and layer
    sizes (``64,64``), which TrainConfig parses; ``X | None`` for an optional field (its option
    has no default value); else the field's own type."""
    hint = _field_types()[name]
    inner = _optional_inner(hint)
    if name in COUNT_FIELDS or name in SIZE_FIELDS:
        return str if inner is None else str | None
    return hint


def cli_default(name: str) -> Any:
    """A field's default as its command-line option holds it: counts and layer sizes as the
    CLI spells them (``"1000000"``, ``"64,64"``), None for "not set", else the value."""
    value = getattr(TrainConfig(), name)
    if isinstance(value, tuple):
        return spell_sizes(value)
    return str(value) if name in COUNT_FIELDS else value


def parse_count(text: str, flag: str) -> int:
    """``1000000``, ``1_000_000`` or ``1e6`` → 1000000; anything else is one ConfigError."""
    cleaned = text.strip().replace("_", "")
    try:
        value = float(cleaned)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value != int(value):
        raise ConfigError(
            f"{flag} must be a whole number like 1000000, 1_000_000 or 1e6, got '{text}'."
        )
    return int(value)


def _coerce(name: str, value: Any, hint: Any, source: str) -> Any:
    inner = _optional_inner(hint)
    if inner is not None:
        if value is None or _is_unset(name, value):
            return None
        hint = inner
    if name in SIZE_FIELDS:
        return _coerce_sizes(name, value, source)
    kind: type = hint
    if kind is int and isinstance(value, float) and value.is_integer() and name in COUNT_FIELDS:
        return int(value)  # steps = 1e6 in a TOML file
    if kind is int and isinstance(value, str) and name in COUNT_FIELDS:
        flag = "--" + name.replace("_", "-") if source == "the command line" else name
        return parse_count(value, flag if source == "the command line" else f"'{flag}' in {source}")
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"Setting '{name}' in {source} must be {kind.__name__}, got {value!r}.")
    return value


def _coerce_sizes(name: str, value: Any, source: str) -> tuple[int, ...]:
    """Layer sizes from ``"64,64"`` or a list ``[64, 64]`` (TOML, JSON)."""
    if isinstance(value, str):
        return _layer_sizes(value, name)
    if isinstance(value, (list, tuple)) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        sizes = tuple(value)
        _check_sizes(sizes, name)
        return sizes
    raise ConfigError(
        f"Setting '{name}' in {source} must be layer sizes like [64, 64] or '64,64', got {value!r}."
    )


#: what a run records in its ``config.json`` beside the settings (not settings themselves, so
#: ``--config runs/<run>/config.json`` drops them): the backend that trained it, and the
#: randomization that ``randomize`` named, resolved (every range, as it was when the run ran)
RUN_RECORDS = ("backend", "randomization")


def load_toml(path: Path) -> dict[str, Any]:
    """Read a config file: a flat TOML table of TrainConfig fields, or a run's ``config.json``
    (so ``--config runs/<run>/config.json`` repeats a run's settings)."""
    try:
        if path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ConfigError(f"Config file '{path}' must hold a JSON object of settings.")
            return {k: v for k, v in data.items() if k not in RUN_RECORDS}
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"Config file '{path}' does not exist.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file '{path}' is not valid TOML: {exc}.") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"Config file '{path}' is not valid JSON: {exc}.") from None


def preset_names() -> list[str]:
    """Names of the presets shipped in robopg/presets/*.toml."""
    folder = resources.files("robopg.presets")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def preset_file(name: str, task: str | None = None) -> str:
    """The preset a name means: ``<task>-<name>`` when it exists (so ``robopg train reacher
    --preset fast`` finds ``reacher-fast``), else ``<name>`` itself."""
    names = preset_names()
    if task and f"{task}-{name}" in names:
        return f"{task}-{name}"
    if name in names:
        return name
    raise ConfigError(
        f"Unknown preset '{name}'; available presets: {', '.join(names) or 'none'} "
        "(run `robopg presets`)."
    )


def preset_description(name: str) -> str:
    """The first comment line of a shipped preset (what it is for)."""
    text = (resources.files("robopg.presets") / f"{name}.toml").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


def load_preset(name: str, task: str | None = None) -> dict[str, Any]:
    """A shipped preset by name (e.g. ``reacher``, ``reacher-fast``, or ``fast`` for a task).

    A preset may start from another: ``base = "pusher"`` takes that preset's values and lets the
    file override some of them, so a variant (``pusher-gpu``) cannot drift from the settings it
    shares with its base when the base is re-tuned.
    """
    chain: list[str] = []
    values: dict[str, Any] = {}
    while True:
        resolved = preset_file(name, None if chain else task)  # a base is named in full
        if resolved in chain:  # a packaging bug, but say where
            raise ConfigError(f"Shipped presets {' → '.join([*chain, resolved])} form a cycle.")
        chain.append(resolved)
        res = resources.files("robopg.presets") / f"{resolved}.toml"
        try:
            own = tomllib.loads(res.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:  # a packaging bug, but say which file
            raise ConfigError(f"Shipped preset '{resolved}' is not valid TOML: {exc}.") from None
        base = own.pop("base", None)
        values = {**own, **values}  # the more specific file wins
        if base is None:
            return values
        name = str(base)


def resolve_config(
    flags: dict[str, Any],
    preset: str | None = None,
    config_file: Path | None = None,
) -> TrainConfig:
    """defaults ← preset ← config file ← flags, validated.

    A task-specific preset name is looked up for the task given on the command line (or the
    default task): ``--preset fast`` with task ``pusher`` reads ``pusher-fast`` if it exists.
    """
    cfg = TrainConfig()
    if preset:
        task = flags.get("env") or cfg.env
        resolved = preset_file(preset, str(task).lower())
        values = load_preset(resolved)
        _check_preset_task(resolved, values.get("env"), flags.get("env"))
        cfg = cfg.updated(values, f"preset '{resolved}'")
    if config_file:
        cfg = cfg.updated(load_toml(config_file), f"'{config_file}'")
    cfg = cfg.updated({k: v for k, v in flags.items() if v is not None}, "the command line")
    return cfg.validate()


def _check_preset_task(preset: str, preset_env: Any, asked: Any) -> None:
    """A preset tuned for one task is refused on another (its settings are that task's)."""
    if not preset_env or not asked:
        return
    from robopg.envs import resolve_task

    ours, theirs = resolve_task(str(asked)).name, resolve_task(str(preset_env)).name
    if ours != theirs:
        raise ConfigError(
            f"Preset '{preset}' is tuned for {theirs}, not {ours}; drop --preset, or run "
            f"`robopg train {theirs} --preset {preset}`."
        )


def save_json(path: Path, data: dict[str, Any]) -> None:
    """Pretty JSON, written atomically (see checkpoint.atomic_write)."""
    from robopg.runs.checkpoint import atomic_write

    atomic_write(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
