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
from torch import nn
from torch.func import functional_call, grad, vmap

from robopg.distributed import DistContext
from robopg.envs import VectorEnv
from robopg.errors import CheckpointError, ConfigError, EnvError
from robopg.normalize import RunningMeanStd
from robopg.policy import GaussianPolicy, NetConfig, ValueNet
from robopg.reinforce import UpdateSettings, fit_value, policy_loss
from robopg.returns import discounted_returns, gae_advantages
from robopg.rollout import Rollout, RolloutCollector

REFERENCE_GAMMA = 1.0  # the objective we care about: expected undiscounted episode return
REFERENCE_ESTIMATOR = "rtg_value"  # lowest-variance estimator that is unbiased for it


# ---------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class VarianceSettings:
    """Sizes of a measurement. Batch sizes are in trajectories of one episode length T each."""

    episodes: int = 2048
    reference_episodes: int = 2048
    value_episodes: int = 256
    batch_episodes: tuple[int, ...] = (4, 16, 64)
    gammas: tuple[float, ...] = (0.99, 0.9, 1.0)
    lams: tuple[float, ...] = (0.0, 0.5, 0.9, 0.95, 1.0)
    value_epochs: int = 30
    num_envs: int = 64
    seed: int = 0

    def validate(self) -> VarianceSettings:
        """Raise ConfigError with one actionable sentence for the first invalid value."""

        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise ConfigError(msg)

        need(self.episodes >= 2, f"--episodes must be at least 2, got {self.episodes}.")
        need(
            self.reference_episodes >= 2,
            f"--reference-episodes must be at least 2, got {self.reference_episodes}.",
        )
        need(
            self.value_episodes >= 1,
            f"--value-episodes must be at least 1, got {self.value_episodes}.",
        )
        need(bool(self.batch_episodes), "--batch-episodes needs at least one batch size.")
        need(
            min(self.batch_episodes) >= 1,
            f"--batch-episodes must be positive, got {list(self.batch_episodes)}.",
        )
        need(
            3 * max(self.batch_episodes) <= self.episodes,
            f"--episodes ({self.episodes}) must hold at least three batches of the largest "
            f"--batch-episodes ({max(self.batch_episodes)}); raise --episodes.",
        )
        need(bool(self.gammas), "--gammas needs at least one discount factor.")
        for g in self.gammas:
            need(0.0 <= g <= 1.0, f"--gammas must be in [0, 1], got {g}.")
        for lam in self.lams:
            need(0.0 <= lam <= 1.0, f"--lams must be in [0, 1], got {lam}.")
        need(self.value_epochs >= 1, f"--value-epochs must be ≥ 1, got {self.value_epochs}.")
        need(self.num_envs >= 1, f"--num-envs must be at least 1, got {self.num_envs}.")
        return self


QUICK = VarianceSettings(
    episodes=48,
    reference_episodes=48,
    value_episodes=32,
    batch_episodes=(2, 8),
    gammas=(0.99,),
    lams=(0.0, 1.0),
    value_epochs=5,
    num_envs=16,
)


def parse_list(text: str, flag: str, kind: type[int] | type[float]) -> tuple[Any, ...]:
    """``"4,16,64"`` → (4, 16, 64); a malformed list is one ConfigError sentence."""
    try:
        values = tuple(kind(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values:
        raise ConfigError(
            f"{flag} must be comma-separated {kind.__name__} values like "
            f"'{'4,16,64' if kind is int else '0.9,0.99'}', got '{text}'."
        )
    return values


def resolve_settings(quick: bool, overrides: dict[str, Any]) -> VarianceSettings:
    """Defaults (or QUICK) with the options given on the command line (None: not given)."""
    base = QUICK if quick else VarianceSettings()
    given = {k: v for k, v in overrides.items() if v is not None}
    lists = {"batch_episodes": int, "gammas": float, "lams": float}
    for name, kind in lists.items():
        if isinstance(given.get(name), str):
            given[name] = parse_list(given[name], "--" + name.replace("_", "-"), kind)
    return replace(base, **given).validate()


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
    pool: Rollout, net_cfg: NetConfig, gamma: float, epochs: int, seed: int
) -> FittedValue:
    """Fit V_φ for discount γ on ``pool`` (MSE to the observed reward-to-go, no bootstrap)."""
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
    settings = UpdateSettings(gamma, 1.0, "value", False, 0.0, epochs, minibatches)
    fit_value(
        net,
        torch.optim.Adam(net.parameters(), lr=1e-3),
        norm(obs).detach(),
        (flat - loc) / scale,
        settings,
        DistContext(),
        torch.Generator().manual_seed(seed),
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


# ------------------------------------------------------------------------------ statistics
@dataclass(frozen=True)
class Interval:
    """A point estimate with a 95 % (jackknife, normal) interval over the repeats."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class Reference:
    """The high-sample gradient the estimates are compared with."""

    gradient: np.ndarray  # (P,)
    noise: float  # tr Cov of the reference mean itself (its own sampling error)
    episodes: int

    @property
    def norm2(self) -> float:
        """‖g_ref‖², the scale relative variances and biases are expressed in."""
        return float(self.gradient @ self.gradient)

    @property
    def snr(self) -> float:
        """How trustworthy the reference is: ‖E g‖² (debiased) / its sampling variance.

        Reference noise shrinks measured cosines by about √(snr / (1 + snr)).
        """
        return (self.norm2 - self.noise) / max(self.noise, 1e-300)


def reference_gradient(per_traj: torch.Tensor) -> Reference:
    """Mean of per-trajectory gradients and the trace variance of that mean."""
    g = per_traj.numpy()
    noise = float(g.var(0, ddof=1).sum() / g.shape[0])
    return Reference(g.mean(0), noise, g.shape[0])


@dataclass(frozen=True)
class EstimatorStats:
    """Everything measured for one estimator, γ and batch size."""

    gamma: float
    estimator: str
    label: str
    lam: float | None
    batch_episodes: int
    batch_steps: int
    repeats: int
    total_variance: Interval  # tr Cov(ĝ)
    relative_variance: Interval  # tr Cov(ĝ) / ‖g_ref‖²
    snr: Interval  # ‖E ĝ‖² / tr Cov(ĝ), ‖E ĝ‖² debiased
    cosine: Interval  # mean over batches of cos(ĝ, g_ref)
    relative_bias2: Interval  # ‖E ĝ − g_ref‖² / ‖g_ref‖², debiased
    variance_slope: float = math.nan  # d log tr Cov / d log n over the batch sizes (≈ −1)


def _statistics(
    count: int | np.ndarray,
    sum_sq: float | np.ndarray,
    mean_sq: float | np.ndarray,
    mean_dot_ref: float | np.ndarray,
    cos_mean: float | np.ndarray,
    ref: Reference,
) -> dict[str, Any]:
    """The reported statistics from sufficient sums of ``count`` batch estimates.

    ‖E ĝ‖² and bias² subtract the expected sampling error of the means they are built from
    (tr Cov / count, and the reference's own noise), so they are unbiased, not inflated.
    """
    tr_var = (sum_sq - count * mean_sq) / (count - 1)
    norm2 = max(ref.norm2, 1e-300)
    bias2 = mean_sq - 2 * mean_dot_ref + ref.norm2 - tr_var / count - ref.noise
    return {
        "total_variance": tr_var,
        "relative_variance": tr_var / norm2,
        "snr": (mean_sq - tr_var / count) / np.maximum(tr_var, 1e-300),
        "cosine": cos_mean,
        "relative_bias2": bias2 / norm2,
    }


def summarize(batches: np.ndarray, ref: Reference) -> dict[str, Interval]:
    """Statistics of R ≥ 3 batch estimates (R, P) with 95 % jackknife intervals.

    The leave-one-out statistics come in closed form from the full sums (no resampling loop):
    with m the mean estimate, m₋ᵣ = (R·m − ĝ_r)/(R − 1). The jackknife keeps the debiased
    statistics centred (a bootstrap's duplicated repeats would shrink tr Cov and shift them).
    """
    R = batches.shape[0]
    sq = np.einsum("rp,rp->r", batches, batches)
    mean = batches.mean(0)
    dot_mean = batches @ mean
    dot_ref = batches @ ref.gradient
    cos = dot_ref / (np.sqrt(sq * ref.norm2) + 1e-300)
    mean_sq, mean_ref = float(mean @ mean), float(mean @ ref.gradient)
    full = _statistics(R, sq.sum(), mean_sq, mean_ref, cos.mean(), ref)
    loo = _statistics(
        R - 1,
        sq.sum() - sq,
        (R * R * mean_sq - 2 * R * dot_mean + sq) / (R - 1) ** 2,
        (R * mean_ref - dot_ref) / (R - 1),
        (R * cos.mean() - cos) / (R - 1),
        ref,
    )
    out = {}
    for key, point in full.items():
        se = float(np.sqrt((R - 1) / R * np.square(loo[key] - loo[key].mean()).sum()))
        out[key] = Interval(float(point), float(point) - 1.96 * se, float(point) + 1.96 * se)
    return out


def variance_slope(rows: list[EstimatorStats]) -> float:
    """Least-squares slope of log tr Cov against log n (−1 when variance ∝ 1/n)."""
    if len(rows) < 2:
        return math.nan
    x = np.log([r.batch_episodes for r in rows])
    y = np.log([max(r.total_variance.value, 1e-300) for r in rows])
    return float(np.polyfit(x, y, 1)[0])


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
            value_pool, net_cfg, gamma, settings.value_epochs, settings.seed + 17 * i
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
        env, policy, torch.device("cpu"), torch.Generator().manual_seed(noise_seed)
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
    from robopg.trainer import derive_seeds

    cfg = TrainConfig(env=env.task, seed=seed)
    net_cfg = NetConfig(
        obs_dim=env.obs_dim,
        act_dim=env.act_dim,
        hidden=cfg.hidden_sizes(),
        activation=cfg.activation,
        log_std_init=cfg.log_std_init,
    )
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
    from robopg.saved_policy import load_policy

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
