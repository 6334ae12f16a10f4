"""`robopg plot` (a real PNG of learning curves) and `robopg info` (a run summary)."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from robopg.cli import app
from robopg.report.plot import group_runs, mean_curve
from robopg.runs.checkpoint import load_checkpoint
from robopg.runs.run_dir import RunRecord
from robopg.train.trainer import Trainer

from ..conftest import tiny_config

runner = CliRunner()


@pytest.fixture(scope="module")
def second_seed(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny run's config with seed 1: together with tiny_run, one group of two seeds."""
    result = Trainer(
        tiny_config(tmp_path_factory.mktemp("seed1"), seed=1), show_progress=False
    ).train()
    assert result.run_dir is not None
    return result.run_dir


def test_plot_writes_a_png_of_the_asked_size_that_is_not_blank(
    tiny_run: Path, second_seed: Path, tmp_path: Path
) -> None:
    mpimg = pytest.importorskip("matplotlib.image", reason="needs the robopg[plot] extra")
    out = tmp_path / "figs" / "curve.png"
    args = ["plot", str(tiny_run), str(second_seed), "--out", str(out), "--width", "900"]
    result = runner.invoke(app, [*args, "--height", "600"])
    assert result.exit_code == 0, result.output
    assert "reacher (2 runs)" in result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = mpimg.imread(out)
    assert pixels.shape[:2] == (600, 900)
    rgb = pixels[..., :3]
    ink = (rgb < 0.9).any(axis=-1).mean()  # not-white share of the image
    assert 0.03 < ink < 0.6, ink
    colors = np.unique((rgb * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colors) > 50  # curves, bands, text: not a flat image


def test_plot_takes_a_folder_of_runs_and_rejects_nonsense(tiny_run: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "c.png"
    result = runner.invoke(app, ["plot", str(tiny_run.parent), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 10_000
    result = runner.invoke(app, ["plot", str(tmp_path / "missing"), "--out", str(out)])
    assert result.exit_code == 2
    assert "does not exist" in " ".join(result.output.split())
    assert "Traceback" not in result.output


def _record(name: str, seed: int, lr: float, returns: list[float]) -> RunRecord:
    rows = [
        {"time/env_steps": 100 * (i + 1), "rollout/ep_return_mean": r}
        for i, r in enumerate(returns)
    ]
    config = {"env": "reacher", "seed": seed, "lr": lr, "out": f"/x/{name}"}
    return RunRecord(Path(name), config, rows)


def test_runs_group_by_settings_other_than_seed() -> None:
    runs = [
        _record("a", 0, 0.003, [-10.0, -8.0, -6.0]),
        _record("b", 1, 0.003, [-12.0, -10.0, -4.0]),
        _record("c", 0, 0.001, [-11.0, -11.0]),
    ]
    groups = group_runs(runs)
    assert [g.label for g in groups] == ["reacher lr=0.003 (2 runs)", "reacher lr=0.001 (1 run)"]
    curve = mean_curve(groups[0].runs, "rollout/ep_return_mean")
    assert curve is not None
    steps, mean, std = curve
    assert steps.tolist() == [100, 200, 300]
    assert mean.tolist() == [-11.0, -9.0, -5.0]
    assert std.tolist() == [1.0, 1.0, 1.0]
    assert mean_curve(groups[0].runs, "eval/return_mean") is None


def test_info_summarises_a_run(tiny_run: Path) -> None:
    result = runner.invoke(app, ["info", str(tiny_run)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    final = load_checkpoint(tiny_run / "final.safetensors").meta["eval"]
    assert "reacher · finished" in result.output
    assert "1,600 of 1,600 env steps, 4 updates" in result.output
    expect = f"final      {final['mean']:.3f} ± {final['stderr']:.3f} (standard error) over 3"
    assert expect in result.output
    assert "step_0000000800.safetensors  800 steps" in result.output
    assert "steps_per_batch=400" in result.output

    data = json.loads(runner.invoke(app, ["info", str(tiny_run), "--json"]).output)
    rows = [json.loads(x) for x in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    evals = [r["eval/return_mean"] for r in rows if r["eval/return_mean"] is not None]
    assert data["env_steps"] == 1600 and data["updates"] == 4 and data["finished"]
    assert data["best_eval"]["return_mean"] == max(evals)
    assert data["last_eval"] == {"env_steps": 1600, "return_mean": final["mean"]}
    split = data["time_split"]
    for name in ("time/collect_s", "time/update_s", "time/update_policy_s", "time/eval_s"):
        assert split[name] == pytest.approx(sum(r[name] or 0.0 for r in rows), rel=1e-9)
    per_update = 1e3 * split["time/collect_s"] / 4
    assert f"time       per update: collect {per_update:.1f} ms" in result.output
    assert "besides training: evaluation" in result.output
    names = [(Path(c["path"]).name, c["env_steps"]) for c in data["checkpoints"]]
    assert names == [
        ("step_0000000800.safetensors", 800),
        ("step_0000001600.safetensors", 1600),
        ("final.safetensors", 1600),
    ]


def test_info_on_an_unfinished_run_says_how_to_resume(tmp_path: Path) -> None:
    run = tmp_path / "reacher-x"
    (run / "checkpoints").mkdir(parents=True)
    (run / "metrics.jsonl").write_text('{"time/update": 1, "time/env_steps": 400}\n{"time/up')
    (run / "checkpoints" / "step_0000000400.safetensors").write_bytes(b"garbage")
    result = runner.invoke(app, ["info", str(run)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert f"not finished (robopg train --resume {run})" in result.output
    assert "per update:" not in result.output  # a run from before the split: no time line
    assert "step_0000000400.safetensors  unreadable" in result.output
    result = runner.invoke(app, ["info", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "not a run directory" in " ".join(result.output.split())
