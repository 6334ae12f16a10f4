"""The MuJoCo Warp engine on Warp's CPU device: it follows the CPU engine along whole episodes.

Tolerances are measured float32-vs-float64 gaps (reacher, 4 worlds, 2 episodes of random
actions in the actuator range, 2026-12-03): max |Δobs| 2.4e-5 (joint velocities drift most),
max |Δreward| 4.9e-7; the asserts leave about 4× margin. Flags and reset timing are exact.
Everything but the first test needs the optional extra ``robopg[gpu]``; CI installs it. The
first run compiles Warp's kernels (tens of seconds, cached under ~/.cache/warp afterwards).
"""

import sys

import numpy as np
import pytest
import torch

from robopg.envs.engine import BatchedArmEnv
from robopg.envs.gym_arms import ReacherTask
from robopg.envs.own_arms import Reacher3Task
from robopg.errors import EnvError
from robopg.warp_engine import require_warp, warp_available

OBS_TOL = 1e-4
REWARD_TOL = 2e-6

needs_warp = pytest.mark.skipif(
    not warp_available(), reason='needs the optional extra robopg[gpu] (pip install "robopg[gpu]")'
)


def test_missing_extra_is_one_sentence_with_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "mujoco_warp", None)  # what `import` sees when absent
    with pytest.raises(EnvError, match=r'pip install "robopg\[gpu\]"'):
        require_warp()


def warp_env(arm_cls, n):
    from robopg.warp_engine.engine import WarpArmEnv

    return WarpArmEnv(arm_cls.make(), n, device="cpu")


def cpu_state(cpu: BatchedArmEnv):
    mocap = cpu._mocap.copy() if cpu._mocap is not None else None
    return cpu._qpos.copy(), cpu._qvel.copy(), mocap


@needs_warp
@pytest.mark.parametrize("arm_cls", [ReacherTask, Reacher3Task])
def test_episodes_follow_the_cpu_engine(arm_cls):
    n, episodes = 4, 2
    cpu = BatchedArmEnv(arm_cls.make(), n, num_threads=1)
    dev = warp_env(arm_cls, n)
    obs = cpu.reset(seed=3)
    dev.reset(seed=0)
    dobs = dev.load_states(*cpu_state(cpu))
    assert np.abs(dobs.numpy() - obs).max() < OBS_TOL
    rng = np.random.default_rng(1)
    d_obs = d_rew = 0.0
    limit = cpu.max_episode_steps
    for ep in range(episodes):
        for t in range(limit):
            a = rng.uniform(cpu.action_low, cpu.action_high, (n, cpu.act_dim)).astype(np.float32)
            ref, got = cpu.step(a), dev.step(torch.from_numpy(a))
            assert np.array_equal(got.truncated.numpy(), ref.truncated)
            assert np.array_equal(got.terminated.numpy(), ref.terminated)
            assert got.truncated.all().item() == (t == limit - 1)
            d_obs = max(d_obs, float(np.abs(got.final_obs.numpy() - ref.final_obs).max()))
            d_rew = max(d_rew, float(np.abs(got.reward.numpy() - ref.reward).max()))
            if t < limit - 1:
                assert torch.equal(got.obs, got.final_obs)
        # auto-reset happened in the step: obs is a fresh episode, not the final obs
        assert (got.obs - got.final_obs).abs().max() > 1e-3
        assert torch.equal(dev._elapsed, torch.zeros(n, dtype=torch.int64))
        if ep < episodes - 1:  # restart both engines from the CPU engine's new episode
            dev.load_states(*cpu_state(cpu))
    assert d_obs < OBS_TOL, d_obs
    assert d_rew < REWARD_TOL, d_rew
    dev.check_overflow()


@needs_warp
def test_reacher_resets_land_in_reachers_distribution():
    n = 512
    dev = warp_env(ReacherTask, n)
    dev.reset(seed=0)
    qpos, qvel = dev._qpos.numpy().astype(np.float64), dev._qvel.numpy()
    init = ReacherTask.make().init_qpos
    assert np.abs(qpos[:, :2] - init[:2]).max() <= 0.1 + 1e-6
    assert np.abs(qvel[:, :2]).max() <= 0.005 + 1e-7
    assert np.all(qvel[:, 2:] == 0)
    target = qpos[:, 2:]
    r = np.linalg.norm(target, axis=1)
    assert r.max() < 0.2
    # uniform in the disc: P(r < 0.1) = 1/4, P(x > 0) = 1/2 (binomial std ≈ 0.02 at n = 512)
    assert abs(np.mean(r < 0.1) - 0.25) < 0.08
    assert abs(np.mean(target[:, 0] > 0) - 0.5) < 0.08
    # the observation's target and fingertip-to-target entries read the same state
    obs = dev._obs.numpy()
    assert np.allclose(obs[:, 4:6], target, atol=1e-6)


@needs_warp
def test_same_seed_same_numbers_and_masked_reset():
    n = 8
    dev = warp_env(ReacherTask, n)
    actions = torch.linspace(-1, 1, 60 * n * 2).reshape(60, n, 2)

    def episode(seed):
        out = [dev.reset(seed)]
        for a in actions:
            out.append(dev.step(a).obs)
        return torch.stack(out)

    first, again, other = episode(5), episode(5), episode(6)
    assert torch.equal(first, again)
    assert not torch.allclose(first[0], other[0])
    before = dev._qpos.clone()
    mask = torch.zeros(n, dtype=torch.bool)
    mask[[1, 4]] = True
    dev.reset_worlds(mask)
    after = dev._qpos
    assert torch.equal(after[~mask], before[~mask])
    assert not torch.allclose(after[mask], before[mask])
    assert torch.equal(dev._elapsed[mask], torch.zeros(2, dtype=torch.int64))
