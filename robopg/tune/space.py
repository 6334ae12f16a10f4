"""The search space of ``robopg tune``: which TrainConfig fields a trial samples, and from where.

A space maps TrainConfig field names to one of

- a range ``{low, high, log}`` (float fields, or int fields when both ends are integers),
- a set of ``choices`` (any field; ``hidden`` choices may be lists like ``[64, 64]``),
- a fixed value (the field is set, not searched).

A ``--space`` TOML file has one entry per field and overrides the default entry of that field
(other defaults stay); a bare value fixes it::

    lr = { low = 1e-4, high = 3e-3, log = true }
    steps_per_batch = { choices = [800, 1600] }
    gamma = 0.99            # not searched

No Optuna here: a ``trial`` is anything with Optuna's ``suggest_float/int/categorical``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from robopg.config import TrainConfig, load_toml
from robopg.errors import ConfigError

#: fields a trial must not change: they name the task, budget, seed, machine or output
UNTUNABLE = frozenset(
    {"env", "steps", "seed", "device", "engine", "num_threads", "out", "eval_every", "tensorboard"}
    | {"checkpoint_every", "video_every"}
)


class Trial(Protocol):
    """The part of ``optuna.Trial`` a space uses."""

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = ...) -> float: ...

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = ...) -> int: ...

    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


@dataclass(frozen=True)
class Param:
    """One searched (or fixed) TrainConfig field."""

    name: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    choices: tuple[Any, ...] | None = None
    fixed: Any = None

    def sample(self, trial: Trial) -> Any:
        if self.choices is not None:
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.low is None or self.high is None:
            return self.fixed
        if isinstance(self.low, int) and isinstance(self.high, int):
            return trial.suggest_int(self.name, self.low, self.high, log=self.log)
        return trial.suggest_float(self.name, float(self.low), float(self.high), log=self.log)

    def describe(self) -> str:
        if self.choices is not None:
            return "{" + ", ".join(str(c) for c in self.choices) + "}"
        if self.low is None:
            return f"= {self.fixed}"
        return f"[{self.low}, {self.high}]" + (" log" if self.log else "")


#: searched by default: what choosing REINFORCE's settings for a new task is mostly about
DEFAULT_SPACE: dict[str, Param] = {
    p.name: p
    for p in (
        Param("lr", 3e-4, 1e-2, log=True),
        Param("steps_per_batch", choices=(400, 800, 1600, 3200)),
        Param("num_envs", choices=(8, 16, 32)),
        Param("lam", 0.8, 1.0),
        Param("gamma", 0.95, 0.999),
        Param("log_std_init", -1.5, 0.0),
        Param("value_epochs", 1, 10),
        Param("hidden", choices=("32,32", "64,64", "128,128", "256,256")),
        # tanh → relu was worth 0.7 on Pusher at equal settings, more than any other single
        # change measured there (docs/experiments.md)
        Param("activation", choices=("tanh", "relu", "elu")),
    )
}


def load_space(path: Path | None) -> dict[str, Param]:
    """The default space with a TOML file's entries laid over it (checked: one sentence each)."""
    space = dict(DEFAULT_SPACE)
    if path is None:
        return space
    for name, entry in load_toml(path).items():
        space[name] = parse_param(name, entry, f"'{path}'")
    return space


def parse_param(name: str, entry: Any, source: str) -> Param:
    """One space entry, checked against TrainConfig: known, tunable field; values of its type;
    a non-empty range or choice list."""
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    if name not in fields or name in UNTUNABLE:
        tunable = sorted(fields - UNTUNABLE)
        raise ConfigError(
            f"Unknown parameter '{name}' in {source}; a search space may set: {', '.join(tunable)}."
        )
    at = f"'{name}' in {source}"
    if not isinstance(entry, dict):
        return Param(name, fixed=_check(name, entry, at))
    unknown = set(entry) - {"low", "high", "log", "choices"}
    if unknown or not ({"choices"} <= set(entry) or {"low", "high"} <= set(entry)):
        raise ConfigError(
            f"{at} must be a value, {{ low = …, high = … [, log = true] }} or "
            f"{{ choices = [...] }}, got {entry!r}."
        )
    if "choices" in entry:
        choices = entry["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{at} has an empty choice list; give at least one value.")
        return Param(name, choices=tuple(_check(name, c, at) for c in choices))
    low, high = _check(name, entry["low"], at), _check(name, entry["high"], at)
    log = entry.get("log", False)
    if not isinstance(low, (int, float)) or not isinstance(high, (int, float)):
        raise ConfigError(f"{at}: only number settings take a range; use choices = [...].")
    if not low <= high:
        raise ConfigError(f"{at} is an empty range: low ({low}) is above high ({high}).")
    if log is True and low <= 0:
        raise ConfigError(f"{at}: a log range needs low > 0, got {low}.")
    if not isinstance(log, bool):
        raise ConfigError(f"{at}: log must be true or false, got {log!r}.")
    return Param(name, low, high, log=log)


def _check(name: str, value: Any, at: str) -> Any:
    """``value`` coerced to the field's type, with TrainConfig's own one-sentence error."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{at} must be finite, got {value}.")
    cfg = TrainConfig().updated({name: value}, at)
    if name not in ("steps_per_batch", "num_envs"):  # those two are made to fit each other
        try:
            cfg.validate()
        except ConfigError as exc:
            raise ConfigError(f"{at}: {exc}") from None
    return getattr(cfg, name)


def base_point(space: dict[str, Param], base: TrainConfig) -> dict[str, Any] | None:
    """The base config (defaults ← ``--preset`` ← flags) as a point of the space, or None when
    one of its values lies outside (then the study has no base row).

    A new study runs it as trial 0, so the table shows the score the search has to beat,
    measured the same way, and TPE starts from a known-good point.
    """
    point: dict[str, Any] = {}
    for name, param in space.items():
        value = getattr(base, name)
        if param.choices is not None:
            if value not in param.choices:
                return None
        elif param.low is None or param.high is None:
            continue  # fixed, not searched
        elif not param.low <= value <= param.high:
            return None
        point[name] = value
    return point


def sample_overrides(space: dict[str, Param], trial: Trial, base: TrainConfig) -> dict[str, Any]:
    """One trial's TrainConfig overrides. ``steps_per_batch`` is rounded up to a multiple of
    ``num_envs`` (what TrainConfig requires), so every pair of choices is a valid config."""
    values = {name: param.sample(trial) for name, param in space.items()}
    if "steps_per_batch" in values:
        envs = int(values.get("num_envs", base.num_envs))
        values["steps_per_batch"] = math.ceil(values["steps_per_batch"] / envs) * envs
    return values
