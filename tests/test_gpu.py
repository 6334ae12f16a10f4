"""GPU: the CUDA update equals the CPU one; checkpoints cross devices; the MuJoCo Warp engine
records CUDA graphs, follows the CPU engine, detects contact overflow and trains on CUDA.
Marked ``gpu`` (``pytest -m gpu``, what ``benchmarks/gpu_check.sh`` runs); skipped without CUDA.
"""

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from robopg.algo.batch import Rollout
from robopg.algo.distributed import DistContext
from robopg.algo.policy import GaussianPolicy, NetConfig, ValueNet
from robopg.algo.reinforce import UpdateSettings, update
from robopg.deploy.controller import Controller
from robopg.envs.arms.pusher import PusherTask
from robopg.envs.arms.reacher import ReacherTask
from robopg.envs.batched import BatchedArmEnv
from robopg.envs.panda import PandaReachTask
from robopg.envs.tasks import TASKS
from robopg.errors import EnvError
from robopg.train.trainer import Trainer

from .test_warp_engine import OBS_TOL, cpu_state

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def cuda_env(arm_cls, n, **kwargs):
    from robopg.collect.warp.engine import WarpArmEnv

    return WarpArmEnv(arm_cls.make(), n, device="cuda", **kwargs)


def smooth_actions(n: int, act_dim: int, high: np.ndarray, steps: int) -> np.ndarray:
    """(steps, n, act_dim) policy-like actions at a quarter of the range (as the CPU tests)."""
    phase = np.random.default_rng(1).uniform(0, 2 * np.pi, (n, act_dim))
    k = np.arange(steps)[:, None, None]
    return (0.25 * high * np.sin(0.15 * k + phase)).astype(np.float32)


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


@pytest.mark.parametrize("arm_cls", [ReacherTask, PusherTask, PandaReachTask])
def test_warp_on_cuda_records_cuda_graphs_and_follows_the_cpu_engine(arm_cls):
    n = 4
    parity = TASKS[arm_cls.name].parity
    assert parity is not None
    obs_tol, reward_tol = parity.obs, parity.reward
    cpu = BatchedArmEnv(arm_cls.make(), n, num_threads=1)
    dev = cuda_env(arm_cls, n)
    obs = cpu.reset(seed=3)
    dev.reset(seed=0)
    dobs = dev.load_states(*cpu_state(cpu))
    assert dobs.device.type == "cuda"
    assert np.abs(dobs.cpu().numpy() - obs).max() < OBS_TOL
    limit = cpu.max_episode_steps
    d_obs = d_rew = 0.0
    for a in smooth_actions(n, cpu.act_dim, cpu.action_high, limit):
        ref, got = cpu.step(a), dev.step(torch.from_numpy(a).cuda())
        assert np.array_equal(got.truncated.cpu().numpy(), ref.truncated)
        d_obs = max(d_obs, float(np.abs(got.final_obs.cpu().numpy() - ref.final_obs).max()))
        d_rew = max(d_rew, float(np.abs(got.reward.cpu().numpy() - ref.reward).max()))
    assert d_obs < obs_tol, d_obs
    assert d_rew < reward_tol, d_rew
    # every sequence was recorded as a CUDA graph (a failed capture leaves none: graphs off)
    assert {"physics", "reset", "kinematics"} <= set(dev.graphs)
    dev.check_overflow()


def test_cuda_graphs_compute_what_kernel_by_kernel_launches_compute():
    n = 64
    runs = []
    for graphs in (True, False):
        dev = cuda_env(ReacherTask, n, graphs=graphs)
        out = [dev.reset(seed=5)]
        for a in smooth_actions(n, 2, dev.action_high, 120):  # through one auto-reset
            s = dev.step(torch.from_numpy(a).cuda())
            out += [s.obs, s.reward[:, None]]
        runs.append(torch.cat(out, dim=1).cpu())
        assert bool(dev.graphs) == graphs
    # CUDA runs are not bitwise reproducible (kernel scheduling); Reacher has no contacts
    torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=1e-5)


def test_cuda_pusher_contact_overflow_is_one_sentence():
    dev = cuda_env(PusherTask, 2, nconmax=1, njmax=1)
    dev.reset(seed=0)
    dev.step(torch.zeros(2, 7, device="cuda"))
    with pytest.raises(EnvError, match="ran out of contact/constraint buffers"):
        dev.check_overflow()
    ok = cuda_env(PusherTask, 2)
    ok.reset(seed=0)
    ok.step(torch.zeros(2, 7, device="cuda"))
    ok.check_overflow()


def test_warp_training_on_cuda_keeps_the_batch_on_the_gpu(tmp_path: Path):
    from robopg.collect.device_rollout import DeviceRolloutCollector
    from robopg.config import TrainConfig

    n = 8
    env = cuda_env(ReacherTask, n)
    torch.manual_seed(0)
    policy = GaussianPolicy(NetConfig(obs_dim=10, act_dim=2, hidden=(16,))).cuda()
    col = DeviceRolloutCollector(env, policy, torch.device("cuda"),
                                 torch.Generator("cuda").manual_seed(1))  # fmt: skip
    col.reset(seed=2)
    first, second = col.collect(30), col.collect(30)
    assert first.obs.device.type == "cuda" and first.obs.shape == (30, n, 10)
    rewards = torch.cat((first.rewards, second.rewards)).double().cpu()
    assert second.episode_lengths == [50] * n
    assert np.allclose(second.episode_returns, rewards[:50].sum(0).tolist(), atol=1e-6)
    cfg = TrainConfig(env="reacher", engine="warp", device="cuda", steps=3200, num_envs=16,
                      steps_per_batch=800, eval_episodes=2, final_eval_episodes=2,
                      checkpoint_every=10**9, out=str(tmp_path))  # fmt: skip
    result = Trainer(cfg, show_progress=False).train()
    assert result.env_steps == 3200 and result.final_checkpoint is not None
    assert Controller.load(result.final_checkpoint).act(np.zeros(10)).shape == (2,)
