"""What tracking Franka's limits costs, and what sampling at control steps misses.

Run:  .venv/bin/python benchmarks/panda_limits.py        (about a minute on 2 cores)

- throughput: env steps/s of the batched engine on panda-reach and panda-push with random
  torque actions, with the limit monitor (as shipped) and with it removed (``env.limits =
  None``: the engine as it is without limits), taking turns in one process;
- sampling: the shipped policies' per-episode peak |joint velocity| / limit read at every
  physics substep against the same read at control steps only (what the monitor does).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from robopg.deploy.controller import Controller
from robopg.envs.batched import BatchedArmEnv
from robopg.envs.franka import PANDA_LIMITS
from robopg.envs.tasks import ARM_TASKS


def throughput(task: str, num_envs: int, seconds: float, rounds: int) -> dict[str, float]:
    """Best env steps/s over ``rounds`` alternating runs of each variant."""
    envs = {"tracked": BatchedArmEnv(ARM_TASKS[task].make(), num_envs)}
    bare = BatchedArmEnv(ARM_TASKS[task].make(), num_envs)
    bare.limits = None
    envs["untracked"] = bare
    acts = np.random.default_rng(0).uniform(-1, 1, size=(256, num_envs, 7)).astype(np.float32)
    best = dict.fromkeys(envs, 0.0)
    for env in envs.values():
        env.reset(0)
        for t in range(20):
            env.step(acts[t])
    for _ in range(rounds):
        for name, env in envs.items():
            calls, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                env.step(acts[calls % 256])
                calls += 1
            best[name] = max(best[name], calls * num_envs / (time.perf_counter() - start))
    return best


def substep_gap(task: str, episodes: int) -> tuple[float, float, float]:
    """(median control-step peak, median substep peak, max relative gap) of the shipped
    policy's per-episode peak velocity ratio."""
    ctrl = Controller.load(task, safety=False)
    env = BatchedArmEnv(ARM_TASKS[task].make(), episodes)
    obs = env.reset(0)
    on_steps, on_substeps = np.zeros(episodes), np.zeros(episodes)
    for _ in range(env.max_episode_steps):
        env._ctrl[:] = ctrl.act_batch(obs).astype(np.float32)
        for _ in range(env.arm.frame_skip):
            env._batch.step(None, nstep=1)
            ratio = (np.abs(env._qvel[:, :7]) / PANDA_LIMITS.velocity).max(axis=1)
            on_substeps = np.maximum(on_substeps, ratio)
        on_steps = np.maximum(on_steps, ratio)
        obs = env.arm.observe(env._qpos, env._qvel, env._xpos)
    gap = float(((on_substeps - on_steps) / on_substeps).max())
    return float(np.median(on_steps)), float(np.median(on_substeps)), gap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-envs", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--episodes", type=int, default=64)
    args = parser.parse_args()
    for task in ("panda-reach", "panda-push"):
        rate = throughput(task, args.num_envs, args.seconds, args.rounds)
        change = rate["tracked"] / rate["untracked"] - 1
        print(
            f"{task}: {args.num_envs} envs, untracked {rate['untracked']:,.0f} env steps/s, "
            f"tracked {rate['tracked']:,.0f} ({change:+.1%})"
        )
    for task in ("panda-reach", "panda-push"):
        steps, substeps, gap = substep_gap(task, args.episodes)
        print(
            f"{task}: peak velocity ratio, median over {args.episodes} episodes: control steps "
            f"{steps:.3f}, substeps {substeps:.3f}; largest relative gap {gap:.2%}"
        )


if __name__ == "__main__":
    main()
