"""GPU-resident engine benchmark: MuJoCo Warp vs the batched CPU engine, side by side in one run.

Run:  .venv/bin/python benchmarks/gpu.py                 # on a CUDA machine, the full table
      .venv/bin/python benchmarks/gpu.py --small         # tiny sizes on Warp's CPU device (smoke)

For each task and number of worlds it prints env steps/s of
- physics only: ``frame_skip`` substeps of every world, nothing else (warp: ``simulate``, with
  the engine's recorded graphs replayed and, for comparison, with every kernel launched from
  Python; CPU: ``mujoco.batch`` step on all cores);
- end to end: ``collect`` of a default policy's batch (policy forward, sampling, clipping,
  physics, observations, rewards, auto-resets, rollout storage), what training pays per step;
and the device memory the warp engine holds (CUDA only: free memory before and after building
it), plus the kernel load time cold (empty Warp cache, in a child process) and warm (cache
filled, in another child process). The CPU engine is skipped above ``--cpu-max`` worlds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from robopg.algo.policy import GaussianPolicy, NetConfig
from robopg.collect.device_rollout import DeviceRolloutCollector
from robopg.collect.rollout import RolloutCollector
from robopg.collect.warp.engine import WarpArmEnv
from robopg.envs import ARM_TASKS
from robopg.envs.batched import BatchedArmEnv

# piped into a log, the 9-column table keeps whole numbers instead of cutting them to 80 columns
console = Console() if sys.stdout.isatty() else Console(width=140)


def policy_for(obs_dim: int, act_dim: int, device: torch.device) -> GaussianPolicy:
    torch.manual_seed(0)
    return GaussianPolicy(NetConfig(obs_dim=obs_dim, act_dim=act_dim, hidden=(64, 64))).to(device)


def timed(fn: Callable[[], object], repeats: int, sync: Callable[[], None]) -> float:
    fn()  # warm-up (allocations, first launches)
    sync()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync()
    return time.perf_counter() - start


def bench_warp(task: str, n: int, device: torch.device, steps: int) -> dict[str, float]:
    free_before = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else 0
    env = WarpArmEnv(ARM_TASKS[task].make(), n, device=device)
    env.reset(0)
    mem = (free_before - torch.cuda.mem_get_info(device)[0]) if device.type == "cuda" else 0
    physics = timed(env.simulate, steps, env.synchronize)
    policy = policy_for(env.obs_dim, env.act_dim, device)
    col = DeviceRolloutCollector(env, policy, device, torch.Generator(device).manual_seed(0))
    col.reset(0)
    e2e = timed(lambda: col.collect(steps), 1, env.synchronize)
    return {"physics": n * steps / physics, "e2e": n * steps / e2e, "mem_mb": mem / 2**20}


def physics_without_graphs(task: str, n: int, device: torch.device, steps: int) -> float:
    """Physics env steps/s with every kernel launched from Python: what the graphs pay for."""
    env = WarpArmEnv(ARM_TASKS[task].make(), n, device=device, graphs=False)
    env.reset(0)
    return n * steps / timed(env.simulate, steps, env.synchronize)


def bench_cpu(task: str, n: int, steps: int) -> dict[str, float]:
    env = BatchedArmEnv(ARM_TASKS[task].make(), n)
    env.reset(0)
    frame_skip = env.arm.frame_skip
    physics = timed(lambda: env._batch.step(None, nstep=frame_skip), steps, lambda: None)
    cpu = torch.device("cpu")
    col = RolloutCollector(env, policy_for(env.obs_dim, env.act_dim, cpu), cpu,
                           torch.Generator().manual_seed(0))  # fmt: skip
    col.reset(0)
    e2e = timed(lambda: col.collect(steps), 1, lambda: None)
    return {"physics": n * steps / physics, "e2e": n * steps / e2e}


def compile_seconds(task: str, device: str, cache: str | None) -> float:
    """Kernel load time of a fresh process; ``cache``: a Warp cache dir (None: the default)."""
    env = dict(os.environ)
    if cache is not None:
        env["WARP_CACHE_PATH"] = cache
    out = subprocess.run(
        [sys.executable, __file__, "--compile-probe", task, "--device", device],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(json.loads(out.stdout.strip().splitlines()[-1])["compile_s"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tasks", nargs="+", default=["reacher", "pusher"])
    ap.add_argument("--worlds", nargs="+", type=int, default=[1024, 4096, 16384, 65536])
    ap.add_argument("--steps", type=int, default=100, help="env steps timed per measurement")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--cpu-max", type=int, default=16384, help="largest CPU-engine batch")
    ap.add_argument("--small", action="store_true", help="tiny sizes on Warp's CPU device")
    ap.add_argument("--no-compile", action="store_true", help="skip the cold/warm compile probes")
    ap.add_argument("--compile-probe", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.compile_probe:
        env = WarpArmEnv(ARM_TASKS[args.compile_probe].make(), 4, device=args.device)
        print(json.dumps({"compile_s": env.compile_seconds}))
        return
    if args.small:
        args.worlds, args.steps, args.device = [4, 16], 5, "cpu"
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "Warp CPU device"
    console.print(f"device: {name}; CPU engine on {os.cpu_count()} cores; {args.steps} steps")
    table = Table(title="env steps/s (side by side, one run)")
    for col in ("task", "worlds", "warp physics", "no graphs", "warp end-to-end", "CPU physics",
                "CPU end-to-end", "e2e ratio", "warp memory MiB"):  # fmt: skip
        table.add_column(col, justify="right")
    for task in args.tasks:
        for n in args.worlds:
            w = bench_warp(task, n, device, args.steps)
            w["physics_eager"] = physics_without_graphs(task, n, device, args.steps)
            c = bench_cpu(task, n, args.steps) if n <= args.cpu_max else None
            table.add_row(
                task, f"{n:,}", f"{w['physics']:,.0f}", f"{w['physics_eager']:,.0f}",
                f"{w['e2e']:,.0f}",
                f"{c['physics']:,.0f}" if c else "—", f"{c['e2e']:,.0f}" if c else "—",
                f"{w['e2e'] / c['e2e']:.1f}×" if c else "—",
                f"{w['mem_mb']:,.0f}" if device.type == "cuda" else "—",
            )  # fmt: skip
    console.print(table)
    if not args.no_compile:
        ct = Table(title="kernel load per task (fresh process)")
        for col in ("task", "cold (empty cache) s", "warm (cached) s"):
            ct.add_column(col, justify="right")
        for task in args.tasks:
            with tempfile.TemporaryDirectory(prefix="warp-cache-") as cache:
                cold = compile_seconds(task, args.device, cache)
                warm = compile_seconds(task, args.device, cache)
            ct.add_row(task, f"{cold:.1f}", f"{warm:.1f}")
        console.print(ct)


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
