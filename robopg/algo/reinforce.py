"""The REINFORCE update: advantages, one policy-gradient step, several value-regression steps.

For a batch from π_θ:   ĝ = 1/B Σ_t ∇θ log π_θ(a_t|s_t) · Â_t

where Â_t is the discounted reward-to-go minus a baseline (``value``: learned V_φ via GAE(λ),
``mean``: the batch mean of the returns, ``none``: raw reward-to-go). This is VPG, not PPO: the
policy takes exactly one step per batch, with no ratio clipping and no reuse of old data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from robopg.algo.batch import Rollout
from robopg.algo.distributed import DistContext
from robopg.algo.policy import GaussianPolicy, ValueNet
from robopg.algo.returns import discounted_returns, gae_advantages
from robopg.errors import TrainingDiverged


@dataclass(frozen=True)
class UpdateSettings:
    """The subset of TrainConfig the update needs (keeps this module free of CLI concerns)."""

    gamma: float
    lam: float
    baseline: str
    normalize_adv: bool
    max_grad_norm: float
    value_epochs: int
    value_minibatches: int
    ent_coef: float = 0.0  # entropy bonus weight (0: none)
    reward_scale: float = 1.0  # rewards × this before returns (1: unchanged)
    value_lam: float | None = None  # λ of the value targets (None: lam)


#: One policy-gradient step, typed as it is called: ``torch_policy_step``'s positional arguments
#: (policy, optimizer, raw obs (B, obs_dim), normalised obs, unclipped actions (B, act_dim),
#: advantages (B,), settings, ranks) → diagnostics as scalar tensors. ``torch_policy_step`` is
#: the reference; ``robopg.fast.policy_step`` the numpy one.
PolicyStep = Callable[
    [GaussianPolicy, Optimizer, Tensor, Tensor, Tensor, Tensor, UpdateSettings, DistContext],
    dict[str, Tensor],
]


class ValueFit(Protocol):
    """The value regression: ``fit_value``'s signature (``robopg.fast.value_fit`` the numpy
    one)."""

    def __call__(
        self,
        value_net: ValueNet,
        opt: torch.optim.Optimizer,
        norm_obs: torch.Tensor,
        targets: torch.Tensor,
        *,
        epochs: int,
        minibatches: int,
        generator: torch.Generator,
        average_gradients: Callable[[list[nn.Parameter]], None] | None = None,
    ) -> torch.Tensor: ...


@torch.no_grad()
def compute_advantages(
    batch: Rollout, policy: GaussianPolicy, value_net: ValueNet | None, s: UpdateSettings
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (advantages, value targets), both (T, N).

    With a value baseline the targets are λ-returns Â + V(s); without one they are the
    reward-to-go (unused). Bootstraps use V(final obs) at time-limit truncations and batch ends.
    ``s.value_lam`` gives the targets their own λ: the policy's advantages trade bias for
    variance with ``s.lam``, while the value net may fit smoother targets (measured on Pusher
    in docs/experiments.md: a small gain on most seeds, none on average).

    Rewards are multiplied by ``s.reward_scale`` first, so the value net fits returns of that
    scale; with standardised advantages the policy step itself does not see the scale.
    """
    rewards = batch.rewards if s.reward_scale == 1.0 else batch.rewards * s.reward_scale
    if s.baseline == "value":
        assert value_net is not None
        values = value_net(policy.obs_norm(batch.obs))
        next_values = value_net(policy.obs_norm(batch.next_obs))

        def gae(lam: float) -> torch.Tensor:
            return gae_advantages(
                rewards, values, next_values, batch.terminated, batch.truncated, s.gamma, lam
            )

        adv = gae(s.lam)
        if s.value_lam is None or s.value_lam == s.lam:
            return adv, adv + values
        return adv, gae(s.value_lam) + values
    zeros = torch.zeros_like(rewards)
    returns = discounted_returns(rewards, batch.terminated, batch.truncated, zeros, s.gamma)
    if s.baseline == "mean":
        return returns - returns.mean(), returns
    return returns.clone(), returns


def standardize(x: torch.Tensor, dist: DistContext, eps: float = 1e-8) -> torch.Tensor:
    """(x − mean) / std with moments over all ranks' data."""
    moments = torch.stack([x.mean(), x.square().mean()])
    dist.all_reduce_mean(moments)
    var = (moments[1] - moments[0].square()).clamp_min(0.0)
    return (x - moments[0]) / (var.sqrt() + eps)


def surrogate(logp: torch.Tensor, adv: torch.Tensor) -> torch.Tensor:
    """−mean(log π(a|s) · Â) from (B,) log-probabilities and advantages: its gradient is the
    REINFORCE estimate, negated."""
    return -(logp * adv).mean()


def policy_loss(
    policy: GaussianPolicy, obs: torch.Tensor, actions: torch.Tensor, adv: torch.Tensor
) -> torch.Tensor:
    """The surrogate of ``policy`` on (B, obs_dim) observations and (B, act_dim) actions."""
    return surrogate(policy.log_prob(obs, actions), adv)


def clear_grads(module: nn.Module) -> None:
    """Drop ``module``'s gradients (``zero_grad(set_to_none=True)`` without the optimizer's
    dynamo guard, which costs more than the whole Adam step on these tiny nets)."""
    for p in module.parameters():
        p.grad = None


def check_finite(name: str, value: torch.Tensor) -> None:
    """Stop with ``TrainingDiverged``'s sentence if ``value`` holds a NaN or an infinity."""
    if not torch.isfinite(value).all():
        raise TrainingDiverged(
            f"Training diverged: {name} became NaN/Inf; the learning rate is the usual cause "
            "(try a smaller --lr or --value-lr)."
        )


def _flat_params(module: nn.Module) -> torch.Tensor:
    """All parameters of ``module`` as one vector, to check them in a single reduction."""
    return torch.cat([p.detach().reshape(-1) for p in module.parameters()])


def update(
    batch: Rollout,
    policy: GaussianPolicy,
    value_net: ValueNet | None,
    policy_opt: torch.optim.Optimizer,
    value_opt: torch.optim.Optimizer | None,
    s: UpdateSettings,
    dist: DistContext,
    generator: torch.Generator,
    *,
    policy_step: PolicyStep | None = None,
    value_fit: ValueFit | None = None,
) -> dict[str, float]:
    """One REINFORCE step on ``batch``; returns diagnostics (floats, computed once per update)
    and the wall seconds of its two parts (advantages + policy step, value fit).

    ``policy_step`` and ``value_fit`` are the backend's implementations of the two steps
    (``robopg.train.backend``); by default the torch ones of this module, the reference."""
    policy_step = policy_step or torch_policy_step
    value_fit = value_fit or fit_value
    t_start = time.perf_counter()
    adv, targets = compute_advantages(batch, policy, value_net, s)
    obs = batch.obs.reshape(-1, batch.obs.shape[-1])
    actions = batch.actions.reshape(-1, batch.actions.shape[-1])
    adv_flat = adv.reshape(-1)
    raw_adv_std = adv_flat.std()
    if s.normalize_adv:
        adv_flat = standardize(adv_flat, dist)

    # Normalised once: the statistics change only after the update (see the trainer).
    norm_obs = policy.obs_norm(obs).detach()

    # --- policy: exactly one gradient step ---
    metrics = policy_step(policy, policy_opt, obs, norm_obs, actions, adv_flat, s, dist)
    metrics["train/adv_std"] = raw_adv_std

    t_policy = time.perf_counter()
    seconds = {"time/update_policy_s": t_policy - t_start}

    # --- value baseline: several regression epochs on the λ-return targets ---
    if value_net is not None and value_opt is not None:
        flat_targets = targets.reshape(-1)
        metrics["train/value_loss"] = value_fit(
            value_net,
            value_opt,
            norm_obs,
            flat_targets,
            epochs=s.value_epochs,
            minibatches=s.value_minibatches,
            generator=generator,
            average_gradients=dist.average_gradients if dist.active else None,
        )
        check_finite("the value loss", metrics["train/value_loss"])
        check_finite("the value-network parameters", _flat_params(value_net))
        with torch.no_grad():
            resid = flat_targets - value_net(norm_obs)
            metrics["train/explained_var"] = 1 - resid.var() / flat_targets.var().clamp_min(1e-8)
        seconds["time/update_value_s"] = time.perf_counter() - t_policy
    stacked = torch.stack([v.float() for v in metrics.values()]).cpu()  # one device sync
    return {**dict(zip(metrics, stacked.tolist(), strict=True)), **seconds}


def torch_policy_step(
    policy: GaussianPolicy,
    policy_opt: torch.optim.Optimizer,
    obs: torch.Tensor,
    norm_obs: torch.Tensor,
    actions: torch.Tensor,
    adv_flat: torch.Tensor,
    s: UpdateSettings,
    dist: DistContext,
) -> dict[str, torch.Tensor]:
    """The policy step with autograd (any policy, device and process count) on raw ``obs``
    (B, obs_dim) (the policy normalises them itself; ``norm_obs`` is for backends that take
    them normalised), unclipped ``actions`` (B, act_dim) and advantages (B,)."""
    # One forward gives both the surrogate and the pre-step log-probabilities for the KL check.
    logp = policy.log_prob(obs, actions)
    old_logp = logp.detach()
    loss = surrogate(logp, adv_flat)
    if s.ent_coef > 0:  # a bonus on this batch's states; still one step on fresh data
        loss = loss - s.ent_coef * policy.entropy(obs)
    check_finite("the policy loss", loss)
    clear_grads(policy)
    loss.backward()
    params = [p for p in policy.parameters() if p.requires_grad]
    dist.average_gradients(params)
    grad_norm = nn.utils.clip_grad_norm_(
        params, s.max_grad_norm if s.max_grad_norm > 0 else float("inf")
    )
    check_finite("the policy gradient", grad_norm)
    policy_opt.step()

    with torch.no_grad():
        log_ratio = policy.log_prob(obs, actions) - old_logp
        approx_kl = ((log_ratio.exp() - 1) - log_ratio).mean()
        check_finite("the policy parameters", _flat_params(policy))
        check_finite("the policy's action log-probabilities", approx_kl)

    metrics = {
        "train/policy_loss": loss.detach(),
        "train/entropy": policy.entropy(obs).detach(),
        "train/approx_kl": approx_kl,
        "train/grad_norm": grad_norm.detach(),
        "train/std": policy.mean_std(obs).detach(),
    }
    return metrics


def fit_value(
    value_net: ValueNet,
    opt: torch.optim.Optimizer,
    norm_obs: torch.Tensor,
    targets: torch.Tensor,
    *,
    epochs: int,
    minibatches: int,
    generator: torch.Generator,
    average_gradients: Callable[[list[nn.Parameter]], None] | None = None,
) -> torch.Tensor:
    """Minibatch MSE regression of V_φ onto ``targets`` (B,) from ``norm_obs`` (B, obs_dim).

    A plain function because the update and the variance study both fit values: each epoch
    draws one permutation from ``generator`` (on the CPU, so CPU and CUDA runs see the same
    minibatches) and takes ``minibatches`` Adam steps; ``average_gradients`` (torchrun's
    all-reduce) runs between backward and step. Returns the last epoch's mean loss.
    """
    B = targets.shape[0]
    mb = max(1, B // minibatches)
    last = torch.zeros((), device=targets.device)
    params = list(value_net.parameters())
    for _ in range(epochs):
        perm = torch.randperm(B, generator=generator, device="cpu").to(targets.device)
        # One gather per epoch; the minibatches are then contiguous views (no copy each).
        obs_perm, targets_perm = norm_obs[perm], targets[perm]
        total = torch.zeros((), device=targets.device)
        for i in range(minibatches):
            rows = slice(i * mb, (i + 1) * mb)
            loss = 0.5 * (value_net(obs_perm[rows]) - targets_perm[rows]).square().mean()
            clear_grads(value_net)
            loss.backward()
            if average_gradients is not None:
                average_gradients(params)
            opt.step()
            total = total + loss.detach()
        last = total / minibatches
    return last
