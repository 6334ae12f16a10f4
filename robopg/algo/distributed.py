"""torch.distributed helpers for data-parallel REINFORCE launched by ``torchrun``.

Every rank collects its own batch; gradients, normaliser moments and metrics are averaged with
all-reduce, so N ranks take the same step one process would take on the union of their data.
Outside torchrun (no WORLD_SIZE in the environment) every helper is a cheap no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    """Who this process is. ``world_size == 1`` means plain single-process training."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Only rank 0 logs, prints and writes files."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def _reduce(self, tensor: torch.Tensor, op: dist.ReduceOp.RedOpType) -> None:
        """all_reduce in place; NCCL only reduces CUDA tensors, so CPU ones take a round trip."""
        if tensor.device.type == "cpu" and dist.get_backend() == "nccl":
            on_gpu = tensor.to(f"cuda:{self.local_rank}")
            dist.all_reduce(on_gpu, op=op)
            tensor.copy_(on_gpu)
        else:
            dist.all_reduce(tensor, op=op)

    def all_reduce_mean(self, tensor: torch.Tensor) -> torch.Tensor:
        """Average ``tensor`` over ranks in place (identity when single-process)."""
        if self.active:
            self._reduce(tensor, dist.ReduceOp.SUM)
            tensor /= self.world_size
        return tensor

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over ranks in place (identity when single-process)."""
        if self.active:
            self._reduce(tensor, dist.ReduceOp.SUM)
        return tensor

    def any(self, flag: bool) -> bool:
        """True on every rank if ``flag`` is true on any rank (e.g. a stop request), so all
        ranks leave the loop at the same update instead of one waiting forever in a collective."""
        if not self.active:
            return flag
        t = torch.tensor([1.0 if flag else 0.0])
        self._reduce(t, dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def broadcast_parameters(self, module: torch.nn.Module) -> None:
        """Copy rank 0's parameters and buffers to every rank.

        Seeding alone is not enough: orthogonal init goes through LAPACK's QR, whose rounding
        can depend on the thread count, so ranks could start a few ulps apart and drift.
        """
        if not self.active:
            return
        for tensor in [*module.parameters(), *module.buffers()]:
            if tensor.device.type == "cpu" and dist.get_backend() == "nccl":
                on_gpu = tensor.data.to(f"cuda:{self.local_rank}")
                dist.broadcast(on_gpu, src=0)
                tensor.data.copy_(on_gpu)
            else:
                dist.broadcast(tensor.data, src=0)

    def average_gradients(self, params: list[torch.nn.Parameter]) -> None:
        """Average .grad over ranks with one flat all-reduce (one collective per update)."""
        if not self.active:
            return
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        self.all_reduce_mean(flat)
        offset = 0
        for p, g in zip(params, grads, strict=True):
            n = g.numel()
            p.grad = flat[offset : offset + n].view_as(p).clone()
            offset += n


def init_distributed(device: str) -> DistContext:
    """Join the process group torchrun describes through WORLD_SIZE/RANK/LOCAL_RANK, if any.

    Backend: nccl when training on CUDA, gloo on CPU.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend)
    return DistContext(rank=rank, world_size=world, local_rank=local_rank)


def shutdown_distributed(ctx: DistContext) -> None:
    """Wait for every rank (rank 0 may still be evaluating and saving), then leave the group.

    Exiting with the group alive can abort the process (SIGABRT) inside gloo/NCCL teardown.
    """
    if ctx.active and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
