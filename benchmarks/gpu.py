"""GPU-resident engine benchmark: MuJoCo Warp vs the batched CPU engine, side by side in one run.

Run:  .venv/bin/python benchmarks/gpu.py                 # on a CUDA machine, the full table
      .venv/bin/python benchmarks/gpu.py --small         # tiny sizes on Warp's CPU device (smoke)
      .venv/bin/python benchmarks/gpu.py --compile DIR   # kernel load, cold (DIR emptied) and warm

For each task and number of worlds it prints env steps/s of
- physics only: ``frame_skip`` substeps of every world, nothing else (warp: ``simulate``, with
  the engine's recorded graphs replayed and, for comparison, with every kernel launched from
  Python; CPU: ``mujoco.batch`` step on all cores);
- end to end: ``collect`` of a default policy's batch (policy forward, sampling, clipping,
  physics, observations, rewards, auto-resets, rollout storage), what training pays per step;
and the device memory the warp engine holds (CUDA only: free memory before and after building
it, and Warp's memory pool in use). The CPU engine is skipped above ``--cpu-max`` worlds.
``--compile DIR`` instead times the kernel load of a fresh process per task, cold (Warp cache
``DIR`` emptied first) and warm (the cache just filled), and leaves ``DIR`` filled.

``--json PATH`` writes every measurement as JSON, rewritten after each row, so a run stopped
by a time limit keeps the rows it finished; a row that fails (out of memory, say) records its
error and the run goes on.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

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

# piped into a log, the wide table keeps whole numbers instead of cutting them to 80 columns
console = Console() if sys.stdout.isatty() else Console(width=160)


def policy_for(obs_dim: int, act_dim: int, device: torch.device) -> GaussianPolicy:
    torch.manual_seed(0)
    return GaussianPolicy(NetConfig(obs_dim=obs_dim, act_dim=act_dim, hidden=(64, 64))).to(device)


def timed(fn: Callable[[], object], repeats: int, sync: Callable[[], None]) -> float:
    fn()  # warm-up (allocations, first launches, graph recording)
    sync()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync()
    return time.perf_counter() - start


def free_memory() -> None:
    """Drop the last engine's arrays so the next row starts from the same free memory."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def warp_pool_mb(device: torch.device) -> float | None:
    """Bytes in use in Warp's CUDA memory pool, in MiB (None off CUDA or where not reported)."""
    if device.type != "cuda":
        return None
    import warp as wp

    used = getattr(wp, "get_mempool_used_mem_current", None)
    return None if used is None else float(used(f"cuda:{device.index or 0}")) / 2**20


def bench_warp(task: str, n: int, device: torch.device, steps: int) -> dict[str, Any]:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    free_before = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else 0
    env = WarpArmEnv(ARM_TASKS[task].make(), n, device=device)
    env.reset(0)
    env.synchronize()
    mem = (
        (free_before - torch.cuda.mem_get_info(device)[0]) / 2**20
        if device.type == "cuda"
        else None
    )
    pool = warp_pool_mb(device)
    physics = timed(env.simulate, steps, env.synchronize)
    policy = policy_for(env.obs_dim, env.act_dim, device)
    col = DeviceRolloutCollector(env, policy, device, torch.Generator(device).manual_seed(0))
    col.reset(0)
    e2e = timed(lambda: col.collect(steps), 1, env.synchronize)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    out = {
        "warp_physics": n * steps / physics,
        "warp_e2e": n * steps / e2e,
        "graphs": list(env.graphs),
        "mem_engine_mib": mem,
        "mem_warp_pool_mib": pool,
        "mem_torch_peak_mib": peak,
    }
    return out  # the engine is freed with this frame: the caller runs free_memory()


def physics_without_graphs(task: str, n: int, device: torch.device, steps: int) -> float:
    """Physics env steps/s with every kernel launched from Python: what the graphs pay for."""
    env = WarpArmEnv(ARM_TASKS[task].make(), n, device=device, graphs=False)
    env.reset(0)
    sps = n * steps / timed(env.simulate, steps, env.synchronize)
    del env
    free_memory()
    return sps


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
    return {"cpu_physics": n * steps / physics, "cpu_e2e": n * steps / e2e,
            "cpu_threads": env.num_threads}  # fmt: skip


def compile_seconds(task: str, device: str, cache: str, timeout: float) -> float:
    """Kernel load time of a fresh process whose Warp cache is the folder ``cache``."""
    env = dict(os.environ, WARP_CACHE_PATH=cache)
    out = subprocess.run(
        [sys.executable, __file__, "--compile-probe", task, "--device", device],
        env=env, capture_output=True, text=True, check=True, timeout=timeout,
    )  # fmt: skip
    return float(json.loads(out.stdout.strip().splitlines()[-1])["compile_s"])


def write_json(path: str | None, doc: dict[str, Any]) -> None:
    """Rewrite ``path`` atomically (temp file + rename): a killed run leaves whole JSON."""
    if path is None:
        return
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1))
    os.replace(tmp, path)


def fmt(x: float | None, spec: str = ",.0f") -> str:
    return "—" if x is None else format(x, spec)


def engine_table(args: argparse.Namespace, device: torch.device, doc: dict[str, Any]) -> None:
    table = Table(title="env steps/s (side by side, one run)")
    for col in ("task", "worlds", "warp physics", "no graphs", "warp end-to-end", "CPU physics",
                "CPU end-to-end", "e2e ratio", "engine MiB", "Warp pool MiB"):  # fmt: skip
        table.add_column(col, justify="right")
    rows: list[dict[str, Any]] = doc["rows"]
    for task in args.tasks:
        for n in args.worlds:
            row: dict[str, Any] = {"task": task, "worlds": n}
            rows.append(row)
            start = time.perf_counter()
            try:
                row.update(bench_warp(task, n, device, args.steps))
                free_memory()
                write_json(args.json, doc)
                if not args.no_eager:
                    row["warp_physics_no_graphs"] = physics_without_graphs(
                        task, n, device, args.steps
                    )
                if n <= args.cpu_max:
                    row.update(bench_cpu(task, n, args.cpu_steps))
                    row["e2e_ratio"] = row["warp_e2e"] / row["cpu_e2e"]
            except Exception as exc:  # a row's failure (out of memory, say) is data
                row["error"] = f"{type(exc).__name__}: {exc}"
                console.print(f"[red]{task} at {n} worlds failed[/red]")
                traceback.print_exc()
                free_memory()
            row["seconds"] = time.perf_counter() - start
            write_json(args.json, doc)
            table.add_row(
                task, f"{n:,}", fmt(row.get("warp_physics")),
                fmt(row.get("warp_physics_no_graphs")), fmt(row.get("warp_e2e")),
                fmt(row.get("cpu_physics")), fmt(row.get("cpu_e2e")),
                fmt(row.get("e2e_ratio"), ".1f"), fmt(row.get("mem_engine_mib")),
                fmt(row.get("mem_warp_pool_mib")),
            )  # fmt: skip
            console.print(
                f"{task} {n:,} worlds: "
                + (row["error"] if "error" in row else f"e2e {row['warp_e2e']:,.0f} steps/s")
                + f" ({row['seconds']:.1f} s)"
            )
    console.print(table)


def compile_table(args: argparse.Namespace, doc: dict[str, Any]) -> None:
    """Cold then warm kernel load per task; the cache folder is emptied once, first."""
    cache = args.compile
    if not args.warm_only:
        shutil.rmtree(cache, ignore_errors=True)
    Path(cache).mkdir(parents=True, exist_ok=True)
    ct = Table(title=f"kernel load per task (fresh process, Warp cache {cache})")
    for col in ("task", "cold (empty cache) s", "warm (cached) s"):
        ct.add_column(col, justify="right")
    for task in args.tasks:
        row: dict[str, Any] = {"task": task, "cold_s": None, "warm_s": None}
        doc["compile"].append(row)
        try:
            if not args.warm_only:
                row["cold_s"] = compile_seconds(task, args.device, cache, args.probe_timeout)
                write_json(args.json, doc)
            row["warm_s"] = compile_seconds(task, args.device, cache, args.probe_timeout)
        except Exception as exc:
            row["error"] = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, subprocess.CalledProcessError):
                console.print(exc.stderr)
        write_json(args.json, doc)
        ct.add_row(task, fmt(row["cold_s"], ".1f"), fmt(row["warm_s"], ".1f"))
        console.print(
            f"{task}: cold {fmt(row['cold_s'], '.1f')} s, warm {fmt(row['warm_s'], '.1f')} s"
        )
    console.print(ct)


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "Warp CPU device"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tasks", nargs="+", default=["reacher", "pusher", "panda-reach"])
    ap.add_argument("--worlds", nargs="+", type=int, default=[1024, 4096, 16384, 65536])
    ap.add_argument("--steps", type=int, default=100, help="env steps timed per measurement")
    ap.add_argument("--cpu-steps", type=int, default=50, help="env steps timed on the CPU engine")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--cpu-max", type=int, default=16384, help="largest CPU-engine batch")
    ap.add_argument("--small", action="store_true", help="tiny sizes on Warp's CPU device")
    ap.add_argument("--no-eager", action="store_true", help="skip the physics without graphs")
    ap.add_argument("--compile", default=None, metavar="DIR",
                    help="time cold and warm kernel loads, Warp cache DIR")  # fmt: skip
    ap.add_argument("--warm-only", action="store_true", help="with --compile: keep DIR, warm only")
    ap.add_argument("--probe-timeout", type=float, default=300.0, help="seconds per compile probe")
    ap.add_argument("--json", default=None, help="write the measurements here as JSON")
    ap.add_argument("--compile-probe", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.compile_probe:
        env = WarpArmEnv(ARM_TASKS[args.compile_probe].make(), 4, device=args.device)
        print(json.dumps({"compile_s": env.compile_seconds}))
        return
    if args.small:
        args.worlds, args.steps, args.cpu_steps, args.device = [8], 3, 3, "cpu"
    device = torch.device(args.device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    doc: dict[str, Any] = {
        "device": device_name(device),
        "cpu_cores": os.cpu_count(),
        "steps": args.steps,
        "cpu_steps": args.cpu_steps,
        "rows": [],
        "compile": [],
    }
    console.print(
        f"device: {doc['device']}; CPU engine on {doc['cpu_cores']} cores; {args.steps} steps"
    )
    if args.compile:
        compile_table(args, doc)
    else:
        engine_table(args, device, doc)
    write_json(args.json, doc)


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
