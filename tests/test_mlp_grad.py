"""The value fit's hand-written step: MSE gradients equal autograd's, ``adam_step`` is
``Adam.step`` bit for bit (state included, so resumes continue it), and anything else falls
back to autograd."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from robopg import mlp_grad
from robopg.policy import mlp
from robopg.reinforce import fit_value


@pytest.mark.parametrize("activation", ["tanh", "relu", "elu"])
@pytest.mark.parametrize("hidden", [(), (7,), (16, 9), (8, 8, 8)])
def test_mse_grads_equal_autograd(activation: str, hidden: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    net = mlp([5, *hidden, 1], activation).double()
    x, y = torch.randn(33, 5, dtype=torch.float64) * 2, torch.randn(33, dtype=torch.float64)
    assert mlp_grad.supports(net)
    loss, grads = mlp_grad.mse_grads(net, x, y)
    ref = 0.5 * (net(x).squeeze(-1) - y).square().mean()
    ref.backward()
    torch.testing.assert_close(loss, ref.detach(), rtol=1e-14, atol=0)
    params = list(net.parameters())
    assert [g.shape for g in grads] == [p.shape for p in params]
    for g, p in zip(grads, params, strict=True):
        assert p.grad is not None
        torch.testing.assert_close(g, p.grad, rtol=1e-12, atol=1e-14)


def test_adam_step_is_adam_step_bit_for_bit_and_resumes() -> None:
    torch.manual_seed(1)
    a, b = mlp([4, 6, 1]), mlp([4, 6, 1])
    b.load_state_dict(a.state_dict())
    opt_a = torch.optim.Adam(a.parameters(), lr=1e-2, foreach=False)
    opt_b = torch.optim.Adam(b.parameters(), lr=1e-2, foreach=True)
    pa, pb = list(a.parameters()), list(b.parameters())
    for step in range(4):
        grads = [torch.randn_like(p) for p in pa]
        for p, g in zip(pa, grads, strict=True):
            p.grad = g.clone()
        opt_a.step()
        mlp_grad.adam_step(opt_b, pb, [g.clone() for g in grads])
        for p, q in zip(pa, pb, strict=True):
            assert torch.equal(p, q), step
    # The state is an ordinary Adam's: it round-trips through state_dict and continues.
    fresh = torch.optim.Adam(b.parameters(), lr=1e-2, foreach=True)
    fresh.load_state_dict(opt_b.state_dict())
    grads = [torch.randn_like(p) for p in pa]
    for p, g in zip(pa, grads, strict=True):
        p.grad = g.clone()
    opt_a.step()
    for p, g in zip(pb, grads, strict=True):
        p.grad = g.clone()
    fresh.step()
    for p, q in zip(pa, pb, strict=True):
        assert torch.equal(p, q)


class _Value(nn.Module):
    def __init__(self, net: nn.Sequential) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


def test_other_nets_and_optimizers_fall_back_to_autograd() -> None:
    normed = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 1))
    assert not mlp_grad.supports(normed)
    assert not mlp_grad.supports(mlp([4, 8, 2]))  # not one output
    assert not mlp_grad.supports(
        nn.Sequential(nn.Linear(4, 8, bias=False), nn.Tanh(), nn.Linear(8, 1))
    )
    assert not mlp_grad.supports(nn.Sequential(nn.Linear(4, 8), nn.ELU(alpha=0.5), nn.Linear(8, 1)))
    net = mlp([4, 8, 1])
    assert not mlp_grad.plain_adam(torch.optim.Adam(net.parameters(), amsgrad=True))
    assert not mlp_grad.plain_adam(torch.optim.AdamW(net.parameters()))
    assert not mlp_grad.plain_adam(torch.optim.SGD(net.parameters(), lr=0.1))

    # The fallback is the autograd fit: SGD on a LayerNorm net still reduces the loss.
    torch.manual_seed(2)
    value = _Value(normed)
    x, y = torch.randn(64, 4), torch.randn(64)
    before = 0.5 * (value(x) - y).square().mean().item()
    opt = torch.optim.SGD(value.parameters(), lr=0.05)
    fit_value(value, opt, x, y, epochs=20, minibatches=4, generator=torch.Generator())  # type: ignore[arg-type]
    after = 0.5 * (value(x) - y).square().mean().item()
    assert after < 0.8 * before
