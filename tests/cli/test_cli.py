"""The CLI end to end through Typer's CliRunner: train, eval, envs, and clear errors."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from robopg.cli import app

runner = CliRunner()
TINY = ["--steps", "800", "--num-envs", "4", "--steps-per-batch", "200", "--eval-episodes", "2"]


def test_train_writes_run_directory_and_eval_reads_it(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "reacher", *TINY, "--out", str(tmp_path), "--quiet"])
    assert result.exit_code == 0, result.output
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name.startswith("reacher-")
    assert json.loads((run_dir / "config.json").read_text())["steps_per_batch"] == 200
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 4
    assert (run_dir / "final.safetensors").is_file()

    result = runner.invoke(app, ["eval", str(run_dir), "--episodes", "3"])
    assert result.exit_code == 0, result.output
    assert "over 3 episodes, deterministic" in result.output.replace("\n", "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "reachr"], "Unknown task 'reachr'. Did you mean 'reacher'?"),
        (["train", "reacher", "--gamma", "1.5"], "--gamma must be in [0, 1], got 1.5."),
        (["train", "reacher", "--steps", "0"], "--steps must be a positive"),
        (["train", "reacher", "--steps-per-batch", "100", "--num-envs", "32"], "multiple"),
        (["train", "reacher", "--baseline", "median"], "--baseline must be one of"),
        (["eval", "/no/such/run"], "is not a checkpoint file, a run directory or a task name"),
        (["train", "reacher", "--seed", "-1"], "--seed must be an integer in [0, 2^31), got -1"),
        (["train", "reacher", "--steps", "1e6x"], "--steps must be a whole number like 1000000"),
        (["train", "reacher", "--steps", "1.5"], "--steps must be a whole number"),
        (["train", "reacher", "--preset", "pusher"], "Preset 'pusher' is tuned for pusher, not"),
    ],
)
def test_bad_input_is_one_clear_sentence(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_unwritable_out_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(app, ["train", "reacher", *TINY, "--out", str(blocker / "sub")])
    assert result.exit_code == 2
    assert "writable" in result.output and "Traceback" not in result.output


def test_envs_lists_tasks_with_sizes() -> None:
    result = runner.invoke(app, ["envs"])
    assert result.exit_code == 0
    assert "Reacher-v5" in result.output and "Pusher-v5" in result.output
    assert "batch, gym" in result.output  # the engines each task has, from its spec


def test_envs_fits_an_80_column_terminal_uncut() -> None:
    """rich shortens cells with "…" when a table is wider than the console; at 80 columns every
    cell of every row must still be whole, the longest gym id and engine list included."""
    from robopg.envs import task_rows

    result = runner.invoke(app, ["envs"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    table = result.output.split("reacher:")[0]  # the table, before the descriptions
    assert "…" not in table
    for row in task_rows():
        line = next(ln for ln in table.splitlines() if ln.split()[:1] == [row["task"]])
        assert len(line.rstrip()) <= 80
        for key in ("gym id", "obs", "action", "episode", "engines", "solved"):
            assert str(row[key]) in line, (key, line)


def test_train_help_comes_from_the_config() -> None:
    result = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--steps-per-batch" in result.output and "Discount factor" in result.output


def test_python_dash_m_works_from_the_repository_root() -> None:
    """`python -m robopg` (what torchrun -m runs) must not trip over the unmapped ./robopg."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-m", "robopg", "envs"], cwd=root, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "Reacher-v5" in proc.stdout
