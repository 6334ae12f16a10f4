"""The Panda's joint and Cartesian interfaces on the MuJoCo Warp engine (Warp's CPU device)
follow the batched engine."""

import numpy as np
import pytest
import torch

from robopg.envs.batched import BatchedArmEnv
from robopg.envs.tasks import TASKS

REACH = TASKS["panda-reach"]


@pytest.mark.parametrize("action", ["joint", "cartesian"])
def test_warp_follows_the_batched_engine(action):
    from robopg.collect.warp.engine import WarpArmEnv

    n = 4
    cpu = BatchedArmEnv(REACH.make_arm(action), n, num_threads=1)
    dev = WarpArmEnv(REACH.make_arm(action), n, device="cpu")
    assert (dev.act_dim, list(dev.action_high)) == (cpu.act_dim, list(cpu.action_high))
    cpu.reset(seed=3)
    dev.reset(seed=0)
    assert cpu._mocap is not None
    dev.load_states(cpu._qpos.copy(), cpu._qvel.copy(), cpu._mocap.copy())
    phase = np.random.default_rng(1).uniform(0, 2 * np.pi, (n, cpu.act_dim))
    d_obs = d_rew = 0.0
    for t in range(150):  # full-scale smooth actions: the target moves at its bound
        a = np.sin(0.15 * t + phase).astype(np.float32)
        ref, got = cpu.step(a), dev.step(torch.from_numpy(a))
        d_obs = max(d_obs, float(np.abs(got.final_obs.numpy() - ref.final_obs).max()))
        d_rew = max(d_rew, float(np.abs(got.reward.numpy() - ref.reward).max()))
    # measured 7.1e-6 / 5.8e-7 (joint), 6.8e-6 / 4.3e-7 (cartesian): bounds about 10× that
    assert d_obs < 1e-4, d_obs
    assert d_rew < 1e-5, d_rew
    assert np.abs(ref.final_obs[:, 14:21]).max() > 0.3  # the arm really moved


def test_warp_clamps_the_torque_rate_as_the_batched_engine():
    """The law's torque-rate clamp (a Warp kernel before each substep) binds as the batched
    engine's: with the bound lowered to 100 N·m/s, full-scale steps hit it on both engines,
    and they agree. Over 20 steps: a bound that binds at every substep makes the arm ring (the
    torque lags the law), and float32 differences then grow with the ringing, ×10 per 20
    steps (measured 1.7e-5 at step 20, 9.7e-5 at 40, 7.4e-4 at 60)."""
    from robopg.collect.warp.engine import WarpArmEnv

    n = 4
    arms = [REACH.make_arm("joint"), REACH.make_arm("joint")]
    for arm in arms:
        arm.law.rate_step = 100.0 * arm.model.opt.timestep  # type: ignore[union-attr]
    cpu = BatchedArmEnv(arms[0], n, num_threads=1)
    dev = WarpArmEnv(arms[1], n, device="cpu")
    cpu.reset(seed=3)
    dev.reset(seed=0)
    assert cpu._mocap is not None
    dev.load_states(cpu._qpos.copy(), cpu._qvel.copy(), cpu._mocap.copy())
    phase = np.random.default_rng(1).uniform(0, 2 * np.pi, (n, 7))
    d_obs = 0.0
    for t in range(20):
        a = np.sin(0.15 * t + phase).astype(np.float32)
        ref, got = cpu.step(a), dev.step(torch.from_numpy(a))
        d_obs = max(d_obs, float(np.abs(got.final_obs.numpy() - ref.final_obs).max()))
    assert cpu.limits is not None
    assert cpu.limits.peaks[:, 4].max() == pytest.approx(0.1)  # the clamp bound the torque
    assert d_obs < 1e-4, d_obs
