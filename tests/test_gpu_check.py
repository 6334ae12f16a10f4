"""benchmarks/gpu_check.sh --small: the one-command GPU check, smoke-run on Warp's CPU device.

It runs every part (setup, compile, tests, bench, train) at tiny sizes and must leave exactly
summary.md, results.json and logs.tar.gz, with each part's status and its numbers.
"""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from robopg.collect.warp import warp_available

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"

pytestmark = pytest.mark.skipif(not warp_available(), reason="needs the robopg[gpu] extra")


def run_check(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHON=sys.executable, WORK=str(tmp_path / "work"))
    env.pop("OUT", None)
    return subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip


def test_small_check_writes_every_part_and_the_targets(tmp_path: Path):
    out = tmp_path / "out"
    proc = run_check(tmp_path, "--small", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["logs.tar.gz", "results.json", "summary.md"]
    res = json.loads((out / "results.json").read_text())
    assert res["mode"] == "small"
    assert {n: p["status"] for n, p in res["parts"].items()} == {
        "setup": "ok", "compile": "ok", "tests": "ok", "bench": "ok", "train": "ok",
    }  # fmt: skip
    assert res["env"]["warp"] == "1.19.0" and res["env"]["cpu_cores"] >= 1
    # no CUDA here: the gpu-marked tests are collected and all skipped, none fails
    assert res["tests"]["skipped"] >= 1 and res["tests"]["failed"] == 0
    assert res["tests"]["passed"] == 0 and res["tests"]["errors"] == 0
    (row,) = res["bench"]["rows"]
    assert (row["task"], row["worlds"]) == ("reacher", 8)
    for key in ("warp_physics", "warp_e2e", "cpu_physics", "cpu_e2e"):
        assert row[key] > 0
    assert row["e2e_ratio"] == pytest.approx(row["warp_e2e"] / row["cpu_e2e"])
    assert set(row["graphs"]) == {"physics", "reset", "kinematics"}
    (comp,) = res["compile"]["compile"]
    assert comp["task"] == "reacher" and comp["cold_s"] is None and comp["warm_s"] > 0
    (run,) = res["train"]["runs"]
    assert run["task"] == "reacher" and run["env_steps"] == 6400 and run["train_s"] > 0
    assert set(run["to"]) == {"-4.5", "-3.75"} and run["evals"]
    targets = {t["target"]: t for t in res["targets"]}
    sps = targets["Reacher end-to-end env steps/s"]
    assert sps["status"] == "not met" and sps["value"] == f"{row['warp_e2e']:,.0f}"
    assert targets["Pusher better than −25"]["status"] == "not measured"
    summary = (out / "summary.md").read_text()
    assert "# GPU check (small)" in summary and "| reacher | 8 |" in summary
    assert summary.strip() in proc.stdout  # printed at the end as well
    with tarfile.open(out / "logs.tar.gz") as tar:
        names = {Path(n).name for n in tar.getnames()}
    assert {"setup.log", "bench.log", "train.log", "parts.json", "tests.xml"} <= names


def test_unknown_part_is_one_sentence_and_exit_2(tmp_path: Path):
    proc = run_check(tmp_path, "--only", "physics")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "gpu_check.sh: --only takes setup, compile, tests, bench or train, not 'physics'."
    )
