"""Turn a finished run's checkpoint into a shipped policy: policies/<task>.safetensors + card.

Usage:
    .venv/bin/python scripts/ship_policy.py RUN_DIR --command "robopg train reacher --seed 0" \
        --wall-s 123 --machine "16-core x86 host, 3 runs in parallel"

The shipped file keeps what acting needs (policy with its observation normaliser, value net,
network config, action bounds, training config) and drops optimiser, RNG and env state: it is a
third of the size and cannot be resumed from. The card records the deterministic evaluation
over 50 episodes (seeds 0-49; ``--episodes`` to change) that ``tests/test_shipped_policies.py``
checks, and the task's own report lines where it has them (panda-reach: success rate, final
distance, peak joint speed and torque).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from robopg.checkpoint import load_checkpoint, policy_only, save_checkpoint
from robopg.controller import Controller
from robopg.evaluate import run_episodes, task_report
from robopg.runs import resolve_policy_path

SEED = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run directory or checkpoint file")
    parser.add_argument("--command", required=True, help="the training command, as run")
    parser.add_argument("--wall-s", type=float, required=True, help="wall time of the command")
    parser.add_argument("--machine", required=True, help="where it ran")
    parser.add_argument("--episodes", type=int, default=50, help="evaluation episodes")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "policies"))
    args = parser.parse_args()

    source = resolve_policy_path(args.run)
    ckpt = policy_only(load_checkpoint(source))
    task = str(ckpt.meta["task"])
    target = Path(args.out) / f"{task}.safetensors"
    save_checkpoint(target, ckpt)

    ctrl = Controller.load(target)
    episodes = args.episodes
    result = run_episodes(task, ctrl.act_batch, episodes, seed=SEED, deterministic=True)
    card = {
        "task": task,
        "gym_id": ckpt.meta["gym_id"],
        "command": args.command,
        "steps": ckpt.meta["env_steps"],
        "seed": ckpt.meta["config"]["seed"],
        "eval": {
            "mean": round(result.mean, 4),
            "std": round(result.std, 4),
            "episodes": episodes,
            "seeds": f"{SEED}-{SEED + episodes - 1}",
            "mode": "deterministic (mean action)",
            "command": f"robopg eval {task} --episodes {episodes} --seed {SEED}",
        },
        "wall_time_s": args.wall_s,
        "train_loop_s": round(float(ckpt.meta["elapsed_s"]), 1),
        "machine": args.machine,
        "robopg_version": ckpt.meta["robopg_version"],
        "contents": "policy + observation normaliser + value net; no optimiser/RNG state "
        "(cannot be resumed)",
    }
    report = task_report(task, result)
    if report:
        card["eval"]["report"] = report
    target.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"{target}: {result.summary()}")


if __name__ == "__main__":
    main()
