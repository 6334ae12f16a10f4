"""The value fit's inner step without autograd: an MLP's MSE gradient by hand, Adam by function.

Why: the value regression is 5 epochs × 8 minibatches of ~100 rows on a 64-64 net per update,
more than half of Reacher's training time, and at that size the time is overhead, not
arithmetic. Building and walking the autograd graph and ``Optimizer.step``'s bookkeeping cost
about as much as the matmuls. Backpropagation through ``Linear → activation → … → Linear`` is
five lines per layer, and ``torch.optim.adam.adam`` is the very function ``Adam.step`` calls
(same kernels, same state tensors, so checkpoints and resumes see an ordinary Adam). It is the
value fit's torch path where numpy's does not apply (docs/experiments.md, "Throughput");
gradients agree with autograd to float32 rounding
(tests/test_mlp_grad.py).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import torch
from torch import nn
from torch.optim.adam import adam

#: activation modules with their derivative written in terms of the activation's *output* h
_DERIVATIVE: dict[type[nn.Module], Callable[[torch.Tensor], torch.Tensor]] = {
    nn.Tanh: lambda h: 1.0 - h * h,
    nn.ReLU: lambda h: (h > 0).to(h.dtype),
    nn.ELU: lambda h: torch.where(h > 0, torch.ones_like(h), h + 1.0),  # α = 1: e^z = h + 1
}


def plain_mlp(net: nn.Sequential, activations: Collection[type[nn.Module]]) -> bool:
    """Whether ``net`` is Linear layers (with biases) alternating with activations of the types
    in ``activations`` (ELU only at α = 1), ending in a Linear: ``robopg.policy.mlp``'s shape,
    which the hand-written gradients here and in ``numpy_mlp`` assume."""
    layers = list(net)
    if not layers or not isinstance(layers[-1], nn.Linear):
        return False
    for i, layer in enumerate(layers):
        want_linear = i % 2 == 0
        if want_linear != isinstance(layer, nn.Linear):
            return False
        if isinstance(layer, nn.Linear) and layer.bias is None:
            return False
        if not want_linear and type(layer) not in activations:
            return False
        if isinstance(layer, nn.ELU) and layer.alpha != 1.0:
            return False
    return True


def supports(net: nn.Sequential) -> bool:
    """Whether ``net`` is a ``plain_mlp`` of this module's activations ending in a Linear of one
    output (``robopg.policy.mlp`` for a value net); otherwise use autograd."""
    last = list(net)[-1] if len(net) else None
    return plain_mlp(net, _DERIVATIVE) and isinstance(last, nn.Linear) and last.out_features == 1


@torch.no_grad()
def mse_grads(
    net: nn.Sequential, x: torch.Tensor, target: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Loss ½·mean((net(x) − target)²) and its gradient for every parameter of ``net``.

    ``x`` (B, in), ``target`` (B,); returns (scalar loss, gradients in ``net.parameters()``
    order). ``net`` must satisfy ``supports``.
    """
    layers = list(net)
    linears = [m for m in layers if isinstance(m, nn.Linear)]
    acts = layers[1::2]
    inputs = [x]  # the input of each Linear; for a hidden one, its activation's output too
    h = x
    for k, lin in enumerate(linears):
        h = torch.addmm(lin.bias, h, lin.weight.t())
        if k < len(acts):
            h = acts[k](h)
            inputs.append(h)
    resid = h.squeeze(-1) - target
    loss = 0.5 * resid.square().mean()
    delta = (resid / resid.shape[0]).unsqueeze(-1)  # ∂loss/∂output, (B, 1)
    grads: list[torch.Tensor] = []
    for k in range(len(linears) - 1, -1, -1):
        a = inputs[k]
        grads += [delta.sum(0), delta.t() @ a]  # bias, weight (reversed below)
        if k > 0:
            delta = (delta @ linears[k].weight) * _DERIVATIVE[type(acts[k - 1])](a)
    grads.reverse()
    return loss, grads


def plain_adam(opt: torch.optim.Optimizer) -> bool:
    """Whether ``opt`` is a one-group Adam without the options ``adam_step`` leaves out."""
    if type(opt) is not torch.optim.Adam or len(opt.param_groups) != 1:
        return False
    group = opt.param_groups[0]
    off = ("amsgrad", "maximize", "fused", "capturable", "differentiable", "decoupled_weight_decay")
    return not any(group.get(k) for k in off) and not group["weight_decay"]


def scalar_dtype() -> torch.dtype:
    """The dtype Adam gives its CPU ``step`` counter (float64 only under a float64 default)."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


@torch.no_grad()
def adam_step(opt: torch.optim.Adam, params: list[nn.Parameter], grads: list[torch.Tensor]) -> None:
    """One step of ``opt`` (a single-group Adam over ``params``) with the given gradients:
    ``Adam.step``'s own update function on ``opt``'s own state, without its bookkeeping."""
    (group,) = opt.param_groups
    if not plain_adam(opt):
        raise ValueError("adam_step supports one group of plain Adam; use opt.step().")
    for p in params:
        if p not in opt.state or not opt.state[p]:  # what Adam._init_group creates
            opt.state[p] = {
                "step": torch.tensor(0.0, dtype=scalar_dtype()),
                "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
            }
    states = [opt.state[p] for p in params]
    beta1, beta2 = group["betas"]
    adam(
        [p.detach() for p in params],
        grads,
        [s["exp_avg"] for s in states],
        [s["exp_avg_sq"] for s in states],
        [],
        [s["step"] for s in states],
        foreach=True,
        capturable=False,
        differentiable=False,
        fused=None,
        grad_scale=None,
        found_inf=None,
        has_complex=False,
        amsgrad=False,
        beta1=beta1,
        beta2=beta2,
        lr=group["lr"],
        weight_decay=0.0,
        eps=group["eps"],
        maximize=False,
    )
