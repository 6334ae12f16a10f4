"""Snapshots continue bit for bit; bad input fails with one clear EnvError; engine selection."""

from __future__ import annotations

import json

import numpy as np
import pytest

from robopg.envs import make_vector_env
from robopg.envs.batched import BatchedArmEnv
from robopg.envs.gym_vector import GymVectorEnv
from robopg.errors import EnvError

ALL = ["reacher", "pusher", "reacher3", "arm7", "panda-reach", "panda-push"]


def batched(task: str, num_envs: int, threads: int = 2) -> BatchedArmEnv:
    env = make_vector_env(task, num_envs, engine="batch", num_threads=threads)
    assert isinstance(env, BatchedArmEnv)
    return env


def rollout(env: BatchedArmEnv, actions: np.ndarray) -> list[np.ndarray]:
    trace = []
    for a in actions:
        out = env.step(a)
        trace += [out.obs, out.reward, out.terminated, out.truncated, out.final_obs]
    return trace


@pytest.mark.parametrize("task", ALL)
def test_state_dict_continues_bitwise(task: str) -> None:
    env = batched(task, 4)
    rng = np.random.default_rng(0)
    horizon = env.max_episode_steps
    actions = rng.uniform(-1.5, 1.5, size=(2 * horizon, 4, env.act_dim)).astype(np.float32)
    env.reset(3)
    rollout(env, actions[: horizon // 2 + 1])  # mid-episode, one reset still to come
    state = env.state_dict()

    # arrays stay numpy; everything else survives JSON
    arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
    limits = {k for k in arrays if k.startswith("limits_")}  # the Panda tasks' limit monitor
    assert set(arrays) - limits == {"physics", "elapsed", "obs"}
    assert bool(limits) == (env.limits is not None)
    rest = json.loads(json.dumps({k: v for k, v in state.items() if k not in arrays}))
    restored = {**rest, **{k: v.copy() for k, v in arrays.items()}}

    expected = rollout(env, actions[horizon // 2 + 1 :])
    fresh = batched(task, 4, threads=1)
    fresh.load_state_dict(restored)
    assert np.array_equal(fresh.state_dict()["obs"], state["obs"])
    got = rollout(fresh, actions[horizon // 2 + 1 :])
    assert all(np.array_equal(a, b) for a, b in zip(expected, got, strict=True))


def test_state_dict_rejects_another_task_or_size() -> None:
    env = batched("reacher", 2)
    env.reset(0)
    with pytest.raises(EnvError, match="num_envs"):
        batched("reacher", 3).load_state_dict(env.state_dict())
    with pytest.raises(EnvError, match="task"):
        batched("reacher3", 2).load_state_dict(env.state_dict())


@pytest.mark.parametrize("task", ALL)
def test_wrong_action_shape_names_task_and_shape(task: str) -> None:
    env = batched(task, 3)
    env.reset(0)
    expected = rf"Task '{task}' expects actions of shape \(3, {env.act_dim}\)"
    with pytest.raises(EnvError, match=expected):
        env.step(np.zeros((3, env.act_dim + 1)))
    with pytest.raises(EnvError, match=rf"\(3, {env.act_dim}\)"):
        env.step(np.zeros(env.act_dim))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_action_is_rejected(bad: float) -> None:
    env = batched("pusher", 2)
    env.reset(0)
    actions = np.zeros((2, 7))
    actions[1, 3] = bad
    with pytest.raises(EnvError, match="Task 'pusher' received a NaN"):
        env.step(actions)


def test_step_or_snapshot_before_reset_is_a_clear_error() -> None:
    with pytest.raises(EnvError, match=r"call reset\(seed\)"):
        batched("reacher", 1).step(np.zeros((1, 2)))
    with pytest.raises(EnvError, match=r"call reset\(seed\)"):
        batched("reacher", 1).state_dict()


def test_engine_selection() -> None:
    assert isinstance(make_vector_env("reacher", 2), BatchedArmEnv)  # auto
    assert isinstance(make_vector_env("Pusher-v5", 2), BatchedArmEnv)  # by gymnasium id
    gym_env = make_vector_env("arm7", 2, engine="gym")
    assert isinstance(gym_env, GymVectorEnv)
    assert gym_env.obs_dim == 23
    gym_env.close()
    other = make_vector_env("InvertedPendulum-v5", 2)  # any gymnasium Box env keeps working
    assert isinstance(other, GymVectorEnv)
    assert other.reset(0).shape == (2, 4)
    other.close()
    with pytest.raises(EnvError, match="no batched engine"):
        make_vector_env("InvertedPendulum-v5", 2, engine="batch")


def test_threads_default_to_available_cores() -> None:
    env = make_vector_env("reacher", 64)
    assert isinstance(env, BatchedArmEnv)
    from robopg.envs.batched import available_cores

    assert env.num_threads == min(available_cores(), 64)
    with pytest.raises(EnvError, match="num_threads"):
        make_vector_env("reacher", 2, num_threads=0)


def test_listing_rows_name_the_batched_engine() -> None:
    from robopg.envs.registry import task_rows

    rows = {row["task"]: row for row in task_rows()}
    assert set(ALL) <= set(rows)
    assert all(rows[t]["engine"] == "batch" for t in ALL)
    assert all(rows[t]["engines"] == "batch, gym, warp" for t in ALL)
    assert (rows["reacher3"]["obs"], rows["reacher3"]["action"], rows["reacher3"]["episode"]) == (
        13,
        3,
        50,
    )
    assert (rows["arm7"]["obs"], rows["arm7"]["action"], rows["arm7"]["episode"]) == (23, 7, 100)
