"""Measure the variance of the policy-gradient estimator at a fixed policy.

The textbook claims — raw REINFORCE is unbiased but noisy; causality (reward-to-go), a baseline,
discounting, GAE(λ) and larger batches reduce the variance — are measured here on a real arm
instead of asserted. Nothing is trained: the policy π_θ is held fixed (untrained, or a
checkpoint) and many independent batches are drawn from it.

Method
------
1. Three independent pools of trajectories, each one episode length T long from a fresh reset
   with its own seeds: the *value* pool (a learned V_φ(s) per γ is fit on it — an untrained
   policy has no baseline yet, and fitting it on data the estimates never see keeps the
   baseline independent of them), the *main* pool (cut into disjoint batches of n
   trajectories: R = M // n independent repeats of the estimate) and the *reference* pool (a
   high-sample estimate of the true gradient, see ``reference_gradient``).
2. For trajectory i and estimator e, g_i = ∇θ mean_t log π_θ(a_t|s_t)·Â_t, the ascent direction
   of the training surrogate ``policy_loss``, one gradient per trajectory via
   ``torch.func.vmap(grad(...))``. A batch's estimate is the mean of its g_i — exactly the
   gradient of ``policy_loss`` on that batch, because every trajectory has T steps.
3. Over the R repeats: total variance tr Cov(ĝ), signal-to-noise ‖E ĝ‖² / tr Cov(ĝ), cosine to
   the reference, and bias² against the reference; 95 % jackknife intervals over the repeats.

Advantages are *not* standardised per batch here: standardising divides each batch by its own
statistic, so the result is no longer an estimate of ∇J whose variance could be compared. It
subtracts the batch's mean advantage (a batch-mean baseline, like ``rtg_mean``) and rescales;
the rescaling leaves the direction — what the cosine column judges — unchanged.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robopg.algo.batch import Rollout
from robopg.algo.distributed import DistContext
from robopg.algo.policy import GaussianPolicy
from robopg.collect.rollout import RolloutCollector
from robopg.envs import VectorEnv
from robopg.errors import CheckpointError, ConfigError, EnvError
from robopg.train.backend import Backend, pick_backend
from robopg.variance.estimators import (
    FittedValue,
    advantages,
    estimator_batch_gradients,
    estimators_for,
    explained_variance,
    fit_value_baseline,
    per_trajectory_gradients,
)
from robopg.variance.settings import REFERENCE_ESTIMATOR, REFERENCE_GAMMA, VarianceSettings
from robopg.variance.stats import EstimatorStats, reference_gradient, summarize, variance_slope


# ------------------------------------------------------------------------------ the report
@dataclass
class VarianceReport:
    """A finished measurement: what was measured and every number, JSON-ready via to_dict."""

    task: str
    policy: str
    episode_length: int
    num_params: int
    settings: VarianceSettings
    reference_snr: float
    reference_episodes: int
    explained_variance: dict[str, float]  # γ → V's explained variance on the main pool
    rows: list[EstimatorStats] = field(default_factory=list)
    elapsed_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["settings"] = asdict(self.settings)
        return data


def measure_on_pools(
    policy: GaussianPolicy,
    value_pool: Rollout,
    main_pool: Rollout,
    reference_pool: Rollout,
    settings: VarianceSettings,
    task: str = "",
    policy_label: str = "",
    log: Callable[[str], None] = lambda _: None,
) -> VarianceReport:
    """Every estimator × γ × batch size on already collected pools (see the module doc)."""
    start = time.perf_counter()
    T = int(main_pool.rewards.shape[0])
    net_cfg = policy.cfg
    gammas = tuple(dict.fromkeys((*settings.gammas, REFERENCE_GAMMA)))
    values: dict[float, FittedValue] = {}
    for i, gamma in enumerate(gammas):
        log(f"fitting V(s) for γ={gamma:g} on {value_pool.rewards.shape[1]} trajectories")
        values[gamma] = fit_value_baseline(
            value_pool,
            net_cfg,
            gamma,
            settings.value_epochs,
            settings.seed + 17 * i,
            value_fit=_backend(policy).value_fit,
        )
    report_timings = {"value_fit_s": time.perf_counter() - start}
    log(f"reference gradient from {reference_pool.rewards.shape[1]} trajectories")
    ref_adv = advantages(reference_pool, REFERENCE_GAMMA, (), values[REFERENCE_GAMMA])
    ref = reference_gradient(
        per_trajectory_gradients(policy, reference_pool, ref_adv[REFERENCE_ESTIMATOR])
    )
    report = VarianceReport(
        task=task,
        policy=policy_label,
        episode_length=T,
        num_params=int(ref.gradient.shape[0]),
        settings=settings,
        reference_snr=ref.snr,
        reference_episodes=ref.episodes,
        explained_variance={
            f"{g:g}": explained_variance(main_pool, values[g], g) for g in settings.gammas
        },
    )
    labels = {e.key: e for e in estimators_for(settings.lams)}
    for gamma in settings.gammas:
        log(f"γ={gamma:g}: gradients of {len(labels)} estimators")
        grads = estimator_batch_gradients(
            policy, main_pool, gamma, settings.lams, values[gamma], settings.batch_episodes
        )
        for key, per_n in grads.items():
            rows = []
            for n, batches in sorted(per_n.items()):
                s = summarize(batches.numpy(), ref)
                est = labels[key]
                rows.append(
                    EstimatorStats(
                        gamma=gamma,
                        estimator=key,
                        label=est.label,
                        lam=est.lam,
                        batch_episodes=n,
                        batch_steps=n * T,
                        repeats=batches.shape[0],
                        total_variance=s["total_variance"],
                        relative_variance=s["relative_variance"],
                        snr=s["snr"],
                        cosine=s["cosine"],
                        relative_bias2=s["relative_bias2"],
                    )
                )
            slope = variance_slope(rows)
            report.rows.extend(replace(r, variance_slope=slope) for r in rows)
    report.elapsed_s = time.perf_counter() - start
    report.timings = {**report_timings, "gradients_and_statistics_s": report.elapsed_s}
    report.timings["gradients_and_statistics_s"] -= report_timings["value_fit_s"]
    return report


def _backend(policy: GaussianPolicy) -> Backend:
    """The implementation the study samples and fits values with: as a CPU training run of this
    policy would (the study always runs on the CPU, in one process)."""
    return pick_backend(policy, None, None, None, torch.device("cpu"), DistContext())


# ------------------------------------------------------------------------------ collection
def collect_pool(
    env: VectorEnv, policy: GaussianPolicy, episodes: int, seed: int, noise_seed: int
) -> Rollout:
    """``episodes`` columns of T = max_episode_steps steps, each from a fresh seeded reset.

    For fixed-horizon tasks (Reacher, Pusher) a column is exactly one episode; where episodes
    terminate early a column holds one and the start of the next, cut at T like a training
    batch. Env i of chunk k is seeded ``seed + k·num_envs + i``.
    """
    collector = RolloutCollector(
        env,
        policy,
        torch.device("cpu"),
        torch.Generator().manual_seed(noise_seed),
        make_sampler=_backend(policy).make_sampler,
    )
    T = env.max_episode_steps
    chunks: list[Rollout] = []
    for k in range(math.ceil(episodes / env.num_envs)):
        collector.reset(seed + k * env.num_envs)
        chunks.append(collector.collect(T))

    def cat(name: str) -> torch.Tensor:
        return torch.cat([getattr(c, name) for c in chunks], dim=1)[:, :episodes]

    return Rollout(
        obs=cat("obs"),
        actions=cat("actions"),
        rewards=cat("rewards"),
        terminated=cat("terminated"),
        truncated=cat("truncated"),
        next_obs=cat("next_obs"),
        episode_returns=[x for c in chunks for x in c.episode_returns][:episodes],
    )


def pool_seeds(seed: int) -> dict[str, tuple[int, int]]:
    """(env seed, action-noise seed) per pool, all derived from one ``--seed``."""
    streams = np.random.SeedSequence([seed, 0x5A5]).spawn(3)
    out = {}
    for name, ss in zip(("value", "main", "reference"), streams, strict=True):
        env_seed, noise_seed = (int(x & 0x3FFFFFFF) for x in ss.generate_state(2))
        out[name] = (env_seed, noise_seed)
    return out


def measure_variance(
    env: VectorEnv,
    policy: GaussianPolicy,
    settings: VarianceSettings,
    policy_label: str,
    log: Callable[[str], None] = lambda _: None,
) -> VarianceReport:
    """Collect the three pools on ``env`` at the fixed ``policy`` and measure them."""
    start = time.perf_counter()
    settings.validate()
    if env.obs_dim != policy.cfg.obs_dim or env.act_dim != policy.cfg.act_dim:
        raise ConfigError(
            f"The policy (obs {policy.cfg.obs_dim}, action {policy.cfg.act_dim}) does not fit "
            f"task '{env.task}' (obs {env.obs_dim}, action {env.act_dim})."
        )
    seeds = pool_seeds(settings.seed)
    sizes = {
        "value": settings.value_episodes,
        "main": settings.episodes,
        "reference": settings.reference_episodes,
    }
    pools = {}
    for name, count in sizes.items():
        log(f"collecting {count} {name} trajectories of {env.max_episode_steps} steps")
        pools[name] = collect_pool(env, policy, count, *seeds[name])
    collected = time.perf_counter()
    report = measure_on_pools(
        policy,
        pools["value"],
        pools["main"],
        pools["reference"],
        settings,
        task=env.task,
        policy_label=policy_label,
        log=log,
    )
    report.elapsed_s = time.perf_counter() - start
    report.timings = {"collection_s": collected - start, **report.timings}
    return report


def untrained_policy(env: VectorEnv, seed: int) -> GaussianPolicy:
    """The policy ``robopg train TASK --seed SEED`` starts from (default architecture)."""
    from robopg.config import TrainConfig
    from robopg.train.trainer import derive_seeds

    cfg = TrainConfig(env=env.task, seed=seed)
    net_cfg = cfg.net_config(env.obs_dim, env.act_dim)
    with torch.random.fork_rng():
        torch.manual_seed(derive_seeds(seed, 0)["init"])  # the Trainer's init seed
        return GaussianPolicy(net_cfg)


def run_variance(
    source: str,
    settings: VarianceSettings,
    shipped: bool = False,
    engine: str = "auto",
    log: Callable[[str], None] = lambda _: None,
) -> VarianceReport:
    """Measure at a checkpoint / run directory, or at an untrained policy for a task name.

    With ``shipped``, a task name means the trained policy robopg ships for it.
    """
    from robopg.envs import make_vector_env, resolve_task
    from robopg.runs.saved_policy import load_policy

    settings.validate()
    policy: GaussianPolicy | None = None
    if shipped or Path(source).exists():
        saved = load_policy(source)
        policy = saved.policy
        task, label = saved.task, f"checkpoint {saved.path}"
    else:
        try:
            task = resolve_task(source).name
        except EnvError:
            raise CheckpointError(
                f"'{source}' is not a checkpoint file, a run directory or a task name."
            ) from None
        label = f"untrained (seed {settings.seed})"
    env = make_vector_env(task, settings.num_envs, engine=engine)
    try:
        if policy is None:
            policy = untrained_policy(env, settings.seed)
        return measure_variance(env, policy, settings, label, log)
    finally:
        env.close()
