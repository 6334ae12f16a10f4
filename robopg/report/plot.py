"""Learning curves and training diagnostics of one or more runs, drawn headless to a PNG.

Runs whose configs differ only in the seed (and in settings that do not change learning, such as
the output folder) form one group, drawn as the mean over its runs with a ±1 std band and each run
as a thin line. Groups are labelled by the task and the settings that tell them apart.

matplotlib is driven through ``Figure`` + the Agg canvas, never pyplot: no display, no global
backend switch, nothing left open in the caller's process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robopg.errors import ConfigError, RunDirError
from robopg.runs.run_dir import RunRecord, expand_runs, load_run

#: Settings that do not change what is learnt: they never split runs into groups.
NON_LEARNING = {
    "seed",
    "out",
    "device",
    "num_threads",
    "engine",
    "eval_every",
    "eval_episodes",
    "checkpoint_every",
    "tensorboard",
    "video_every",
}

RETURN_PANELS = (
    ("rollout/ep_return_mean", "Training episodes (stochastic policy)"),
    ("eval/return_mean", "Evaluation (deterministic mean action)"),
)
DIAGNOSTICS = (
    ("train/policy_loss", "policy loss"),
    ("train/value_loss", "value loss"),
    ("train/entropy", "entropy"),
    ("train/approx_kl", "approx. KL per update"),
    ("train/grad_norm", "gradient norm (before clipping)"),
    ("train/std", "policy σ (mean over actions)"),
    ("train/adv_std", "advantage std (raw)"),
    ("time/sps", "env steps / s"),
)


@dataclass(frozen=True)
class RunGroup:
    label: str
    runs: list[RunRecord]


def group_runs(runs: Sequence[RunRecord]) -> list[RunGroup]:
    """Group runs by their learning-relevant config; label groups by what differs between them."""
    keys: list[tuple[tuple[str, str], ...]] = []
    members: dict[tuple[tuple[str, str], ...], list[RunRecord]] = {}
    for run in runs:
        key = tuple(sorted((k, repr(v)) for k, v in run.config.items() if k not in NON_LEARNING))
        if key not in members:
            keys.append(key)
            members[key] = []
        members[key].append(run)
    configs = [dict(k) for k in keys]
    varying = sorted(
        {name for c in configs for name in c if len({repr(d.get(name)) for d in configs}) > 1}
    )
    groups = []
    for key, config in zip(keys, configs, strict=True):
        first = members[key][0]
        task = str(first.config.get("env", first.path.name))
        extra = [f"{name}={_plain(config.get(name))}" for name in varying if name != "env"]
        label = " ".join([task, *extra])
        n = len(members[key])
        groups.append(RunGroup(f"{label} ({n} run{'s' if n > 1 else ''})", members[key]))
    return groups


def _plain(value: str | None) -> str:
    return "—" if value is None else value.strip("'")


def mean_curve(
    runs: Sequence[RunRecord], name: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(steps, mean, std) of a metric over runs, on the env steps that all runs cover.

    Runs of one group share their batch size, so their steps coincide and interpolation is exact;
    otherwise each run is linearly interpolated onto the first run's steps in the common range.
    """
    series = [run.series(name) for run in runs]
    series = [(s, v) for s, v in series if len(s)]
    if not series:
        return None
    lo = max(s[0] for s, _ in series)
    hi = min(s[-1] for s, _ in series)
    grid = series[0][0]
    grid = grid[(grid >= lo) & (grid <= hi)]
    if len(grid) == 0:
        return None
    stacked = np.stack([np.interp(grid, s, v) for s, v in series])
    return grid, stacked.mean(0), stacked.std(0)


def _figure(width: int, height: int, dpi: int) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigError('Plotting needs matplotlib: pip install "robopg[plot]".') from None
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def plot_runs(
    paths: Sequence[Path],
    out: Path,
    width: int = 1600,
    height: int = 1000,
    dpi: int = 100,
) -> list[RunGroup]:
    """Draw return vs env steps (training and evaluation) and a diagnostics panel to ``out``.

    The PNG is exactly ``width`` × ``height`` pixels. Returns the groups drawn.
    """
    runs = [load_run(p) for p in expand_runs(list(paths))]
    empty = [str(r.path) for r in runs if not r.rows]
    if empty:
        raise RunDirError(f"No updates logged yet in {', '.join(empty)}; nothing to plot.")
    groups = group_runs(runs)
    fig = _figure(width, height, dpi)
    grid = fig.add_gridspec(4, 4, height_ratios=[1.4, 1.4, 1, 1], hspace=0.55, wspace=0.3)
    colors = [f"C{i % 10}" for i in range(len(groups))]
    for col, (metric, title) in enumerate(RETURN_PANELS):
        ax = fig.add_subplot(grid[0:2, 2 * col : 2 * col + 2])
        _draw_metric(ax, groups, colors, metric, markers=metric.startswith("eval/"))
        ax.set_title(title)
        ax.set_xlabel("env steps")
        ax.set_ylabel("episode return")
        ax.grid(alpha=0.3)
    if fig.axes[0].get_legend_handles_labels()[0]:
        fig.axes[0].legend(loc="lower right", fontsize="small")
    for i, (metric, title) in enumerate(DIAGNOSTICS):
        ax = fig.add_subplot(grid[2 + i // 4, i % 4])
        _draw_metric(ax, groups, colors, metric, markers=False)
        ax.set_title(title, fontsize="small")
        ax.tick_params(labelsize="x-small")
        ax.xaxis.get_offset_text().set_fontsize("x-small")
        ax.grid(alpha=0.3)
    fig.suptitle(f"robopg: {len(runs)} run{'s' if len(runs) > 1 else ''}")
    fig.subplots_adjust(left=0.06, right=0.98, top=0.9, bottom=0.05)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi, format="png")
    return groups


def _draw_metric(
    ax: Any, groups: Sequence[RunGroup], colors: Sequence[str], metric: str, markers: bool
) -> None:
    drawn = False
    for group, color in zip(groups, colors, strict=True):
        curve = mean_curve(group.runs, metric)
        if curve is None:
            continue
        drawn = True
        steps, mean, std = curve
        style = {"marker": "o", "markersize": 3} if markers else {}
        if len(group.runs) > 1:
            for run in group.runs:
                s, v = run.series(metric)
                ax.plot(s, v, color=color, alpha=0.25, linewidth=0.8)
            ax.fill_between(steps, mean - std, mean + std, color=color, alpha=0.2, linewidth=0)
        ax.plot(steps, mean, color=color, linewidth=1.6, label=group.label, **style)
    if not drawn:
        ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes)
