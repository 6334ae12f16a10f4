"""Would the Panda policies run on the real arm? Success, Franka-limit violations and peak ratios
of trained policies over held-out episodes, nominal and under domain randomization, median over
seeds; the hand-written operational-space controller (OSC) scored the same way.

    .venv/bin/python benchmarks/panda_deploy.py RESULTS.json [RUN ...] --episodes 500 \
        --randomize panda --baseline --out benchmarks/results/panda_reach_deploy.json

RESULTS.json is what ``benchmarks/learn.py --out`` writes (its runs are evaluated); RUN is a run
directory, checkpoint or task name (its shipped policy). Episodes are seeded 0..episodes−1, as
``robopg eval`` seeds them. A run "would abort" in an episode where a joint velocity passes
Franka's limit, the torque rate passes 1000 N·m/s (inside a control step or between steps) or a
joint reaches its range end: what libfranka stops a motion on (``envs/franka.py``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from panda_baseline import KP, KQ, osc_policy, run

import robopg.envs  # noqa: F401  (registers robopg/PandaReach-v0)
from robopg.deploy.evaluate import EvalResult, evaluate_saved_policy
from robopg.envs.franka import PANDA_LIMITS, PEAKS, VIOLATIONS, LimitMonitor, LimitRecord
from robopg.envs.tasks import TASKS


def success(task: str, result: EvalResult) -> float:
    """Fraction of episodes that end within the task's success radius (noise-free state)."""
    arm = TASKS[task].arm_task()
    if not hasattr(arm, "success"):
        raise SystemExit(f"{task} has no success criterion; this benchmark scores the Panda tasks.")
    assert result.final_obs is not None
    return float(np.mean(arm.success(result.final_obs)))


def limit_numbers(record: LimitRecord | None) -> dict[str, float]:
    """Fractions of episodes with each violation (and any), and each peak ratio's median/max."""
    if record is None:
        return {}
    hit = record.counts > 0  # (episodes, 3)
    out = {f"viol_{name}": float(hit[:, i].mean()) for i, name in enumerate(VIOLATIONS)}
    out["viol_any"] = float(hit.any(axis=1).mean())
    peak = record.peaks.max(axis=2)  # (episodes, 5): the worst joint
    for i, name in enumerate(PEAKS):
        out[f"peak_{name}_median"] = float(np.median(peak[:, i]))
        out[f"peak_{name}_max"] = float(peak[:, i].max())
    return out


def score(source: str, episodes: int, randomize: str) -> dict[str, Any]:
    """One policy, nominal and (if asked) randomized."""
    path, task, nominal = evaluate_saved_policy(source, episodes, seed=0)
    row: dict[str, Any] = {"policy": str(path), "task": task, "action": nominal.action}
    row["return"] = float(np.mean(nominal.returns))
    row["success"] = success(task, nominal)
    row.update(limit_numbers(nominal.limits))
    if randomize:
        _, _, shaken = evaluate_saved_policy(source, episodes, seed=0, randomize=randomize)
        row["rand_return"] = float(np.mean(shaken.returns))
        row["rand_success"] = success(task, shaken)
        row["rand_viol_any"] = limit_numbers(shaken.limits).get("viol_any", float("nan"))
    return row


def score_osc(episodes: int, kp: float = KP, kq: float = KQ) -> dict[str, Any]:
    """The OSC baseline (``benchmarks/panda_baseline.py``'s gains and episode loop) on
    panda-reach through gymnasium, watched by the same limit monitor as the engine's."""
    arm = TASKS["panda-reach"].arm_task()
    model = arm.load_model()
    dt = float(model.opt.timestep) * arm.frame_skip
    low, high = -np.ones(model.nu), np.ones(model.nu)  # the env's action space
    monitor = LimitMonitor(PANDA_LIMITS, 1, dt, model.actuator_gear[:, 0], low, high)
    result = run(osc_policy(kp, kq), episodes, monitor)
    row: dict[str, Any] = {"policy": f"OSC kp={kp:g} kq={kq:g}", "task": "panda-reach"}
    row["action"] = "torque"
    row["return"] = result["return"]
    row["success"] = result["success"]
    row.update(limit_numbers(result["limits"]))
    return row


def sources(items: list[str]) -> list[str]:
    """Run directories from learn.py result files, and the other items as they are."""
    found: list[str] = []
    for item in items:
        if item.endswith(".json") and Path(item).is_file():
            found += [run["run_dir"] for run in json.loads(Path(item).read_text())["runs"]]
        else:
            found.append(item)
    return found


COLUMNS = [
    ("success", "success", "{:.1%}"),
    ("rand_success", "rand. success", "{:.1%}"),
    ("viol_any", "would abort", "{:.1%}"),
    ("rand_viol_any", "rand. would abort", "{:.1%}"),
    ("viol_velocity", "velocity", "{:.1%}"),
    ("viol_torque rate", "torque rate", "{:.1%}"),
    ("viol_joint range", "joint range", "{:.1%}"),
    ("peak_velocity_max", "peak v/limit", "{:.2f}"),
    ("peak_torque rate_max", "peak dτ/limit", "{:.2f}"),
    ("peak_acceleration_max", "peak a/limit", "{:.2f}"),
    ("return", "return", "{:.2f}"),
]


def print_table(rows: list[dict[str, Any]]) -> None:
    print(" | ".join(["policy", *(title for _, title, _ in COLUMNS)]))
    for row in rows:
        path = Path(row["policy"])
        label = f"shipped {path.stem}" if path.parent.name == "policies" else path.parent.name
        cells = [label if path.suffix == ".safetensors" else row["policy"]]
        cells += [fmt.format(row[k]) if k in row else "—" for k, _, fmt in COLUMNS]
        print(" | ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("policies", nargs="*", help="learn.py results, run dirs, task names")
    parser.add_argument("--episodes", type=int, default=500)
    parser.add_argument("--randomize", default="", help="randomization preset (e.g. panda)")
    parser.add_argument("--baseline", action="store_true", help="also score the OSC baseline")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    rows = [score(s, args.episodes, args.randomize) for s in sources(args.policies)]
    if rows:
        median = {"policy": "median over the runs"}
        for key, _, _ in COLUMNS:
            values = [r[key] for r in rows if key in r]
            if values:
                median[key] = float(np.median(values))
        rows.append(median)
    if args.baseline:
        rows.append(score_osc(args.episodes))
    print_table(rows)
    if args.out:
        Path(args.out).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
