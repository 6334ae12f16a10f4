"""TrainConfig's field forms: None for "not set", layer sizes as a tuple of ints, and every older
spelling still read — in TOML files, on the command line, and in run directories written before
(``tests/fixtures/old-run``: config.json, metrics and a periodic checkpoint written by the robopg
whose config held ``value_lam = -1.0``, ``value_hidden = ""`` and ``hidden = "4"``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from robopg.cli import app
from robopg.config import TrainConfig, resolve_config
from robopg.errors import ConfigError
from robopg.train.trainer import Trainer, resume_config

OLD_RUN = Path(__file__).resolve().parents[1] / "fixtures" / "old-run"
runner = CliRunner()


def test_not_set_is_none_and_sizes_are_tuples() -> None:
    cfg = TrainConfig()
    assert (cfg.value_lam, cfg.value_hidden, cfg.value_activation) == (None, None, None)
    assert cfg.hidden == (64, 64)
    assert cfg.value_targets_lam() == cfg.lam == 0.95
    assert cfg.value_hidden_sizes() == (64, 64) and cfg.value_activation_name() == "tanh"
    saved = cfg.to_dict()  # what config.json and checkpoints hold
    assert saved["hidden"] == [64, 64] and saved["value_hidden"] is None
    assert saved["value_lam"] is None and saved["value_activation"] is None
    assert TrainConfig.from_dict(json.loads(json.dumps(saved))) == cfg


@pytest.mark.parametrize(
    "text",
    [
        'hidden = [32, 16]\nvalue_hidden = [8]\nvalue_lam = 0.9\nvalue_activation = "relu"\n',
        'hidden = "32,16"\nvalue_hidden = "8"\nvalue_lam = 0.9\nvalue_activation = "relu"\n',
    ],
)
def test_toml_lists_and_strings_give_the_same_sizes(tmp_path: Path, text: str) -> None:
    file = tmp_path / "c.toml"
    file.write_text(text)
    cfg = resolve_config({}, config_file=file)
    assert (cfg.hidden, cfg.value_hidden) == ((32, 16), (8,))
    assert (cfg.value_lam, cfg.value_activation) == (0.9, "relu")


def test_old_unset_spellings_read_as_none(tmp_path: Path) -> None:
    file = tmp_path / "c.toml"
    file.write_text('value_lam = -1\nvalue_hidden = ""\nvalue_activation = ""\n')
    preset = resolve_config({}, preset="pusher")  # sets all three
    assert (preset.value_lam, preset.value_hidden, preset.value_activation) == (0.9, None, "tanh")
    cfg = resolve_config({}, preset="pusher", config_file=file)  # the old spellings unset them
    assert (cfg.value_lam, cfg.value_hidden, cfg.value_activation) == (None, None, None)
    assert cfg.value_targets_lam() == cfg.lam and cfg.value_hidden_sizes() == (128, 128)
    built = TrainConfig(value_lam=-1.0, value_hidden="  ", hidden="8,8")  # type: ignore[arg-type]
    assert (built.value_lam, built.value_hidden, built.hidden) == (None, None, (8, 8))


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"hidden": "64,x"}, "hidden must be comma-separated positive layer sizes like '64,64', "
         "got '64,x'."),
        ({"hidden": [64, 0]}, "hidden must be comma-separated positive layer sizes like '64,64', "
         "got '64,0'."),
        ({"value_hidden": [64, "a"]}, "Setting 'value_hidden' in the command line must be layer "
         "sizes like [64, 64] or '64,64', got [64, 'a']."),
        ({"value_lam": -0.5}, "--value-lam must be in [0, 1] (or -1: --lam), got -0.5."),
        ({"value_lam": "x"}, "Setting 'value_lam' in the command line must be float, got 'x'."),
        ({"steps": None}, None),  # None from the command line means "not given"
    ],
)  # fmt: skip
def test_bad_forms_are_one_sentence(setting: dict[str, object], message: str | None) -> None:
    if message is None:
        assert resolve_config(setting).steps == TrainConfig().steps
        return
    with pytest.raises(ConfigError) as info:
        resolve_config(setting)
    assert str(info.value) == message


def test_cli_takes_comma_sizes_and_the_old_unset_values(tmp_path: Path) -> None:
    file = tmp_path / "c.toml"
    file.write_text('value_lam = 0.9\nvalue_hidden = [8]\nvalue_activation = "relu"\n')
    out = tmp_path / "runs"
    args = ["train", "reacher", "--config", str(file), "--steps", "400", "--quiet"]
    args += ["--num-envs", "4", "--steps-per-batch", "200", "--final-eval-episodes", "2"]
    args += ["--device", "cpu", "--out", str(out), "--hidden", "16,8"]
    args += ["--value-lam", "-1", "--value-hidden", "", "--value-activation", ""]
    result = runner.invoke(app, args, env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    (run_dir,) = out.iterdir()
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["hidden"] == [16, 8]
    assert [saved[k] for k in ("value_lam", "value_hidden", "value_activation")] == [None] * 3
    bad = runner.invoke(app, ["train", "--hidden", "64,x", "--out", str(out)])
    assert bad.exit_code == 2
    assert "hidden must be comma-separated positive layer sizes like '64,64', got '64,x'." in (
        " ".join(bad.output.split())
    )


def test_old_config_json_is_a_valid_config() -> None:
    cfg = resolve_config({}, config_file=OLD_RUN / "config.json")
    assert json.loads((OLD_RUN / "config.json").read_text())["value_lam"] == -1.0  # old form
    assert cfg.hidden == (4,) and cfg.value_hidden_sizes() == (4,)
    assert (cfg.value_lam, cfg.value_hidden, cfg.value_activation) == (None, None, None)
    assert cfg.seed == 3 and cfg.num_envs == 2 and cfg.steps_per_batch == 100


def _learning_fields(row: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in row.items() if not k.startswith("time/")}


def test_old_run_resumes_bit_exactly_and_evaluates(tmp_path: Path) -> None:
    """The old run trained 4 updates and checkpointed after 2; resuming that checkpoint with
    today's code must give the old run's updates 3 and 4 exactly (final evaluation included)."""
    run = tmp_path / "old-run"
    shutil.copytree(OLD_RUN, run)
    rows = [json.loads(line) for line in (OLD_RUN / "metrics.jsonl").read_text().splitlines()]
    assert [r["time/update"] for r in rows] == [1, 2, 3, 4]
    # as a run killed after update 2 leaves it
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))

    info = runner.invoke(app, ["info", str(run)], env={"COLUMNS": "300"})
    assert info.exit_code == 0, info.output
    assert "reacher" in info.output and "value_lam=-1.0" in info.output
    evaluated = runner.invoke(app, ["eval", str(run), "--episodes", "2"])
    assert evaluated.exit_code == 0, evaluated.output
    assert "step_0000000200.safetensors" in evaluated.output and "over 2 episodes" in (
        evaluated.output
    )

    cfg = resume_config(run, {})
    assert cfg.hidden == (4,) and cfg.value_lam is None
    result = Trainer(cfg, show_progress=False, resume=run).train()
    assert result.env_steps == 400 and not result.interrupted
    resumed = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["time/update"] for r in resumed] == [1, 2, 3, 4]
    for old, new in zip(rows[2:], resumed[2:], strict=True):
        assert _learning_fields(new) == _learning_fields(old)
    assert resumed[3]["eval/return_mean"] is not None
