"""Antithetic pairs (``--antithetic``): envs 2k and 2k+1 start every episode alike and act with
opposite noise, while each env on its own still samples the policy's Gaussian; off, the draws
and the starts are exactly the ones before the option existed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from robopg.algo.antithetic import exploration_noise
from robopg.algo.net_config import NetConfig
from robopg.algo.policy import GaussianPolicy
from robopg.cli import app
from robopg.collect.rollout import RolloutCollector
from robopg.envs import make_vector_env
from robopg.errors import EnvError
from robopg.train.trainer import Trainer

from ..conftest import tiny_config

CPU = torch.device("cpu")


def test_noise_is_mirrored_in_pairs_and_standard_normal_per_env() -> None:
    noise = exploration_noise(20_000, 3, torch.Generator().manual_seed(0), antithetic=True)
    assert noise.shape == (20_000, 3)
    assert torch.equal(noise[1::2], -noise[0::2])
    # each env alone (the even rows, the odd rows) still draws N(0, 1) per action dim
    for rows in (noise[0::2], noise[1::2]):
        assert rows.mean(0).abs().max() < 0.03
        assert (rows.std(0) - 1).abs().max() < 0.03
    # the pairs' halves are independent draws: consecutive pairs do not repeat
    assert not torch.equal(noise[0], noise[2])


def test_noise_without_pairs_is_the_plain_draw() -> None:
    got = exploration_noise(7, 3, torch.Generator().manual_seed(3), antithetic=False)
    assert torch.equal(got, torch.randn((7, 3), generator=torch.Generator().manual_seed(3)))
    with pytest.raises(ValueError, match="even number of envs, got 7"):
        exploration_noise(7, 3, None, antithetic=True)


@pytest.mark.parametrize("engine", ["batch", "gym"])
def test_paired_resets_start_pairs_alike_episode_after_episode(engine: str) -> None:
    env = make_vector_env("reacher", 6, engine=engine)
    plain = make_vector_env("reacher", 3, engine=engine)
    obs = env.reset(10, paired=True)
    # env 2k is seeded like env k of an unpaired reset; env 2k+1 repeats it
    np.testing.assert_array_equal(obs[0::2], plain.reset(10))
    np.testing.assert_array_equal(obs[1::2], obs[0::2])
    assert not np.array_equal(obs[0], obs[2])
    first = obs.copy()
    rng = np.random.default_rng(0)
    for _ in range(env.max_episode_steps):  # pairs act differently and still restart alike
        res = env.step(rng.uniform(-1, 1, size=(6, env.act_dim)))
    assert res.truncated.all()
    np.testing.assert_array_equal(res.obs[1::2], res.obs[0::2])
    assert not np.array_equal(res.obs[0], first[0])
    with pytest.raises(EnvError, match="even number of envs, got 3"):
        plain.reset(0, paired=True)


@pytest.mark.parametrize("std", ["param", "state"])  # the numpy sampler, the torch path
def test_a_pair_in_the_same_state_acts_mean_plus_and_minus_the_same_noise(std: str) -> None:
    torch.manual_seed(0)
    env = make_vector_env("reacher", 4, engine="batch")
    policy = GaussianPolicy(NetConfig(env.obs_dim, env.act_dim, std=std, log_std_init=-0.3))
    collector = RolloutCollector(env, policy, CPU, torch.Generator().manual_seed(1), True)
    collector.reset(5)
    batch = collector.collect(3)
    obs, actions = batch.obs[0], batch.actions[0]  # step 0: each pair in one state
    assert torch.equal(obs[0], obs[1]) and torch.equal(obs[2], obs[3])
    mean = policy.mean_action(obs).detach()
    torch.testing.assert_close(actions[0] + actions[1], 2 * mean[0], rtol=0, atol=1e-5)
    torch.testing.assert_close(actions[2] + actions[3], 2 * mean[2], rtol=0, atol=1e-5)
    assert (actions[0] - actions[1]).abs().min() > 0  # real noise, not the mean twice
    assert not torch.equal(batch.obs[2, 0], batch.obs[2, 1])  # the pair then drifts apart


def test_training_with_pairs_collects_pairs(tmp_path: Path) -> None:
    trainer = Trainer(tiny_config(tmp_path, antithetic=True), show_progress=False)
    obs = trainer.collector.collect(2).obs
    assert torch.equal(obs[0, 0::2], obs[0, 1::2])
    plain = Trainer(tiny_config(tmp_path / "plain"), show_progress=False)
    start = plain.collector.collect(1).obs[0]
    assert not torch.equal(start[0], start[1])
    assert torch.equal(start[:4], obs[0, 0::2])  # pair k starts where unpaired env k does


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["reacher", "--antithetic", "--num-envs", "5", "--steps-per-batch", "50"],
            "must be even, got 5 (--no-antithetic turns the pairs off).",
        ),
        (["reacher", "--antithetic", "--engine", "warp"], "needs --engine batch, gym or auto"),
        # the pusher preset turns the pairs on: the sentence says how to turn them off
        (["pusher", "--preset", "pusher", "--num-envs", "15"], "(--no-antithetic turns the"),
    ],
)
def test_antithetic_misuse_is_one_sentence(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["train", *args])
    assert result.exit_code == 2
    assert message in result.output.replace("\n", "")
