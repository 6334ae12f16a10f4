"""Where a policy's return goes: each reward term per episode and over time, and the noise.

Run:  .venv/bin/python benchmarks/breakdown.py pusher        # the shipped Pusher policy
      .venv/bin/python benchmarks/breakdown.py runs/pusher-…  # a run directory or checkpoint

Rolls the deterministic (mean-action) policy in gymnasium's own env for ``--episodes`` seeds and
sums every ``reward_*`` term gymnasium reports in ``info``. For Pusher that separates the cost
of the puck's distance to the goal from the arm's distance to the puck and the torque penalty,
which is what says *why* a return is what it is (e.g. a puck that starts moving late and is
pushed slowly). It also compares the training noise Σσ² with the mean action's energy ‖μ(s)‖²:
where the noise dominates, the trajectories the gradient is estimated from look little like the
deterministic ones being evaluated.
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np

import robopg.envs  # noqa: F401  (registers robopg's own arms with gymnasium)
from robopg.controller import Controller
from robopg.envs import resolve_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("policy", help="task name (shipped policy), run directory or checkpoint")
    parser.add_argument("--episodes", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--at", type=int, nargs="+", default=[0, 5, 10, 15, 20, 30, 40, 60, 80])
    args = parser.parse_args()

    ctrl = Controller.load(args.policy)
    env = gym.make(resolve_task(ctrl.task).gym_id)
    terms: dict[str, list[list[float]]] = {}
    energy: list[list[float]] = []
    for ep in range(args.episodes):
        obs, _ = env.reset(seed=args.seed + ep)
        per_step: dict[str, list[float]] = {}
        energy.append([])
        done = False
        while not done:
            action = ctrl.act(obs)
            energy[-1].append(float(action @ action))
            obs, reward, terminated, truncated, info = env.step(action)
            named = {k: float(v) for k, v in info.items() if k.startswith("reward_")}
            for key, value in {"total": float(reward), **named}.items():
                per_step.setdefault(key, []).append(value)
            done = terminated or truncated
        for key, values in per_step.items():
            terms.setdefault(key, []).append(values)

    print(f"{ctrl.task}: deterministic policy, {args.episodes} episodes (seeds {args.seed}…)")
    print("| term | return (mean ± std) |")
    print("|---|---|")
    for key, eps in terms.items():
        sums = np.array([sum(e) for e in eps])
        print(f"| {key} | {sums.mean():.2f} ± {sums.std():.2f} |")

    noise = float(np.sum(ctrl.std**2))
    length = min(len(e) for e in terms["total"])
    at = [t for t in args.at if t < length] + [length - 1]
    print("\n| step | " + " | ".join(terms) + " | ‖μ(s)‖² | Σσ² ÷ ‖μ(s)‖² |")
    print("|---" * (len(terms) + 3) + "|")
    for t in at:
        row = [np.mean([e[t] for e in eps]) for eps in terms.values()]
        mu2 = float(np.mean([e[t] for e in energy]))
        cells = " | ".join(f"{x:.3f}" for x in row)
        print(f"| {t} | {cells} | {mu2:.3f} | {noise / max(mu2, 1e-12):.1f} |")
    print(f"\ntraining noise Σσ² = {noise:.3f} (σ per joint {np.round(ctrl.std, 3).tolist()})")


if __name__ == "__main__":
    main()
