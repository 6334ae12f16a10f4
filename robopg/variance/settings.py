"""Settings of a variance measurement: sizes, γ/λ grids, the --quick preset, CLI parsing."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from robopg.errors import ConfigError

REFERENCE_GAMMA = 1.0  # the objective we care about: expected undiscounted episode return
REFERENCE_ESTIMATOR = "rtg_value"  # lowest-variance estimator that is unbiased for it


# ---------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class VarianceSettings:
    """Sizes of a measurement. Batch sizes are in trajectories of one episode length T each."""

    episodes: int = 2048
    reference_episodes: int = 2048
    value_episodes: int = 256
    batch_episodes: tuple[int, ...] = (4, 16, 64)
    gammas: tuple[float, ...] = (0.99, 0.9, 1.0)
    lams: tuple[float, ...] = (0.0, 0.5, 0.9, 0.95, 1.0)
    value_epochs: int = 30
    num_envs: int = 64
    seed: int = 0

    def validate(self) -> VarianceSettings:
        """Raise ConfigError with one actionable sentence for the first invalid value."""

        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise ConfigError(msg)

        need(self.episodes >= 2, f"--episodes must be at least 2, got {self.episodes}.")
        need(
            self.reference_episodes >= 2,
            f"--reference-episodes must be at least 2, got {self.reference_episodes}.",
        )
        need(
            self.value_episodes >= 1,
            f"--value-episodes must be at least 1, got {self.value_episodes}.",
        )
        need(bool(self.batch_episodes), "--batch-episodes needs at least one batch size.")
        need(
            min(self.batch_episodes) >= 1,
            f"--batch-episodes must be positive, got {list(self.batch_episodes)}.",
        )
        need(
            3 * max(self.batch_episodes) <= self.episodes,
            f"--episodes ({self.episodes}) must hold at least three batches of the largest "
            f"--batch-episodes ({max(self.batch_episodes)}); raise --episodes.",
        )
        need(bool(self.gammas), "--gammas needs at least one discount factor.")
        for g in self.gammas:
            need(0.0 <= g <= 1.0, f"--gammas must be in [0, 1], got {g}.")
        for lam in self.lams:
            need(0.0 <= lam <= 1.0, f"--lams must be in [0, 1], got {lam}.")
        need(self.value_epochs >= 1, f"--value-epochs must be ≥ 1, got {self.value_epochs}.")
        need(self.num_envs >= 1, f"--num-envs must be at least 1, got {self.num_envs}.")
        return self


QUICK = VarianceSettings(
    episodes=48,
    reference_episodes=48,
    value_episodes=32,
    batch_episodes=(2, 8),
    gammas=(0.99,),
    lams=(0.0, 1.0),
    value_epochs=5,
    num_envs=16,
)


def parse_list(text: str, flag: str, kind: type[int] | type[float]) -> tuple[Any, ...]:
    """``"4,16,64"`` → (4, 16, 64); a malformed list is one ConfigError sentence."""
    try:
        values = tuple(kind(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values:
        raise ConfigError(
            f"{flag} must be comma-separated {kind.__name__} values like "
            f"'{'4,16,64' if kind is int else '0.9,0.99'}', got '{text}'."
        )
    return values


def resolve_settings(quick: bool, overrides: dict[str, Any]) -> VarianceSettings:
    """Defaults (or QUICK) with the options given on the command line (None: not given)."""
    base = QUICK if quick else VarianceSettings()
    given = {k: v for k, v in overrides.items() if v is not None}
    lists = {"batch_episodes": int, "gammas": float, "lams": float}
    for name, kind in lists.items():
        if isinstance(given.get(name), str):
            given[name] = parse_list(given[name], "--" + name.replace("_", "-"), kind)
    return replace(base, **given).validate()
