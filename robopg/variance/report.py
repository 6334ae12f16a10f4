"""Show and save a VarianceReport: a rich table, JSON, CSV and a PNG plot.

Kept apart from ``measure.py`` so the measurement stays free of presentation and matplotlib
(imported only when a plot is drawn).
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from rich.table import Table

from robopg.errors import ConfigError
from robopg.runs.checkpoint import atomic_write
from robopg.variance.measure import VarianceReport
from robopg.variance.stats import EstimatorStats, Interval

INTERVAL_FIELDS = ("total_variance", "relative_variance", "snr", "cosine", "relative_bias2")


def table_batch(report: VarianceReport) -> int:
    """The batch size the terminal table shows (the middle one; files hold them all)."""
    sizes = sorted(report.settings.batch_episodes)
    return sizes[len(sizes) // 2]


def _num(x: float) -> str:
    return "—" if not math.isfinite(x) else f"{x:.3g}"


def _cell(iv: Interval) -> str:
    """The value over its 95 % half-width (jackknife intervals are symmetric)."""
    return f"{_num(iv.value)}\n[dim]±{_num((iv.high - iv.low) / 2)}[/]"


def build_table(report: VarianceReport) -> Table:
    """One row per γ × estimator at ``table_batch``; values with 95 % half-widths below them."""
    n = table_batch(report)
    T = report.episode_length
    table = Table(
        title=f"Policy-gradient estimators on {report.task}, {report.policy}: "
        f"batches of {n} trajectories ({n * T} steps)",
        caption=f"reference: {report.reference_episodes} trajectories, γ=1 rtg − V(s), "
        f"SNR {report.reference_snr:.3g}; bias² is relative to ‖g_ref‖² and debiased "
        "(≈0 within noise); slope: d log var / d log n (−1: var ∝ 1/n).",
    )
    table.add_column("γ", justify="right")
    table.add_column("estimator", no_wrap=True, min_width=16)
    for col in ("trace var", "SNR", "cos to ref", "bias²", "slope"):
        table.add_column(col, justify="right")
    for i, gamma in enumerate(report.settings.gammas):
        if i:
            table.add_section()
        for row in report.rows:
            if row.gamma == gamma and row.batch_episodes == n:
                table.add_row(
                    f"{gamma:g}",
                    row.label,
                    _cell(row.total_variance),
                    _cell(row.snr),
                    _cell(row.cosine),
                    _cell(row.relative_bias2),
                    f"{row.variance_slope:.2f}",
                )
    return table


def csv_rows(report: VarianceReport) -> list[dict[str, object]]:
    """Flat rows: one per γ × estimator × batch size, intervals as value/low/high columns."""
    out = []
    for row in report.rows:
        flat: dict[str, object] = {}
        for key, value in asdict(row).items():
            if key in INTERVAL_FIELDS:
                flat[key] = value["value"]
                flat[f"{key}_low"] = value["low"]
                flat[f"{key}_high"] = value["high"]
            else:
                flat[key] = "" if value is None else value
        out.append(flat)
    return out


def write_outputs(report: VarianceReport, out_dir: Path) -> dict[str, Path]:
    """Write variance.json, variance.csv and variance.png into ``out_dir``."""
    paths = {
        "json": out_dir / "variance.json",
        "csv": out_dir / "variance.csv",
        "png": out_dir / "variance.png",
    }
    data = json.dumps(report.to_dict(), indent=2, allow_nan=True) + "\n"
    atomic_write(paths["json"], data.encode())
    rows = csv_rows(report)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(paths["csv"], buf.getvalue().encode())
    atomic_write(paths["png"], plot_png(report))
    return paths


def default_out_dir(out: Path, task: str) -> Path:
    """``<out>/variance-<task>-<time>``, never an existing folder."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(out) / f"variance-{task.replace('/', '_')}-{stamp}"
    path, k = base, 1
    while path.exists():
        path, k = Path(f"{base}-{k}"), k + 1
    return path


def _rows(report: VarianceReport, gamma: float, key: str) -> list[EstimatorStats]:
    found = [r for r in report.rows if r.gamma == gamma and r.estimator == key]
    return sorted(found, key=lambda r: r.batch_episodes)


def plot_png(report: VarianceReport) -> bytes:
    """Two panels as PNG bytes.

    Left: trace variance against batch size (log–log), one line per estimator at the first γ,
    with 95 % bands. Right: GAE's relative variance and bias² against λ at ``table_batch``, one
    colour per γ (bias² values not above zero, i.e. within noise of none, are left out).
    """
    try:
        import matplotlib
        import matplotlib.ticker

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError(
            "The variance plot needs matplotlib: pip install 'robopg[plot]'."
        ) from None

    gamma0 = report.settings.gammas[0]
    keys = list(dict.fromkeys(r.estimator for r in report.rows))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 5.2), dpi=90)
    for key in keys:
        rows = _rows(report, gamma0, key)
        if not rows:
            continue
        x = [r.batch_steps for r in rows]
        left.plot(x, [r.total_variance.value for r in rows], marker="o", label=rows[0].label)
        left.fill_between(
            x,
            [max(r.total_variance.low, 0.05 * r.total_variance.value) for r in rows],
            [r.total_variance.high for r in rows],
            alpha=0.15,
        )
    left.set_xscale("log")
    left.set_yscale("log")
    sizes = sorted({r.batch_steps for r in report.rows})
    left.set_xticks(sizes, [str(x) for x in sizes])
    left.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    left.set_xlabel("batch size (env steps)")
    left.set_ylabel("trace of gradient covariance")
    left.set_title(f"variance vs batch size (γ={gamma0:g})")
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.14))

    n = table_batch(report)
    for gamma in report.settings.gammas:
        rows = sorted(
            (
                r
                for r in report.rows
                if r.gamma == gamma and r.lam is not None and r.batch_episodes == n
            ),
            key=lambda r: r.lam or 0.0,
        )
        if not rows:
            continue
        lams = [r.lam for r in rows]
        (line,) = right.plot(
            lams,
            [r.relative_variance.value for r in rows],
            marker="o",
            label=f"variance γ={gamma:g}",
        )
        pos = [(r.lam, r.relative_bias2.value) for r in rows if r.relative_bias2.value > 0]
        if pos:
            right.plot(
                [p[0] for p in pos],
                [p[1] for p in pos],
                marker="s",
                linestyle="--",
                color=line.get_color(),
                label=f"bias² γ={gamma:g}",
            )
    right.set_yscale("log")
    right.set_xlabel("GAE λ")
    right.set_ylabel("relative to ‖reference gradient‖²")
    right.set_title(f"bias–variance vs λ ({n * report.episode_length} steps per batch)")
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    fig.suptitle(f"{report.task}: {report.policy}", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
