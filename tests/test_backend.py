"""The fast path is chosen once per run, said at start and recorded in config.json."""

from __future__ import annotations

import json
from pathlib import Path

from robopg.config import TrainConfig, load_toml
from robopg.train.trainer import Trainer

from .conftest import tiny_config


def test_a_cpu_run_trains_with_the_numpy_backend_and_records_it(tmp_path: Path) -> None:
    trainer = Trainer(tiny_config(tmp_path, steps=800), show_progress=False)
    assert trainer.backend.name == "numpy"
    assert trainer.collector.make_sampler is trainer.backend.make_sampler  # type: ignore[union-attr]
    result = trainer.train()
    assert result.run_dir is not None
    config = json.loads((result.run_dir / "config.json").read_text())
    assert config["backend"] == "numpy"
    # a run's config.json repeats its settings as --config: the record is not a setting
    assert "backend" not in load_toml(result.run_dir / "config.json")
    assert TrainConfig.from_dict(load_toml(result.run_dir / "config.json")).steps == 800


def test_a_state_sigma_run_trains_with_the_torch_backend(tmp_path: Path) -> None:
    trainer = Trainer(tiny_config(tmp_path, steps=800, std="state"), show_progress=False)
    assert trainer.backend.name == "torch" and "--std state" in trainer.backend.reason
    result = trainer.train()
    assert result.run_dir is not None
    assert json.loads((result.run_dir / "config.json").read_text())["backend"] == "torch"
