"""Exact resume on CPU, and checkpoints that survive a crash (SIGKILL) mid-training."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from robopg.envs import make_vector_env
from robopg.runs.checkpoint import load_checkpoint
from robopg.train.trainer import Trainer, resume_config

from ..conftest import tiny_config

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _rows(run_dir: Path) -> list[dict[str, object]]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(x).items() if not k.startswith("time/")} for x in lines]


def _weights(path: Path) -> dict[str, torch.Tensor]:
    ckpt = load_checkpoint(path)
    return {k: v for k, v in ckpt.tensors.items() if k.startswith(("policy.", "value."))}


def test_gym_env_snapshot_continues_bit_for_bit() -> None:
    """Step, snapshot, step on; a second env loaded from the snapshot steps identically."""
    rng = np.random.default_rng(0)
    env = make_vector_env("reacher", 3, engine="gym")
    env.reset(5)
    for _ in range(47):  # near the 50-step limit, so the continuation crosses an auto-reset
        env.step(rng.uniform(-1, 1, (3, 2)))
    state = env.state_dict()
    assert state is not None
    twin = make_vector_env("reacher", 3, engine="gym")
    twin.load_state_dict(state)
    for _ in range(6):
        action = rng.uniform(-1, 1, (3, 2))
        a, b = env.step(action), twin.step(action)
        np.testing.assert_array_equal(a.obs, b.obs)
        np.testing.assert_array_equal(a.reward, b.reward)
        np.testing.assert_array_equal(a.truncated, b.truncated)
    assert a.truncated.sum() == 0 and b.obs.shape == (3, 10)
    env.close()
    twin.close()


@pytest.mark.parametrize(
    ("task", "engine", "rollout", "antithetic"),
    # pusher episodes are 100 steps: with 25-step rollouts the stop falls mid-episode, so the
    # env's physics and RNG state (not just fresh resets) must come back exactly; with
    # antithetic pairs, also the pairs' shared reset generators.
    [
        ("reacher", "gym", 50, False),
        ("reacher", "batch", 50, False),
        ("pusher", "batch", 25, False),
        ("pusher", "batch", 25, True),
    ],
)
def test_stop_and_resume_equals_one_uninterrupted_run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    task: str,
    engine: str,
    rollout: int,
    antithetic: bool,
) -> None:
    """`train 2N` vs `train, stop after N (SIGINT), resume to 2N`: same metrics, same weights."""
    overrides = {
        "antithetic": antithetic,
        "env": task,
        "steps": 6 * 8 * rollout,
        "steps_per_batch": 8 * rollout,
        "checkpoint_every": 100,
        "engine": engine,
    }
    full = Trainer(tiny_config(tmp_path / "full", **overrides), show_progress=False).train()
    assert full.run_dir is not None and full.final_checkpoint is not None

    original = Trainer._metrics_row

    def stop_after_three(self: Trainer, *args: object) -> dict[str, object]:
        if self.update_idx == 3:  # as if the user pressed Ctrl-C during update 3
            os.kill(os.getpid(), signal.SIGINT)
        return original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Trainer, "_metrics_row", stop_after_three)
    first = Trainer(tiny_config(tmp_path / "split", **overrides), show_progress=False).train()
    assert first.interrupted and first.env_steps == 3 * 8 * rollout and first.run_dir is not None
    monkeypatch.setattr(Trainer, "_metrics_row", original)

    cfg = resume_config(first.run_dir, {})
    second = Trainer(cfg, show_progress=False, resume=first.run_dir).train()
    assert second.run_dir == first.run_dir and second.final_checkpoint is not None

    assert _rows(first.run_dir) == _rows(full.run_dir)
    assert len(_rows(full.run_dir)) == 6
    a, b = _weights(full.final_checkpoint), _weights(second.final_checkpoint)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert full.final_eval is not None and second.final_eval is not None
    assert full.final_eval.returns == second.final_eval.returns


_KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    from robopg.config import TrainConfig
    from robopg.train.trainer import Trainer
    cfg = TrainConfig().updated({"env": "reacher", "steps": 10**7, "num_envs": 4,
        "steps_per_batch": 40, "checkpoint_every": 1, "device": "cpu", "engine": "gym",
        "out": sys.argv[1]}, "test")
    Trainer(cfg, show_progress=False).train()
    """
)


def test_sigkill_during_training_leaves_the_last_checkpoint_loadable(tmp_path: Path) -> None:
    """kill -9 lands at an arbitrary point, possibly inside a save: what is there must load."""
    # cwd elsewhere: the checkout's robopg/ must not shadow the installed package
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILL_SCRIPT, str(tmp_path)], cwd=tmp_path.parent
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = list(tmp_path.glob("*/checkpoints/step_*.safetensors"))
            if len(found) >= 3:
                break
            assert proc.poll() is None, "training subprocess died"
            time.sleep(0.05)
        else:
            pytest.fail("no checkpoints appeared within 120 s")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    (run_dir,) = tmp_path.iterdir()
    checkpoints = sorted((run_dir / "checkpoints").glob("step_*.safetensors"))
    for path in checkpoints:
        assert load_checkpoint(path).meta["env_steps"] == int(path.stem.split("_")[1])
    cfg = resume_config(run_dir, {"steps": load_checkpoint(checkpoints[-1]).meta["env_steps"] + 40})
    result = Trainer(cfg, show_progress=False, resume=run_dir).train()
    assert not result.interrupted and result.final_checkpoint is not None
