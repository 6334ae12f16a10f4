"""Turn a finished run's checkpoint into a shipped policy: policies/<task>.safetensors + card.

Usage:
    .venv/bin/python scripts/ship_policy.py RUN_DIR --command "robopg train reacher --seed 0" \
        --wall-s 123 --machine "16-core x86 host, 3 runs in parallel"
    .venv/bin/python scripts/ship_policy.py --remeasure reacher   # re-evaluate a shipped card

The shipped file keeps what acting needs (policy with its observation normaliser, value net,
network config, action bounds, training config) and drops optimiser, RNG and env state: it is a
third of the size and cannot be resumed from. The card records the deterministic evaluation
over 500 episodes (seeds 0-499; ``--episodes`` to change), with its standard error, that
``tests/engines/test_shipped_policies.py`` checks, and the task's own report lines where it has them
(panda-reach: success rate, final distance, peak joint speed and torque).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from robopg.deploy.evaluate import evaluate_saved_policy, task_report
from robopg.runs.checkpoint import atomic_write, load_checkpoint, policy_only, save_checkpoint
from robopg.runs.run_dir import resolve_policy_path

EPISODES, SEED = 500, 0


def card_eval(
    task: str, target: Path, episodes: int = EPISODES, randomize: str = ""
) -> dict[str, object]:
    """The card's evaluation block: deterministic, episodes seeded SEED … SEED+episodes-1, with
    the task's own report lines (success rate, Franka-limit numbers) where it has them, in the
    policy's own action interface; with ``randomize``, the same under that randomization."""
    _, _, result = evaluate_saved_policy(target, episodes, SEED)
    print(f"{target}: {result.summary()}")
    block: dict[str, object] = {
        "mean": round(result.mean, 4),
        "std": round(result.std, 4),
        "stderr": round(result.stderr, 4),
        "episodes": episodes,
        "seeds": f"{SEED}-{SEED + episodes - 1}",
        "mode": "deterministic (mean action)",
        "command": f"robopg eval {task} --episodes {episodes} --seed {SEED}",
    }
    report = task_report(task, result)
    for line in report:
        print(f"  {line}")
    if report:
        block["report"] = report
    if randomize:
        _, _, shaken = evaluate_saved_policy(target, episodes, SEED, randomize=randomize)
        print(f"{target} randomized ({randomize}): {shaken.summary()}")
        block["randomized"] = {
            "preset": randomize,
            "mean": round(shaken.mean, 4),
            "stderr": round(shaken.stderr, 4),
            "command": f"{block['command']} --randomize {randomize}",
            "report": task_report(task, shaken),
        }
    return block


def remeasure(task: str, out: Path, episodes: int, randomize: str) -> None:
    """Rewrite only the evaluation block of a shipped policy's card (the weights are kept)."""
    target = out / f"{task}.safetensors"
    card_path = target.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card["eval"] = card_eval(task, target, episodes, randomize)
    atomic_write(card_path, (json.dumps(card, indent=2) + "\n").encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", help="run directory or checkpoint file")
    parser.add_argument("--command", help="the training command, as run")
    parser.add_argument("--wall-s", type=float, help="wall time of the command")
    parser.add_argument("--machine", help="where it ran")
    parser.add_argument("--remeasure", metavar="TASK", help="re-evaluate a shipped card only")
    parser.add_argument("--episodes", type=int, default=EPISODES, help="evaluation episodes")
    parser.add_argument("--randomize", default="", help="also evaluate under this randomization")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "policies"))
    args = parser.parse_args()
    if args.episodes < 2:
        parser.error("--episodes must be at least 2 (the card reports a standard error)")
    if args.remeasure:
        remeasure(args.remeasure, Path(args.out), args.episodes, args.randomize)
        return
    if not (args.run and args.command and args.wall_s is not None and args.machine):
        parser.error("shipping a run needs RUN, --command, --wall-s and --machine")

    source = resolve_policy_path(args.run)
    ckpt = policy_only(load_checkpoint(source))
    task = str(ckpt.meta["task"])
    target = Path(args.out) / f"{task}.safetensors"
    save_checkpoint(target, ckpt)

    card = {
        "task": task,
        "gym_id": ckpt.meta["gym_id"],
        "command": args.command,
        "steps": ckpt.meta["env_steps"],
        "seed": ckpt.meta["config"]["seed"],
        "action": ckpt.meta["config"].get("action", "torque"),
        "eval": card_eval(task, target, args.episodes, args.randomize),
        "wall_time_s": args.wall_s,
        "train_loop_s": round(float(ckpt.meta["elapsed_s"]), 1),
        "machine": args.machine,
        "robopg_version": ckpt.meta["robopg_version"],
        "contents": "policy + observation normaliser + value net; no optimiser/RNG state "
        "(cannot be resumed)",
    }
    atomic_write(target.with_suffix(".json"), (json.dumps(card, indent=2) + "\n").encode())


if __name__ == "__main__":
    main()
