"""Where a policy's return goes: each reward term per episode and over time, and the noise.

Run:  .venv/bin/python benchmarks/breakdown.py pusher        # the shipped Pusher policy
      .venv/bin/python benchmarks/breakdown.py runs/pusher-…  # a run directory or checkpoint

Rolls the deterministic (mean-action) policy in gymnasium's own env for ``--episodes`` seeds and
sums every ``reward_*`` term gymnasium reports in ``info``. For Pusher that separates the cost
of the puck's distance to the goal from the arm's distance to the puck and the torque penalty,
which is what says *why* a return is what it is (e.g. a puck that starts moving late and is
pushed slowly). It also compares the training noise Σσ²(s) with the mean action's energy
‖μ(s)‖² at each step: where the noise dominates, the trajectories the gradient is estimated from
look little like the deterministic ones being evaluated. σ(s) is constant for a ``--std param``
policy and varies along the episode for ``--std state``; ``--plot sigma.png`` draws it per joint
over the first episode.
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np

import robopg.envs  # noqa: F401  (registers robopg's own arms with gymnasium)
from robopg.deploy.controller import Controller
from robopg.envs import resolve_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("policy", help="task name (shipped policy), run directory or checkpoint")
    parser.add_argument("--episodes", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--at", type=int, nargs="+", default=[0, 5, 10, 15, 20, 30, 40, 60, 80])
    parser.add_argument("--plot", default=None, help="PNG of σ(s) per joint over episode 0")
    args = parser.parse_args()

    ctrl = Controller.load(args.policy)
    env = gym.make(resolve_task(ctrl.task).gym_id)
    terms: dict[str, list[list[float]]] = {}
    energy: list[list[float]] = []
    noise: list[list[float]] = []  # Σσ²(s) per step
    sigmas: list[np.ndarray] = []  # σ(s) (act_dim,) per step of episode 0
    for ep in range(args.episodes):
        obs, _ = env.reset(seed=args.seed + ep)
        per_step: dict[str, list[float]] = {}
        energy.append([])
        noise.append([])
        done = False
        while not done:
            action = ctrl.act(obs)
            sigma = ctrl.std_batch(np.asarray(obs)[None, :])[0]
            if ep == 0:
                sigmas.append(sigma)
            energy[-1].append(float(action @ action))
            noise[-1].append(float(sigma @ sigma))
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

    length = min(len(e) for e in terms["total"])
    at = [t for t in args.at if t < length] + [length - 1]
    print("\n| step | " + " | ".join(terms) + " | ‖μ(s)‖² | Σσ²(s) | Σσ² ÷ ‖μ(s)‖² |")
    print("|---" * (len(terms) + 4) + "|")
    for t in at:
        row = [np.mean([e[t] for e in eps]) for eps in terms.values()]
        mu2 = float(np.mean([e[t] for e in energy]))
        s2 = float(np.mean([e[t] for e in noise]))
        cells = " | ".join(f"{x:.3f}" for x in row)
        print(f"| {t} | {cells} | {mu2:.3f} | {s2:.3f} | {s2 / max(mu2, 1e-12):.1f} |")
    kind = "state-dependent" if ctrl.state_std is not None else "state-independent"
    mean_sigma = np.round(np.mean(sigmas, axis=0), 3).tolist()
    print(f"\ntraining noise: {kind} σ; episode 0's mean σ per joint {mean_sigma}")
    if args.plot:
        plot_sigma(np.array(sigmas), ctrl.task, kind, args.plot)


def plot_sigma(sigmas: np.ndarray, task: str, kind: str, out: str) -> None:
    """σ(s) per joint over one episode, (T, act_dim) → PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    for j in range(sigmas.shape[1]):
        ax.plot(sigmas[:, j], label=f"joint {j}")
    ax.set(xlabel="step", ylabel="σ(s)", title=f"{task}: {kind} σ over episode 0")
    ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    print(f"σ(s) plot: {out}")


if __name__ == "__main__":
    main()
