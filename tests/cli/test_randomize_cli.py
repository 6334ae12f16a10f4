"""``robopg eval --randomize`` and ``robopg train --randomize``: scores under the same
perturbations, reproducibly; the run records the resolved settings."""

import json
from pathlib import Path

from typer.testing import CliRunner

from robopg.cli import app
from robopg.envs.randomize import load_settings

runner = CliRunner()
PANDA = load_settings("panda")
assert PANDA is not None


def test_eval_scores_under_randomization_and_refuses_an_unknown_preset(tmp_path: Path):
    args = ["eval", "panda-reach", "--episodes", "6", "--seed", "10"]
    first = runner.invoke(app, [*args, "--randomize", "panda"])
    assert first.exit_code == 0, first.output
    text = " ".join(first.output.split())
    assert "randomized (panda)" in text and "over 6 episodes" in text and "success" in text
    again = runner.invoke(app, [*args, "--randomize", "panda"])
    assert again.output == first.output  # episode i drawn from seed + i: reproducible
    nominal = runner.invoke(app, args)
    assert nominal.exit_code == 0 and "randomized" not in nominal.output
    assert nominal.output.splitlines()[1] != first.output.splitlines()[1]  # other returns
    # a user's file works like a preset
    own = tmp_path / "mine.toml"
    own.write_text("[motors]\nstrength_scale = [0.5, 0.5]\n")
    weak = runner.invoke(app, [*args, "--randomize", str(own)])
    assert weak.exit_code == 0 and f"randomized ({own})" in " ".join(weak.output.split())
    bad = runner.invoke(app, [*args, "--randomize", "pandas"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert "--randomize 'pandas' is neither a preset (panda) nor a TOML file" in " ".join(
        bad.output.split()
    )


def test_training_records_the_resolved_randomization_in_config_json(tmp_path: Path):
    tiny = ["--steps", "300", "--num-envs", "2", "--steps-per-batch", "150"]
    result = runner.invoke(
        app,
        [
            "train",
            "panda-reach",
            *tiny,
            "--final-eval-episodes",
            "2",
            "--randomize",
            "panda",
            "--out",
            str(tmp_path),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    (run_dir,) = tmp_path.iterdir()
    config = json.loads((run_dir / "config.json").read_text())
    assert config["randomize"] == "panda"
    assert config["randomization"] == PANDA.to_dict()
    assert config["randomization"]["link_mass"] == [0.8, 1.2]
