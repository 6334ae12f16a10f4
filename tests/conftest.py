"""Shared fixtures (a tiny trained run directory, built once per test session) and the tiers.

Tests live in folders by kind; each folder's markers are applied here, so `pytest -m "not slow"`
is the inner loop while editing (unit, engines, cli) and plain `pytest` runs everything:

    unit/      pure functions and small objects       engines/   envs, controllers, eval
    cli/       the command line, export, packaging    render/    videos, the viewer   (slow)
    training/  resume, signals, torchrun, tune (slow) warp/      MuJoCo Warp on CPU   (slow)
    learning/  training improves the return   (slow)  gpu/       CUDA only            (gpu)
"""

import sys
from pathlib import Path

import pytest

from robopg.config import TrainConfig
from robopg.train.trainer import Trainer
from robopg.variance import VarianceSettings

# Shared test problems (tests/helpers/*.py) import as plain modules, e.g. `linear_gaussian`.
sys.path.insert(0, str(Path(__file__).resolve().parent / "helpers"))

#: markers each test folder gives its tests
FOLDER_MARKERS: dict[str, tuple[str, ...]] = {
    "render": ("slow",),
    "training": ("slow",),
    "warp": ("slow",),
    "learning": ("slow",),
    "gpu": ("gpu",),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for marker in FOLDER_MARKERS.get(item.path.parent.name, ()):
            item.add_marker(marker)


TINY = {
    "env": "reacher",
    "steps": 1600,
    "num_envs": 8,
    "steps_per_batch": 400,
    "eval_episodes": 3,
    "final_eval_episodes": 3,
    "checkpoint_every": 2,
    "device": "cpu",
}


def tiny_variance_settings() -> VarianceSettings:
    """The smallest ``robopg variance`` study that still has two batch sizes to compare."""
    return VarianceSettings(
        episodes=6,
        reference_episodes=4,
        value_episodes=2,
        batch_episodes=(1, 2),
        gammas=(0.99,),
        lams=(1.0,),
        value_epochs=1,
        num_envs=6,
    )


def tiny_config(out: Path, **overrides: object) -> TrainConfig:
    return TrainConfig().updated({**TINY, "out": str(out), **overrides}, "test")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 4-update reacher run (final.safetensors + periodic checkpoints)."""
    out = tmp_path_factory.mktemp("runs")
    result = Trainer(tiny_config(out), show_progress=False).train()
    assert result.run_dir is not None
    return result.run_dir


@pytest.fixture(scope="session")
def tiny_state_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same 4-update reacher run with a state-dependent σ (``--std state``)."""
    out = tmp_path_factory.mktemp("runs-state")
    result = Trainer(tiny_config(out, std="state"), show_progress=False).train()
    assert result.run_dir is not None
    return result.run_dir
