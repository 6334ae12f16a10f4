"""``Trainer.step`` is the algorithm's whole update (the loop around it only keeps books), and
the checkpoint header and resume checks of ``robopg.runs.header``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from robopg.errors import CheckpointError
from robopg.runs.checkpoint import load_checkpoint
from robopg.runs.header import RunCounters, check_resumable, same_device, training_header
from robopg.train.trainer import Trainer

from ..conftest import tiny_config

OLD_CHECKPOINT = (
    Path(__file__).resolve().parents[1] / "fixtures/old-run/checkpoints/step_0000000200.safetensors"
)


def test_step_by_step_gives_the_loops_metrics(tiny_run: Path, tmp_path: Path) -> None:
    """Four ``step()`` calls by hand give the metrics rows ``train()`` wrote for the same
    config, in every field that is not a wall-clock time."""
    rows = [json.loads(line) for line in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    trainer = Trainer(tiny_config(tmp_path), show_progress=False)
    try:
        assert trainer.total_updates == len(rows) == 4
        with threadpool_limits(limits=1, user_api="blas"):  # as train() runs it
            for k, row in enumerate(rows, 1):
                metrics = trainer.step()
                assert (trainer.update_idx, trainer.env_steps) == (k, 400 * k)
                learning = {m: v for m, v in metrics.items() if not m.startswith("time/")}
                assert learning.keys() >= {"rollout/ep_return_mean", "train/lr", "train/std"}
                for name, value in learning.items():
                    if isinstance(value, float) and math.isnan(value):
                        assert row[name] is None, name  # NaN is written as null
                    else:
                        assert row[name] == value, name
                assert metrics["time/collect_s"] > 0 and metrics["time/update_s"] > 0
        assert trainer.run_dir is None  # step() writes nothing
    finally:
        trainer.env.close()


class _Space:
    action_low = np.array([-1.0, -2.0])
    action_high = np.array([1.0, 2.0])
    dt = 0.02


class _Eval:
    mean, std, stderr, returns, deterministic = -4.0, 1.0, 0.5, [-3.0, -5.0], True


def test_header_round_trips_the_counters(tiny_run: Path) -> None:
    saved = load_checkpoint(tiny_run / "checkpoints" / "step_0000000800.safetensors").meta
    from robopg.algo.net_config import NetConfig

    net = NetConfig.from_dict(saved["net"])
    counters = RunCounters(update=7, env_steps=5600, elapsed_s=1.5, best_eval=-6.0)
    meta = training_header(
        version="x",
        task="reacher",
        gym_id="Reacher-v5",
        net=net,
        space=_Space(),
        config={"steps": 8000},
        counters=counters,
        state_meta={"optim": {}, "env_state": {}},
        world_size=1,
        device_type="cpu",
        final_eval=_Eval(),
    )
    assert meta["action_low"] == [-1.0, -2.0] and meta["dt"] == 0.02
    assert meta["last_return"] is None  # NaN: no episode finished yet
    assert meta["eval"] == {
        "mean": -4.0,
        "std": 1.0,
        "stderr": 0.5,
        "episodes": 2,
        "deterministic": True,
    }
    back = RunCounters.from_header(json.loads(json.dumps(meta)))
    assert (back.update, back.env_steps, back.elapsed_s, back.best_eval) == (7, 5600, 1.5, -6.0)
    # the old robopg's header (tests/fixtures/old-run) has the same fields in the same order
    old = load_checkpoint(OLD_CHECKPOINT).meta
    assert [k for k in old if k not in ("format", "format_version")] == [
        k for k in meta if k != "eval"
    ]


def test_resume_checks_say_what_is_wrong(tiny_run: Path) -> None:
    path = tiny_run / "checkpoints" / "step_0000000800.safetensors"
    meta = load_checkpoint(path).meta

    def check(**changes: object) -> str:
        args: dict = dict(task="reacher", obs_dim=10, act_dim=2, steps=1600, world_size=1)
        args.update(changes)
        with pytest.raises(CheckpointError) as info:
            check_resumable(meta, path, **args)
        return str(info.value)

    check_resumable(meta, path, task="reacher", obs_dim=10, act_dim=2, steps=1600, world_size=1)
    assert check(task="pusher") == f"Checkpoint '{path}' was trained on 'reacher', not 'pusher'."
    assert check(obs_dim=23).startswith(f"'{path}' was trained on 'reacher' with observations")
    assert check(world_size=2) == (
        f"Checkpoint '{path}' came from 1 processes; resume it with the same number (this run "
        "has 2)."
    )
    final = tiny_run / "final.safetensors"
    with pytest.raises(CheckpointError, match="is finished"):
        check_resumable(
            load_checkpoint(final).meta,
            final,
            task="reacher",
            obs_dim=10,
            act_dim=2,
            steps=1600,
            world_size=1,
        )
    assert same_device(meta, "cpu") and not same_device(meta, "cuda")
