"""Evaluation statistics: the standard error that lets two settings be told apart, and the
final evaluation's own episode count."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from robopg.deploy.evaluate import EvalResult
from robopg.runs.checkpoint import load_checkpoint
from robopg.train.trainer import Trainer

from ..conftest import tiny_config


def test_standard_error_is_sample_std_over_root_n() -> None:
    result = EvalResult([-1.0, -2.0, -3.0, -6.0], [50] * 4, deterministic=True)
    # mean −3; squared deviations 4, 1, 0, 9 → sample variance 14/3; SE = √(14/3)/√4
    assert result.mean == -3.0
    assert result.stderr == pytest.approx(math.sqrt(14 / 3) / 2)
    assert result.std == pytest.approx(math.sqrt(14 / 4))  # population spread, as before
    text = result.summary()
    assert "-3.000 ± 1.080 (standard error)" in text and "over 4 episodes" in text


def test_one_episode_has_no_standard_error() -> None:
    result = EvalResult([-4.0], [50], deterministic=False)
    assert math.isnan(result.stderr)
    assert "standard error" not in result.summary() and "stochastic" in result.summary()


def test_final_evaluation_uses_its_own_episode_count(tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, eval_every=1, eval_episodes=2, final_eval_episodes=7)
    result = Trainer(cfg, show_progress=False).train()
    assert result.run_dir is not None and result.final_eval is not None
    lines = (result.run_dir / "metrics.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["eval/episodes"] for r in rows] == [2] * (len(rows) - 1) + [7]
    assert len(result.final_eval.returns) == 7
    assert result.final_checkpoint is not None
    meta = load_checkpoint(result.final_checkpoint).meta["eval"]
    assert meta["episodes"] == 7
    assert meta["stderr"] == pytest.approx(result.final_eval.stderr)
    assert rows[-1]["eval/return_stderr"] == pytest.approx(result.final_eval.stderr)
