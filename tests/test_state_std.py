"""State-dependent σ (``--std state``): the same diagonal Gaussian maths as torch's Normal, a
bounded head, the mean as the deterministic action everywhere a policy is deployed, and old
checkpoints untouched."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from robopg.algo.net_config import NetConfig
from robopg.algo.policy import GaussianPolicy
from robopg.cli import app
from robopg.deploy.controller import Controller
from robopg.runs.checkpoint import load_checkpoint
from robopg.runs.format import META_KEY
from robopg.runs.saved_policy import load_policy

from .conftest import tiny_variance_settings

STATE = NetConfig(obs_dim=5, act_dim=3, std="state", log_std_min=-4.0, log_std_max=0.5)


def varied_policy(seed: int = 0) -> GaussianPolicy:
    """A state-σ policy whose σ really depends on s (the fresh head is nearly constant)."""
    torch.manual_seed(seed)
    policy = GaussianPolicy(STATE)
    with torch.no_grad():
        for p in policy.log_std_net.parameters():
            p.add_(torch.randn_like(p))
        policy.obs_norm.update(torch.randn(100, 5) * 3 + 1)
    return policy


def test_log_prob_and_entropy_equal_torch_normal_per_state() -> None:
    policy = varied_policy()
    obs, actions = torch.randn(64, 5), torch.randn(64, 3)
    sigma = policy.log_std_of(obs).exp()
    assert sigma.std(0).min() > 1e-3  # σ varies with the state
    ref = torch.distributions.Normal(policy.mean_action(obs), sigma)
    torch.testing.assert_close(policy.log_prob(obs, actions), ref.log_prob(actions).sum(-1))
    torch.testing.assert_close(policy.entropy(obs), ref.entropy().sum(-1).mean())
    torch.testing.assert_close(policy.distribution(obs).scale, sigma)
    with pytest.raises(ValueError, match="pass obs"):
        policy.entropy()


def test_fresh_head_starts_at_log_std_init_and_stays_in_bounds() -> None:
    torch.manual_seed(1)
    policy = GaussianPolicy(NetConfig(obs_dim=10, act_dim=2, std="state"))
    log_std = policy.log_std_of(torch.randn(256, 10))
    torch.testing.assert_close(log_std, torch.full_like(log_std, -0.5), atol=0.05, rtol=0)
    wild = varied_policy()
    with torch.no_grad():
        for p in wild.log_std_net.parameters():
            p.mul_(1e3)
    extreme = wild.log_std_of(torch.randn(512, 5) * 100)
    assert extreme.min() >= -4.0 and extreme.max() <= 0.5
    assert extreme.min() < -3.9 and extreme.max() > 0.4  # the bounds are reached, not clipped


def test_samples_have_the_state_sigma() -> None:
    policy = varied_policy(2)
    states = torch.randn(2, 5)
    gen = torch.Generator().manual_seed(3)
    for s in states:
        obs = s.expand(20000, 5)
        actions = policy.act(obs, generator=gen)
        torch.testing.assert_close(actions.std(0), policy.log_std_of(s).exp(), rtol=0.03, atol=0)
        torch.testing.assert_close(
            actions.mean(0), policy.mean_action(s), atol=0.03 * float(actions.std(0).max()), rtol=0
        )


def test_state_run_loads_into_controller_and_export(tiny_state_run: Path, tmp_path: Path) -> None:
    ckpt = load_checkpoint(tiny_state_run / "final.safetensors")
    assert ckpt.meta["net"]["std"] == "state" and ckpt.meta["format_version"] == 2
    assert not any(k == "policy.log_std" for k in ckpt.tensors)
    policy = load_policy(tiny_state_run).policy.double()
    ctrl = Controller.load(tiny_state_run)
    assert ctrl.std is None and ctrl.state_std is not None
    obs = np.random.default_rng(0).normal(size=(32, ctrl.obs_dim)) * 2
    with torch.no_grad():
        mean = policy.mean_action(torch.as_tensor(obs)).numpy()
        sigma = policy.log_std_of(torch.as_tensor(obs)).exp().numpy()
    np.testing.assert_allclose(ctrl.act_batch(obs), np.clip(mean, -1, 1), atol=1e-12)
    np.testing.assert_allclose(ctrl.std_batch(obs), sigma, rtol=1e-12)

    # A stochastic controller samples with σ(s): standardised noise is N(0, 1) per state.
    noisy = Controller.load(tiny_state_run, stochastic=True, seed=4)
    noisy.action_low, noisy.action_high = np.full(2, -np.inf), np.full(2, np.inf)  # no clipping
    one = np.repeat(obs[:1], 20000, axis=0)
    z = (noisy.act_batch(one) - mean[:1]) / sigma[:1]
    np.testing.assert_allclose(z.std(0), 1.0, atol=0.03)
    np.testing.assert_allclose(z.mean(0), 0.0, atol=0.03)

    out = tmp_path / "state.onnx"
    result = CliRunner().invoke(app, ["export", str(tiny_state_run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    import onnxruntime as ort

    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(
        ["action"], {"obs": obs.astype(np.float32)}
    )[0]
    np.testing.assert_allclose(got, ctrl.act_batch(obs.astype(np.float32)), atol=1e-5)


@pytest.mark.parametrize("task", ["reacher", "pusher", "reacher3", "arm7"])
def test_shipped_policies_predate_state_std_and_act_as_before(task: str) -> None:
    """reacher's shipped header has no ``std`` field (the backward-compatible path for
    files written without it); pusher, reacher3 and arm7 say ``param``.
    All are format 1, load as ``param``, and the numpy controller gives the torch policy's
    actions."""
    path = Path(__file__).resolve().parents[1] / "policies" / f"{task}.safetensors"
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        header = json.loads(f.metadata()[META_KEY])
    assert header["format_version"] == 1
    if task != "reacher":
        assert header["net"]["std"] == "param"
    else:  # the backward-compatible path: a header written before the field existed
        assert "std" not in header["net"]
    policy = load_policy(task).policy.double()
    assert not policy.state_std
    ctrl = Controller.load(task)
    obs = np.random.default_rng(1).normal(size=(16, ctrl.obs_dim))
    with torch.no_grad():
        mean = policy.mean_action(torch.as_tensor(obs)).numpy()
    np.testing.assert_allclose(
        ctrl.act_batch(obs), np.clip(mean, -ctrl.action_high, ctrl.action_high), atol=1e-12
    )
    np.testing.assert_array_equal(ctrl.std_batch(obs)[0], np.exp(policy.log_std.detach().numpy()))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--std", "tanh"], "--std must be one of param, state, got 'tanh'."),
        (["--std", "state", "--log-std-init", "2"], "must lie strictly between --log-std-min"),
    ],
)
def test_bad_std_options_are_one_sentence(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["train", "reacher", *args])
    assert result.exit_code == 2
    assert message in result.output.replace("\n", "")


def test_variance_works_at_a_state_sigma_policy(tiny_state_run: Path) -> None:
    from robopg.variance import run_variance

    report = run_variance(str(tiny_state_run), tiny_variance_settings())
    assert report.task == "reacher" and {r.repeats for r in report.rows} == {6, 3}
    assert all(
        np.isfinite(r.total_variance.value) and r.total_variance.value > 0 for r in report.rows
    )
