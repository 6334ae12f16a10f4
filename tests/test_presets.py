"""Shipped presets and the precedence defaults ← preset ← --config file ← flags."""

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from robopg.cli import app
from robopg.config import RUN_RECORDS, TrainConfig, load_preset, preset_names, resolve_config
from robopg.errors import ConfigError

TASKS = ["reacher", "pusher", "reacher3", "arm7", "panda-reach", "panda-push"]


def test_one_preset_per_task_plus_reacher_fast() -> None:
    assert set(TASKS) | {"reacher-fast"} <= set(preset_names())


#: the presets that are not named after their task alone: a variant of it
VARIANTS = {"reacher-fast": "reacher", "reacher-gpu": "reacher", "pusher-gpu": "pusher"}


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_is_a_valid_config_for_its_task(name: str) -> None:
    cfg = TrainConfig.from_dict(load_preset(name), source=name).validate()
    assert cfg.env == VARIANTS.get(name, name)
    # Batch ends fall at the same step of every episode: an update takes whole episodes per
    # env, or an episode spans a whole number of updates (the defaults' 25 of Reacher's 50).
    episode = {"reacher": 50, "reacher3": 50, "panda-reach": 150, "panda-push": 200}.get(
        cfg.env, 100
    )
    aligned = cfg.rollout_len % episode == 0 or episode % cfg.rollout_len == 0
    assert aligned, (cfg.rollout_len, episode)


def test_a_preset_with_a_base_takes_every_setting_it_does_not_set_from_it() -> None:
    gpu, pusher = load_preset("pusher-gpu"), load_preset("pusher")
    # what pusher-gpu.toml sets itself (antithetic pairs need a numpy engine)
    own = {"env", "steps", "num_envs", "steps_per_batch", "lr", "antithetic"}
    assert "base" not in gpu and set(gpu) == set(pusher)
    assert {k: v for k, v in gpu.items() if k not in own} == {
        k: v for k, v in pusher.items() if k not in own
    }
    assert (gpu["num_envs"], gpu["steps_per_batch"], gpu["lr"]) == (1024, 102_400, 2e-3)
    assert pusher["antithetic"] is True and gpu["antithetic"] is False


def test_a_base_cycle_or_unknown_base_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import robopg.config as config

    (tmp_path / "a.toml").write_text('base = "b"\nlr = 1e-3\n')
    (tmp_path / "b.toml").write_text('base = "a"\nlam = 0.9\n')
    (tmp_path / "c.toml").write_text('base = "nowhere"\n')
    monkeypatch.setattr(config.resources, "files", lambda package: tmp_path)
    with pytest.raises(ConfigError, match="Shipped presets a → b → a form a cycle"):
        load_preset("a")
    with pytest.raises(ConfigError, match="Unknown preset 'nowhere'"):
        load_preset("c")


def test_precedence_defaults_preset_config_flags(tmp_path: Path) -> None:
    defaults, fast = TrainConfig(), load_preset("reacher-fast")
    assert fast["steps"] != defaults.steps and fast["eval_every"] != defaults.eval_every
    file = tmp_path / "exp.toml"
    file.write_text("steps = 5000\ngamma = 0.95\nlam = 0.9\nhidden = [32, 32]\n")

    cfg = resolve_config(
        {"env": "reacher", "gamma": 0.9, "seed": None}, preset="fast", config_file=file
    )
    assert cfg.eval_every == fast["eval_every"]  # preset over default
    assert cfg.steps == 5000  # config file over preset
    assert cfg.lam == 0.9 and cfg.hidden == "32,32"  # config file over default
    assert cfg.gamma == 0.9  # flag over config file
    assert cfg.seed == defaults.seed  # an option not given (None) changes nothing
    assert cfg.value_epochs == defaults.value_epochs  # nobody set it


def test_short_preset_name_is_looked_up_for_the_task() -> None:
    assert resolve_config({"env": "reacher"}, preset="fast").steps == 300_000
    assert resolve_config({"env": "pusher"}, preset="pusher").steps_per_batch == 1600
    with pytest.raises(ConfigError, match="Unknown preset 'fast'; available presets: arm7"):
        resolve_config({"env": "pusher"}, preset="fast")


def test_bad_config_file_is_one_sentence(tmp_path: Path) -> None:
    file = tmp_path / "bad.toml"
    file.write_text("lr = 'fast'\n")
    with pytest.raises(ConfigError, match=r"Setting 'lr' in .* must be float"):
        resolve_config({}, config_file=file)
    file.write_text("learning_rate = 0.1\n")
    with pytest.raises(ConfigError, match="Unknown setting 'learning_rate'"):
        resolve_config({}, config_file=file)


def test_cli_prints_and_saves_the_resolved_config(tmp_path: Path) -> None:
    file = tmp_path / "exp.toml"
    file.write_text("num_envs = 4\nsteps_per_batch = 200\nlam = 0.9\n")
    args = ["train", "reacher", "--preset", "fast", "--config", str(file), "--steps", "400"]
    args += ["--eval-episodes", "2", "--out", str(tmp_path / "runs"), "--quiet"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    printed = re.split(r"[,\s]+", result.output)  # rich wraps long lines
    for setting in ("steps=400", "lam=0.9", "num_envs=4", "eval_every=25", "gamma=0.99"):
        assert setting in printed, setting
    (run_dir,) = (tmp_path / "runs").iterdir()
    saved = json.loads((run_dir / "config.json").read_text())
    assert (saved["steps"], saved["lam"], saved["num_envs"], saved["eval_every"]) == (
        400,
        0.9,
        4,
        25,
    )
    # A run's config.json is itself a valid --config: the run can be repeated exactly.
    # config.json holds the settings and what the run records beside them (RUN_RECORDS)
    assert saved["backend"] == "numpy"
    settings = {k: v for k, v in saved.items() if k not in RUN_RECORDS}
    assert resolve_config({}, config_file=run_dir / "config.json").to_dict() == settings


def test_presets_command_lists_each_with_its_purpose() -> None:
    result = CliRunner().invoke(app, ["presets"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert set(lines) == set(preset_names())
    assert "Reacher in 300k steps" in lines["reacher-fast"]
    assert "Pusher-v5" in lines["pusher"]


def test_value_hidden_sizes_the_value_net_alone(tmp_path: Path) -> None:
    from robopg.train.trainer import Trainer

    from .conftest import tiny_config

    trainer = Trainer(tiny_config(tmp_path, value_hidden="16,8"), show_progress=False)
    assert trainer.value is not None
    widths = [m.out_features for m in trainer.value.net if hasattr(m, "out_features")]
    assert widths == [16, 8, 1]
    policy = [m.out_features for m in trainer.policy.mean_net if hasattr(m, "out_features")]
    assert policy[:-1] == list(trainer.cfg.hidden_sizes())
    trainer.env.close()
    assert TrainConfig().value_hidden_sizes() == TrainConfig().hidden_sizes()  # empty: same
    with pytest.raises(ConfigError, match="value_hidden must be comma-separated positive"):
        TrainConfig(value_hidden="16,x").validate()
