"""Running mean/variance of observations, kept as a torch module so it is saved with the policy.

A policy without its normaliser is a different policy (the peers lose it at save time); storing
the statistics as buffers of a module inside the policy makes that impossible.
"""

from __future__ import annotations

import torch
from torch import nn

from robopg.algo.distributed import DistContext


def _functorch_active() -> bool:
    active = getattr(torch._C, "_are_functorch_transforms_active", None)
    return True if active is None else bool(active())


class RunningMeanStd(nn.Module):
    """Mean and variance of a stream of (B, D) batches, merged with Chan et al.'s parallel formula.

    Statistics are float64 so millions of updates do not drift. ``forward`` standardises and
    clips to ±``clip`` (large outliers early in training otherwise dominate the first layer).
    """

    mean: torch.Tensor
    var: torch.Tensor
    count: torch.Tensor

    def __init__(self, dim: int, clip: float = 10.0, epsilon: float = 1e-8) -> None:
        super().__init__()
        self.clip = clip
        self.epsilon = epsilon
        self.register_buffer("mean", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("var", torch.ones(dim, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self._cache_key: tuple[object, ...] | None = None
        self._cache: tuple[torch.Tensor, torch.Tensor] = (self.mean, self.var)

    @torch.no_grad()
    def update(self, batch: torch.Tensor) -> None:
        """Fold a (B, D) batch into the statistics."""
        x = batch.reshape(-1, self.mean.shape[0]).to(torch.float64)
        self.update_from_moments(x.mean(0), x.var(0, unbiased=False), float(x.shape[0]))

    @torch.no_grad()
    def update_from_moments(
        self, batch_mean: torch.Tensor, batch_var: torch.Tensor, batch_count: float
    ) -> None:
        """Merge precomputed moments (also how distributed ranks combine their statistics)."""
        if batch_count <= 0:
            return
        total = self.count + batch_count
        delta = batch_mean.to(torch.float64) - self.mean
        new_mean = self.mean + delta * (batch_count / total)
        m2 = self.var * self.count + batch_var.to(torch.float64) * batch_count
        m2 = m2 + delta.square() * (self.count * batch_count / total)
        self.mean.copy_(new_mean)
        self.var.copy_(m2 / total)
        self.count.copy_(total)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Standardise ``obs`` (..., D) with the current statistics, in ``obs``'s dtype."""
        mean, std = self.stats_in(obs.dtype, obs.device)
        out = (obs - mean) / std
        return out.clamp(-self.clip, self.clip)

    def stats_in(
        self, dtype: torch.dtype, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, √(var + ε)) cast to ``dtype``, recomputed only when the statistics change.

        The statistics change once per update but are read at every env step; the cache is
        keyed on the buffers' identities and in-place versions (``update``, ``load_state_dict``
        and ``.to()`` all change one), so a stale value cannot be served.
        """
        key = (id(self.mean), self.mean._version, id(self.var), self.var._version, dtype, device)
        if self._cache_key == key:
            return self._cache
        stats = (self.mean.to(dtype), torch.sqrt(self.var + self.epsilon).to(dtype))
        if not _functorch_active():  # tensors made inside vmap/grad must not outlive them
            self._cache, self._cache_key = stats, key
        return stats


def update_across_ranks(rms: RunningMeanStd, obs: torch.Tensor, dist: DistContext) -> None:
    """Fold a (…, D) batch from every rank into ``rms``: all ranks end with equal statistics,
    the same a single process would get from the union of the ranks' (equal-sized) batches."""
    x = obs.reshape(-1, obs.shape[-1]).to(torch.float64)
    moments = torch.stack([x.mean(0), x.square().mean(0)])
    dist.all_reduce_mean(moments)
    var = (moments[1] - moments[0].square()).clamp_min(0.0)
    rms.update_from_moments(moments[0], var, float(x.shape[0] * dist.world_size))
