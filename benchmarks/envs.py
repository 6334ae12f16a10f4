"""Env throughput, side by side: gymnasium SyncVectorEnv, our batched engine, raw batched physics.

Run:  .venv/bin/python benchmarks/envs.py            (options: --help; ~1-2 min on 2 cores)

For each task, batch size and thread count it prints environment steps per second of

- ``gym``: ``gymnasium.vector.SyncVectorEnv`` of ``gym.make`` envs (same-step autoreset), the
  path most training scripts use; one Python ``env.step`` per env per step, so threads don't apply;
- ``engine``: ``BatchedArmEnv`` (observations, rewards, time limits, auto-resets included);
- ``physics``: the ceiling, ``mujoco.batch.Batch`` writing ``ctrl`` and stepping ``frame_skip``
  substeps, with no observation, reward or reset work at all. It steps the engine's model, i.e.
  with collision detection skipped where no geom pair can collide (Reacher), an exact no-op the
  engine applies (``skip_impossible_collisions``); gymnasium runs the detection anyway;
- ``engine+policy``: the engine plus a forward pass of a small torch MLP (64-64, float32) on
  every step's observations, what a rollout costs before any learning.

Targets: engine ≥ 4× gym on reacher (≥ 3.4× on pusher), engine ≥ 80 % of physics.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from mujoco.batch import Batch

from robopg.envs.batched import BatchedArmEnv, available_cores, skip_impossible_collisions
from robopg.envs.registry import ARM_TASKS

GYM_IDS = {"reacher": "Reacher-v5", "pusher": "Pusher-v5"}


Stepper = Callable[[int], object]


def calibrate(step: Stepper, seconds: float) -> int:
    """Warm ``step`` up and return how many calls take about ``seconds``."""
    for t in range(20):  # caches, the first auto-resets, the thread pool
        step(t)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds / 4:
        step(calls)
        calls += 1
    return max(10, int(4 * calls))


def timed(step: Stepper, calls: int, num_envs: int) -> float:
    """Env steps per second of ``calls`` calls of ``step``."""
    start = time.perf_counter()
    for t in range(calls):
        step(t)
    return calls * num_envs / (time.perf_counter() - start)


def best_interleaved(
    steppers: dict[str, Stepper], num_envs: int, seconds: float, repeats: int
) -> dict[str, float]:
    """Best rate of each stepper over ``repeats`` rounds that take turns, one run each.

    Taking turns spreads any background load over all columns alike, so ratios stay fair on a
    busy machine; the best round is the least disturbed one.
    """
    calls = {name: calibrate(step, seconds) for name, step in steppers.items()}
    best = dict.fromkeys(steppers, 0.0)
    for _ in range(repeats):
        for name, step in steppers.items():
            best[name] = max(best[name], timed(step, calls[name], num_envs))
    return best


def action_table(low: np.ndarray, high: np.ndarray, num_envs: int) -> np.ndarray:
    """256 steps of random float32 actions, reused cyclically so drawing them costs nothing."""
    rng = np.random.default_rng(0)
    return rng.uniform(low, high, size=(256, num_envs, low.shape[0])).astype(np.float32)


def gym_stepper(task: str, num_envs: int) -> tuple[Stepper, SyncVectorEnv]:
    gym_id = GYM_IDS[task]
    vec = SyncVectorEnv(
        [lambda: gym.make(gym_id) for _ in range(num_envs)],
        autoreset_mode=AutoresetMode.SAME_STEP,
    )
    vec.reset(seed=0)
    space = vec.single_action_space
    assert isinstance(space, gym.spaces.Box)
    acts = action_table(space.low, space.high, num_envs)
    return (lambda t: vec.step(acts[t % 256])), vec


def engine_steppers(task: str, num_envs: int, threads: int) -> tuple[Stepper, Stepper]:
    """The engine alone, and the engine fed by a 64-64 MLP policy (a separate engine)."""
    env = BatchedArmEnv(ARM_TASKS[task].make(), num_envs, threads)
    env.reset(0)
    acts = action_table(env.action_low, env.action_high, num_envs)

    torch.manual_seed(0)
    policy = torch.nn.Sequential(
        torch.nn.Linear(env.obs_dim, 64),
        torch.nn.Tanh(),
        torch.nn.Linear(64, 64),
        torch.nn.Tanh(),
        torch.nn.Linear(64, env.act_dim),
    )
    env2 = BatchedArmEnv(ARM_TASKS[task].make(), num_envs, threads)
    obs = [env2.reset(0)]

    def with_policy(t: int) -> None:
        with torch.no_grad():
            act = policy(torch.as_tensor(obs[0], dtype=torch.float32)).numpy()
        obs[0] = env2.step(act).obs

    return (lambda t: env.step(acts[t % 256])), with_policy


def physics_stepper(task: str, num_envs: int, threads: int) -> Stepper:
    spec = ARM_TASKS[task]
    model = spec.load_model()
    skip_impossible_collisions(model)
    batch = Batch(model, num_envs, threads)
    ctrl = batch.bind("ctrl")
    batch.bind("xpos")  # the engine reads it; binding makes the batch copy it out, as there
    ranges = model.actuator_ctrlrange
    acts = action_table(ranges[:, 0], ranges[:, 1], num_envs)

    def step(t: int) -> None:
        ctrl[:] = acts[t % 256]
        batch.step(nstep=spec.frame_skip)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["reacher", "pusher"], choices=GYM_IDS)
    parser.add_argument("--batch", nargs="+", type=int, default=[64, 256])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--seconds", type=float, default=0.5, help="time per measurement")
    parser.add_argument("--repeats", type=int, default=5, help="best of this many rounds")
    args = parser.parse_args()
    torch.set_num_threads(1)

    header = (
        f"{'task':<8} {'batch':>5} {'thr':>3} {'gym':>9} {'engine':>9} {'physics':>9} "
        f"{'eng/gym':>8} {'phys/gym':>8} {'eng/phys':>8} {'eng+policy':>10}"
    )
    print(
        f"env steps per second, best of {args.repeats} interleaved rounds; "
        f"{available_cores()} cores, load average before: {os.getloadavg()[0]:.2f}"
    )
    print(header)
    print("-" * len(header))
    for task in args.tasks:
        for num_envs in args.batch:
            gym_step, vec = gym_stepper(task, num_envs)
            for threads in args.threads:
                engine, with_policy = engine_steppers(task, num_envs, threads)
                steppers = {
                    "gym": gym_step,
                    "engine": engine,
                    "physics": physics_stepper(task, num_envs, threads),
                    "policy": with_policy,
                }
                r = best_interleaved(steppers, num_envs, args.seconds, args.repeats)
                print(
                    f"{task:<8} {num_envs:>5} {threads:>3} {r['gym']:>9.0f} {r['engine']:>9.0f} "
                    f"{r['physics']:>9.0f} {r['engine'] / r['gym']:>7.2f}x "
                    f"{r['physics'] / r['gym']:>7.2f}x "
                    f"{r['engine'] / r['physics']:>7.0%} {r['policy']:>10.0f}",
                    flush=True,
                )
            vec.close()
    print(f"load average after: {os.getloadavg()[0]:.2f} (other processes skew every column)")


if __name__ == "__main__":
    main()
