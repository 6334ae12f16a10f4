"""Reading finished (or running) run directories back: config.json and metrics.jsonl.

``robopg plot`` and ``robopg info`` both start here, so a run directory is parsed one way only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robopg.errors import RunDirError


@dataclass(frozen=True)
class RunRecord:
    """One run directory: its saved config and one metrics dict per update (file order)."""

    path: Path
    config: dict[str, Any]
    rows: list[dict[str, Any]]

    def series(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(env_steps, values) of a metric over the updates that have a value for it."""
        pairs = [
            (row["time/env_steps"], row[name])
            for row in self.rows
            if isinstance(row.get(name), (int, float)) and "time/env_steps" in row
        ]
        if not pairs:
            return np.zeros(0), np.zeros(0)
        steps, values = zip(*pairs, strict=True)
        return np.asarray(steps, dtype=np.float64), np.asarray(values, dtype=np.float64)


def is_run_dir(path: Path) -> bool:
    return (path / "metrics.jsonl").is_file()


def expand_runs(paths: list[Path]) -> list[Path]:
    """Run directories as given, or every run directory inside a folder (e.g. ``runs/``)."""
    found: list[Path] = []
    for path in paths:
        if is_run_dir(path):
            found.append(path)
        elif path.is_dir():
            children = sorted(p for p in path.iterdir() if p.is_dir() and is_run_dir(p))
            if not children:
                raise RunDirError(
                    f"'{path}' is neither a run directory (no metrics.jsonl) nor a folder of them."
                )
            found.extend(children)
        else:
            raise RunDirError(f"Run directory '{path}' does not exist.")
    return found


def load_run(path: Path) -> RunRecord:
    """Parse a run directory. A torn last line (a run killed mid-write) is skipped."""
    if not is_run_dir(path):
        raise RunDirError(f"'{path}' is not a run directory (it has no metrics.jsonl).")
    rows: list[dict[str, Any]] = []
    lines = (path / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):
                break
            raise RunDirError(f"'{path / 'metrics.jsonl'}' line {number} is not JSON.") from None
    config: dict[str, Any] = {}
    if (path / "config.json").is_file():
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    return RunRecord(path, config, rows)
