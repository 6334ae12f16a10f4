"""The batched engine against gymnasium itself: Reacher-v5 and Pusher-v5, bit for bit.

Same seeds, same float32 actions (drawn 25 % beyond the action box, so the unclipped control cost
is exercised), at least three auto-resets per env, several batch sizes and thread counts. Every
comparison is ``np.array_equal``: any rounding difference fails.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from robopg.envs import make_vector_env
from robopg.envs.batched import BatchedArmEnv
from robopg.envs.gym_vector import GymVectorEnv

EPISODES = 3  # auto-resets per env in every run


def gym_reference(gym_id: str, num_envs: int) -> SyncVectorEnv:
    return SyncVectorEnv(
        [lambda: gym.make(gym_id) for _ in range(num_envs)],
        autoreset_mode=AutoresetMode.SAME_STEP,
    )


def random_actions(env: BatchedArmEnv, steps: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    low, high = 1.25 * env.action_low, 1.25 * env.action_high
    return rng.uniform(low, high, size=(steps, env.num_envs, env.act_dim)).astype(np.float32)


@pytest.mark.parametrize(("task", "gym_id"), [("reacher", "Reacher-v5"), ("pusher", "Pusher-v5")])
@pytest.mark.parametrize(("num_envs", "num_threads", "seed"), [(1, 1, 0), (3, 2, 7), (8, 1, 123)])
def test_bitwise_equal_to_gymnasium(
    task: str, gym_id: str, num_envs: int, num_threads: int, seed: int
) -> None:
    env = make_vector_env(task, num_envs, engine="batch", num_threads=num_threads)
    assert isinstance(env, BatchedArmEnv)
    ref = gym_reference(gym_id, num_envs)
    steps = EPISODES * env.max_episode_steps + 5
    actions = random_actions(env, steps, seed)

    obs, ref_obs = env.reset(seed), ref.reset(seed=seed)[0]
    assert obs.dtype == np.float64
    assert np.array_equal(obs, ref_obs)
    resets = np.zeros(num_envs, dtype=int)
    for t in range(steps):
        out = env.step(actions[t])
        ref_obs, ref_rew, ref_term, ref_trunc, info = ref.step(actions[t])
        assert np.array_equal(out.obs, ref_obs), f"obs differ at step {t}"
        assert np.array_equal(out.reward, ref_rew), f"reward differs at step {t}"
        assert np.array_equal(out.terminated, ref_term)
        assert np.array_equal(out.truncated, ref_trunc)
        ended = np.flatnonzero(ref_term | ref_trunc)
        for i in ended:
            assert np.array_equal(out.final_obs[i], info["final_obs"][i])
        alive = np.setdiff1d(np.arange(num_envs), ended)
        assert np.array_equal(out.final_obs[alive], out.obs[alive])
        resets[ended] += 1
    assert (resets >= EPISODES).all()
    ref.close()


@pytest.mark.parametrize("task", ["reacher", "pusher"])
def test_thread_count_does_not_change_results(task: str) -> None:
    runs = []
    for threads in (1, 2):
        env = make_vector_env(task, 5, engine="batch", num_threads=threads)
        assert isinstance(env, BatchedArmEnv)
        actions = random_actions(env, env.max_episode_steps + 3, seed=5)
        trace = [env.reset(11)]
        for a in actions:
            out = env.step(a)
            trace += [out.obs, out.reward, out.final_obs]
        runs.append(trace)
    assert all(np.array_equal(x, y) for x, y in zip(*runs, strict=True))


def test_reset_reseeds_like_gymnasium() -> None:
    """A second reset(seed) restarts every env's generator, exactly as gymnasium's does."""
    env = make_vector_env("reacher", 4, engine="batch", num_threads=2)
    ref = gym_reference("Reacher-v5", 4)
    assert isinstance(env, BatchedArmEnv)
    for seed in (3, 3, 4):
        assert np.array_equal(env.reset(seed), ref.reset(seed=seed)[0])
        for a in random_actions(env, 60, seed=seed):  # one auto-reset drawn from the generators
            assert np.array_equal(env.step(a).obs, ref.step(a)[0])
    ref.close()


def test_float64_actions_match_the_gym_backend() -> None:
    """Both backends round float64 actions to the float32 action space the same way."""
    env = make_vector_env("pusher", 3, engine="batch", num_threads=1)
    gym_env = make_vector_env("pusher", 3, engine="gym")
    assert isinstance(gym_env, GymVectorEnv)
    rng = np.random.default_rng(9)
    assert np.array_equal(env.reset(2), gym_env.reset(2))
    for _ in range(105):
        a = rng.normal(0.0, 1.5, size=(3, 7))  # float64, not representable in float32
        out, ref = env.step(a), gym_env.step(a)
        assert np.array_equal(out.obs, ref.obs)
        assert np.array_equal(out.reward, ref.reward)
        assert np.array_equal(out.final_obs, ref.final_obs)
        assert np.array_equal(out.truncated, ref.truncated)
