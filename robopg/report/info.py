"""``robopg info RUN``: what a run directory holds, in a dozen lines.

Answers the questions one asks of an old run: what settings, how far did it get, how good was it
(best and last deterministic evaluation, final result), and which checkpoints can be resumed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from robopg.errors import CheckpointError
from robopg.runs.checkpoint import load_checkpoint
from robopg.runs.metrics import METRIC_NAMES
from robopg.runs.run_dir import RunDir, load_run


@dataclass(frozen=True)
class EvalPoint:
    env_steps: int
    return_mean: float


@dataclass(frozen=True)
class CheckpointInfo:
    path: str
    env_steps: int | None  # None: the file could not be read (corrupt or foreign)
    size_bytes: int


@dataclass
class RunInfo:
    run_dir: str
    task: str
    finished: bool
    updates: int
    env_steps: int
    target_steps: int | None
    elapsed_s: float
    last_train_return: float | None
    best_eval: EvalPoint | None
    last_eval: EvalPoint | None
    final_eval: dict[str, Any] | None
    checkpoints: list[CheckpointInfo] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    time_split: dict[str, float] = field(default_factory=dict)  # metric name → total seconds

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: The wall-clock split ``robopg info`` sums over a run's rows (absent in runs made before it).
TIME_SPLIT = tuple(n for n in METRIC_NAMES if n.startswith("time/") and n.endswith("_s"))


def time_split(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Total seconds per TIME_SPLIT name over the rows that carry it."""
    totals: dict[str, float] = {}
    for name in TIME_SPLIT:
        values = [r[name] for r in rows if isinstance(r.get(name), (int, float))]
        if values:
            totals[name] = float(sum(values))
    return totals


def run_info(path: Path) -> RunInfo:
    """Summarise a run directory from its config.json, metrics.jsonl and checkpoint headers."""
    record = load_run(path)
    rows = record.rows
    last = rows[-1] if rows else {}
    evals = [
        EvalPoint(int(r["time/env_steps"]), float(r["eval/return_mean"]))
        for r in rows
        if isinstance(r.get("eval/return_mean"), (int, float))
    ]
    returns = [
        r["rollout/ep_return_mean"]
        for r in rows
        if isinstance(r.get("rollout/ep_return_mean"), (int, float))
    ]
    run = RunDir(path)
    files, final = run.all_checkpoints(), run.final
    checkpoints: list[CheckpointInfo] = []
    final_eval: dict[str, Any] | None = None
    for file in files:
        try:
            meta = load_checkpoint(file).meta
        except CheckpointError:
            checkpoints.append(CheckpointInfo(str(file), None, file.stat().st_size))
            continue
        checkpoints.append(CheckpointInfo(str(file), int(meta["env_steps"]), file.stat().st_size))
        if file == final:
            final_eval = meta.get("eval")
    return RunInfo(
        run_dir=str(path),
        task=str(record.config.get("env", "?")),
        finished=run.finished,
        updates=int(last.get("time/update", 0)),
        env_steps=int(last.get("time/env_steps", 0)),
        target_steps=record.config.get("steps"),
        elapsed_s=float(last.get("time/elapsed") or 0.0),
        last_train_return=float(returns[-1]) if returns else None,
        best_eval=max(evals, key=lambda e: e.return_mean) if evals else None,
        last_eval=evals[-1] if evals else None,
        final_eval=final_eval,
        checkpoints=checkpoints,
        config=record.config,
        time_split=time_split(rows),
    )


def format_info(info: RunInfo) -> list[str]:
    """Human-readable lines (plain text; the CLI prints them as they are)."""

    def ev(point: EvalPoint | None) -> str:
        if point is None:
            return "none logged"
        return f"{point.return_mean:.3f} at {point.env_steps:,} steps"

    target = f" of {info.target_steps:,}" if isinstance(info.target_steps, int) else ""
    status = "finished" if info.finished else f"not finished (robopg train --resume {info.run_dir})"
    lines = [
        f"run        {info.run_dir}",
        f"task       {info.task} · {status}",
        f"progress   {info.env_steps:,}{target} env steps, {info.updates} updates, "
        f"{info.elapsed_s:.1f} s training",
        "train      last episode return "
        + ("—" if info.last_train_return is None else f"{info.last_train_return:.3f}")
        + " (stochastic)",
        f"eval       best {ev(info.best_eval)}; last {ev(info.last_eval)} (deterministic)",
    ]
    split = info.time_split
    if "time/collect_s" in split and "time/update_s" in split and info.updates:
        collect, update = split["time/collect_s"], split["time/update_s"]
        per = 1e3 / info.updates
        line = (
            f"time       per update: collect {collect * per:.1f} ms "
            f"({collect / max(collect + update, 1e-12):.0%}) + update {update * per:.1f} ms"
        )
        if "time/update_value_s" in split:
            line += (
                f" (policy {split.get('time/update_policy_s', 0.0) * per:.1f} ms, "
                f"value fit {split['time/update_value_s'] * per:.1f} ms)"
            )
        lines.append(line)
        lines.append(
            f"           besides training: evaluation {split.get('time/eval_s', 0.0):.1f} s, "
            f"checkpoints {split.get('time/checkpoint_s', 0.0):.1f} s"
        )
    if info.final_eval is not None:
        fe = info.final_eval
        # Checkpoints from before the standard error was recorded carry only the spread.
        se = fe.get("stderr")
        spread = f"± {se:.3f} (standard error)" if se is not None else f"± {fe['std']:.3f} (std)"
        lines.append(f"final      {fe['mean']:.3f} {spread} over {fe['episodes']} episodes")
    lines.append(f"checkpoints ({len(info.checkpoints)})")
    for ck in info.checkpoints:
        steps = "unreadable" if ck.env_steps is None else f"{ck.env_steps:,} steps"
        lines.append(f"  {Path(ck.path).name}  {steps}  {ck.size_bytes / 1024:.0f} KiB")
    skip = {"out"}
    settings = ", ".join(f"{k}={v}" for k, v in info.config.items() if k not in skip)
    lines.append(f"config     {settings or '(no config.json)'}")
    return lines
