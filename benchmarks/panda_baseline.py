"""A hand-written baseline for panda-reach: operational-space control, the bar a policy must beat.

At every env step (50 Hz, the policy's rate) the controller reads the env's MjData and commands

    F = Λ (kp·(target − x) − kd·ẋ),   τ = Jᵀ F + Nᵀ (kq·(home − q) − kv·q̇),

with J the flange's position Jacobian, Λ = (J M⁻¹ Jᵀ)⁻¹ the task-space inertia, N the dynamically
consistent null-space projector (the redundant 4 DoF are pulled to Franka's ready pose), then
action = clip(τ / torque limit, −1, 1): the same torque limits as the policy (the law is
``robopg.envs.franka_control.osc_action``, its one implementation). Gravity is
compensated by the model for both. Episodes are seeded 0..N−1, the targets `robopg eval --seed 0`
(episode i seeded seed + i) scores a policy on.

Also prints zero torque and, with --policy, a trained policy on the same episodes, with the
safety numbers: success rate, final distance (median, 95th percentile), peak |torque| relative
to the limits and peak joint speed.

Usage: .venv/bin/python benchmarks/panda_baseline.py [--episodes 100] [--kp 700] [--policy RUN]
       .venv/bin/python benchmarks/panda_baseline.py --kp 150 250 400 500 700 1000 1200  # sweep
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

import robopg.envs  # noqa: F401  (registers robopg/PandaReach-v0)
from robopg.envs.franka import LimitMonitor, LimitRecord
from robopg.envs.franka_control import osc_action
from robopg.envs.panda import SUCCESS_RADIUS

#: the gains of the bar: the best of the sweep in docs/experiments.md ("panda-reach"), kp over
#: {50 … 1200}, kq over {5, 25, 100} (stiffer gains score worse at the 50 Hz control rate)
KP, KQ = 700.0, 25.0


def osc_policy(kp: float, kq: float) -> Callable[[np.ndarray, mujoco.MjData], np.ndarray]:
    """The operational-space controller at gains (kp, kq) as an ``act(obs, data)`` for ``run``."""
    return lambda obs, data: osc_action(data.model, data, obs[24:27], kp, kq)


def run(
    act: Callable[[np.ndarray, mujoco.MjData], np.ndarray],
    episodes: int,
    monitor: LimitMonitor | None = None,
) -> dict[str, Any]:
    """Episodes seeded 0..episodes−1 under ``act(obs, data)``: return, success, safety numbers;
    with a one-env ``monitor`` (Franka's limits), also each episode's ``limits`` record."""
    env = gym.make("robopg/PandaReach-v0")
    data = env.unwrapped.data  # type: ignore[attr-defined]
    returns, finals, peak_act, peak_qvel = [], [], 0.0, 0.0
    counts, peaks = [], []
    for seed in range(episodes):
        obs, _ = env.reset(seed=seed)
        if monitor is not None:
            monitor.reset(np.array([0]), data.qvel[None, :7].copy())
        total, done = 0.0, False
        while not done:
            action = np.clip(act(obs, data), -1.0, 1.0)  # MuJoCo clamps ctrl to [-1, 1] too
            peak_act = max(peak_act, float(np.abs(action).max()))
            obs, reward, terminated, truncated, _ = env.step(action.astype(np.float32))
            if monitor is not None:
                monitor.step(
                    data.qpos[None, :7], data.qvel[None, :7], action[None].astype(np.float32)
                )
            peak_qvel = max(peak_qvel, float(np.abs(data.qvel).max()))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
        finals.append(float(np.linalg.norm(obs[27:30])))
        if monitor is not None:
            counts.append(monitor.counts[0].copy())
            peaks.append(monitor.peaks[0].copy())
    env.close()
    final = np.array(finals)
    limits = LimitRecord(np.array(counts), np.array(peaks)) if monitor is not None else None
    return {
        "limits": limits,
        "return": float(np.mean(returns)),
        "return_std": float(np.std(returns)),
        "success": float(np.mean(final < SUCCESS_RADIUS)),
        "final_median_mm": float(np.median(final) * 1e3),
        "final_p95_mm": float(np.percentile(final, 95) * 1e3),
        "peak_action": peak_act,
        "peak_qvel": peak_qvel,
    }


def report(name: str, episodes: int, r: dict[str, Any]) -> None:
    print(f"{name}, {episodes} episodes (seeded 0-{episodes - 1})")
    print(f"  mean return   {r['return']:.3f} ± {r['return_std']:.3f}")
    print(f"  success rate  {r['success']:.1%} (final distance < 2 cm)")
    print(
        f"  final dist    median {r['final_median_mm']:.3f} mm, 95th pct {r['final_p95_mm']:.3f} mm"
    )
    print(
        f"  peak |torque| {r['peak_action']:.2f} of the limit, peak |q̇| {r['peak_qvel']:.2f} rad/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument(
        "--kp",
        type=float,
        nargs="+",
        default=[KP],
        help="task-space stiffness (1/s²); several values: a sweep, best one reported last",
    )
    parser.add_argument(
        "--kq", type=float, nargs="+", default=[KQ], help="null-space posture stiffness (1/s²)"
    )
    parser.add_argument("--policy", help="also score a policy (run dir, checkpoint, task name)")
    args = parser.parse_args()

    def zero(obs: np.ndarray, data: mujoco.MjData) -> np.ndarray:
        return np.zeros(7)

    report("zero torque", args.episodes, run(zero, args.episodes))
    scores: list[tuple[float, float, float]] = []
    for kp in args.kp:
        for kq in args.kq:
            r = run(osc_policy(kp, kq), args.episodes)
            report(f"OSC baseline (kp {kp:g}, kq {kq:g})", args.episodes, r)
            scores.append((r["return"], kp, kq))
    if len(scores) > 1:
        best = max(scores)
        print(f"best OSC gains: kp {best[1]:g}, kq {best[2]:g} (return {best[0]:.3f})")
    if args.policy:
        from robopg.deploy.controller import Controller

        ctrl = Controller.load(args.policy, safety=False)
        if ctrl.action != "torque":
            raise SystemExit(
                f"{args.policy} acts through the {ctrl.action} interface; this script scores "
                "torque policies (use benchmarks/panda_deploy.py for any interface)."
            )
        report(f"policy {args.policy}", args.episodes, run(lambda o, d: ctrl.act(o), args.episodes))


if __name__ == "__main__":
    main()
