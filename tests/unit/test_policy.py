"""The Gaussian policy agrees with torch.distributions and starts where the design says."""

import math

import numpy as np
import torch

from robopg.algo.activations import ACTIVATIONS as TABLE
from robopg.algo.normalize import RunningMeanStd
from robopg.algo.policy import ACTIVATIONS as TORCH_ACTIVATIONS
from robopg.algo.policy import GaussianPolicy, NetConfig
from robopg.config import ACTIVATIONS as CONFIG_ACTIVATIONS


def make_policy(seed: int = 0) -> GaussianPolicy:
    torch.manual_seed(seed)
    policy = GaussianPolicy(NetConfig(obs_dim=5, act_dim=3))
    with torch.no_grad():
        policy.log_std.copy_(torch.tensor([-0.3, 0.1, -1.2]))
        policy.obs_norm.update(torch.randn(100, 5) * 3 + 1)
    return policy


def test_log_prob_and_entropy_equal_torch_normal() -> None:
    policy = make_policy()
    obs = torch.randn(64, 5)
    actions = torch.randn(64, 3)
    ref = torch.distributions.Normal(policy.mean_action(obs), policy.log_std.exp())
    torch.testing.assert_close(policy.log_prob(obs, actions), ref.log_prob(actions).sum(-1))
    torch.testing.assert_close(policy.entropy(), ref.entropy().sum(-1)[0])


def test_initial_policy_is_near_zero_with_log_std_minus_half() -> None:
    torch.manual_seed(1)
    policy = GaussianPolicy(NetConfig(obs_dim=10, act_dim=2))
    assert torch.allclose(policy.log_std, torch.full((2,), -0.5))
    mean = policy.mean_action(torch.randn(256, 10))
    assert mean.abs().max() < 0.1  # small last layer: first actions near zero


def test_sampling_matches_mean_and_std() -> None:
    policy = make_policy()
    obs = torch.zeros(1, 5).expand(20000, 5)
    gen = torch.Generator().manual_seed(3)
    actions = policy.act(obs, generator=gen)
    mean = policy.mean_action(obs[:1])[0]
    assert torch.allclose(actions.mean(0), mean, atol=0.03)
    assert torch.allclose(actions.std(0), policy.log_std.exp(), rtol=0.03)
    assert torch.equal(policy.act(obs[:4], deterministic=True), policy.mean_action(obs[:4]))


def test_running_mean_std_matches_numpy_over_all_batches() -> None:
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randn(n, 4, generator=gen) * 2 + 5 for n in (7, 100, 1, 33)]
    rms = RunningMeanStd(4)
    for b in batches:
        rms.update(b)
    allx = torch.cat(batches).double()
    torch.testing.assert_close(rms.mean, allx.mean(0))
    torch.testing.assert_close(rms.var, allx.var(0, unbiased=False))
    assert rms.count.item() == 141
    z = rms(allx)
    assert abs(z.mean().item()) < 1e-6 and math.isclose(z.std(0).mean().item(), 1, rel_tol=0.02)


def test_normaliser_never_serves_stale_statistics() -> None:
    """forward caches the cast statistics between updates; every way the buffers change
    (update, load_state_dict, a direct in-place write, a new dtype) must show at once."""
    rms = RunningMeanStd(3)
    x = torch.tensor([[1.0, -2.0, 4.0]])

    def expected(r: RunningMeanStd) -> torch.Tensor:
        std = torch.sqrt(r.var + r.epsilon).float()
        return ((x - r.mean.float()) / std).clamp(-r.clip, r.clip)

    assert torch.equal(rms(x), x)  # fresh: mean 0, var 1 (up to ε)
    rms.update(torch.randn(50, 3) * 2 + 3)
    assert torch.equal(rms(x), expected(rms))
    other = RunningMeanStd(3)
    other.update(torch.randn(20, 3) - 7)
    rms.load_state_dict(other.state_dict())
    assert torch.equal(rms(x), expected(other))
    with torch.no_grad():
        rms.mean.add_(1.0)
    assert torch.equal(rms(x), expected(rms))
    assert rms(x.double()).dtype == torch.float64


def test_every_activation_the_config_accepts_is_built_and_deployable() -> None:
    """config.ACTIVATIONS (torch-free, for validation) names exactly the activations the
    torch nets build and the numpy MLP (training's fast path and the Controller) runs, all read
    from one table; each numpy activation and derivative equals torch's."""
    assert set(CONFIG_ACTIVATIONS) == set(TORCH_ACTIVATIONS) == set(TABLE)
    z = torch.linspace(-3, 3, 61, dtype=torch.float64)
    for name, module in TORCH_ACTIVATIONS.items():
        h = z.clone().requires_grad_()
        out = module()(h)
        out.sum().backward()
        mine = z.numpy().copy()
        TABLE[name].apply_(mine)
        np.testing.assert_allclose(mine, out.detach().numpy(), rtol=1e-12, atol=1e-15)
        assert h.grad is not None
        np.testing.assert_allclose(
            TABLE[name].derivative(mine), h.grad.numpy(), rtol=1e-12, atol=1e-15
        )
