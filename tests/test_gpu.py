"""GPU: the CUDA update equals the CPU one; checkpoints cross devices. Skipped without CUDA."""

import copy
from pathlib import Path

import pytest
import torch

from robopg.algo.batch import Rollout
from robopg.algo.distributed import DistContext
from robopg.algo.policy import GaussianPolicy, NetConfig, ValueNet
from robopg.algo.reinforce import UpdateSettings, update
from robopg.deploy.controller import Controller
from robopg.train.trainer import Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def make_batch(device: str) -> Rollout:
    g = torch.Generator().manual_seed(0)
    T, N = 50, 16
    term = torch.zeros(T, N, dtype=torch.bool)
    trunc = torch.zeros(T, N, dtype=torch.bool)
    trunc[-1] = True
    batch = Rollout(
        torch.randn(T, N, 10, generator=g), torch.randn(T, N, 2, generator=g),
        torch.randn(T, N, generator=g), term, trunc, torch.randn(T, N, 10, generator=g),
    )  # fmt: skip
    fields = ("obs", "actions", "rewards", "terminated", "truncated", "next_obs")
    return Rollout(*(getattr(batch, f).to(device) for f in fields))


def test_cuda_update_matches_cpu_update() -> None:
    torch.manual_seed(0)
    cfg = NetConfig(10, 2)
    pol, val = GaussianPolicy(cfg), ValueNet(cfg)
    pol.obs_norm.update(torch.randn(100, 10))
    results = {}
    for dev in ("cpu", "cuda"):
        p, v = copy.deepcopy(pol).to(dev), copy.deepcopy(val).to(dev)
        s = UpdateSettings(0.99, 0.95, "value", True, 0.5, 2, 4)
        metrics = update(make_batch(dev), p, v, torch.optim.SGD(p.parameters(), lr=0.1),
                         torch.optim.Adam(v.parameters(), lr=1e-3), s, DistContext(),
                         torch.Generator().manual_seed(1))  # fmt: skip
        results[dev] = ({k: t.detach().cpu() for k, t in p.state_dict().items()}, metrics)
    for key, value in results["cpu"][0].items():
        torch.testing.assert_close(results["cuda"][0][key], value, rtol=1e-4, atol=1e-5)
    assert results["cuda"][1]["train/grad_norm"] == pytest.approx(
        results["cpu"][1]["train/grad_norm"], rel=1e-4
    )


def test_gpu_training_checkpoint_loads_and_resumes_on_cpu(tmp_path: Path) -> None:
    from robopg.config import TrainConfig

    cfg = TrainConfig(steps=1600, num_envs=8, steps_per_batch=400, device="cuda",
                      eval_episodes=2, checkpoint_every=2, out=str(tmp_path))  # fmt: skip
    result = Trainer(cfg, show_progress=False).train()
    assert result.final_checkpoint is not None and result.run_dir is not None
    ctrl = Controller.load(result.final_checkpoint)  # numpy, CPU
    assert ctrl.act(torch.zeros(10).numpy()).shape == (2,)
    cpu_cfg = cfg.updated({"device": "cpu", "steps": 2400}, "test")
    resumed = Trainer(cpu_cfg, show_progress=False, resume=result.run_dir).train()
    assert resumed.env_steps == 2400
