"""A hand-written baseline for panda-reach: operational-space control, the bar a policy must beat.

At every env step (50 Hz, the policy's rate) the controller reads the env's MjData and commands

    F = Λ (kp·(target − x) − kd·ẋ),   τ = Jᵀ F + Nᵀ (kq·(home − q) − kv·q̇),

with J the flange's position Jacobian, Λ = (J M⁻¹ Jᵀ)⁻¹ the task-space inertia, N the dynamically
consistent null-space projector (the redundant 4 DoF are pulled to Franka's ready pose), then
action = clip(τ / torque limit, −1, 1): the same torque limits as the policy. Gravity is
compensated by the model for both. Episodes are seeded 0..N−1, the targets `robopg eval --seed 0`
(episode i seeded seed + i) scores a policy on.

Usage: .venv/bin/python benchmarks/panda_baseline.py [--episodes 100] [--kp 150]
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import mujoco
import numpy as np

import robopg.envs  # noqa: F401  (registers robopg/PandaReach-v0)
from robopg.envs.panda import PANDA_HOME, SUCCESS_RADIUS


def osc_action(
    model: mujoco.MjModel, data: mujoco.MjData, target: np.ndarray, kp: float, kq: float
) -> np.ndarray:
    """(7,) action in [-1, 1] driving the flange to ``target`` (critically damped gains)."""
    site = model.site("ee").id
    jac = np.zeros((3, model.nv))
    mujoco.mj_jacSite(model, data, jac, None, site)
    mass = np.zeros((model.nv, model.nv))
    mujoco.mj_fullM(model, data, mass)
    m_inv = np.linalg.inv(mass)
    lam = np.linalg.inv(jac @ m_inv @ jac.T)
    kd, kv = 2.0 * np.sqrt(kp), 2.0 * np.sqrt(kq)
    force = lam @ (kp * (target - data.site_xpos[site]) - kd * (jac @ data.qvel))
    jbar = m_inv @ jac.T @ lam  # dynamically consistent pseudo-inverse (nv, 3)
    null = np.eye(model.nv) - jac.T @ jbar.T
    posture = mass @ (kq * (PANDA_HOME - data.qpos) - kv * data.qvel)
    tau = jac.T @ force + null @ posture
    return np.clip(tau / model.actuator_gear[:, 0], -1.0, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--kp", type=float, default=150.0, help="task-space stiffness (1/s²)")
    parser.add_argument("--kq", type=float, default=25.0, help="null-space posture stiffness")
    args = parser.parse_args()

    env = gym.make("robopg/PandaReach-v0")
    base = env.unwrapped
    model, data = base.model, base.data  # type: ignore[attr-defined]
    returns, finals, peak_act = [], [], 0.0
    for seed in range(args.episodes):
        obs, _ = env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            action = osc_action(model, data, obs[24:27], args.kp, args.kq)
            peak_act = max(peak_act, float(np.abs(action).max()))
            obs, reward, terminated, truncated, _ = env.step(action.astype(np.float32))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
        finals.append(float(np.linalg.norm(obs[27:30])))
    env.close()
    final = np.array(finals)
    print(f"panda-reach OSC baseline (kp {args.kp:g}, kq {args.kq:g}), {args.episodes} episodes")
    print(f"mean return   {np.mean(returns):.3f} ± {np.std(returns):.3f}")
    print(f"success rate  {np.mean(final < SUCCESS_RADIUS):.1%} (final distance < 2 cm)")
    median, p95 = np.median(final) * 1e3, np.percentile(final, 95) * 1e3
    print(f"final dist    median {median:.3f} mm, 95th pct {p95:.3f} mm")
    print(f"peak |action| {peak_act:.2f} of the torque limit")


if __name__ == "__main__":
    main()
