"""The Panda's action interfaces side by side: throughput, torque rate, speed, tracking.

- throughput: env steps/s of panda-reach (or panda-push) on the batched engine per interface,
  uniform random actions, rounds interleaved so the machine's load hits every interface alike;
- limits: peak torque rate (N·m/s, over 5 ms physics substeps, between and inside control
  steps) and peak joint speed / Franka's limit under independent full-scale random actions
  (±1 on every axis, a fresh sign each step: the worst an exploring policy sends) and under
  smooth full-scale sinusoids;
- tracking: the joint interface's error 1 s after a 10-step ramp of every joint's target;
- --policy RUN …: the same peaks for trained policies (without the deployment safety layer, as
  ``robopg eval`` scores them) over episodes seeded 0…, each driven by its own interface in
  plain MuJoCo (``Controller.attach``, the env's trajectory bit for bit).

Under the torque interface a held command jumps at the step boundary, so its substep rate is
the jump over 5 ms; the limit monitor (``robopg eval``) counts the jump over the 20 ms step, as
libfranka's rate limiter would ramp it. Under joint and cartesian the torque changes inside the
step and both measures see the same substeps.

Usage: .venv/bin/python benchmarks/actions.py [--task panda-reach] [--policy RUN ...]
       .venv/bin/python benchmarks/actions.py --stiffness-scale 2 --filter-time 0.02  # other gains
"""

from __future__ import annotations

import argparse
import time

import mujoco
import numpy as np

from robopg.envs import TASKS, franka_control, make_vector_env
from robopg.envs.panda import VELOCITY_LIMITS

INTERFACES = ("torque", "joint", "cartesian")


def throughput(task: str, num_envs: int, steps: int, rounds: int) -> dict[str, float]:
    """Best-of-``rounds`` env steps/s per interface (random uniform actions)."""
    best = dict.fromkeys(INTERFACES, 0.0)
    for _ in range(rounds):
        for action in INTERFACES:
            env = make_vector_env(task, num_envs, action=action)
            env.reset(0)
            acts = np.random.default_rng(0).uniform(-1, 1, (steps, num_envs, env.act_dim))
            start = time.perf_counter()
            for t in range(steps):
                env.step(acts[t])
            best[action] = max(best[action], steps * num_envs / (time.perf_counter() - start))
    return best


def random_action_peaks(task: str, action: str, kind: str, seeds: int) -> tuple[float, float]:
    """Peak torque rate and peak |q̇| / limit over ``seeds`` episodes of ``kind`` actions:
    ``bang`` (±1 per axis per step) or ``smooth`` (full-scale sinusoids)."""
    arm = TASKS[task].make_arm(action)
    data = mujoco.MjData(arm.model)
    act_dim = arm.model.nu if arm.law is None else arm.law.action_dim
    rate = speed = 0.0
    for seed in range(seeds):
        arm.reset_data(data, np.random.default_rng(seed))
        rng = np.random.default_rng(seed + 100)
        phase = rng.uniform(0, 2 * np.pi, act_dim)
        steps = range(arm.max_episode_steps)
        if kind == "bang":
            actions = (rng.choice([-1.0, 1.0], act_dim).astype(np.float32) for _ in steps)
        else:
            actions = (np.sin(0.15 * t + phase).astype(np.float32) for t in steps)
        episode_rate, episode_speed = franka_control.substep_peaks(arm, data, actions)
        rate, speed = max(rate, episode_rate), max(speed, episode_speed)
    return rate, speed


def tracking_error(task: str) -> float:
    """Max |q − q*| (rad) 1 s after every joint's target ramps up for 10 steps."""
    env = make_vector_env(task, 1, action="joint")
    env.reset(4)
    for _ in range(10):
        env.step(np.ones((1, 7)))
    target = env._ctrl[0].copy()  # type: ignore[attr-defined]
    for _ in range(50):
        env.step(np.zeros((1, 7)))
    return float(np.abs(env._qpos[0, :7] - target).max())  # type: ignore[attr-defined]


def policy_peaks(source: str, episodes: int) -> tuple[str, float, float]:
    """(interface, peak torque rate, peak |q̇| / limit) of a trained policy over ``episodes``
    episodes seeded 0…, in plain MuJoCo under ``attach()``."""
    from robopg.deploy.controller import Controller
    from robopg.deploy.mujoco_control import reset_data, task_model

    ctrl = Controller.load(source, safety=False)  # the policy itself, as robopg eval scores it
    model, data = task_model(ctrl.task, ctrl.action)
    steps = TASKS[ctrl.task].arm_task().max_episode_steps
    skip = TASKS[ctrl.task].arm_task().frame_skip
    rate = speed = 0.0
    with ctrl.attach(model, data):
        for seed in range(episodes):
            reset_data(ctrl.task, model, data, seed, ctrl.action)
            mujoco.mj_forward(model, data)
            prev = None
            for _ in range(steps * skip):
                mujoco.mj_step(model, data)
                force = data.qfrc_actuator[:7].copy()
                if prev is not None:
                    rate = max(rate, float(np.abs(force - prev).max()) / model.opt.timestep)
                speed = max(speed, float((np.abs(data.qvel[:7]) / VELOCITY_LIMITS).max()))
                prev = force
    return ctrl.action, rate, speed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="panda-reach")
    parser.add_argument("--num-envs", type=int, default=32)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=5, help="episodes per random-action row")
    parser.add_argument("--policy", nargs="*", default=[], help="run dirs or checkpoints")
    parser.add_argument("--episodes", type=int, default=50, help="episodes per policy")
    parser.add_argument(
        "--stiffness-scale",
        type=float,
        default=1.0,
        help="scale K by this and D by its root (ζ kept): 2 gives Franka's example gains",
    )
    parser.add_argument("--filter-time", type=float, help="τ_f (s) instead of the shipped one")
    args = parser.parse_args()
    if args.stiffness_scale != 1.0 or args.filter_time is not None:  # a what-if, not shipped
        franka_control.JOINT_STIFFNESS = franka_control.JOINT_STIFFNESS * args.stiffness_scale
        franka_control.JOINT_DAMPING = franka_control.JOINT_DAMPING * args.stiffness_scale**0.5
        if args.filter_time is not None:
            franka_control.TARGET_FILTER_TIME = args.filter_time
        print(
            f"gains K {franka_control.JOINT_STIFFNESS}, D {franka_control.JOINT_DAMPING}, "
            f"τ_f {franka_control.TARGET_FILTER_TIME} s"
        )

    sps = throughput(args.task, args.num_envs, args.steps, args.rounds)
    print(f"{args.task}, batched engine, {args.num_envs} envs, best of {args.rounds} rounds:")
    for action, value in sps.items():
        print(f"  {action:9s} {value:9,.0f} env steps/s  ({value / sps['torque']:.2f}× torque)")
    print(f"peak torque rate (N·m/s) and peak |q̇| / Franka's limit, {args.seeds} episodes each:")
    for action in INTERFACES:
        for kind in ("bang", "smooth"):
            rate, speed = random_action_peaks(args.task, action, kind, args.seeds)
            print(f"  {action:9s} {kind:6s} rate {rate:8.0f}   speed {speed:5.2f}×")
    print(f"joint interface: |q − q*| 1 s after a ramp: {tracking_error(args.task):.2e} rad")
    for source in args.policy:
        action, rate, speed = policy_peaks(source, args.episodes)
        print(
            f"policy {source} ({action}), {args.episodes} episodes seeded 0-: peak torque "
            f"rate {rate:.0f} N·m/s, peak |q̇| {speed:.2f}× the limit"
        )


if __name__ == "__main__":
    main()
