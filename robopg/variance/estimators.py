"""The gradient estimators compared, their advantages and per-trajectory gradients.

Includes the value baseline each γ gets (fit by ``reinforce.fit_value``, shared with
training)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from robopg.algo.batch import Rollout
from robopg.algo.normalize import RunningMeanStd
from robopg.algo.policy import GaussianPolicy, NetConfig, ValueNet
from robopg.algo.reinforce import ValueFit, fit_value, policy_loss
from robopg.algo.returns import discounted_returns, gae_advantages


# ------------------------------------------------------------------------------ estimators
@dataclass(frozen=True)
class Estimator:
    """One way of forming Â_t. ``key`` is stable (files); ``label`` is for people."""

    key: str
    label: str
    lam: float | None = None


def estimators_for(lams: tuple[float, ...]) -> list[Estimator]:
    """The compared estimators, from the rawest to GAE(λ)."""
    return [
        Estimator("total_return", "total return"),
        Estimator("reward_to_go", "reward-to-go"),
        Estimator("rtg_mean", "rtg − batch mean"),
        Estimator("rtg_value", "rtg − V(s)"),
        *(Estimator(f"gae_{lam:g}", f"GAE(λ={lam:g})", lam) for lam in lams),
    ]


def whole_episode_returns(
    rewards: torch.Tensor, terminated: torch.Tensor, truncated: torch.Tensor, gamma: float
) -> torch.Tensor:
    """Â_t = R(τ) = Σ_k γ^k r_k over the *whole* episode containing step t, for every t.

    Williams' original credit assignment: each action is credited with the episode's return,
    including rewards that came before it. Unbiased (for γ = 1) because E[∇log π(a_t|s_t)·r_k]
    = 0 for k < t — but those past rewards add pure noise, which reward-to-go removes.
    (T, N) in, (T, N) out; episodes may end inside the column (``terminated | truncated``).
    """
    T = rewards.shape[0]
    done = terminated | truncated
    discount = torch.ones_like(rewards[0])
    discounted = torch.empty_like(rewards)
    for t in range(T):  # γ^(t − episode start) · r_t
        discounted[t] = discount * rewards[t]
        discount = torch.where(done[t], torch.ones_like(discount), discount * gamma)
    suffix = torch.empty_like(rewards)  # Σ of discounted rewards from t to the episode end
    running = torch.zeros_like(rewards[0])
    for t in range(T - 1, -1, -1):
        running = discounted[t] + (~done[t]).to(rewards.dtype) * running
        suffix[t] = running
    out = torch.empty_like(rewards)
    total = suffix[0]
    for t in range(T):  # the suffix at the episode's first step is the episode's return
        if t > 0:
            total = torch.where(done[t - 1], suffix[t], total)
        out[t] = total
    return out


class FittedValue:
    """V_φ(s) fit by regression to Monte-Carlo reward-to-go on the value pool.

    The net sees observations standardised with the value pool's statistics and predicts
    standardised returns: the policy (and its own normaliser) is left untouched.
    """

    def __init__(self, net: ValueNet, norm: RunningMeanStd, loc: float, scale: float) -> None:
        self.net = net
        self.norm = norm
        self.loc = loc
        self.scale = scale

    @torch.no_grad()
    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        """(..., obs_dim) raw observations → (...) values."""
        return self.loc + self.scale * self.net(self.norm(obs))


def fit_value_baseline(
    pool: Rollout,
    net_cfg: NetConfig,
    gamma: float,
    epochs: int,
    seed: int,
    value_fit: ValueFit = fit_value,
) -> FittedValue:
    """Fit V_φ for discount γ on ``pool`` (MSE to the observed reward-to-go, no bootstrap) with
    ``value_fit`` (a backend's; the study runs on the CPU, where it passes the numpy one)."""
    zeros = torch.zeros_like(pool.rewards)
    targets = discounted_returns(pool.rewards, pool.terminated, pool.truncated, zeros, gamma)
    obs = pool.obs.reshape(-1, pool.obs.shape[-1])
    flat = targets.reshape(-1)
    norm = RunningMeanStd(net_cfg.obs_dim)
    norm.update(obs)
    loc, scale = float(flat.mean()), float(flat.std().clamp_min(1e-6))
    with torch.random.fork_rng():  # seeded init without touching the caller's global RNG
        torch.manual_seed(seed)
        net = ValueNet(net_cfg)
    minibatches = max(1, flat.shape[0] // 256)
    value_fit(
        net,
        torch.optim.Adam(net.parameters(), lr=1e-3),
        norm(obs).detach(),
        (flat - loc) / scale,
        epochs=epochs,
        minibatches=minibatches,
        generator=torch.Generator().manual_seed(seed),
    )
    return FittedValue(net, norm, loc, scale)


def explained_variance(pool: Rollout, value: FittedValue, gamma: float) -> float:
    """1 − Var(G − V) / Var(G) of the reward-to-go on ``pool`` (held-out data)."""
    zeros = torch.zeros_like(pool.rewards)
    returns = discounted_returns(pool.rewards, pool.terminated, pool.truncated, zeros, gamma)
    resid = returns - value(pool.obs)
    return float(1.0 - resid.var() / returns.var().clamp_min(1e-12))


def advantages(
    pool: Rollout, gamma: float, lams: tuple[float, ...], value: FittedValue | None
) -> dict[str, torch.Tensor]:
    """Â (T, N) of every per-trajectory estimator, plus ``ones`` for the batch-mean baseline.

    ``rtg_mean`` is not here: its baseline is a batch statistic (``mean_baseline_gradients``).
    GAE bootstraps V at time-limit truncations exactly as training does; ``rtg_value`` is the
    observed reward-to-go minus V with no bootstrap, so GAE(1) − rtg_value shows that term.
    """
    r, term, trunc = pool.rewards, pool.terminated, pool.truncated
    zeros = torch.zeros_like(r)
    rtg = discounted_returns(r, term, trunc, zeros, gamma)
    out = {
        "total_return": whole_episode_returns(r, term, trunc, gamma),
        "reward_to_go": rtg,
        "ones": torch.ones_like(r),
    }
    if value is not None:
        values, next_values = value(pool.obs), value(pool.next_obs)
        out["rtg_value"] = rtg - values
        for lam in lams:
            out[f"gae_{lam:g}"] = gae_advantages(r, values, next_values, term, trunc, gamma, lam)
    return out


class _Surrogate(nn.Module):
    """−policy_loss as a module, so torch.func can differentiate it per trajectory."""

    def __init__(self, policy: GaussianPolicy) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, obs: torch.Tensor, actions: torch.Tensor, adv: torch.Tensor) -> torch.Tensor:
        return -policy_loss(self.policy, obs, actions, adv)


def per_trajectory_gradients(
    policy: GaussianPolicy, pool: Rollout, adv: torch.Tensor, chunk_steps: int = 32_768
) -> torch.Tensor:
    """(N, P): for each column i, ∇θ mean_t log π(a_t|s_t)·Â_t, flattened in
    ``policy.named_parameters()`` order. Chunks of about ``chunk_steps`` steps bound memory.

    The mean of any set of rows is the ascent gradient of ``policy_loss`` on those columns.
    """
    surrogate = _Surrogate(policy)
    params = {k: v.detach() for k, v in surrogate.named_parameters()}
    buffers = {k: v.detach() for k, v in surrogate.named_buffers()}

    def one(p: dict[str, torch.Tensor], o: torch.Tensor, a: torch.Tensor, x: torch.Tensor) -> Any:
        return functional_call(surrogate, (p, buffers), (o, a, x))

    per_column = vmap(grad(one), in_dims=(None, 0, 0, 0))
    obs, act, a = pool.obs.transpose(0, 1), pool.actions.transpose(0, 1), adv.transpose(0, 1)
    chunk = max(1, chunk_steps // obs.shape[1])
    rows = []
    for start in range(0, obs.shape[0], chunk):
        sl = slice(start, start + chunk)
        g = per_column(params, obs[sl], act[sl], a[sl])
        rows.append(torch.cat([g[k].reshape(g[k].shape[0], -1) for k in params], dim=1))
    return torch.cat(rows).to(torch.float64)


def batch_gradients(per_traj: torch.Tensor, n: int) -> torch.Tensor:
    """(R, P) estimates from R = N // n disjoint batches of n consecutive trajectories."""
    repeats = per_traj.shape[0] // n
    return per_traj[: repeats * n].reshape(repeats, n, -1).mean(1)


def mean_baseline_gradients(
    rtg_grads: torch.Tensor, score_grads: torch.Tensor, rtg: torch.Tensor, n: int
) -> torch.Tensor:
    """(R, P) estimates with Â = G_t − Ḡ, Ḡ the mean reward-to-go of the batch's own steps.

    Linear in Â, so ĝ = mean_i h_i − Ḡ · mean_i s_i with h_i the reward-to-go gradients and s_i
    the gradients of Â = 1. Ḡ depends on the batch itself, which biases the estimate by O(1/n)
    (for one-step problems by exactly the factor 1 − 1/n); a leave-one-out mean would not.
    """
    col_means = rtg.mean(0).to(torch.float64)  # (N,): each trajectory's mean G_t
    repeats = rtg_grads.shape[0] // n
    g_bar = col_means[: repeats * n].reshape(repeats, n).mean(1, keepdim=True)
    return batch_gradients(rtg_grads, n) - g_bar * batch_gradients(score_grads, n)


def estimator_batch_gradients(
    policy: GaussianPolicy,
    pool: Rollout,
    gamma: float,
    lams: tuple[float, ...],
    value: FittedValue | None,
    batch_episodes: tuple[int, ...],
) -> dict[str, dict[int, torch.Tensor]]:
    """{estimator key: {n: (R, P) batch gradients}} for every estimator at one γ."""
    adv = advantages(pool, gamma, lams, value)
    grads = {k: per_trajectory_gradients(policy, pool, a) for k, a in adv.items()}
    out: dict[str, dict[int, torch.Tensor]] = {}
    for est in estimators_for(lams):
        if est.key == "rtg_mean":
            rtg = adv["reward_to_go"]
            out[est.key] = {
                n: mean_baseline_gradients(grads["reward_to_go"], grads["ones"], rtg, n)
                for n in batch_episodes
            }
        elif est.key in grads:
            out[est.key] = {n: batch_gradients(grads[est.key], n) for n in batch_episodes}
    return out
