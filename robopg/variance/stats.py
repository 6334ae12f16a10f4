"""Statistics over repeated estimates: jackknife intervals, the reference gradient, slopes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


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
