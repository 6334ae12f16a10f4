"""The rollout's numpy sampler: the same Gaussian as ``GaussianPolicy.act`` (means to float32
rounding, the same noise stream from the same generator), following the optimizer's steps, and a
collected batch that matches the torch sampler's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robopg.algo.net_config import NetConfig
from robopg.algo.policy import GaussianPolicy
from robopg.collect.rollout import RolloutCollector
from robopg.envs import make_vector_env
from robopg.fast import sampler as numpy_sampler
from robopg.train.backend import numpy_backend, torch_backend

CPU = torch.device("cpu")


def _policy(**net: object) -> GaussianPolicy:
    torch.manual_seed(0)
    policy = GaussianPolicy(NetConfig(10, 3, **net))  # type: ignore[arg-type]
    policy.obs_norm.update(torch.randn(256, 10, dtype=torch.float64) * 4 + 2)
    with torch.no_grad():  # an output layer that matters (its init gain is 0.01)
        policy.mean_net[-1].weight.mul_(100.0)
        policy.log_std.copy_(torch.tensor([-1.0, -0.5, 0.3]))
    return policy


@pytest.mark.parametrize("activation", ["tanh", "relu", "elu"])
def test_samples_are_the_torch_policys(activation: str) -> None:
    policy = _policy(activation=activation, hidden=(32, 16))
    obs = np.random.default_rng(1).normal(2.0, 12.0, size=(9, 10))  # some beyond the ±10 clip
    sampler = numpy_sampler.NumpySampler(policy, torch.Generator().manual_seed(7))
    obs32, action = sampler.sample(obs)
    assert obs32.dtype == action.dtype == np.float32 and action.shape == (9, 3)
    np.testing.assert_array_equal(obs32, obs.astype(np.float32))
    torch_gen = torch.Generator().manual_seed(7)
    want = policy.act(torch.from_numpy(obs32), generator=torch_gen)
    np.testing.assert_allclose(action, want.numpy(), rtol=1e-5, atol=1e-6)
    # the noise is the generator's: a second draw differs, and equals torch's second draw
    _, again = sampler.sample(obs)
    assert not np.allclose(again, action)
    want = policy.act(torch.from_numpy(obs32), generator=torch_gen)
    np.testing.assert_allclose(again, want.numpy(), rtol=1e-5, atol=1e-6)


def test_follows_the_optimizer_and_the_floor() -> None:
    policy = _policy(log_std_floor=-0.7)
    gen = torch.Generator()
    obs = np.random.default_rng(2).normal(size=(4, 10))
    sampler = numpy_sampler.NumpySampler(policy, gen)
    with torch.no_grad():  # an in-place step, as Adam takes it: the views see it
        for p in policy.mean_net.parameters():
            p.add_(0.05)
    gen.manual_seed(3)
    _, action = sampler.sample(obs)
    want = policy.act(torch.from_numpy(obs.astype(np.float32)), generator=gen.manual_seed(3))
    np.testing.assert_allclose(action, want.numpy(), rtol=1e-5, atol=1e-6)
    floor = np.exp(-0.7)  # σ of the first action dim is the floor's, not e^-1
    mean = policy.mean_action(torch.from_numpy(obs.astype(np.float32))).detach().numpy()
    noise = torch.randn(4, 3, generator=torch.Generator().manual_seed(3)).numpy()
    np.testing.assert_allclose((action - mean)[:, 0], noise[:, 0] * floor, rtol=1e-4, atol=1e-6)


def test_covers_cpu_float32_param_policies_only() -> None:
    assert numpy_sampler.usable(_policy())
    assert not numpy_sampler.usable(_policy().to("meta"))
    assert not numpy_sampler.usable(GaussianPolicy(NetConfig(10, 3, std="state")))
    assert not numpy_sampler.usable(_policy().double())


def test_collected_batch_matches_the_torch_sampler() -> None:
    """The same env, policy and generator seed with the numpy and the torch sampler: equal
    observations and flags on the first steps, actions and rewards within float32 rounding."""
    batches = []
    for backend in (numpy_backend("test"), torch_backend("test")):
        env = make_vector_env("reacher", 4, num_threads=1)
        torch.manual_seed(0)
        policy = GaussianPolicy(NetConfig(env.obs_dim, env.act_dim))
        gen = torch.Generator().manual_seed(5)
        collector = RolloutCollector(env, policy, CPU, gen, make_sampler=backend.make_sampler)
        collector.reset(11)
        batches.append(collector.collect(60))  # crosses the 50-step episode end
        env.close()
    mine, ref = batches
    assert torch.equal(mine.obs[0], ref.obs[0])
    assert torch.equal(mine.truncated, ref.truncated) and bool(mine.truncated[49].all())
    assert torch.equal(mine.terminated, ref.terminated)
    torch.testing.assert_close(mine.actions, ref.actions, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(mine.rewards, ref.rewards, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(mine.next_obs, ref.next_obs, rtol=1e-4, atol=1e-4)
    assert mine.episode_lengths == ref.episode_lengths == [50] * 4
    assert mine.episode_returns == pytest.approx(ref.episode_returns, rel=1e-4)
