"""Compare learn.py results: one table row and one evaluation curve per results file.

Run:  .venv/bin/python benchmarks/compare.py benchmarks/results/tune_pusher/*.json \
          --out benchmarks/results/tune_pusher.png --highlight combined.json

Each file is a ``learn.py --out`` JSON (one setting, one or more seeds). The table prints the
overrides (``--preset``/``--set``) and the final deterministic returns; the figure overlays the
mean periodic-evaluation curve of each file, so a change that only learns *faster* (and ends in
the same place) is told apart from one that ends higher.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def label(args: dict[str, Any], usual_steps: int) -> str:
    """The settings that differ from the defaults, e.g. ``preset pusher, lam=0.9``."""
    parts = [f"preset {args['preset']}"] if args.get("preset") else []
    parts += [s for s in args.get("set", []) if not s.startswith("num_threads=")]
    if args["steps"] != usual_steps:
        parts.append(f"steps={args['steps']:,}")
    return ", ".join(parts) or "defaults"


def mean_curve(runs: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Mean evaluation return over seeds at the steps every seed evaluated."""
    curves = [{int(s): r for s, r, _ in run["curve"]} for run in runs]
    steps = sorted(set.intersection(*(set(c) for c in curves)))
    return np.array(steps), np.array([np.mean([c[s] for c in curves]) for s in steps])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="PNG of the curves")
    parser.add_argument("--highlight", nargs="*", default=[], help="file names to draw bold")
    args = parser.parse_args()

    loaded = [(path, json.loads(path.read_text())) for path in args.results]
    usual_steps = statistics.mode(data["args"]["steps"] for _, data in loaded)
    rows = []
    for path, data in loaded:
        finals = [r["final_return"] for r in data["runs"]]
        name = label(data["args"], usual_steps)
        rows.append((name, statistics.median(finals), finals, data["runs"], path))
    rows.sort(key=lambda row: -row[1])
    print("| settings | seeds | median | each seed | file |")
    print("|---|---|---|---|---|")
    for name, med, finals, runs, path in rows:
        seeds = ",".join(str(r["seed"]) for r in runs)
        each = " / ".join(f"{x:.2f}" for x in finals)
        print(f"| {name} | {seeds} | {med:.2f} | {each} | {path.name} |")

    if args.out is not None:
        fig, ax = plt.subplots(figsize=(10, 5.5))
        names = [row[0] for row in rows]
        common = names[0].split(", ")[0] + ", " if names else ""
        if not all(n.startswith(common) or n == common[:-2] for n in names):
            common = ""  # only strip a shared "preset x, " prefix
        colors = plt.get_cmap("tab20").colors
        for i, (name, med, _, runs, path) in enumerate(rows):
            steps, curve = mean_curve(runs)
            if not len(steps):
                continue
            base = name == (common[:-2] if common else "defaults")  # the row with no overrides
            short = "base" if base else name[len(common) :]
            bold = path.name in args.highlight
            ax.plot(
                steps / 1e6,
                curve,
                lw=2.4 if base or bold else 1.0,
                color="black" if base else "tab:red" if bold else colors[i % len(colors)],
                zorder=3 if base or bold else 2,
                label=f"{med:.2f}  {short} ({len(runs)} seed{'s' * (len(runs) > 1)})",
            )
        if common:
            ax.set_title(f"changes from {common[:-2]}", fontsize=9)
        late = [c for _, _, _, runs, _ in rows for c in mean_curve(runs)[1][5:]]
        if late:  # the first evaluations (≈ −80 on Pusher) would flatten the part that matters
            ax.set_ylim(bottom=min(late) - 1)
        ax.set_xlabel("env steps (millions)")
        ax.set_ylabel("periodic deterministic eval return")
        ax.grid(alpha=0.3)
        ax.legend(
            fontsize=7,
            loc="center left",
            bbox_to_anchor=(1.01, 0.5),
            title="final median · settings",
            title_fontsize=7,
        )
        fig.tight_layout()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.out, dpi=110, bbox_inches="tight")
        print(f"figure: {args.out}")


if __name__ == "__main__":
    main()
