"""Franka's limits on the Panda tasks: the table, exact counting, the abort setting, eval lines."""

import mujoco
import numpy as np
import pytest
from typer.testing import CliRunner

from robopg.envs.batched import BatchedArmEnv
from robopg.envs.franka import PANDA_LIMITS, LimitMonitor, LimitRecord, limit_report
from robopg.envs.panda import ASSETS, PandaPushTask, PandaReachTask
from robopg.errors import ConfigError

DT = 0.02


def test_the_table_is_the_mjcf_and_frankas_numbers() -> None:
    for xml in ("panda.xml", "panda_push.xml"):
        model = mujoco.MjModel.from_xml_path(str(ASSETS / xml))
        np.testing.assert_array_equal(model.jnt_range[:7, 0], PANDA_LIMITS.position_low)
        np.testing.assert_array_equal(model.jnt_range[:7, 1], PANDA_LIMITS.position_high)
        np.testing.assert_array_equal(model.actuator_gear[:7, 0], PANDA_LIMITS.torque)
    assert PANDA_LIMITS.velocity.tolist() == [2.175] * 4 + [2.61] * 3
    assert PANDA_LIMITS.acceleration.tolist() == [15, 7.5, 10, 12.5, 15, 20, 20]
    assert PANDA_LIMITS.jerk.tolist() == [7500, 3750, 5000, 6250, 7500, 10000, 10000]
    assert PANDA_LIMITS.torque_rate.tolist() == [1000] * 7
    assert PandaReachTask.limits is PandaPushTask.limits is PANDA_LIMITS


def monitor(n: int) -> LimitMonitor:
    gear = PANDA_LIMITS.torque
    mon = LimitMonitor(PANDA_LIMITS, n, DT, gear, -np.ones(7), np.ones(7))
    mon.reset(np.arange(n), np.zeros((n, 7)))
    return mon


def test_hand_built_trajectories_are_counted_exactly() -> None:
    """Three arms, four steps: env 0 over the velocity limit twice, env 1 one torque jump over
    1000 N·m/s (then a ramp under it), env 2 at its joint range once; nothing else."""
    mon = monitor(3)
    home = np.tile(np.array([0.0, -0.5, 0.0, -2.0, 0.0, 1.5, 0.5]), (3, 1))
    qvel = np.zeros((4, 3, 7))
    qvel[1:3, 0, 1] = 2.2  # joint 2 at 2.2 rad/s > 2.175 on steps 1 and 2
    qvel[3, 0, 1] = 2.1  # back under the limit
    acts = np.zeros((4, 3, 7), dtype=np.float32)
    acts[0, 1, 0] = 0.25  # 21.75 N·m in 20 ms: 1087.5 N·m/s on step 0
    acts[1, 1, 0] = 0.45  # +17.4 N·m: 870 N·m/s, under
    acts[2:, 1, 0] = 0.45
    qpos = np.tile(home, (4, 1, 1))
    qpos[2, 2, 3] = PANDA_LIMITS.position_high[3]  # joint 4 at its upper end on step 2
    got = [mon.step(qpos[t], qvel[t], acts[t]) for t in range(4)]
    assert np.array(got).tolist() == [
        [False, True, False],
        [True, False, False],
        [True, False, True],
        [False, False, False],
    ]
    np.testing.assert_array_equal(mon.counts, [[2, 0, 0], [0, 1, 0], [0, 0, 1]])
    # peaks: velocity 2.2 / 2.175; acceleration 110 rad/s² (step 1) / 7.5; jerk 5500 rad/s³
    # (acceleration 0 → 110 → 0) / 3750; torque 0.45 of the limit; rate 1087.5 / 1000 (env 1)
    peak = mon.peaks
    assert peak[0, 0, 1] == pytest.approx(2.2 / 2.175, rel=1e-15)
    assert peak[0, 1, 1] == pytest.approx(2.2 / DT / 7.5, rel=1e-12)
    assert peak[0, 2, 1] == pytest.approx(110 / DT / 3750, rel=1e-12)
    assert peak[1, 3, 0] == pytest.approx(float(np.float32(0.45)), rel=1e-12)
    assert peak[1, 4, 0] == pytest.approx(float(np.float32(0.25)) * 87 / DT / 1000, rel=1e-12)
    assert peak[2].max() == 0.0  # env 2 never moved
    # a reset archives the episode and starts counting afresh
    mon.reset(np.array([0, 1]), np.zeros((2, 7)))
    np.testing.assert_array_equal(mon.last_counts[:2], [[2, 0, 0], [0, 1, 0]])
    assert not mon.counts[:2].any() and mon.counts[2, 2] == 1


def test_the_eval_lines_give_shares_and_peak_ratios() -> None:
    counts = np.array([[3, 0, 0], [0, 0, 0], [1, 2, 0], [0, 0, 0]])
    peaks = np.zeros((4, 5, 7))
    peaks[:, 0, 1] = [1.2, 0.5, 1.1, 0.9]  # velocity, joint 2
    peaks[:, 4, 3] = [0.3, 0.2, 1.5, 0.1]  # torque rate, joint 4
    lines = limit_report(LimitRecord(counts, peaks))
    assert lines[0] == (
        "Franka limits: episodes the robot would abort 50.0% of 4 · velocity 50.0% · "
        "torque rate 25.0% · joint range 0.0%"
    )
    assert "velocity 1.00 (max 1.20, joint 2)" in lines[1]
    assert "torque rate 0.25 (max 1.50, joint 4)" in lines[1]


def run(env: BatchedArmEnv, actions: np.ndarray) -> tuple[list[np.ndarray], ...]:
    obs, rew, term = [env.reset(5)], [], []
    for a in actions:
        res = env.step(a)
        obs.append(res.obs)
        rew.append(res.reward)
        term.append(res.terminated)
    return obs, rew, term


@pytest.mark.parametrize("task", [PandaReachTask, PandaPushTask])
def test_tracking_changes_no_observation_or_reward(task: type) -> None:
    """The monitor only reads: an engine with it removed steps bit for bit alike."""
    acts = np.random.default_rng(0).uniform(-1, 1, size=(task.max_episode_steps + 20, 4, 7))
    tracked = BatchedArmEnv(task.make(), 4, 1)
    bare = BatchedArmEnv(task.make(), 4, 1)
    bare.limits = None
    a, b = run(tracked, acts), run(bare, acts)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(np.array(x), np.array(y))
    assert tracked.limits is not None and tracked.limits.last_counts[:, 1].all()  # random jumps


def test_abort_ends_the_episode_with_the_penalty() -> None:
    """Env 0 jumps to full torque on joint 1 at step 3 (4350 N·m/s): terminated there, its
    reward less 2 for that step and each of the 146 it loses; env 1 (no jump) runs on."""
    acts = np.zeros((6, 2, 7))
    acts[3, 0, 0] = 1.0
    aborting = BatchedArmEnv(PandaReachTask.make(), 2, 1)
    assert aborting.limits is not None
    aborting.limits.set_abort(2.0)
    plain = BatchedArmEnv(PandaReachTask.make(), 2, 1)
    (obs_a, rew_a, term_a), (obs_p, rew_p, term_p) = run(aborting, acts), run(plain, acts)
    assert [t.tolist() for t in term_a] == [[False, False]] * 3 + [[True, False]] + [
        [False, False]
    ] * 2
    assert not np.array(term_p).any()
    for t in range(3):
        np.testing.assert_array_equal(rew_a[t], rew_p[t])
    assert rew_a[3][0] == rew_p[3][0] - 2.0 * (1 + 146)
    assert rew_a[3][1] == rew_p[3][1]
    assert not np.array_equal(obs_a[4][0], obs_p[4][0])  # env 0 restarted, env 1 did not
    np.testing.assert_array_equal(obs_a[5][1], obs_p[5][1])


def test_penalize_charges_by_hand() -> None:
    """Env 0 at 0.95× joint 1's speed limit and 1.2× joint 7's (a violation): charged
    2 × (1 + 0.2); env 1 at half of every limit: not charged."""
    mon = monitor(2)
    mon.set_penalize(2.0)
    qvel = np.tile(0.5 * PANDA_LIMITS.velocity, (2, 1))
    qvel[0, 0] = 0.95 * PANDA_LIMITS.velocity[0]
    qvel[0, 6] = -1.2 * PANDA_LIMITS.velocity[6]
    home = np.tile(np.array([0.0, -0.5, 0.0, -2.0, 0.0, 1.5, 0.5]), (2, 1))
    violated = mon.step(home, qvel, np.zeros((2, 7)))
    assert violated.tolist() == [True, False]
    charged = mon.shaped_reward(violated, np.array([-1.0, -1.0]))
    assert charged == pytest.approx([-1.0 - 2.0 * (1.0 + 0.2), -1.0])


def test_penalize_goes_on_and_only_charges_reward() -> None:
    """The torque jump of the abort test under ``penalize``: no episode ends, observations are
    bit for bit the plain engine's, and each reward is the plain one less 2 × (the joints'
    speed ratio over 1, summed, + 1 where a limit was violated), read from the engine."""
    acts = np.zeros((40, 2, 7))
    acts[3:, 0, 0] = 1.0  # env 0: a torque jump at step 3, then full torque on joint 1
    shaped = BatchedArmEnv(PandaReachTask.make(), 2, 1)
    plain = BatchedArmEnv(PandaReachTask.make(), 2, 1)
    assert shaped.limits is not None
    shaped.limits.set_penalize(2.0)
    shaped.reset(5), plain.reset(5)
    for a in acts:
        before = shaped.limits.counts.sum(axis=1)
        got, want = shaped.step(a), plain.step(a)
        np.testing.assert_array_equal(got.obs, want.obs)
        assert not got.terminated.any()
        over = np.maximum(np.abs(shaped._qvel[:, :7]) / PANDA_LIMITS.velocity - 1.0, 0.0)
        violated = shaped.limits.counts.sum(axis=1) > before  # a new violation this step
        np.testing.assert_allclose(
            got.reward, want.reward - 2.0 * (over.sum(axis=1) + violated), rtol=0, atol=1e-12
        )
    counts = shaped.limits.counts
    assert counts[0, 1] == 1 and counts[0, 0] > 0  # the jump, then joint 1 over its speed
    assert not counts[1].any()


def test_resume_can_turn_the_penalty_on(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A second stage: ``--resume RUN --limits penalize`` trains on against the limits (the
    config records it); other settings still cannot change on resume."""
    from robopg.train.trainer import Trainer, resume_config

    from ..conftest import tiny_config

    cfg = tiny_config(tmp_path, env="panda-reach", steps=1200, steps_per_batch=1200)
    first = Trainer(cfg, show_progress=False).train()
    assert first.run_dir is not None
    cfg2 = resume_config(first.run_dir, {"steps": 2400, "limits": "penalize"})
    trainer = Trainer(cfg2, show_progress=False, resume=first.run_dir)
    assert trainer.env.limits.shaped and trainer.env.limits.penalty == 2.0  # type: ignore[union-attr]
    assert trainer.train().env_steps == 2400
    assert '"limits": "penalize"' in (first.run_dir / "config.json").read_text()
    with pytest.raises(ConfigError, match="these cannot change: lr"):
        resume_config(first.run_dir, {"steps": 3600, "lr": 0.1})


def test_eval_counts_violation_episodes() -> None:
    """Zero torque breaks nothing; a constant full torque on joint 1 jumps at the first step."""
    from robopg.deploy.evaluate import run_episodes, task_report

    still = run_episodes("panda-reach", lambda obs: np.zeros((obs.shape[0], 7)), 3, seed=4)
    assert still.limits is not None and not still.limits.counts.any()
    push = np.zeros(7)
    push[0] = 1.0
    jump = run_episodes("panda-reach", lambda obs: np.tile(push, (obs.shape[0], 1)), 3, seed=4)
    assert jump.limits is not None
    assert (jump.limits.counts[:, 1] == 1).all()  # only the first step jumps
    assert jump.limits.peaks[:, 4, 0] == pytest.approx(87 / DT / 1000)
    lines = task_report("panda-reach", jump)
    assert any(line.startswith("Franka limits: episodes the robot would abort") for line in lines)


def test_abort_is_refused_where_there_are_no_limits(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from robopg.cli import app
    from robopg.train.trainer import Trainer

    from ..conftest import tiny_config

    with pytest.raises(ConfigError, match="--limits abort needs a task with a real arm's"):
        Trainer(tiny_config(tmp_path, limits="abort"), show_progress=False)
    result = CliRunner().invoke(app, ["train", "reacher", "--limits", "sometimes"])
    assert result.exit_code == 2
    assert "--limits must be one of report, abort, penalize, got 'sometimes'." in " ".join(
        result.output.split()
    )


def test_training_with_abort_runs_on_panda(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from robopg.train.trainer import Trainer

    from ..conftest import tiny_config

    cfg = tiny_config(tmp_path, env="panda-reach", steps=1200, steps_per_batch=1200, limits="abort")
    trainer = Trainer(cfg, show_progress=False)
    assert trainer.env.limits.abort and trainer.env.limits.penalty == 2.0  # type: ignore[union-attr]
    assert trainer.train().run_dir is not None
