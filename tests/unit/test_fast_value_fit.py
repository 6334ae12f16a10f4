"""The numpy value fit: its step equals autograd + ``Adam.step`` to float32 rounding, its Adam
state goes back into the torch optimizer (so checkpoints and the torch path continue it), it
matches the torch ``fit_value`` whole, and the numpy backend takes it only where it applies."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from robopg.algo.policy import mlp
from robopg.algo.reinforce import fit_value
from robopg.fast import value_fit as numpy_value_fit
from robopg.fast.adam import plain_adam
from robopg.fast.value_fit import NumpyValueFit


class _Value(nn.Module):
    def __init__(self, net: nn.Sequential) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


def _pair(hidden: tuple[int, ...], activation: str) -> tuple[nn.Sequential, nn.Sequential]:
    torch.manual_seed(0)
    a = mlp([5, *hidden, 1], activation)
    b = mlp([5, *hidden, 1], activation)
    b.load_state_dict(a.state_dict())
    return a, b


@pytest.mark.parametrize("activation", ["tanh", "relu", "elu"])
@pytest.mark.parametrize("hidden", [(), (7,), (16, 9), (8, 8, 8)])
def test_steps_equal_the_torch_steps(activation: str, hidden: tuple[int, ...]) -> None:
    a, b = _pair(hidden, activation)
    opt_a = torch.optim.Adam(a.parameters(), lr=3e-3)
    opt_b = torch.optim.Adam(b.parameters(), lr=3e-3)
    pa = list(a.parameters())
    gen = torch.Generator().manual_seed(1)

    def torch_step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        opt_a.zero_grad()
        loss = 0.5 * (a(x).squeeze(-1) - y).square().mean()
        loss.backward()
        opt_a.step()
        return loss.detach()

    batches = [
        (torch.randn(33, 5, generator=gen), torch.randn(33, generator=gen)) for _ in range(6)
    ]
    fit = NumpyValueFit(b, opt_b)
    for x, y in batches:
        loss_a = torch_step(x, y)
        loss_b = fit.step(x.numpy(), y.numpy())
        assert loss_b == pytest.approx(float(loss_a), rel=1e-5)
    fit.write_back()
    for p, q in zip(pa, b.parameters(), strict=True):
        torch.testing.assert_close(q, p, rtol=1e-5, atol=1e-6)
        sa, sb = opt_a.state[p], opt_b.state[q]
        assert float(sb["step"]) == float(sa["step"]) == 6.0
        assert sb["step"].dtype == sa["step"].dtype
        torch.testing.assert_close(sb["exp_avg"], sa["exp_avg"], rtol=1e-5, atol=1e-8)
        torch.testing.assert_close(sb["exp_avg_sq"], sa["exp_avg_sq"], rtol=1e-5, atol=1e-10)


def test_written_back_state_continues_in_torch_and_round_trips() -> None:
    """A numpy fit, then torch's own Adam.step on the written-back state, then a second numpy
    fit that reads torch's state: the same as torch throughout (to float32 rounding)."""
    a, b = _pair((8,), "tanh")
    opt_a = torch.optim.Adam(a.parameters(), lr=1e-2)
    opt_b = torch.optim.Adam(b.parameters(), lr=1e-2)
    pa, pb = list(a.parameters()), list(b.parameters())
    gen = torch.Generator().manual_seed(2)
    x, y = torch.randn(20, 5, generator=gen), torch.randn(20, generator=gen)

    def torch_step(net: nn.Sequential, opt: torch.optim.Optimizer) -> None:
        opt.zero_grad()
        (0.5 * (net(x).squeeze(-1) - y).square().mean()).backward()
        opt.step()

    for _ in range(3):
        torch_step(a, opt_a)
    fit = NumpyValueFit(b, opt_b)
    for _ in range(3):
        fit.step(x.numpy(), y.numpy())
    fit.write_back()
    torch_step(a, opt_a)
    torch_step(b, opt_b)  # torch continues from the numpy fit's state
    restored = torch.optim.Adam(b.parameters(), lr=1e-2)
    restored.load_state_dict(opt_b.state_dict())
    fit = NumpyValueFit(b, restored)  # and numpy from torch's
    fit.step(x.numpy(), y.numpy())
    fit.write_back()
    torch_step(a, opt_a)
    for p, q in zip(pa, pb, strict=True):
        torch.testing.assert_close(q, p, rtol=1e-5, atol=1e-6)
        assert float(restored.state[q]["step"]) == float(opt_a.state[p]["step"]) == 5.0


def test_numpy_fit_value_matches_the_torch_fit_value() -> None:
    torch.manual_seed(3)
    a, b = _Value(mlp([6, 32, 32, 1])), _Value(mlp([6, 32, 32, 1]))
    b.load_state_dict(a.state_dict())
    opt_a = torch.optim.Adam(a.parameters(), lr=1e-3)
    opt_b = torch.optim.Adam(b.parameters(), lr=1e-3)
    x, y = torch.randn(400, 6), torch.randn(400) * 3
    calls: list[int] = []
    # the torch fit, with a no-op all-reduce to count its steps
    loss_a = fit_value(
        a, opt_a, x, y, epochs=5, minibatches=8, generator=torch.Generator().manual_seed(0),
        average_gradients=lambda params: calls.append(1),
    )  # type: ignore[arg-type]  # fmt: skip
    loss_b = numpy_value_fit.fit_value(
        b, opt_b, x, y, epochs=5, minibatches=8, generator=torch.Generator().manual_seed(0)
    )  # type: ignore[arg-type]
    assert len(calls) == 40  # the torch path ran, step by step
    assert float(loss_b) == pytest.approx(float(loss_a), rel=1e-4)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-5)
    assert float(loss_b) < float(0.5 * (y - y.mean()).square().mean())  # it fit something
    with pytest.raises(ValueError, match="one process"):
        numpy_value_fit.fit_value(
            b, opt_b, x, y, epochs=1, minibatches=1, generator=torch.Generator(),
            average_gradients=lambda params: None,
        )  # type: ignore[arg-type]  # fmt: skip


def test_usable_only_where_it_applies() -> None:
    net = mlp([4, 8, 1])
    assert numpy_value_fit.usable(net, torch.optim.Adam(net.parameters()))
    meta = mlp([4, 8, 1]).to("meta")
    assert not numpy_value_fit.usable(meta, torch.optim.Adam(meta.parameters()))
    assert not numpy_value_fit.usable(net, torch.optim.SGD(net.parameters(), lr=0.1))
    assert not numpy_value_fit.usable(net.double(), torch.optim.Adam(net.parameters()))
    net = mlp([4, 8, 1])
    opt = torch.optim.Adam(net.parameters())
    params = list(net.parameters())
    params[0].grad = torch.ones_like(params[0])  # Adam steps only what has a gradient
    opt.step()  # so the net's tensors are now at different step counts
    assert not numpy_value_fit.usable(net, opt)


def test_other_nets_and_optimizers_are_left_to_autograd() -> None:
    normed = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 1))
    adam = torch.optim.Adam
    assert not numpy_value_fit.usable(normed, adam(normed.parameters()))
    two = mlp([4, 8, 2])  # not one output
    assert not numpy_value_fit.usable(two, adam(two.parameters()))
    no_bias = nn.Sequential(nn.Linear(4, 8, bias=False), nn.Tanh(), nn.Linear(8, 1))
    assert not numpy_value_fit.usable(no_bias, adam(no_bias.parameters()))
    elu = nn.Sequential(nn.Linear(4, 8), nn.ELU(alpha=0.5), nn.Linear(8, 1))
    assert not numpy_value_fit.usable(elu, adam(elu.parameters()))
    net = mlp([4, 8, 1])
    assert not plain_adam(torch.optim.Adam(net.parameters(), amsgrad=True))
    assert not plain_adam(torch.optim.AdamW(net.parameters()))
    assert not plain_adam(torch.optim.SGD(net.parameters(), lr=0.1))

    # What the numpy path leaves is the autograd fit: SGD on a LayerNorm net still learns.
    torch.manual_seed(2)
    value = _Value(normed)
    x, y = torch.randn(64, 4), torch.randn(64)
    before = 0.5 * (value(x) - y).square().mean().item()
    opt = torch.optim.SGD(value.parameters(), lr=0.05)
    fit_value(value, opt, x, y, epochs=20, minibatches=4, generator=torch.Generator())  # type: ignore[arg-type]
    after = 0.5 * (value(x) - y).square().mean().item()
    assert after < 0.8 * before
