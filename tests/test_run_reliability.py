"""The run directory under stress: one owner at a time, torn metrics, a full disk, finished runs."""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from robopg.cli import app
from robopg.config import resolve_config
from robopg.errors import CheckpointError, RunDirError
from robopg.runs import checkpoint as checkpoint_module
from robopg.runs.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from robopg.runs.run_dir import RunDir
from robopg.train.trainer import Trainer, resume_config

from .conftest import tiny_config

HOLD_LOCK = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from robopg.runs.run_dir import RunDir
    with RunDir(Path(sys.argv[1])).owned():
        print("locked", flush=True)
        time.sleep(120)
    """
)


def small_run(out: Path) -> Path:
    result = Trainer(tiny_config(out), show_progress=False).train()
    assert result.run_dir is not None
    return result.run_dir


def test_a_running_run_is_refused_and_a_killed_owner_is_taken_over(tmp_path: Path) -> None:
    run_dir = small_run(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(run_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        cfg = resume_config(run_dir, {"steps": 2000})
        with pytest.raises(RunDirError, match=rf"in use by process {holder.pid} on .*Ctrl-C"):
            Trainer(cfg, show_progress=False, resume=run_dir).train()
        holder.kill()  # kill -9: the lock dies with its owner, owner.json stays behind
        holder.wait()
        result = Trainer(cfg, show_progress=False, resume=run_dir).train()
        assert not result.interrupted and result.env_steps == 2000
        assert json.loads((run_dir / "owner.json").read_text())["pid"] == os.getpid()
    finally:
        holder.kill()
        holder.wait()


def test_resume_drops_a_half_written_metrics_line_and_says_so(tmp_path: Path) -> None:
    run_dir = small_run(tmp_path)
    with (run_dir / "metrics.jsonl").open("a") as fh:
        fh.write('{"time/update": 5, "time/env_st')
    with (run_dir / "metrics.csv").open("a") as fh:
        fh.write("5,2000,123.4")
    out = io.StringIO()
    cfg = resume_config(run_dir, {"steps": 2000})
    Trainer(cfg, console=Console(file=out, width=200), show_progress=False, resume=run_dir).train()
    said = out.getvalue()
    assert "metrics.jsonl ended in a half-written line (killed mid-write); dropped it." in said
    assert "metrics.csv ended in a half-written line" in said
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["time/env_steps"] for r in rows] == [400, 800, 1200, 1600, 2000]
    csv_lines = (run_dir / "metrics.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + 5 and "5,2000,123.4" not in csv_lines


def test_a_full_disk_keeps_the_previous_checkpoint_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    path = tmp_path / "step.safetensors"
    save_checkpoint(path, Checkpoint({"w": torch.ones(3)}, {"task": "reacher"}))
    before = path.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoint_module.os, "fsync", disk_full)
    with pytest.raises(CheckpointError, match=r"No space left on device; the previous version"):
        save_checkpoint(path, Checkpoint({"w": torch.zeros(3)}, {"task": "reacher"}))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["step.safetensors"]
    monkeypatch.undo()
    assert load_checkpoint(path).tensors["w"].tolist() == [1.0, 1.0, 1.0]


def test_a_full_disk_during_training_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoint_module.os, "fsync", disk_full)
    args = ["train", "reacher", "--steps", "800", "--num-envs", "4", "--steps-per-batch", "400"]
    args += ["--device", "cpu", "--quiet", "--out", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "No space left on device" in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not list(tmp_path.rglob("*.tmp"))


def test_resuming_a_finished_run_says_it_is_finished(tiny_run: Path) -> None:
    result = CliRunner().invoke(app, ["train", "--resume", str(tiny_run), "--quiet"])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "is finished (1,600 of 1,600 env steps); pass --steps with more than 1,600" in text


@pytest.mark.parametrize("text", ["1600", "1_600", "1.6e3", "16e2"])
def test_step_counts_accept_underscores_and_exponents(text: str) -> None:
    assert resolve_config({"steps": text}).steps == 1600


def test_the_lock_is_free_again_after_a_run(tmp_path: Path) -> None:
    run_dir = small_run(tmp_path)
    started = time.monotonic()
    with RunDir(run_dir).owned():
        pass
    assert time.monotonic() - started < 5
