"""Controller: numpy only at call time, seeded stochastic actions, loading by task name."""

import builtins
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from robopg.deploy.controller import Controller


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


def test_loading_never_imports_torch() -> None:
    """A fresh interpreter loads and runs a controller with torch never imported."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from robopg.deploy.controller import Controller\n"
        "c = Controller.load('reacher')\n"
        "c.act(np.zeros(c.obs_dim))\n"
        "assert not [m for m in sys.modules if m == 'torch' or m.startswith('torch.')]\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_numpy_load_equals_the_torch_policy(tiny_run: Path) -> None:
    """The arrays read without torch are the torch policy's own, as float64, bit for bit."""
    import torch

    from robopg.algo.policy import GaussianPolicy
    from robopg.runs.saved_policy import load_policy

    saved = load_policy(tiny_run)
    policy: GaussianPolicy = saved.policy
    ctrl = Controller.load(tiny_run)
    linears = [m for m in policy.mean_net if isinstance(m, torch.nn.Linear)]
    for w, b, lin in zip(ctrl.weights, ctrl.biases, linears, strict=True):
        np.testing.assert_array_equal(w, lin.weight.detach().double().numpy())
        np.testing.assert_array_equal(b, lin.bias.detach().double().numpy())
    norm = policy.obs_norm
    assert (ctrl.obs_clip, norm.epsilon) == (norm.clip, 1e-8)  # net_config's constants
    np.testing.assert_array_equal(ctrl.obs_std, np.sqrt(norm.var.numpy() + norm.epsilon))
    np.testing.assert_array_equal(ctrl.std, np.exp(policy.log_std.detach().double().numpy()))
    obs = np.random.default_rng(2).normal(size=(16, ctrl.obs_dim))
    with torch.no_grad():  # the same float64 maths in torch: the layer order and names agree
        expected = policy.double().mean_action(torch.as_tensor(obs)).numpy()
    np.testing.assert_allclose(ctrl.act_batch(obs), np.clip(expected, -1, 1), atol=1e-12)


def test_a_checkpoint_of_another_network_is_one_clear_error(tiny_run: Path, tmp_path: Path) -> None:
    from robopg.errors import CheckpointError
    from robopg.runs.checkpoint import load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(tiny_run / "final.safetensors")
    ckpt.meta["net"]["hidden"] = [32, 32]
    save_checkpoint(tmp_path / "other.safetensors", ckpt)
    with pytest.raises(CheckpointError, match="saved for a different network"):
        Controller.load(tmp_path / "other.safetensors")
    del ckpt.tensors["policy.log_std"]
    save_checkpoint(tmp_path / "short.safetensors", ckpt)
    with pytest.raises(CheckpointError, match=r"missing \['log_std'\]"):
        Controller.load(tmp_path / "short.safetensors")
