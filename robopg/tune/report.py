"""What ``robopg tune`` leaves behind: the trials table, ``best.toml`` and two PNGs.

``best.toml`` is a flat TOML table of TrainConfig fields (the best trial's config, less the
folder and machine settings tuning chose for it), so ``robopg train TASK --config best.toml``
repeats the best trial and ``--steps`` trains it longer.
"""

from __future__ import annotations

import io
import json
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState
from rich.table import Table

from robopg.runs.checkpoint import atomic_write
from robopg.tune.space import Param

#: set by tuning for its own bookkeeping, not part of the tuned settings
NOT_IN_PRESET = ("out", "num_threads", "eval_every")


def trials_table(study: optuna.Study, space: dict[str, Param]) -> Table:
    """One row per trial: number, state, score (complete trials), the searched values."""
    searched = [name for name, p in space.items() if p.low is not None or p.choices is not None]
    trials = study.get_trials(deepcopy=False)
    best = _best_number(study)
    table = Table(title=f"study {study.study_name}: {len(trials)} trials")
    table.add_column("#", justify="right", no_wrap=True, min_width=2)
    table.add_column("state", no_wrap=True)
    for col in ("score", *searched):
        table.add_column(col.replace("_", " "), justify="right")  # headers wrap at spaces
    for t in trials:
        state = t.state.name.lower()
        if t.state == TrialState.FAIL:
            state = "stopped" if t.user_attrs.get("interrupted") else "failed"
        score = "" if t.value is None or t.state != TrialState.COMPLETE else f"{t.value:.3f}"
        mark = "[bold green]" if t.number == best else ""
        base = " base" if t.user_attrs.get("base") else ""  # the base config, trial 0
        row = [
            f"{mark}{t.number}{base}",
            state,
            f"{mark}{score}",
        ]
        row += [_fmt(t.params.get(name, "")) for name in searched]
        table.add_row(*row)
    return table


def _best_number(study: optuna.Study) -> int | None:
    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    return (
        max(done, key=lambda t: -math.inf if t.value is None else t.value).number if done else None
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def best_preset(trial: FrozenTrial, study_name: str) -> str:
    """The best trial's config as TOML text (comment header: where it came from)."""
    cfg = {k: v for k, v in trial.user_attrs["config"].items() if k not in NOT_IN_PRESET}
    lines = [
        f"# Best of robopg tune study '{study_name}': trial {trial.number}, score "
        f"{trial.value:.3f}",
        "# (mean deterministic return of the last evaluations at the tuning budget `steps`).",
        f"# Use: robopg train {cfg['env']} --config best.toml [--steps …]",
    ]
    # TOML has no null: a setting that is not set (None) is left out, as in any config file
    lines += [f"{key} = {_toml_value(value)}" for key, value in cfg.items() if value is not None]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):  # layer sizes
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a TOML basic string: JSON's escapes are TOML's


def write_report(study: optuna.Study, folder: Path) -> list[Path]:
    """best.toml, history.png, importances.png in ``folder``; the files written.

    Importances need two finished trials with different values; fewer writes no PNG for them.
    """
    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if not done:
        return []
    best = max(done, key=lambda t: t.value if t.value is not None else -math.inf)
    written = [folder / "best.toml"]
    atomic_write(written[0], best_preset(best, study.study_name).encode())
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optuna's matplotlib plots are "experimental"
        plots: list[tuple[str, Callable[[optuna.Study], Any]]] = [
            ("history.png", ovm.plot_optimization_history)
        ]
        if len(done) >= 2:
            plots.append(("importances.png", ovm.plot_param_importances))
        for name, plot in plots:
            try:
                ax = plot(study)
            except (RuntimeError, ValueError):  # e.g. importances of identical scores
                continue
            fig: Any = ax.figure
            fig.set_size_inches(8, 5)
            fig.tight_layout()
            png = io.BytesIO()
            fig.savefig(png, format="png", dpi=100)
            plt.close(fig)
            atomic_write(folder / name, png.getvalue())
            written.append(folder / name)
    return written
