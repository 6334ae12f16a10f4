"""Stopping: Ctrl-C / SIGTERM in a real subprocess, a second Ctrl-C, and the NaN/Inf guard."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from robopg.cli import app
from robopg.deploy.controller import Controller
from robopg.deploy.evaluate import EvalResult
from robopg.errors import TrainingDiverged
from robopg.runs.checkpoint import load_checkpoint
from robopg.train.trainer import Trainer

from ..conftest import tiny_config

LONG_RUN = ["train", "reacher", "--steps", "100000000", "--num-envs", "4", "--device", "cpu"]
LONG_RUN += ["--checkpoint-every", "100000", "--quiet"]


def start_training(out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "robopg", *LONG_RUN, "--out", str(out), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "300"},
        cwd=out,  # not the checkout: `-m robopg` must find the installed package
    )


def wait_for_updates(proc: subprocess.Popen[str], out: Path, n: int) -> Path:
    """Block until the run has logged ``n`` updates; return its run directory."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        for metrics in out.glob("*/metrics.jsonl"):
            if len(metrics.read_text().splitlines()) >= n:
                return metrics.parent
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("training did not start within 120 s")


def assert_no_partial_files(run_dir: Path) -> None:
    leftovers = [p.name for p in run_dir.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    for ckpt in run_dir.rglob("*.safetensors"):
        load_checkpoint(ckpt)  # every file on disk is whole


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_saves_a_loadable_checkpoint_and_says_how_to_resume(
    tmp_path: Path, sig: signal.Signals
) -> None:
    proc = start_training(tmp_path, "--steps-per-batch", "200")
    run_dir = wait_for_updates(proc, tmp_path, 2)
    proc.send_signal(sig)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output
    assert "Traceback" not in output
    text = " ".join(output.split())
    assert f"Resume with: robopg train --resume {run_dir}" in text
    match = re.search(r"Checkpoint: (\S+\.safetensors)", text)
    assert match, text
    printed = Path(match.group(1))
    assert printed.parent == run_dir / "checkpoints"
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    meta = load_checkpoint(printed).meta
    assert meta["env_steps"] == rows[-1]["time/env_steps"] == 200 * len(rows)  # whole updates
    ctrl = Controller.load(printed)
    assert np.all(np.isfinite(ctrl.act(np.zeros(10))))
    assert_no_partial_files(run_dir)
    if sig != signal.SIGINT:
        return
    # The printed command continues the same run: same directory, counters carry on.
    target = str(meta["env_steps"] + 400)
    result = CliRunner().invoke(
        app, ["train", "--resume", str(run_dir), "--steps", target, "--quiet"]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["time/update"] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[-1]["time/env_steps"] == int(target)
    assert (run_dir / "final.safetensors").is_file()


def test_second_ctrl_c_aborts_at_once_without_corrupting_files(tmp_path: Path) -> None:
    # Big updates (a few hundred ms), so both signals land inside the same one, after the
    # checkpoint of update 2 has been written.
    proc = start_training(tmp_path, "--steps-per-batch", "4000", "--checkpoint-every", "1")
    run_dir = wait_for_updates(proc, tmp_path, 2)
    time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)  # two signals at once would be delivered as one
    proc.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    output, _ = proc.communicate(timeout=120)
    assert time.monotonic() - t0 < 30
    assert "Traceback" not in output
    # 130 and the abort message; -SIGINT only if the 2nd signal hit interpreter shutdown.
    assert proc.returncode in (130, -signal.SIGINT), output
    if proc.returncode == 130:
        assert "Aborted. Last complete checkpoint:" in " ".join(output.split()), output
    assert_no_partial_files(run_dir)
    assert len(list((run_dir / "checkpoints").glob("step_*.safetensors"))) >= 2


class LateBlowUp(Trainer):
    """Trains normally for two updates, then uses an absurd learning rate."""

    def _set_learning_rate(self) -> None:
        super()._set_learning_rate()
        if self.update_idx >= 2:
            for group in self.policy_opt.param_groups:
                group["lr"] = 1e10


def test_nan_guard_stops_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, checkpoint_every=1, lr_schedule="constant")
    trainer = LateBlowUp(cfg, show_progress=False)
    with pytest.raises(TrainingDiverged) as info:
        trainer.train()
    assert trainer.run_dir is not None
    good = trainer.run_dir / "checkpoints" / "step_0000000800.safetensors"
    message = str(info.value)
    assert "NaN/Inf" in message and "learning rate" in message and "--lr" in message
    assert f"the last good checkpoint is {good}" in message
    ckpts = sorted(p.name for p in (trainer.run_dir / "checkpoints").iterdir())
    assert ckpts == ["step_0000000400.safetensors", "step_0000000800.safetensors"]
    assert not (trainer.run_dir / "final.safetensors").exists()
    ckpt = load_checkpoint(good)
    assert ckpt.meta["env_steps"] == 800
    assert all(bool(t.isfinite().all()) for k, t in ckpt.tensors.items() if t.is_floating_point())
    ctrl = Controller.load(good)
    assert np.all(np.isfinite(ctrl.act(np.ones(10))))
    assert len((trainer.run_dir / "metrics.jsonl").read_text().splitlines()) == 2


def test_huge_learning_rate_is_one_clear_sentence_from_the_cli(tmp_path: Path) -> None:
    args = ["train", "reacher", "--lr", "1e10", "--lr-schedule", "constant", "--steps", "2000"]
    args += ["--num-envs", "4", "--steps-per-batch", "200", "--out", str(tmp_path), "--quiet"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "Training diverged" in text and "learning rate is the usual cause" in text
    assert "no checkpoint had been written yet" in text
    assert "Traceback" not in result.output


LATE_SIGNAL = """
import atexit, os, signal, sys, time

def late_ctrl_c():  # runs last in interpreter shutdown, like a 2nd Ctrl-C after a graceful stop
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(2)

atexit.register(late_ctrl_c)
sys.argv = ["robopg", "presets"]
from robopg.cli import main
main()
"""


def test_a_ctrl_c_during_interpreter_shutdown_ends_the_process_without_a_traceback(
    tmp_path: Path,
) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", LATE_SIGNAL],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == -signal.SIGINT, (proc.returncode, proc.stderr)
    assert "reacher" in proc.stdout  # the command's output was flushed before the end


def test_on_eval_returning_true_stops_after_that_evaluation(tmp_path: Path) -> None:
    """The hook robopg tune prunes with: stop like a signal (checkpoint, interrupted)."""
    seen: list[tuple[int, float]] = []

    def on_eval(env_steps: int, result: EvalResult) -> bool:
        seen.append((env_steps, result.mean))
        return len(seen) == 2

    cfg = tiny_config(tmp_path, steps=4000, eval_every=2)  # 10 updates of 400, evals at 2, 4, …
    trainer = Trainer(cfg, show_progress=False, on_eval=on_eval, run_name="named")
    result = trainer.train()
    assert trainer.halted and result.interrupted and result.env_steps == 1600
    assert [steps for steps, _ in seen] == [800, 1600]
    assert result.run_dir == tmp_path / "named"
    assert result.final_checkpoint == result.run_dir / "checkpoints" / "step_0000001600.safetensors"
    rows = [
        json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()
    ]
    assert [r["eval/return_mean"] for r in rows if r["eval/return_mean"] is not None] == [
        mean for _, mean in seen
    ]
