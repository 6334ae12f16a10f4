"""What users expect of a CLI: help that reads, -h, --version, completion, a bare call that
succeeds, a resume that updates the run, and progress text that says what it means."""

import io
import json
import math
import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import typer.main
from rich.console import Console
from typer.testing import CliRunner

from robopg.cli import app, budget_text
from robopg.config import PANELS, TrainConfig
from robopg.runs.metrics import TrainingProgress

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
WIDE = {"COLUMNS": "300"}


def _commands() -> dict[str, typer.core.TyperCommand]:
    return dict(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def _flat(text: str) -> str:
    """Rendered help as one line: box borders dropped, whitespace runs made one space."""
    return " ".join(text.replace("│", " ").split())


def _unescaped(text: str) -> str:
    return text.replace("\\[", "[")


def test_every_bracketed_text_of_every_help_survives_rendering() -> None:
    """Rich markup eats ``[gpu]`` in ``robopg[gpu]`` unless the help escapes it."""
    seen: set[str] = set()
    for name, command in _commands().items():
        result = runner.invoke(app, [name, "--help"], env=WIDE)
        assert result.exit_code == 0, (name, result.output)
        shown = _flat(result.output)
        texts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
        for text in texts:
            for bracketed in re.findall(r"\[[^\]]*\]", _unescaped(text)):
                seen.add(bracketed)
                assert bracketed in shown, (name, bracketed)
    assert {"[gpu]", "[tb]", "[0, 1]"} <= seen  # the test looked at the texts that need it


def test_train_options_are_grouped_in_the_config_panels_in_order() -> None:
    result = runner.invoke(app, ["train", "--help"], env=WIDE)
    assert result.exit_code == 0
    titles = re.findall(r"╭─ (.+?) ─", result.output)
    assert titles == ["Arguments", "Options", *PANELS]
    for field in TrainConfig.__dataclass_fields__.values():
        assert field.metadata["panel"] in PANELS, field.name
    # one option under its panel: --gamma sits between "Algorithm" and "Networks"
    algorithm = result.output.split("╭─ Algorithm")[1].split("╭─ Networks")[0]
    assert "--gamma" in algorithm and "--hidden" not in algorithm
    assert "[default: 0.99]" in _flat(algorithm)  # the real default, in Typer's own style


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        ("eval", "Usage: robopg eval [OPTIONS] SOURCE"),
        ("export", "Usage: robopg export [OPTIONS] SOURCE"),
        ("train", "Usage: robopg train [OPTIONS] [ENV]"),
        ("plot", "Usage: robopg plot [OPTIONS] RUNS..."),
        ("variance", "Usage: robopg variance [OPTIONS] TASK_OR_RUN"),
    ],
)
def test_usage_lines_name_the_arguments(command: str, usage: str) -> None:
    result = runner.invoke(app, [command, "--help"], env=WIDE, prog_name="robopg")
    assert usage in result.output


def test_dash_h_is_help_on_every_command() -> None:
    for name in ["", *_commands()]:
        args = [name, "-h"] if name else ["-h"]
        result = runner.invoke(app, args, env=WIDE, prog_name="robopg")
        assert result.exit_code == 0, (name, result.output)
        assert f"Usage: robopg {name}".rstrip() in result.output


def test_version_option_and_command_print_the_installed_version() -> None:
    expected = f"robopg {version('robopg')}\n"
    for args in (["--version"], ["-V"], ["version"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0
        assert result.output == expected


def _cli(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "robopg", *args],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_bare_robopg_prints_the_help_and_succeeds() -> None:
    proc = _cli([], COLUMNS="200")
    assert proc.returncode == 0, proc.stderr
    assert "Usage: robopg [OPTIONS] COMMAND [ARGS]..." in proc.stdout
    assert "train" in proc.stdout and "--install-completion" in proc.stdout


def test_shell_completion_script_and_completions() -> None:
    script = _cli(["--show-completion", "bash"])
    assert script.returncode == 0, script.stderr
    assert "_ROBOPG_COMPLETE=complete_bash" in script.stdout
    assert "complete -o default -F _robopg_completion robopg" in script.stdout
    command = _cli([], _ROBOPG_COMPLETE="complete_bash", COMP_WORDS="robopg tra", COMP_CWORD="1")
    assert command.stdout.split() == ["train"]
    flag = _cli(
        [], _ROBOPG_COMPLETE="complete_bash", COMP_WORDS="robopg train --num-e", COMP_CWORD="2"
    )
    assert flag.stdout.split() == ["--num-envs"]


def test_variance_defaults_in_the_help_are_the_settings_defaults() -> None:
    """The variance options show their defaults; they must be VarianceSettings' own."""
    from robopg.variance.settings import VarianceSettings, resolve_settings

    params = {p.name: p.default for p in _commands()["variance"].params}
    shown = resolve_settings(
        False, {k: params[k] for k in ("episodes", "batch_episodes", "gammas", "lams", "seed")}
    )
    assert shown == VarianceSettings()
    assert params["reference_episodes"] == VarianceSettings().reference_episodes
    assert params["value_episodes"] == VarianceSettings().value_episodes


def test_budget_text_says_when_steps_round_up_to_whole_batches() -> None:
    assert budget_text(2000, 3, 800) == "2,400 steps (2,000 rounded up to 3 batches of 800)"
    assert budget_text(1_000_000, 1250, 800) == "1,000,000 steps (1,250 batches of 800)"
    assert budget_text(500, 1, 800) == "800 steps (500 rounded up to 1 batch of 800)"


def test_progress_line_shows_a_dash_until_an_episode_has_ended() -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=False)
    with TrainingProgress(1000, 0, console, enabled=True) as progress:
        progress.update(100, 5000.0, math.nan, 0.6)
        progress.update(1000, 5000.0, -12.3456, 0.5)
    first, last = out.getvalue().splitlines()
    assert "return         —  σ 0.600" in first and "nan" not in first
    assert "return   -12.346  σ 0.500" in last


def test_resume_with_more_steps_records_them_and_info_agrees(tmp_path: Path) -> None:
    tiny = ["--num-envs", "4", "--steps-per-batch", "400", "--final-eval-episodes", "2"]
    first = runner.invoke(
        app,
        ["train", "reacher", "--steps", "1800", *tiny, "--out", str(tmp_path), "--quiet"],
        env=WIDE,
    )
    assert first.exit_code == 0, first.output
    assert "2,000 steps (1,800 rounded up to 5 batches of 400)" in _flat(first.output)
    (run,) = tmp_path.iterdir()
    assert json.loads((run / "config.json").read_text())["steps"] == 1800
    inode = (run / "config.json").stat().st_ino

    resumed = runner.invoke(
        app, ["train", "--resume", str(run), "--steps", "4000", "--quiet"], env=WIDE
    )
    assert resumed.exit_code == 0, resumed.output
    assert "4,000 steps (10 batches of 400)" in _flat(resumed.output)
    config = json.loads((run / "config.json").read_text())
    assert config["steps"] == 4000
    assert config["steps_per_batch"] == 400  # the rest of the run's settings kept
    # written atomically: a new file renamed over the old one, no temp file left behind
    assert (run / "config.json").stat().st_ino != inode
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]

    info = runner.invoke(app, ["info", str(run)], env=WIDE)
    assert info.exit_code == 0, info.output
    assert "progress   4,000 of 4,000 env steps" in info.output
