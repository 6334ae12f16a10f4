"""A fixed REINFORCE update problem for tests/training/test_distributed.py.

Imported by the test for the single-process reference; run under torchrun as the worker that
takes one rank's share (env columns) of the same batch and saves its updated policy.
"""

import os
import sys

import torch
from safetensors.torch import save_file

from robopg.algo.batch import Rollout
from robopg.algo.distributed import DistContext, init_distributed, shutdown_distributed
from robopg.algo.normalize import update_across_ranks
from robopg.algo.policy import GaussianPolicy, NetConfig, ValueNet
from robopg.algo.reinforce import UpdateSettings, update

T, N, OBS, ACT = 6, 8, 5, 2
# float64 so that the only difference between 1 and 2 processes is summation order (~1e-16);
# in float32, Adam's first step g/(|g|+ε) amplifies that noise for near-zero gradient entries.
F64 = torch.float64
SETTINGS = UpdateSettings(0.99, 0.95, "value", True, 0.5, 2, 2)


def union_batch() -> Rollout:
    g = torch.Generator().manual_seed(42)
    done = torch.zeros(T, N, dtype=torch.bool)
    done[3, ::3] = True
    return Rollout(
        obs=torch.randn(T, N, OBS, generator=g, dtype=F64),
        actions=torch.randn(T, N, ACT, generator=g, dtype=F64),
        rewards=torch.randn(T, N, generator=g, dtype=F64),
        terminated=done,
        truncated=torch.zeros(T, N, dtype=torch.bool),
        next_obs=torch.randn(T, N, OBS, generator=g, dtype=F64),
    )


def columns(batch: Rollout, cols: slice) -> Rollout:
    return Rollout(
        batch.obs[:, cols], batch.actions[:, cols], batch.rewards[:, cols],
        batch.terminated[:, cols], batch.truncated[:, cols], batch.next_obs[:, cols],
    )  # fmt: skip


def _fill(module: torch.nn.Module, seed: int) -> None:
    """Seeded plain-normal weights: orthogonal init goes through LAPACK's QR, whose rounding
    depends on the thread count, and torchrun ranks run with one thread, pytest with more."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(0.3 * torch.randn(param.shape, generator=g, dtype=F64))


def initial_policy() -> GaussianPolicy:
    policy = GaussianPolicy(NetConfig(OBS, ACT)).to(F64)
    _fill(policy, 0)
    return policy


def step(batch: Rollout, ctx: DistContext) -> dict[str, torch.Tensor]:
    """One REINFORCE update + normaliser merge; returns the new policy state."""
    policy = initial_policy()
    value = ValueNet(policy.cfg).to(F64)
    _fill(value, 3)
    policy.obs_norm.update(torch.randn(50, OBS, generator=torch.Generator().manual_seed(1)))
    # SGD, not Adam: Adam's first step g/(|g|+ε) turns 1e-17 summation-order noise in entries
    # with |g| ≈ ε into 1e-7 parameter noise (it differs even between thread counts).
    popt = torch.optim.SGD(policy.parameters(), lr=0.1)
    vopt = torch.optim.Adam(value.parameters(), lr=1e-3)
    update(batch, policy, value, popt, vopt, SETTINGS, ctx, torch.Generator().manual_seed(2))
    update_across_ranks(policy.obs_norm, batch.obs, ctx)
    return {k: v.detach().clone().contiguous() for k, v in policy.state_dict().items()}


if __name__ == "__main__":
    ctx = init_distributed("cpu")
    half = N // ctx.world_size
    share = columns(union_batch(), slice(ctx.rank * half, (ctx.rank + 1) * half))
    save_file(step(share, ctx), f"{sys.argv[1]}/rank{ctx.rank}.safetensors")
    shutdown_distributed(ctx)
    os._exit(0)  # skip finalisation: gloo threads can abort it (see robopg.cli.main)
