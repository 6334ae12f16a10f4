"""The numpy value fit: its step equals the torch one (``mlp_grad``) to float32 rounding, its
Adam state goes back into the torch optimizer (so checkpoints and the torch path continue it),
and ``fit_value`` takes it only where it applies."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from robopg import mlp_grad, numpy_value_fit
from robopg.numpy_value_fit import NumpyValueFit
from robopg.policy import mlp
from robopg.reinforce import fit_value

from .test_mlp_grad import _Value


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
    batches = [
        (torch.randn(33, 5, generator=gen), torch.randn(33, generator=gen)) for _ in range(6)
    ]
    fit = NumpyValueFit(b, opt_b)
    for x, y in batches:
        loss_a, grads = mlp_grad.mse_grads(a, x, y)
        mlp_grad.adam_step(opt_a, pa, grads)
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


def test_fit_value_uses_numpy_on_the_cpu_and_matches_the_torch_path() -> None:
    torch.manual_seed(3)
    a, b = _Value(mlp([6, 32, 32, 1])), _Value(mlp([6, 32, 32, 1]))
    b.load_state_dict(a.state_dict())
    opt_a = torch.optim.Adam(a.parameters(), lr=1e-3)
    opt_b = torch.optim.Adam(b.parameters(), lr=1e-3)
    x, y = torch.randn(400, 6), torch.randn(400) * 3
    calls: list[int] = []
    # a no-op all-reduce forces fit_value onto the torch (mlp_grad) path
    loss_a = fit_value(
        a, opt_a, x, y, epochs=5, minibatches=8, generator=torch.Generator().manual_seed(0),
        average_gradients=lambda params: calls.append(1),
    )  # fmt: skip
    loss_b = fit_value(
        b, opt_b, x, y, epochs=5, minibatches=8, generator=torch.Generator().manual_seed(0)
    )
    assert len(calls) == 40  # the torch path ran, step by step
    assert float(loss_b) == pytest.approx(float(loss_a), rel=1e-4)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-5)
    assert float(loss_b) < float(0.5 * (y - y.mean()).square().mean())  # it fit something


def test_usable_only_where_it_applies() -> None:
    net = mlp([4, 8, 1])
    cpu = torch.device("cpu")
    assert numpy_value_fit.usable(net, torch.optim.Adam(net.parameters()), cpu)
    assert not numpy_value_fit.usable(net, torch.optim.Adam(net.parameters()), torch.device("meta"))
    assert not numpy_value_fit.usable(net, torch.optim.SGD(net.parameters(), lr=0.1), cpu)
    assert not numpy_value_fit.usable(net.double(), torch.optim.Adam(net.parameters()), cpu)
    net = mlp([4, 8, 1])
    opt = torch.optim.Adam(net.parameters())
    params = list(net.parameters())
    mlp_grad.adam_step(opt, params[:1], [torch.ones_like(params[0])])  # steps out of step
    assert not numpy_value_fit.usable(net, opt, cpu)
