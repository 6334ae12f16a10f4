"""Metric files (JSONL, CSV, TensorBoard), periodic evaluation and same-seed reproducibility."""

import csv
import json
import math
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from robopg.cli import app
from robopg.runs.checkpoint import load_checkpoint
from robopg.train.trainer import Trainer

from ..conftest import tiny_config

# The names the issue promises, spelled out here so dropping one from the code fails the test.
PROMISED = [
    "rollout/ep_return_mean",
    "rollout/ep_len_mean",
    "train/policy_loss",
    "train/value_loss",
    "train/entropy",
    "train/approx_kl",
    "train/grad_norm",
    "train/std",
    "train/adv_std",
    "time/sps",
    "eval/return_mean",
]


def read_jsonl(run_dir: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def without_time(rows: list[dict[str, object]], also: str = "time/") -> list[dict[str, object]]:
    return [{k: v for k, v in r.items() if not k.startswith(("time/", also))} for r in rows]


@pytest.fixture(scope="module")
def eval_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two identical runs evaluating every update, and one that only evaluates at the end."""
    runs = {}
    for name, every in (("a", 1), ("b", 1), ("end_only", 0)):
        out = tmp_path_factory.mktemp(name)
        cfg = tiny_config(out, eval_every=every, steps=1200, eval_episodes=2)
        result = Trainer(cfg, show_progress=False).train()
        assert result.run_dir is not None
        runs[name] = result.run_dir
    return runs


def test_jsonl_and_csv_hold_every_promised_name(eval_runs: dict[str, Path]) -> None:
    run_dir = eval_runs["a"]
    rows = read_jsonl(run_dir)
    assert [r["time/update"] for r in rows] == [1, 2, 3]
    assert [r["time/env_steps"] for r in rows] == [400, 800, 1200]
    for row in rows:
        missing = [name for name in PROMISED if not isinstance(row.get(name), (int, float))]
        assert not missing, missing
        assert row["rollout/ep_len_mean"] == 50.0  # Reacher episodes are 50 steps
        assert row["train/std"] > 0 and row["time/sps"] > 0

    with (run_dir / "metrics.csv").open(newline="") as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0]) == list(rows[0])  # same names, same order
    assert len(table) == len(rows)
    for json_row, csv_row in zip(rows, table, strict=True):
        for name, value in json_row.items():
            assert math.isclose(float(csv_row[name]), float(value), rel_tol=1e-12), name


def test_time_split_adds_up_to_the_update(tmp_path: Path) -> None:
    """collect + update is the update's wall time (what SPS divides), the update splits into
    its policy and value parts, and evaluation / checkpoint time is reported apart."""
    cfg = tiny_config(tmp_path, steps=1600, eval_every=2, eval_episodes=2, checkpoint_every=1)
    result = Trainer(cfg, show_progress=False).train()
    assert result.run_dir is not None
    rows = read_jsonl(result.run_dir)
    for row in rows:
        collect, update = row["time/collect_s"], row["time/update_s"]
        assert isinstance(collect, float) and isinstance(update, float)
        assert collect > 0 and update > 0
        assert 400 / (collect + update) == pytest.approx(row["time/sps"], rel=1e-3)
        parts = row["time/update_policy_s"] + row["time/update_value_s"]
        assert 0 < parts <= update
    assert [r["time/eval_s"] is not None for r in rows] == [False, True, False, True]
    assert all(r["time/eval_s"] > 0 for r in rows if r["time/eval_s"] is not None)
    # Each update writes a checkpoint after its row, so its cost shows in the next row.
    assert rows[0]["time/checkpoint_s"] == 0.0
    assert all(r["time/checkpoint_s"] > 0 for r in rows[1:])
    elapsed = sum(r["time/collect_s"] + r["time/update_s"] for r in rows)
    assert rows[-1]["time/elapsed"] == pytest.approx(elapsed, rel=1e-3)


def test_final_evaluation_is_logged_and_matches_the_checkpoint(
    eval_runs: dict[str, Path],
) -> None:
    rows = read_jsonl(eval_runs["end_only"])
    assert [r["eval/return_mean"] is None for r in rows] == [True, True, False]
    with (eval_runs["end_only"] / "metrics.csv").open(newline="") as fh:
        assert [r["eval/return_mean"] for r in csv.DictReader(fh)][:2] == ["", ""]
    meta = load_checkpoint(eval_runs["end_only"] / "final.safetensors").meta
    assert meta["eval"]["mean"] == pytest.approx(rows[-1]["eval/return_mean"], abs=1e-12)
    assert meta["best_eval"] == pytest.approx(rows[-1]["eval/return_mean"], abs=1e-12)


def test_evaluation_uses_its_own_envs_and_seeds(eval_runs: dict[str, Path]) -> None:
    """Evaluating every update must not change a single training number."""
    with_eval = read_jsonl(eval_runs["a"])
    end_only = read_jsonl(eval_runs["end_only"])
    assert without_time(with_eval, also="eval/") == without_time(end_only, also="eval/")
    # Same weights at the end → the same deterministic evaluation episodes and return.
    assert with_eval[-1]["eval/return_mean"] == end_only[-1]["eval/return_mean"]
    assert len({r["eval/return_mean"] for r in with_eval}) == 3  # the policy did change


def test_same_seed_same_command_gives_identical_metrics(eval_runs: dict[str, Path]) -> None:
    a, b = read_jsonl(eval_runs["a"]), read_jsonl(eval_runs["b"])
    assert without_time(a) == without_time(b)
    assert json.loads((eval_runs["a"] / "config.json").read_text())["seed"] == 0


def test_another_seed_gives_other_metrics(tmp_path: Path, eval_runs: dict[str, Path]) -> None:
    cfg = tiny_config(tmp_path, eval_every=1, steps=1200, eval_episodes=2, seed=1)
    result = Trainer(cfg, show_progress=False).train()
    assert result.run_dir is not None
    other = read_jsonl(result.run_dir)
    base = read_jsonl(eval_runs["a"])
    assert other[0]["rollout/ep_return_mean"] != base[0]["rollout/ep_return_mean"]
    assert other[-1]["eval/return_mean"] != base[-1]["eval/return_mean"]


def test_tensorboard_event_files_hold_the_same_numbers(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard", reason="needs the robopg[tb] extra (installed by [dev])")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = tiny_config(tmp_path, tensorboard=True, steps=800, eval_every=1, eval_episodes=2)
    result = Trainer(cfg, show_progress=False).train()
    assert result.run_dir is not None
    acc = EventAccumulator(str(result.run_dir / "tensorboard"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert set(PROMISED) <= tags
    rows = read_jsonl(result.run_dir)
    events = acc.Scalars("rollout/ep_return_mean")
    assert [e.step for e in events] == [400, 800]
    for event, row in zip(events, rows, strict=True):
        assert event.value == pytest.approx(row["rollout/ep_return_mean"], rel=1e-6)


def test_tensorboard_asked_for_but_missing_gives_the_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import now fails
    result = CliRunner().invoke(
        app, ["train", "reacher", "--tensorboard", "--steps", "400", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert 'pip install "robopg[tb]"' in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []  # failed before creating a run directory
