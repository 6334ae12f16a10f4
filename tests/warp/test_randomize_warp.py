"""Domain randomization on the MuJoCo Warp engine (Warp's CPU device): per-world model fields
the physics runs on, reproducible draws, the delay and the noise."""

from dataclasses import replace

import numpy as np
import torch

from robopg.envs.batched import BatchedArmEnv
from robopg.envs.panda import PandaPushTask, PandaReachTask
from robopg.envs.randomize import load_settings

PANDA = load_settings("panda")
assert PANDA is not None
MODEL = replace(PANDA, delay_probability=0.0, obs_noise={})


def warp_env(arm, n, settings):
    from robopg.collect.warp.engine import WarpArmEnv

    return WarpArmEnv(arm, n, device="cpu", randomize=settings)


def test_warp_worlds_run_on_their_batched_fields_as_the_cpu_engine_on_its_rows():
    """The CPU engine's drawn parameters copied into Warp's per-world fields: the worlds follow
    the CPU engine within the float32 parity of panda-reach; left nominal, they do not."""
    n = 4
    cpu = BatchedArmEnv(PandaReachTask.make(), n, 1, MODEL)
    dev = warp_env(PandaReachTask.make(), n, MODEL)
    obs = cpu.reset(3)
    dev.reset(0)
    fields = dev.randomizer.fields
    for name, rows in fields.items():  # Warp's rows: drawn in range, and not the CPU's
        assert rows.shape[0] == n
        nominal = cpu.randomizer.layout.nominal[name]
        drawn = not np.allclose(cpu.randomizer.fields[name], nominal)  # (the torque motors'
        if rows.numel() and drawn:  # gain rows stay nominal; panda-reach has no contact pairs)
            assert not np.allclose(rows.numpy(), cpu.randomizer.fields[name]), name
    mass = fields["body_mass"][:, 2:10] / torch.as_tensor(
        cpu.randomizer.layout.nominal["body_mass"][2:10], dtype=torch.float32
    )
    assert ((mass >= 0.8 - 1e-6) & (mass <= 1.2 + 1e-6)).all()
    for name, rows in fields.items():
        rows.copy_(torch.as_tensor(cpu.randomizer.fields[name], dtype=rows.dtype))
    dobs = dev.load_states(cpu._qpos.copy(), cpu._qvel.copy(), cpu._mocap.copy())
    assert np.abs(dobs.numpy() - obs).max() < 1e-4
    phase = np.random.default_rng(1).uniform(0, 2 * np.pi, (n, 7))
    gap = 0.0
    plain = BatchedArmEnv(PandaReachTask.make(), n, 1)
    plain.reset(3)
    nominal_gap = 0.0
    for k in range(60):
        a = (0.25 * np.sin(0.15 * k + phase)).astype(np.float32)
        ref, got, nom = cpu.step(a), dev.step(torch.from_numpy(a)), plain.step(a)
        gap = max(gap, float(np.abs(got.obs.numpy() - ref.obs).max()))
        nominal_gap = max(nominal_gap, float(np.abs(nom.obs - ref.obs).max()))
    assert gap < 2e-3, gap
    assert nominal_gap > 20 * gap, (nominal_gap, gap)
    dev.check_overflow()


def test_warp_draws_are_reproducible_and_the_delay_and_noise_apply():
    dev = warp_env(PandaPushTask.make(), 4, PANDA)
    dev.reset(5)
    first = {k: v.clone() for k, v in dev.randomizer.fields.items()}
    dev.reset(5)
    for name, rows in dev.randomizer.fields.items():
        assert torch.equal(rows, first[name]), name
    delay = dev.randomizer.delay.clone()
    a = torch.full((4, 7), 0.1)
    res = dev.step(a)
    # delayed worlds applied zero at their first step, the others the action
    assert torch.equal(dev._ctrl, torch.where(delay[:, None], torch.zeros(4, 7), a))
    assert dev.true_final_obs is not None
    assert 0 < (res.final_obs - dev.true_final_obs).abs().max() < 0.2
