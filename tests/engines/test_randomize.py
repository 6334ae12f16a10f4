"""Domain randomization (``robopg.envs.randomize``) on the batched engine: off changes nothing,
on draws each env's parameters inside their ranges from its seed, the physics runs on them, the
delay applies the previous action, the noise perturbs only what the policy sees."""

import copy
from dataclasses import replace

import mujoco
import numpy as np
import pytest

from robopg.envs.batched import BatchedArmEnv
from robopg.envs.panda import PandaPushTask, PandaReachTask
from robopg.envs.randomize import RandomizeSettings, load_settings, parse_settings
from robopg.errors import ConfigError, EnvError

PANDA = load_settings("panda")
assert PANDA is not None
#: the panda preset's model parameters only (no delay, no noise): the physics alone
MODEL = replace(PANDA, delay_probability=0.0, obs_noise={})


def run(env: BatchedArmEnv, seed: int, steps: int, paired: bool = False) -> list[np.ndarray]:
    """Observations, rewards and final observations of ``steps`` steps of fixed random actions."""
    out = [env.reset(seed, paired)]
    rng = np.random.default_rng(7)
    for _ in range(steps):
        res = env.step(rng.uniform(-0.5, 0.5, (env.num_envs, env.act_dim)))
        out += [res.obs, res.reward, res.final_obs]
    return out


def test_nominal_ranges_step_bit_for_bit_as_without_randomization():
    """Per-env model rows holding the nominal values (every factor 1, no friction loss) give
    the engine's numbers exactly: the per-simulation fields themselves change nothing."""
    unit = RandomizeSettings(
        name="unit",
        link_mass=(1.0, 1.0),
        damping=(1.0, 1.0),
        frictionloss=(0.0, 0.0),
        motor_strength=(1.0, 1.0),
        puck_mass=(1.0, 1.0),
        puck_friction=(1.0, 1.0),
    )
    plain = run(BatchedArmEnv(PandaPushTask.make(), 4, 1), 5, 230)  # one auto-reset
    unit_run = run(BatchedArmEnv(PandaPushTask.make(), 4, 1, unit), 5, 230)
    for a, b in zip(plain, unit_run, strict=True):
        assert np.array_equal(a, b)


def test_each_env_draws_its_own_parameters_inside_the_ranges_reproducibly():
    env = BatchedArmEnv(PandaPushTask.make(), 6, 1, PANDA)
    env.reset(3)
    f, lay = env.randomizer.fields, env.randomizer.layout
    nom = lay.nominal
    b, d = lay.arm_bodies, lay.arm_dofs
    assert b.tolist() == [2, 3, 4, 5, 6, 7, 8, 9]  # link1 … link7 and the hand
    mass = f["body_mass"][:, b] / nom["body_mass"][b]
    assert ((mass >= 0.8) & (mass <= 1.2)).all() and np.unique(mass).size == mass.size
    inertia = f["body_inertia"][:, b] / nom["body_inertia"][b]
    assert np.allclose(inertia, mass[:, :, None], rtol=1e-12)
    # the robot compensates its nominal model's gravity: gravcomp·mass stays the nominal mass
    assert np.allclose(f["body_gravcomp"][:, b] * f["body_mass"][:, b], nom["body_mass"][b])
    damping = f["dof_damping"][:, d] / nom["dof_damping"][d]
    assert ((damping >= 0.8) & (damping <= 1.2)).all()
    friction = f["dof_frictionloss"][:, d]
    assert ((friction >= 0) & (friction <= 0.3)).all() and friction.std() > 0.05
    gear = f["actuator_gear"][:, :, 0] / nom["actuator_gear"][:, 0]
    assert ((gear >= 0.9) & (gear <= 1.1)).all() and np.unique(gear).size == gear.size
    puck = f["body_mass"][:, lay.puck] / nom["body_mass"][lay.puck]
    assert ((puck >= 0.7) & (puck <= 1.3)).all() and np.unique(puck).size == 6
    assert lay.puck_pairs.tolist() == [1, 2, 3]  # hand-puck, link7-puck, puck-floor
    pair = f["pair_friction"][:, :, :2] / nom["pair_friction"][:, :2]
    assert np.array_equal(pair[:, 0], np.ones((6, 2)))  # hand-floor untouched
    assert ((pair[:, 1:] >= 0.7) & (pair[:, 1:] <= 1.3)).all()
    assert np.array_equal(pair[:, 1:, 0], pair[:, 1:, 1])  # both sliding directions alike
    # the same seed gives the same numbers; another seed others; a pair shares its draws
    again = BatchedArmEnv(PandaPushTask.make(), 6, 1, PANDA)
    again.reset(3)
    for name, rows in f.items():
        assert np.array_equal(rows, again.randomizer.fields[name]), name
    again.reset(4)
    assert not np.array_equal(f["body_mass"], again.randomizer.fields["body_mass"])
    assert np.array_equal(again.randomizer.fields["body_mass"][0], f["body_mass"][1])  # seed 4
    again.reset(3, paired=True)
    for name, rows in again.randomizer.fields.items():
        assert np.array_equal(rows[0::2], rows[1::2]), name
        assert np.array_equal(rows[2], f[name][1]), name  # pair 1 is seeded 3 + 1


def test_the_starts_are_the_unrandomized_ones_and_the_physics_runs_on_the_drawn_model():
    """An episode seeded s starts where it would without randomization; env i then steps
    exactly as one MjData of a model holding env i's drawn parameters."""
    task = PandaPushTask.make()
    env = BatchedArmEnv(task, 3, 1, MODEL)
    plain = BatchedArmEnv(PandaPushTask.make(), 3, 1)
    assert np.array_equal(env.reset(8), plain.reset(8))
    datas = [env.get_data(i) for i in range(3)]
    action = np.random.default_rng(0).uniform(-1, 1, (3, 7)).astype(np.float32)
    env.step(action)
    for i, data in enumerate(datas):
        model = copy.copy(task.model)
        for name, rows in env.randomizer.fields.items():
            getattr(model, name)[:] = rows[i]
        data.ctrl[:] = action[i]
        for _ in range(task.frame_skip):
            mujoco.mj_step(model, data)
        assert np.array_equal(data.qpos, env._qpos[i]) and np.array_equal(data.qvel, env._qvel[i])
    # and the drawn model matters: the nominal engine ends elsewhere
    plain.step(action)
    assert np.abs(plain._qvel - env._qvel).max() > 1e-3


def test_the_delay_applies_the_previous_action_exactly():
    delayed = BatchedArmEnv(PandaReachTask.make(), 2, 1, RandomizeSettings(delay_probability=1))
    plain = BatchedArmEnv(PandaReachTask.make(), 2, 1)
    assert np.array_equal(delayed.reset(2), plain.reset(2))
    rng = np.random.default_rng(1)
    actions = [rng.uniform(-1, 1, (2, 7)).astype(np.float32) for _ in range(160)]
    previous = np.zeros((2, 7), dtype=np.float32)
    for t, a in enumerate(actions):
        got, ref = delayed.step(a), plain.step(previous)
        if t != 149:  # (a reset clears ctrl)
            assert np.array_equal(delayed._ctrl, previous)  # what MuJoCo applied this step
        assert np.array_equal(got.obs, ref.obs)
        # the control cost is of the action the policy sent
        cost = lambda x: -np.square(x).sum(axis=1) * np.float32(0.01)  # noqa: E731
        assert np.allclose(got.reward - cost(a), ref.reward - cost(previous), atol=1e-12)
        # an episode's first step applies zero: the arm waits for its first command
        previous = np.zeros_like(a) if t == 149 else a


def test_noise_perturbs_what_the_policy_sees_and_nothing_else():
    noisy = BatchedArmEnv(PandaReachTask.make(), 4, 1, RandomizeSettings(obs_noise=PANDA.obs_noise))
    plain = BatchedArmEnv(PandaReachTask.make(), 4, 1)
    obs = noisy.reset(6, paired=True)
    plain.reset(6, paired=True)
    assert np.array_equal(obs[0::2], obs[1::2])  # a pair sees the same noise
    a = np.random.default_rng(2).uniform(-0.3, 0.3, (4, 7))
    a[1::2] = a[0::2]  # the pairs act alike, so they stay alike but for the noise
    for _ in range(20):
        got, want = noisy.step(a), plain.step(a)
        assert np.array_equal(got.reward, want.reward)  # rewards read the true state
        assert np.array_equal(noisy.true_final_obs, want.final_obs)
        gap = got.obs - want.obs
        assert 1e-4 < np.abs(gap[:, 14:21]).max() < 0.2  # θ̇ noise, σ 0.02 rad/s
        assert np.abs(gap[:, 21:24]).max() < 0.02  # flange position noise, σ 2 mm
        # cos θ and sin θ come from one noisy θ: still on the unit circle
        assert np.allclose(got.obs[:, 0:7] ** 2 + got.obs[:, 7:14] ** 2, 1.0)
        assert np.array_equal(got.obs[0::2], got.obs[1::2])


def test_a_snapshot_continues_a_randomized_run_bit_for_bit():
    env = BatchedArmEnv(PandaPushTask.make(), 2, 1, PANDA)
    run(env, 1, 190)
    state = env.state_dict()
    tail = run_from(env, 30)
    other = BatchedArmEnv(PandaPushTask.make(), 2, 1, PANDA)
    other.reset(99)
    other.load_state_dict(state)
    for a, b in zip(tail, run_from(other, 30), strict=True):  # an auto-reset on the way
        assert np.array_equal(a, b)
    with pytest.raises(EnvError, match="taken without randomization"):
        fresh = BatchedArmEnv(PandaPushTask.make(), 2, 1)
        fresh.reset(0)
        other.load_state_dict(fresh.state_dict())


def run_from(env: BatchedArmEnv, steps: int) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    out = []
    for _ in range(steps):
        res = env.step(rng.uniform(-0.5, 0.5, (env.num_envs, env.act_dim)))
        out += [res.obs, res.reward, res.final_obs]
    return out


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"link": {}}, "Unknown section [link] in randomization 't'; valid sections: links"),
        ({"links": {"mass": [1, 2]}}, "Unknown setting 'mass' in [links]"),
        ({"links": {"mass_scale": [1.2, 0.8]}}, "'mass_scale' in [links] must be a range"),
        ({"joints": {"frictionloss": [-1, 0]}}, "'frictionloss' in [joints] must be a range"),
        ({"action": {"delay_probability": 2}}, "'delay_probability' in [action] must be in"),
        ({"obs_noise": {"joint_velocity": -1}}, "'joint_velocity' in [obs_noise] must be a σ"),
    ],
)
def test_bad_settings_are_one_sentence(data, message):
    with pytest.raises(ConfigError) as err:
        parse_settings(data, "t")
    assert message in str(err.value)


@pytest.mark.parametrize("action", ["joint", "cartesian"])
def test_the_delay_feeds_an_action_law_the_previous_action(action):
    """Under the joint and cartesian interfaces the law receives the delayed action: the
    delayed env steps exactly as an undelayed one given the previous actions."""
    from robopg.envs import make_vector_env

    delay = RandomizeSettings(delay_probability=1)
    delayed = make_vector_env("panda-reach", 2, action=action, randomize=delay)
    plain = make_vector_env("panda-reach", 2, action=action)
    assert np.array_equal(delayed.reset(4), plain.reset(4))
    rng = np.random.default_rng(5)
    previous = np.zeros((2, delayed.act_dim), dtype=np.float32)
    for _ in range(40):
        a = rng.uniform(-1, 1, (2, delayed.act_dim)).astype(np.float32)
        assert np.array_equal(delayed.step(a).obs, plain.step(previous).obs)
        previous = a
