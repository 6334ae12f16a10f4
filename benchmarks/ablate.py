"""Ablation of the defaults: change one setting at a time and measure the final return.

Run:  .venv/bin/python benchmarks/ablate.py --task reacher --seeds 0 1 --steps 1000000 --jobs 2

Every variant trains ``--steps`` env steps per seed from the task's defaults with exactly one
setting changed, and reports the deterministic evaluation (50 episodes) at the end: median and
each seed. Prints a markdown table (pasted into benchmarks/README.md) and writes a JSON file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from learn import run_one

# (label, overrides): each is one change from the defaults, with the reason it is worth testing.
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("defaults", {}),
    ("lr 1e-3", {"lr": 1e-3}),
    ("lr 1e-2", {"lr": 1e-2}),
    ("lr schedule constant", {"lr_schedule": "constant"}),
    ("400 steps/batch (8 envs)", {"steps_per_batch": 400, "num_envs": 8}),
    ("1600 steps/batch (32 envs)", {"steps_per_batch": 1600, "num_envs": 32}),
    ("λ = 1 (reward-to-go − V)", {"lam": 1.0}),
    ("baseline: batch mean", {"baseline": "mean"}),
    ("baseline: none", {"baseline": "none"}),
    ("no observation normalisation", {"normalize_obs": False}),
    ("log σ init 0", {"log_std_init": 0.0}),
    ("no gradient clipping", {"max_grad_norm": 0.0}),
    ("value epochs 1", {"value_epochs": 1}),
]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="reacher")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--steps", type=int, default=1_000_000)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--only", nargs="*", help="Run only variants whose label contains one of these")
    p.add_argument("--out", default="benchmarks/results/ablate.json")
    args = p.parse_args()
    variants = [v for v in VARIANTS if not args.only or any(o in v[0] for o in args.only)]
    out_dir = Path(tempfile.mkdtemp(prefix="robopg-ablate-"))  # run directories, not results
    jobs = [(label, over, s) for label, over in variants for s in args.seeds]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [
            pool.submit(run_one, args.task, s, args.steps, None, str(out_dir), 0,
                        {"num_threads": 1, **over})
            for _, over, s in jobs
        ]  # fmt: skip
        results = [f.result() for f in futures]
    rows = []
    seeds = ", ".join(map(str, args.seeds))
    print(f"\n| {args.task}, {args.steps:,} steps | median | seeds ({seeds}) |")
    print("|---|---|---|")
    for label, over in variants:
        finals = [
            r["final_return"] for (lab, _, _), r in zip(jobs, results, strict=True) if lab == label
        ]
        med = statistics.median(finals)
        rows.append({"variant": label, "overrides": over, "median": med, "finals": finals})
        print(f"| {label} | {med:.2f} | {' / '.join(f'{x:.2f}' for x in finals)} |")
    Path(args.out).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2))
    print(f"\nresults: {args.out}")


if __name__ == "__main__":
    main()
