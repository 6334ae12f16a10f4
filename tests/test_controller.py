"""Controller: numpy only at call time, seeded stochastic actions, loading by task name."""

import builtins
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from robopg.controller import Controller


def test_acting_never_imports_torch(tiny_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctrl = Controller.load(tiny_run)
    real_import = builtins.__import__

    def no_torch(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is not available at call time")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    obs = np.random.default_rng(0).normal(size=(5, ctrl.obs_dim))
    actions = ctrl.act_batch(obs)
    assert actions.shape == (5, 2) and actions.dtype == np.float64
    assert all(isinstance(w, np.ndarray) for w in [*ctrl.weights, *ctrl.biases, ctrl.obs_mean])


def test_stochastic_actions_are_seeded_and_centred_on_the_mean() -> None:
    mean_ctrl = Controller.load("reacher")
    obs = np.random.default_rng(1).normal(size=(1, mean_ctrl.obs_dim))
    a = Controller.load("reacher", stochastic=True, seed=7)
    b = Controller.load("reacher", stochastic=True, seed=7)
    c = Controller.load("reacher", stochastic=True, seed=8)
    many = np.repeat(obs, 4000, axis=0)
    sa, sb, sc = a.act_batch(many), b.act_batch(many), c.act_batch(many)
    np.testing.assert_array_equal(sa, sb)
    assert not np.array_equal(sa, sc)
    mean = mean_ctrl.act(obs[0])
    assert np.all(np.abs(mean) < 0.8)  # far from the bounds, so clipping barely biases the mean
    np.testing.assert_allclose(sa.mean(0), mean, atol=4 * mean_ctrl.std.max() / np.sqrt(4000))


def test_wrong_observation_size_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"expects observations of shape \(N, 10\)"):
        Controller.load("reacher").act(np.zeros(23))
