"""Scaling benchmark: processes (torchrun, CPU) and devices (CPU vs CUDA) side by side.

Run:  .venv/bin/python benchmarks/scale.py                      # both parts, defaults
      .venv/bin/python benchmarks/scale.py --part devices --envs 64 256 1024

``procs``: trains reacher for ``--steps`` with 1 and 2 torchrun processes (gloo) and reports
env steps/s from the run's own clock. ``devices``: for each env count, times collection and the
REINFORCE update separately on every available device (CUDA synchronised), 50 env steps per env.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from robopg.algo.reinforce import update
from robopg.config import TrainConfig
from robopg.train.trainer import Trainer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_procs(nprocs: int, steps: int, num_envs: int, engine: str) -> float:
    out = Path(tempfile.mkdtemp(prefix="robopg-scale-"))
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes", "1",
        "--nproc-per-node", str(nprocs), "--master-addr", "127.0.0.1",
        "--master-port", str(free_port()), "-m", "robopg", "train", "reacher",
        "--steps", str(steps), "--num-envs", str(num_envs),
        "--steps-per-batch", str(num_envs * 50), "--device", "cpu", "--quiet",
        "--engine", engine, "--num-threads", "1", "--eval-episodes", "1", "--out", str(out),
    ]  # fmt: skip
    subprocess.run(cmd, cwd=out, check=True, capture_output=True)
    (run_dir,) = out.iterdir()
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return rows[-1]["time/env_steps"] / rows[-1]["time/elapsed"]


def time_device(device: str, num_envs: int, engine: str, repeats: int) -> dict[str, float]:
    cfg = TrainConfig(
        env="reacher", device=device, num_envs=num_envs, steps_per_batch=num_envs * 50,
        steps=num_envs * 50 * (repeats + 1), engine=engine, out=tempfile.mkdtemp(),
    )  # fmt: skip
    tr = Trainer(cfg, show_progress=False)
    sync = torch.cuda.synchronize if tr.device.type == "cuda" else (lambda: None)
    collect_t, update_t = [], []
    for i in range(repeats + 1):  # first round is warm-up
        t0 = time.perf_counter()
        batch = tr.collector.collect(cfg.rollout_len)
        sync()
        t1 = time.perf_counter()
        update(batch, tr.policy, tr.value, tr.policy_opt, tr.value_opt, tr.settings, tr.dist,
               tr.value_gen)  # fmt: skip
        sync()
        t2 = time.perf_counter()
        if i:
            collect_t.append(t1 - t0)
            update_t.append(t2 - t1)
    tr.env.close()
    steps = num_envs * 50
    c, u = statistics.median(collect_t), statistics.median(update_t)
    return {"sps": steps / (c + u), "collect_ms": 1e3 * c, "update_ms": 1e3 * u}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=["procs", "devices", "both"], default="both")
    p.add_argument("--steps", type=int, default=200_000)
    p.add_argument("--envs", type=int, nargs="+", default=[64, 256, 1024])
    p.add_argument("--engine", default="auto")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    console = Console()
    if args.part in ("procs", "both"):
        table = Table(title=f"reacher, CPU, torchrun (gloo), {args.steps:,} steps, 16 envs/rank")
        for col in ("processes", "env steps/s", "speed-up"):
            table.add_column(col)
        base = None
        for n in (1, 2):
            sps = run_procs(n, args.steps, 16, args.engine)
            base = base or sps
            table.add_row(str(n), f"{sps:,.0f}", f"{sps / base:.2f}×")
        console.print(table)
    if args.part in ("devices", "both"):
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        name = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
        table = Table(title=f"reacher, one batch of 50 steps per env ({name})")
        for col in ("envs", "device", "env steps/s", "collect ms", "update ms"):
            table.add_column(col)
        for n in args.envs:
            for dev in devices:
                r = time_device(dev, n, args.engine, args.repeats)
                table.add_row(str(n), dev, f"{r['sps']:,.0f}", f"{r['collect_ms']:.1f}",
                              f"{r['update_ms']:.1f}")  # fmt: skip
        console.print(table)


if __name__ == "__main__":
    main()
