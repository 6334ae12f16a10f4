"""Where metrics go: ``metrics.jsonl`` (+ ``metrics.csv``), TensorBoard if installed, and a rich
live progress line in the terminal.

Metric names are namespaced (``rollout/…``, ``train/…``, ``time/…``, ``eval/…``) and identical
in every sink.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from robopg.errors import ConfigError

#: Every metric a training run reports, in file order. Every row carries every name (null / an
#: empty CSV cell where a value does not exist for that update, e.g. ``eval/*`` between
#: evaluations or ``train/value_loss`` without a value baseline), so the CSV header written by the
#: first row fits all later rows and plots never meet a missing column.
#:
#: Wall-clock split (seconds, this update): ``time/collect_s`` + ``time/update_s`` make up the
#: update's ``time/sps`` (``time/update_policy_s`` and ``time/update_value_s`` are the update's
#: two parts, on CUDA the host's share of them); ``time/eval_s`` is this row's evaluation and
#: ``time/checkpoint_s`` the periodic checkpoint written after the *previous* row. Neither of
#: the last two counts in ``time/elapsed`` (training time).
METRIC_NAMES: tuple[str, ...] = (
    "time/update",
    "time/env_steps",
    "time/sps",
    "time/elapsed",
    "time/collect_s",
    "time/update_s",
    "time/update_policy_s",
    "time/update_value_s",
    "time/eval_s",
    "time/checkpoint_s",
    "rollout/ep_return_mean",
    "rollout/ep_len_mean",
    "rollout/episodes",
    "train/lr",
    "train/policy_loss",
    "train/value_loss",
    "train/entropy",
    "train/approx_kl",
    "train/grad_norm",
    "train/std",
    "train/adv_std",
    "train/explained_var",
    "eval/return_mean",
    "eval/return_std",
)

TB_HINT = (
    'TensorBoard logging needs the tensorboard package: pip install "robopg[tb]" '
    "(or train without --tensorboard)."
)


def require_tensorboard() -> Any:
    """torch's SummaryWriter class, or ConfigError with the install hint if tensorboard is missing.

    Called before a run starts, so a missing extra fails in the first second, not after training.
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError(TB_HINT) from None
    return SummaryWriter


def drop_torn_lines(run_dir: Path) -> list[str]:
    """Cut a half-written last line (a run killed mid-write) off metrics.jsonl and metrics.csv.

    Returns one message per file repaired. Appending to a file that ends mid-line would glue the
    next row onto the torn one and corrupt both; a resumed run repairs the files first.
    """
    notes: list[str] = []
    jsonl = run_dir / "metrics.jsonl"
    if jsonl.is_file():
        data = jsonl.read_bytes()
        keep = data if data.endswith(b"\n") or not data else data[: data.rfind(b"\n") + 1]
        lines = keep.splitlines(keepends=True)
        if lines:
            try:
                json.loads(lines[-1])
            except ValueError:
                keep = keep[: len(keep) - len(lines[-1])]
        if keep != data:
            _truncate(jsonl, len(keep))
            notes.append(
                f"{jsonl.name} ended in a half-written line (killed mid-write); dropped it."
            )
    csv_path = run_dir / "metrics.csv"
    if csv_path.is_file():
        data = csv_path.read_bytes()
        if data and not data.endswith(b"\n"):
            _truncate(csv_path, data.rfind(b"\n") + 1)
            notes.append(
                f"{csv_path.name} ended in a half-written line (killed mid-write); dropped it."
            )
    return notes


def _truncate(path: Path, size: int) -> None:
    with path.open("r+b") as fh:
        fh.truncate(size)
        fh.flush()
        os.fsync(fh.fileno())


class MetricsWriter:
    """Appends one JSON object per update to metrics.jsonl and a row to metrics.csv.

    Files are opened in append mode and flushed per update, so a crash loses at most the update
    in flight, and a resumed run continues the same files. Rows are completed to METRIC_NAMES.
    """

    def __init__(self, run_dir: Path, tensorboard: bool = False) -> None:
        self.jsonl_path = run_dir / "metrics.jsonl"
        self.csv_path = run_dir / "metrics.csv"
        self._csv_fields: list[str] | None = None
        self._tb: Any = None
        if tensorboard:
            summary_writer = require_tensorboard()
            self._tb = summary_writer(log_dir=str(run_dir / "tensorboard"), flush_secs=10)
        self._jsonl = self.jsonl_path.open("a", encoding="utf-8")

    def write(self, row: dict[str, Any]) -> None:
        full = {name: row.get(name) for name in METRIC_NAMES}
        full.update(row)
        clean = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in full.items()
        }
        self._jsonl.write(json.dumps(clean) + "\n")
        self._jsonl.flush()
        self._write_csv(clean)
        if self._tb is not None:
            step = int(row["time/env_steps"])
            for key, value in clean.items():  # None: no value this update (or NaN/Inf)
                if isinstance(value, (int, float)) and key != "time/env_steps":
                    self._tb.add_scalar(key, value, step)

    def _write_csv(self, row: dict[str, Any]) -> None:
        if self._csv_fields is None:
            if self.csv_path.exists() and self.csv_path.stat().st_size > 0:
                with self.csv_path.open(encoding="utf-8") as fh:
                    self._csv_fields = next(csv.reader(fh))
            else:
                self._csv_fields = list(row)
                with self.csv_path.open("w", encoding="utf-8", newline="") as fh:
                    csv.writer(fh).writerow(self._csv_fields)
        with self.csv_path.open("a", encoding="utf-8", newline="") as fh:
            csv.DictWriter(fh, self._csv_fields, extrasaction="ignore").writerow(row)

    def close(self) -> None:
        self._jsonl.close()
        if self._tb is not None:
            self._tb.close()


def format_return(ret: float) -> str:
    """A mean episode return for the progress line: ``—`` until an episode has ended (nan)."""
    return "—" if math.isnan(ret) else f"{ret:.3f}"


class TrainingProgress:
    """Rich live bar: env steps, SPS, mean episode return, policy σ, ETA.

    Off a terminal (CI, pipes) it prints a plain line every ~5 % of the run instead.
    """

    def __init__(self, total_steps: int, start_steps: int, console: Console, enabled: bool):
        self.total = total_steps
        self.console = console
        self.enabled = enabled
        self.live = enabled and console.is_terminal
        self._next_print = 0.0
        self._t0 = time.perf_counter()
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps"),
            TextColumn("{task.fields[sps]:>7,.0f} sps"),
            TextColumn("return {task.fields[ret]:>9}"),
            TextColumn("σ {task.fields[std]:.3f}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            disable=not self.live,
        )
        self._task = self._progress.add_task(
            "train", total=total_steps, completed=start_steps, sps=0.0, ret="—", std=0.0
        )

    def __enter__(self) -> TrainingProgress:
        self._progress.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.__exit__(exc_type, exc, tb)

    def update(self, steps: int, sps: float, ret: float, std: float) -> None:
        if not self.enabled:
            return
        shown = format_return(ret)
        self._progress.update(self._task, completed=steps, sps=sps, ret=shown, std=std)
        frac = steps / self.total
        if not self.live and (frac >= self._next_print or steps >= self.total):
            self._next_print = frac + 0.05
            self.console.print(
                f"steps {steps:>10,}/{self.total:,}  sps {sps:>7,.0f}  "
                f"return {shown:>9}  σ {std:.3f}",
                highlight=False,
            )
