"""Data-parallel REINFORCE: two gloo ranks take exactly the step one process takes on the union
of their data, and a torchrun job writes its run directory once."""

import importlib.util
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from robopg.algo.distributed import DistContext

PROBLEM = Path(__file__).parent / "helpers" / "dist_problem.py"
_spec = importlib.util.spec_from_file_location("dist_problem", PROBLEM)
assert _spec is not None and _spec.loader is not None
problem = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(problem)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def torchrun(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
        "--master-addr", "127.0.0.1", "--master-port", str(_free_port()), *args,
    ]  # fmt: skip
    # cwd outside the checkout: the workers must import the installed robopg
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=240)


def test_two_gloo_ranks_match_one_process_on_the_union(tmp_path: Path) -> None:
    proc = torchrun([str(PROBLEM), str(tmp_path)], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    single = problem.step(problem.union_batch(), DistContext())
    for rank in (0, 1):
        got = load_file(str(tmp_path / f"rank{rank}.safetensors"))
        assert set(got) == set(single)
        for key, value in single.items():
            torch.testing.assert_close(got[key], value, rtol=1e-9, atol=1e-12, msg=key)
    # the update really moved the policy: the comparison is not between two no-ops
    initial = problem.initial_policy()
    assert not torch.allclose(single["log_std"], initial.log_std.detach())
    assert not torch.allclose(single["mean_net.0.weight"], initial.mean_net[0].weight.detach())


def test_torchrun_two_processes_write_one_run_directory(tmp_path: Path) -> None:
    proc = torchrun(
        ["-m", "robopg", "train", "reacher", "--steps", "1600", "--num-envs", "4",
         "--steps-per-batch", "200", "--eval-episodes", "2", "--device", "cpu", "--quiet",
         "--checkpoint-every", "2", "--out", str(tmp_path / "runs")],
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["time/env_steps"] for r in rows] == [400, 800, 1200, 1600]  # 2 ranks × 200
    assert (run_dir / "final.safetensors").is_file()
    # periodic checkpoints are written by rank 0 only, while rank 1 keeps training
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
        "step_0000000800.safetensors",
        "step_0000001600.safetensors",
    ]
    assert "× 2 processes" in " ".join(proc.stdout.split())


def test_torchrun_two_ranks_train_with_the_warp_engine(tmp_path: Path) -> None:
    """Multi-process warp training as far as a CPU allows: two gloo ranks, each stepping its
    own Warp worlds on Warp's CPU device, write one run whose policy the CPU engine evaluates."""
    proc = torchrun(
        ["-m", "robopg", "train", "reacher", "--steps", "1600", "--num-envs", "4",
         "--steps-per-batch", "200", "--eval-episodes", "2", "--final-eval-episodes", "20",
         "--device", "cpu", "--engine", "warp", "--quiet", "--out", str(tmp_path / "runs")],
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = " ".join(proc.stdout.split())
    assert "× 2 processes" in out and "engine WarpArmEnv" in out
    (run_dir,) = (tmp_path / "runs").iterdir()
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["time/env_steps"] for r in rows] == [400, 800, 1200, 1600]
    # 8 worlds × 200 steps: every world finished 4 episodes of 50 steps, counted over both ranks
    assert sum(r["rollout/episodes"] for r in rows) == 2 * 4 * (1600 // 2 // 4 // 50)

    from robopg.deploy.evaluate import evaluate_saved_policy
    from robopg.train.trainer import EVAL_SEED_OFFSET

    _, _, ev = evaluate_saved_policy(
        run_dir / "final.safetensors", 20, seed=EVAL_SEED_OFFSET, engine="batch"
    )
    assert ev.mean == pytest.approx(rows[-1]["eval/return_mean"], abs=1e-4)
