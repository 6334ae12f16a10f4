"""Latency of one deployed action: Controller.act (numpy), ONNX Runtime, TorchScript, and
the cost of a physics step under Controller.attach (an action every frame_skip steps).

Usage: .venv/bin/python benchmarks/controller.py [--task reacher] [--calls 5000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def per_call_us(fn: Callable[[], object], calls: int) -> float:
    for _ in range(100):
        fn()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="reacher")
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()

    import onnxruntime as ort
    import torch

    from robopg.deploy.controller import Controller
    from robopg.deploy.export import export_policy

    torch.set_num_threads(1)
    ctrl = Controller.load(args.task)
    obs = np.random.default_rng(0).normal(size=ctrl.obs_dim)
    obs32 = obs.astype(np.float32)[None, :]
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = export_policy(args.task, "onnx", Path(tmp) / "p.onnx")
        ts_path = export_policy(args.task, "torchscript", Path(tmp) / "p.pt")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        module = torch.jit.load(str(ts_path))
    obs_t = torch.from_numpy(obs32)

    def torchscript() -> object:
        with torch.no_grad():
            return module(obs_t)

    results = {
        "Controller.act (numpy)": per_call_us(lambda: ctrl.act(obs), args.calls),
        "onnxruntime": per_call_us(lambda: session.run(None, {"obs": obs32}), args.calls),
        "torchscript": per_call_us(torchscript, args.calls),
    }
    import mujoco

    from robopg.deploy.mujoco_control import task_model

    model, data = task_model(args.task)
    results["mj_step, no policy"] = per_call_us(lambda: mujoco.mj_step(model, data), args.calls)
    with ctrl.attach(model, data):
        results["mj_step under attach()"] = per_call_us(
            lambda: mujoco.mj_step(model, data), args.calls
        )
    for name, us in results.items():
        print(f"{args.task:8s} {name:24s} {us:8.1f} µs per call")


if __name__ == "__main__":
    main()
