"""Learning benchmark: train the default config on tasks × seeds, print a table, save JSON.

Run:  .venv/bin/python benchmarks/learn.py --tasks reacher --seeds 0 1 2 --steps 1000000

Each run trains from scratch with the task's defaults (or ``--preset``) and reports the final
deterministic evaluation (``--final-episodes``, default 500, with its standard error: fewer
cannot tell settings apart on Pusher or Reacher), wall time, throughput, and the first env-step
count at which the periodic evaluation reached ``--threshold`` (default: the task's solved
bar). Writes the results JSON (``--out``) and one learning-curve PNG per task beside it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from robopg.config import TrainConfig, resolve_config
from robopg.envs import resolve_task
from robopg.report.plot import plot_runs
from robopg.train.trainer import Trainer

# TrainConfig's string-typed fields (annotations are strings under postponed evaluation).
STRING_FIELDS = {f.name: f.type == "str" for f in dataclasses.fields(TrainConfig)}


def run_one(
    task: str,
    seed: int,
    steps: int,
    preset: str | None,
    out: str,
    eval_every: int,
    extra: dict[str, Any],
    final_episodes: int = 500,
) -> dict[str, Any]:
    cfg = resolve_config(
        {
            "env": task,
            "seed": seed,
            "steps": steps,
            "out": out,
            "eval_every": eval_every,
            "eval_episodes": 20,
            "final_eval_episodes": final_episodes,
            **extra,
        },
        preset=preset,
    )
    t0 = time.perf_counter()
    trainer = Trainer(cfg, show_progress=False)
    result = trainer.train()
    wall = time.perf_counter() - t0
    final = result.final_eval
    assert result.run_dir is not None and final is not None
    curve = []
    for line in (result.run_dir / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row.get("eval/return_mean") is not None:
            curve.append((row["time/env_steps"], row["eval/return_mean"], row["time/elapsed"]))
    return {
        "task": task,
        "seed": seed,
        "steps": result.env_steps,
        "final_return": final.mean,
        "final_std": final.std,
        "final_stderr": final.stderr,
        "final_episodes": len(final.returns),
        "wall_s": wall,
        "sps": result.env_steps / max(trainer.elapsed, 1e-9),
        "curve": curve,
        "run_dir": str(result.run_dir),
    }


def parse_value(key: str, text: str) -> Any:
    """A ``--set`` value: the plain text for string fields (``hidden=64``), else JSON where it
    parses (numbers, booleans), else the text (the config's type check then names the field)."""
    if STRING_FIELDS.get(key.replace("-", "_")):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def first_reach(curve: list[list[float]], threshold: float) -> tuple[float, float] | None:
    for steps, ret, elapsed in curve:
        if ret >= threshold:
            return steps, elapsed
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["reacher"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--preset", default=None)
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument(
        "--final-episodes", type=int, default=500, help="Episodes of each run's final eval."
    )
    parser.add_argument("--jobs", type=int, default=1, help="Runs in parallel (processes).")
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="Override config fields, e.g. --set lr=0.001 num_envs=32",
    )
    parser.add_argument("--out", default="benchmarks/results/learn.json")
    args = parser.parse_args()
    extra: dict[str, Any] = {}
    for item in args.set:
        key, value = item.split("=", 1)
        extra[key] = parse_value(key, value)
    if args.jobs > 1:  # parallel runs each get one engine thread instead of all cores each
        extra.setdefault("num_threads", 1)  # (results are bitwise the same either way)

    tmp = tempfile.mkdtemp(prefix="robopg-bench-")
    jobs = [(t, s) for t in args.tasks for s in args.seeds]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [
            pool.submit(
                run_one,
                t,
                s,
                args.steps,
                args.preset,
                tmp,
                args.eval_every,
                extra,
                args.final_episodes,
            )
            for t, s in jobs
        ]
        results = [f.result() for f in futures]

    table = Table(title=f"robopg learning benchmark ({args.steps:,} steps, deterministic eval)")
    for col in (
        "task",
        "seeds",
        "median",
        "min",
        "max",
        "SE/run",
        "time to thr (steps / s)",
        "SPS",
        "wall",
    ):
        table.add_column(col)
    summary = []
    for task in args.tasks:
        rows = [r for r in results if r["task"] == task]
        finals = [r["final_return"] for r in rows]
        thr = args.threshold if args.threshold is not None else resolve_task(task).solved
        reach = [first_reach(r["curve"], thr) for r in rows] if thr is not None else []
        hit = [x for x in reach if x is not None]
        med_steps = statistics.median(h[0] for h in hit) if hit else 0.0
        med_secs = statistics.median(h[1] for h in hit) if hit else 0.0
        reach_txt = (
            f"{med_steps:,.0f} / {med_secs:.0f} ({len(hit)}/{len(rows)} reach {thr})"
            if hit
            else f"not reached ({thr})"
        )
        entry = {
            "task": task,
            "median": statistics.median(finals),
            "min": min(finals),
            "max": max(finals),
            "stderr_per_run": statistics.median(r["final_stderr"] for r in rows),
            "sps": statistics.median(r["sps"] for r in rows),
            "wall_s": statistics.median(r["wall_s"] for r in rows),
            "threshold": thr,
            "reach": reach_txt,
        }
        summary.append(entry)
        table.add_row(
            task,
            str(len(rows)),
            f"{entry['median']:.2f}",
            f"{entry['min']:.2f}",
            f"{entry['max']:.2f}",
            f"{entry['stderr_per_run']:.2f}",
            reach_txt,
            f"{entry['sps']:,.0f}",
            f"{entry['wall_s']:.0f} s",
        )
    Console().print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "summary": summary, "runs": results}, indent=2))
    print(f"results: {out}")
    for task in args.tasks:  # learning curves: mean ± std over seeds, plus diagnostics
        png = out.with_name(f"{out.stem}-{task}.png")
        plot_runs([Path(r["run_dir"]) for r in results if r["task"] == task], png)
        print(f"curves: {png}")


if __name__ == "__main__":
    main()
