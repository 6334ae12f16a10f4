"""The REINFORCE estimator is unbiased on a problem with a known gradient, and a learned
baseline lowers its variance (the problem: tests/helpers/linear_gaussian.py)."""

import torch
from linear_gaussian import S, make_policy, reward, true_gradient_parts

from robopg.algo.batch import Rollout
from robopg.algo.policy import GaussianPolicy, ValueNet
from robopg.algo.reinforce import UpdateSettings, compute_advantages, fit_value, policy_loss


def one_step_rollout(obs: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor) -> Rollout:
    """A (T=1, N) batch of one-step episodes that all terminate."""
    done = torch.ones_like(rewards, dtype=torch.bool)
    return Rollout(obs, actions, rewards, done, ~done, obs)


def true_gradient(policy: GaussianPolicy) -> torch.Tensor:
    """In the order the estimates are stacked: W (row-major), b, log σ."""
    parts = true_gradient_parts(policy)
    return torch.cat([parts["weight"].reshape(-1), parts["bias"], parts["log_std"]])


def estimates(
    policy: GaussianPolicy,
    baseline: str,
    value: ValueNet | None,
    repeats: int,
    batch: int,
    seed: int,
) -> torch.Tensor:
    settings = UpdateSettings(0.99, 1.0, baseline, False, 0.0, 1, 1)
    gen = torch.Generator().manual_seed(seed)
    grads = []
    for _ in range(repeats):
        obs = S.expand(batch, 3).unsqueeze(0)
        actions = policy.act(obs, generator=gen)
        rewards = reward(actions)
        rollout = one_step_rollout(obs, actions, rewards)
        adv, _ = compute_advantages(rollout, policy, value, settings)
        policy.zero_grad()
        policy_loss(policy, obs[0], actions[0], adv[0]).backward()
        params = [policy.mean_net[0].weight, policy.mean_net[0].bias, policy.log_std]
        # −∇(loss) is the ascent direction ĝ
        grads.append(torch.cat([-p.grad.reshape(-1) for p in params]))  # type: ignore[union-attr]
    return torch.stack(grads)


def test_reinforce_estimate_is_unbiased() -> None:
    policy = make_policy()
    g = estimates(policy, "none", None, repeats=4000, batch=8, seed=1)
    mean, sem = g.mean(0), g.std(0) / g.shape[0] ** 0.5
    z = (mean - true_gradient(policy)).abs() / sem
    assert (z < 4.5).all(), f"bias beyond 4.5 standard errors: z = {z}"


def test_mean_and_learned_baselines_are_unbiased_and_lower_variance() -> None:
    policy = make_policy()
    value = ValueNet(policy.cfg)
    opt = torch.optim.Adam(value.parameters(), lr=0.05)
    # Fit V(s) to sampled rewards: it should learn E[r] at s.
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        a = policy.act(S.expand(4096, 3), generator=gen)
        r = reward(a)
    norm_s = policy.obs_norm(S.expand(4096, 3))
    fit_value(
        value,
        opt,
        norm_s,
        r,
        epochs=200,
        minibatches=4,
        generator=torch.Generator().manual_seed(6),
    )

    plain = estimates(policy, "none", None, 3000, 8, seed=2)
    mean_b = estimates(policy, "mean", None, 3000, 8, seed=2)
    learned = estimates(policy, "value", value, 3000, 8, seed=2)
    truth = true_gradient(policy)
    for g in (learned,):
        z = (g.mean(0) - truth).abs() / (g.std(0) / g.shape[0] ** 0.5)
        assert (z < 4.5).all(), f"learned baseline biased: z = {z}"
    var_plain = plain.var(0).sum()
    assert mean_b.var(0).sum() < 0.5 * var_plain
    assert learned.var(0).sum() < 0.5 * var_plain
