"""Training with --engine warp on Warp's CPU device: the device collector's batch, an
engine-independent checkpoint, and the missing-extra error through the CLI."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from robopg.algo.policy import GaussianPolicy, NetConfig
from robopg.cli import app
from robopg.deploy.controller import Controller
from robopg.deploy.evaluate import evaluate_saved_policy
from robopg.train.trainer import EVAL_SEED_OFFSET, Trainer, resume_config

from ..conftest import tiny_config


def test_engine_warp_without_the_extra_is_one_sentence(monkeypatch):
    monkeypatch.setitem(sys.modules, "mujoco_warp", None)
    result = CliRunner().invoke(app, ["train", "reacher", "--engine", "warp", "--steps", "800"])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert 'install it with: pip install "robopg[gpu]"' in text
    assert "Traceback" not in result.output


def test_device_collector_batch_is_consistent():
    from robopg.collect.device_rollout import DeviceRolloutCollector
    from robopg.collect.warp.engine import WarpArmEnv
    from robopg.envs.arms.reacher import ReacherTask

    n = 4
    env = WarpArmEnv(ReacherTask.make(), n, device="cpu")
    torch.manual_seed(0)
    policy = GaussianPolicy(NetConfig(obs_dim=10, act_dim=2, hidden=(16,)))
    gen = torch.Generator().manual_seed(1)
    col = DeviceRolloutCollector(env, policy, torch.device("cpu"), gen)
    col.reset(seed=2)
    first = col.collect(30)
    second = col.collect(30)  # the episode carries over into the next batch
    assert first.episode_returns == []
    assert first.obs.shape == (30, n, 10) and first.rewards.dtype == torch.float32
    rewards = torch.cat((first.rewards, second.rewards))
    trunc = torch.cat((first.truncated, second.truncated))
    assert trunc[49].all() and trunc.sum() == n
    expected = rewards[:50].double().sum(0).tolist()
    assert np.allclose(second.episode_returns, expected, atol=1e-9)
    assert second.episode_lengths == [50] * n
    obs = torch.cat((first.obs, second.obs))
    nxt = torch.cat((first.next_obs, second.next_obs))
    assert torch.equal(nxt[:49], obs[1:50])  # successors inside the episode
    assert not torch.allclose(nxt[49], obs[50])  # the final obs, not the reset obs
    acts = torch.cat((first.actions, second.actions))
    assert acts.abs().max() > 0  # unclipped samples are stored


def test_policy_trained_with_warp_evaluates_on_the_cpu_engine(tmp_path: Path):
    cfg = tiny_config(tmp_path, engine="warp", eval_episodes=3)
    result = Trainer(cfg, show_progress=False).train()
    assert result.final_checkpoint is not None and result.final_eval is not None
    path, _, ev = evaluate_saved_policy(
        result.final_checkpoint, 3, seed=cfg.seed + EVAL_SEED_OFFSET, engine="batch"
    )
    # the Controller acts in float64 numpy, the trainer's evaluation in float32 torch
    assert ev.mean == pytest.approx(result.final_eval.mean, abs=1e-4)
    assert -60 < ev.mean < 0  # a Reacher return, from the CPU engine
    ctrl = Controller.load(path)
    assert ctrl.act(np.zeros(10)).shape == (2,)


def test_warp_run_resumes_with_fresh_episodes(tmp_path: Path):
    first = Trainer(tiny_config(tmp_path, engine="warp", steps=800), show_progress=False).train()
    assert first.run_dir is not None and first.env_steps == 800
    cfg = resume_config(first.run_dir, {"steps": 1600})
    second = Trainer(cfg, show_progress=False, resume=first.run_dir).train()
    assert second.env_steps == 1600 and second.final_checkpoint is not None
