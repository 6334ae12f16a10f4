"""The numpy policy step: the torch step's numbers (floor, entropy bonus and clipping included)
to float32 rounding, and a non-finite step refused with the policy left untouched."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
import torch

from robopg.algo.distributed import DistContext
from robopg.algo.net_config import NetConfig
from robopg.algo.policy import GaussianPolicy, ValueNet
from robopg.algo.reinforce import torch_policy_step, update
from robopg.errors import TrainingDiverged
from robopg.fast import policy_step as numpy_policy_step
from robopg.train.backend import pick_backend

from ..conftest import tiny_config
from .test_update import ACT, OBS, SETTINGS, batch


@pytest.mark.parametrize(
    ("floor", "ent_coef", "max_grad_norm"),
    [(None, 0.0, 0.5), (-0.4, 0.01, 0.5), (None, 0.0, 0.0), (-0.6, 0.0, 1e-3)],
)
def test_numpy_step_equals_the_torch_step(
    floor: float | None, ent_coef: float, max_grad_norm: float
) -> None:
    torch.manual_seed(0)
    policy = GaussianPolicy(NetConfig(OBS, ACT, log_std_floor=floor))
    with torch.no_grad():  # dims below, at and above the floor; a mean that matters
        policy.log_std.copy_(torch.tensor([-0.8, -0.4, -0.1]))
        policy.mean_net[-1].weight.mul_(50.0)
    policy.obs_norm.update(torch.randn(64, OBS) * 2)
    value = ValueNet(NetConfig(OBS, ACT))
    s = dataclasses.replace(SETTINGS, ent_coef=ent_coef, max_grad_norm=max_grad_norm)
    results = []
    for step in (numpy_policy_step.policy_step, torch_policy_step):
        p, v = copy.deepcopy(policy), copy.deepcopy(value)
        popt = torch.optim.Adam(p.parameters(), lr=1e-2)
        vopt = torch.optim.Adam(v.parameters(), lr=1e-3)
        rows = [
            update(
                batch(k), p, v, popt, vopt, s, DistContext(), torch.Generator(), policy_step=step
            )
            for k in (0, 1)
        ]
        results.append((p, popt, rows))
    (mine, mine_opt, mine_rows), (ref, ref_opt, ref_rows) = results
    for got, want in zip(mine_rows, ref_rows, strict=True):
        for name in ("train/policy_loss", "train/entropy", "train/grad_norm", "train/std"):
            assert got[name] == pytest.approx(want[name], rel=1e-4, abs=1e-6), name
        assert got["train/approx_kl"] == pytest.approx(want["train/approx_kl"], rel=0.02, abs=1e-7)
    for (name, a), b in zip(mine.named_parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)
        assert a.grad is not None and b.grad is not None
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-3, atol=1e-5, msg=name)
    if floor is not None:  # below the floor: no gradient, the parameter never moves
        assert float(mine.log_std.grad[0]) == 0.0
        assert mine.log_std.detach()[0].item() == torch.tensor(-0.8).item()
    for st, ref_st in zip(
        mine_opt.state_dict()["state"].values(), ref_opt.state_dict()["state"].values(), strict=True
    ):
        assert torch.equal(st["step"], ref_st["step"])
        torch.testing.assert_close(st["exp_avg"], ref_st["exp_avg"], rtol=1e-3, atol=1e-6)


def test_a_non_finite_step_is_refused_and_changes_nothing() -> None:
    torch.manual_seed(0)
    policy, value = GaussianPolicy(NetConfig(OBS, ACT)), ValueNet(NetConfig(OBS, ACT))
    popt = torch.optim.Adam(policy.parameters(), lr=1e-3)
    vopt = torch.optim.Adam(value.parameters(), lr=1e-3)
    before = copy.deepcopy(policy.state_dict())
    bad = batch(0)
    bad.actions[3, 2, 1] = float("nan")
    step, gen = numpy_policy_step.policy_step, torch.Generator()
    with pytest.raises(TrainingDiverged, match="the policy loss became NaN/Inf"):
        update(bad, policy, value, popt, vopt, SETTINGS, DistContext(), gen, policy_step=step)
    for name, tensor in policy.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    assert not popt.state  # Adam never stepped


def test_the_numpy_backend_covers_single_process_param_policies_only() -> None:
    cpu = torch.device("cpu")
    policy = GaussianPolicy(NetConfig(OBS, ACT))
    opt = torch.optim.Adam(policy.parameters())
    value = ValueNet(NetConfig(OBS, ACT))
    vopt = torch.optim.Adam(value.parameters())
    assert numpy_policy_step.usable(policy, opt)
    assert pick_backend(policy, opt, value, vopt, cpu, DistContext()).name == "numpy"
    assert pick_backend(policy, opt, None, None, cpu, DistContext()).name == "numpy"
    two = pick_backend(policy, opt, value, vopt, cpu, DistContext(world_size=2))
    assert (two.name, two.reason) == ("torch", "torchrun averages gradients across processes")
    sgd = torch.optim.SGD(policy.parameters(), lr=1)
    assert not numpy_policy_step.usable(policy, sgd)
    assert pick_backend(policy, sgd, value, vopt, cpu, DistContext()).name == "torch"
    value_sgd = torch.optim.SGD(value.parameters(), lr=1)
    assert pick_backend(policy, opt, value, value_sgd, cpu, DistContext()).name == "torch"
    state = GaussianPolicy(NetConfig(OBS, ACT, std="state"))
    state_opt = torch.optim.Adam(state.parameters())
    assert not numpy_policy_step.usable(state, state_opt)
    picked = pick_backend(state, state_opt, value, vopt, cpu, DistContext())
    assert picked.name == "torch" and "--std state" in picked.reason


def test_training_runs_numpy_blas_on_one_thread(tmp_path: Path) -> None:
    """The numpy steps' matrix products must not spread over threads the physics needs."""
    from threadpoolctl import threadpool_info

    from robopg.train.trainer import Trainer

    seen: list[int] = []

    def on_eval(steps: int, result: object) -> bool:
        seen.extend(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")
        return False

    cfg = tiny_config(tmp_path, steps=800, eval_every=1)
    Trainer(cfg, show_progress=False, on_eval=on_eval).train()
    assert seen and set(seen) == {1}
