"""Training on the MuJoCo Warp engine: wall-clock and env steps to a return, against targets.

Run:  .venv/bin/python benchmarks/gpu_train.py            # on a CUDA machine
      .venv/bin/python benchmarks/gpu_train.py --small    # a smoke run on Warp's CPU device
      .venv/bin/python benchmarks/gpu_train.py --pusher-budget 100 --json train.json

- reacher, ``--preset reacher-gpu`` (4,096 worlds × 25 steps, 102,400 per update): training
  seconds and env steps until the deterministic evaluation first reaches −4.5 and −3.75 (targets:
  −4.5 within 20 s); the run stops at −3.75, after ``--reacher-budget`` seconds of training or
  when its steps are done.
- pusher, ``--preset pusher-gpu``: training seconds to −26 and the best return within
  ``--pusher-budget`` seconds of training (target: better than −25 within 600 s).

"Training seconds" is the trainer's own clock: collection and updates, after the kernels are
loaded (reported apart) and without the evaluations, which run every ``--eval-every`` updates
over ``--eval-episodes`` episodes on the batched CPU engine (deterministic, the mean action).
One JSON line per run goes to ``--out`` as well as the printed table; ``--json`` also writes
every run finished so far, with the first crossings of the thresholds, as one JSON document
(rewritten after each run, so a run stopped by a time limit keeps the one before).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from gpu import write_json
from learn import first_reach
from rich.console import Console
from rich.table import Table

from robopg.config import resolve_config
from robopg.deploy.evaluate import EvalResult
from robopg.train.trainer import Trainer

console = Console(width=140)


@dataclass
class Trace:
    """Evaluations of one run: (env steps, return, training seconds), the order of
    ``learn.py``'s curves, and the stop rule."""

    trainer: Trainer | None = None
    budget_s: float = float("inf")
    stop_at: float = float("inf")
    evals: list[list[float]] = field(default_factory=list)

    def on_eval(self, env_steps: int, result: EvalResult) -> bool:
        assert self.trainer is not None
        self.evals.append([env_steps, result.mean, self.trainer.elapsed])
        return result.mean >= self.stop_at or self.trainer.elapsed >= self.budget_s


def run(
    task: str, preset: str, device: str, overrides: dict[str, Any], trace: Trace, out: str
) -> dict[str, Any]:
    cfg = resolve_config(
        {"env": task, "engine": "warp", "device": device, "out": out, **overrides},
        preset=preset,
    )
    start = time.perf_counter()
    trainer = Trainer(cfg, show_progress=False, on_eval=trace.on_eval)
    setup_s = time.perf_counter() - start  # engine build and kernel loading
    trace.trainer = trainer
    trainer.train()
    best = max((r for _, r, _ in trace.evals), default=float("nan"))
    return {
        "task": task,
        "preset": preset,
        "overrides": overrides,
        "device": device,
        "setup_s": setup_s,
        "train_s": trainer.elapsed,
        "env_steps": trainer.env_steps,
        "sps": trainer.env_steps / max(trainer.elapsed, 1e-9),
        "best": best,
        "evals": trace.evals,
    }


def reached(trace: Trace, threshold: float) -> str:
    hit = first_reach(trace.evals, threshold)  # (env steps, training seconds)
    return "not reached" if hit is None else f"{hit[1]:.1f} s, {hit[0] / 1e6:.2f}M steps"


def crossing(trace: Trace, threshold: float) -> dict[str, float] | None:
    """The first evaluation at or above ``threshold``: training seconds and env steps."""
    hit = first_reach(trace.evals, threshold)
    return None if hit is None else {"train_s": hit[1], "env_steps": hit[0]}


def finite(x: float) -> float | None:
    """JSON has no infinity: an unlimited budget is written as null."""
    return None if x == float("inf") else x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--tasks", nargs="+", default=["reacher", "pusher"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-every", type=int, default=5, help="updates between evaluations")
    ap.add_argument("--eval-episodes", type=int, default=100)
    ap.add_argument("--pusher-budget", type=float, default=600.0, help="training seconds")
    ap.add_argument("--reacher-budget", type=float, default=float("inf"), help="training seconds")
    ap.add_argument("--json", default=None, help="also write the runs here as one JSON document")
    ap.add_argument("--small", action="store_true", help="tiny sizes on Warp's CPU device")
    ap.add_argument("--out", default="benchmarks/results/gpu_train.jsonl")
    args = ap.parse_args()
    common: dict[str, Any] = {
        "seed": args.seed,
        "eval_every": args.eval_every,
        "eval_episodes": args.eval_episodes,
        "final_eval_episodes": args.eval_episodes,
        "checkpoint_every": 10**9,  # the final checkpoint only
    }
    small: dict[str, Any] = {}
    if args.small:
        args.device = "cpu"
        small = {"num_envs": 16, "steps_per_batch": 1600, "steps": 6400}
        common.update(eval_every=2, eval_episodes=5, final_eval_episodes=5)
    name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "CPU"
    console.print(f"device: {name}; seed {args.seed}")
    rows = []
    doc: dict[str, Any] = {"device": name, "seed": args.seed, "runs": []}
    with tempfile.TemporaryDirectory(prefix="gpu-train-") as tmp:
        if "reacher" in args.tasks:
            trace = Trace(stop_at=-3.75, budget_s=args.reacher_budget)
            res = run("reacher", "reacher-gpu", args.device, {**common, **small}, trace, tmp)
            res.update(
                budget_s=finite(args.reacher_budget),
                to={t: crossing(trace, t) for t in (-4.5, -3.75)},
            )
            rows.append((res, [reached(trace, -4.5), reached(trace, -3.75)]))
            doc["runs"].append(res)
            write_json(args.json, doc)
        if "pusher" in args.tasks:
            trace = Trace(budget_s=args.pusher_budget)
            res = run("pusher", "pusher-gpu", args.device, {**common, **small}, trace, tmp)
            res.update(
                budget_s=finite(args.pusher_budget),
                to={t: crossing(trace, t) for t in (-26.0, -25.0)},
            )
            rows.append((res, [reached(trace, -26.0), ""]))
            doc["runs"].append(res)
            write_json(args.json, doc)
    table = Table(title="training on the warp engine (training seconds exclude kernel loading)")
    for col in ("task", "kernels + setup s", "to −4.5 / −26", "to −3.75", "best return",
                "training s", "env steps", "env steps/s"):  # fmt: skip
        table.add_column(col, justify="right")
    with Path(args.out).open("a") as fh:
        for res, hits in rows:
            fh.write(json.dumps(res) + "\n")
            table.add_row(
                res["task"], f"{res['setup_s']:.1f}", hits[0], hits[1] or "—",
                f"{res['best']:.2f}", f"{res['train_s']:.1f}", f"{res['env_steps']:,}",
                f"{res['sps']:,.0f}",
            )  # fmt: skip
    console.print(table)
    console.print(f"runs appended to {args.out}")


if __name__ == "__main__":
    main()
