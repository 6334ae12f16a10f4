"""The variance measurement on a problem with a known gradient, and `robopg variance` end to end.

Analytic problem (tests/helpers/linear_gaussian.py, shared with test_gradient.py): one step,
fixed state s, a ~ N(W s + b, σ²), r = −‖a − c‖², so J = −‖μ − c‖² − Σσ² and
∇_b J = −2(μ − c), ∇_W J = −2(μ − c) sᵀ, ∇_{log σ} J = −2σ². Every estimator must average
to it (the batch-mean baseline to exactly (1 − 1/n) of it), baselines must lower the
variance, and the variance must fall as 1/n.
"""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from linear_gaussian import C, S, make_policy, reward, true_gradient_parts
from typer.testing import CliRunner

from robopg.algo.batch import Rollout
from robopg.algo.normalize import RunningMeanStd
from robopg.algo.policy import GaussianPolicy, ValueNet
from robopg.cli import app
from robopg.variance import (
    FittedValue,
    Reference,
    VarianceSettings,
    estimator_batch_gradients,
    fit_value_baseline,
    measure_on_pools,
    run_variance,
    summarize,
    whole_episode_returns,
)

from ..conftest import tiny_variance_settings

BATCHES = (4, 16)


def true_gradient(policy: GaussianPolicy) -> np.ndarray:
    """In ``named_parameters`` order: log σ (the policy's own), then W (row-major), b."""
    parts = true_gradient_parts(policy)
    flat = [parts["log_std"], parts["weight"].reshape(-1), parts["bias"]]
    return torch.cat(flat).double().numpy()


def one_step_pool(policy: GaussianPolicy, episodes: int, seed: int) -> Rollout:
    """(T=1, N=episodes) one-step episodes that all terminate."""
    gen = torch.Generator().manual_seed(seed)
    obs = S.expand(1, episodes, 3).clone()
    actions = policy.act(obs, generator=gen)
    rewards = reward(actions)
    done = torch.ones_like(rewards, dtype=torch.bool)
    return Rollout(obs, actions, rewards, done, ~done, obs)


Analytic = tuple[GaussianPolicy, dict[str, dict[int, torch.Tensor]], np.ndarray]


@pytest.fixture(scope="module")
def analytic() -> Analytic:
    policy = make_policy()
    value = fit_value_baseline(one_step_pool(policy, 2048, 1), policy.cfg, 1.0, 30, seed=2)
    grads = estimator_batch_gradients(
        policy, one_step_pool(policy, 32_000, 3), 1.0, (0.0, 0.5, 1.0), value, BATCHES
    )
    return policy, grads, true_gradient(policy)


def z_scores(batches: torch.Tensor, target: np.ndarray) -> np.ndarray:
    g = batches.numpy()
    return np.abs(g.mean(0) - target) / (g.std(0, ddof=1) / np.sqrt(g.shape[0]))


def test_every_estimator_averages_to_the_true_gradient(analytic: Analytic) -> None:
    _, grads, truth = analytic
    assert set(grads) == {
        "total_return",
        "reward_to_go",
        "rtg_mean",
        "rtg_value",
        "gae_0",
        "gae_0.5",
        "gae_1",
    }
    for key, per_n in grads.items():
        for n, batches in per_n.items():
            target = truth * (1 - 1 / n) if key == "rtg_mean" else truth
            z = z_scores(batches, target)
            assert (z < 4.5).all(), f"{key} at n={n} is biased: z = {z}"


def test_batch_mean_baseline_shrinks_the_gradient_by_one_over_n(analytic: Analytic) -> None:
    _, grads, truth = analytic
    z = z_scores(grads["rtg_mean"][4], truth)
    assert z.max() > 8, "the (1 − 1/n) bias of the batch-mean baseline was not detected"


def test_baselines_lower_the_variance_and_variance_falls_as_one_over_n(analytic: Analytic) -> None:
    _, grads, _ = analytic

    def tr_var(key: str, n: int) -> float:
        return float(grads[key][n].numpy().var(0, ddof=1).sum())

    for n in BATCHES:
        plain = tr_var("reward_to_go", n)
        assert tr_var("rtg_mean", n) < 0.5 * plain
        assert tr_var("rtg_value", n) < 0.5 * plain
        assert tr_var("gae_1", n) == pytest.approx(tr_var("rtg_value", n))  # one step: equal
    # Per-trajectory estimators are means of i.i.d. terms: exactly 1/n. (Not the batch-mean
    # baseline: its advantages are scaled by 1 − 1/n, so its variance falls slower than 1/n.)
    for key in set(grads) - {"rtg_mean"}:
        ratio = tr_var(key, 4) / tr_var(key, 16)
        assert 3.4 < ratio < 4.7, f"{key}: var(n=4)/var(n=16) = {ratio:.2f}, expected ≈ 4"


def two_step_pool(policy: GaussianPolicy, episodes: int, seed: int) -> Rollout:
    """s₀ = S, s₁ = (a₀, 0), r₀ = 0, r₁ = −‖a₁ − c‖², then the episode terminates.

    The first action matters only through the next state, so credit must flow through V(s₁).
    """
    gen = torch.Generator().manual_seed(seed)
    s0 = S.expand(episodes, 3)
    a0 = policy.act(s0, generator=gen)
    s1 = torch.cat([a0, torch.zeros(episodes, 1)], dim=1)
    a1 = policy.act(s1, generator=gen)
    rewards = torch.stack([torch.zeros(episodes), -(a1 - C).square().sum(-1)])
    terminated = torch.tensor([[False], [True]]).expand(2, episodes)
    return Rollout(
        torch.stack([s0, s1]),
        torch.stack([a0, a1]),
        rewards,
        terminated,
        torch.zeros_like(terminated),
        torch.stack([s1, s1]),
    )


def two_step_true_gradient(policy: GaussianPolicy) -> np.ndarray:
    """∇θ J / T for J = E[r₁] = −‖A μ₀ + b − c‖² − Σ_j σ_j² ‖A_{:,j}‖² − Σσ², A = W[:, :2]."""
    params = dict(policy.named_parameters())
    W, b, log_std = params["mean_net.0.weight"], params["mean_net.0.bias"], params["log_std"]
    sigma2 = (2 * log_std).exp()
    A = W[:, :2]
    mu1 = A @ (W @ S + b) + b
    J = -(mu1 - C).square().sum() - (sigma2 * A.square().sum(0)).sum() - sigma2.sum()
    grads = torch.autograd.grad(J / 2, list(params.values()))
    return torch.cat([g.reshape(-1) for g in grads]).double().numpy()


def test_lambda_one_is_unbiased_whatever_v_and_lambda_below_one_is_not() -> None:
    """With a deliberately wrong V (a random net), GAE(1) and rtg − V stay unbiased, while
    GAE(0) inherits V's error: it credits a₀ only with V(s₁) − V(s₀), not with r₁."""
    policy = make_policy()
    torch.manual_seed(3)
    wrong = FittedValue(ValueNet(policy.cfg), RunningMeanStd(3), loc=0.0, scale=5.0)
    grads = estimator_batch_gradients(
        policy, two_step_pool(policy, 32_000, 7), 1.0, (0.0, 1.0), wrong, (8,)
    )
    truth = two_step_true_gradient(policy)
    for key in ("total_return", "reward_to_go", "rtg_value", "gae_1"):
        z = z_scores(grads[key][8], truth)
        assert (z < 4.5).all(), f"{key} is biased: z = {z}"
    assert z_scores(grads["gae_0"][8], truth).max() > 8


def test_summary_statistics_match_a_known_distribution() -> None:
    rng = np.random.default_rng(0)
    mu = np.array([1.0, -2.0, 0.5, 0.0])
    sigma = np.array([0.5, 1.0, 2.0, 1.5])
    batches = mu + sigma * rng.standard_normal((3000, 4))
    stats = summarize(batches, Reference(mu, noise=0.0, episodes=1))
    tr = float((sigma**2).sum())
    checks = {
        "total_variance": tr,
        "relative_variance": tr / float(mu @ mu),
        "snr": float(mu @ mu) / tr,
        "relative_bias2": 0.0,
    }
    for key, truth in checks.items():
        iv = stats[key]
        assert iv.low <= truth <= iv.high, f"{key}: {iv} does not cover {truth}"
        assert iv.high - iv.low < 0.25 * max(abs(truth), 0.1)
    assert 0.0 < stats["cosine"].value < 1.0


def test_report_on_the_analytic_problem_shows_the_1_over_n_slope() -> None:
    policy = make_policy()
    settings = VarianceSettings(
        episodes=8192, batch_episodes=(2, 8, 32), gammas=(1.0,), lams=(1.0,), value_epochs=20
    )
    report = measure_on_pools(
        policy,
        one_step_pool(policy, 1024, 4),
        one_step_pool(policy, 8192, 5),
        one_step_pool(policy, 8192, 6),
        settings,
    )
    assert report.reference_snr > 50
    rows = {(r.estimator, r.batch_episodes): r for r in report.rows}
    assert len(rows) == 5 * 3
    for key in ("total_return", "rtg_value", "gae_1"):
        row = rows[(key, 32)]
        assert row.variance_slope == pytest.approx(-1.0, abs=0.12)
        assert row.relative_bias2.low < 0.0 < row.relative_bias2.high + 0.02
        assert row.cosine.value > rows[(key, 2)].cosine.high  # bigger batches point better
    assert rows[("rtg_value", 8)].snr.value > 2 * rows[("total_return", 8)].snr.value
    assert rows[("rtg_value", 8)].cosine.low > rows[("total_return", 8)].cosine.high


def test_whole_episode_returns_credit_every_step_with_its_episode_return() -> None:
    rewards = torch.tensor([[1.0], [2.0], [4.0], [8.0]])
    terminated = torch.tensor([[False], [True], [False], [False]])
    truncated = torch.zeros_like(terminated)
    out = whole_episode_returns(rewards, terminated, truncated, gamma=0.5)
    # episode 1: 1 + 0.5·2 = 2; episode 2 (cut by the batch end): 4 + 0.5·8 = 8
    assert out.squeeze(1).tolist() == [2.0, 2.0, 8.0, 8.0]


def test_variance_command_quick_on_reacher_writes_table_json_csv_png(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["variance", "reacher", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "total return" in result.output and "GAE(λ=1)" in result.output
    (out_dir,) = tmp_path.iterdir()
    assert out_dir.name.startswith("variance-reacher-")
    report = json.loads((out_dir / "variance.json").read_text())
    assert report["task"] == "reacher" and report["episode_length"] == 50
    assert report["policy"] == "untrained (seed 0)"
    # 6 estimators (4 + GAE at λ = 0, 1) × 1 γ × 2 batch sizes
    assert len(report["rows"]) == 12
    for row in report["rows"]:
        assert row["total_variance"]["value"] > 0
        assert row["batch_steps"] == 50 * row["batch_episodes"]
    with (out_dir / "variance.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 12 and float(rows[0]["total_variance"]) > 0
    png = (out_dir / "variance.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


def test_variance_at_a_checkpoint(tiny_run: Path) -> None:
    report = run_variance(str(tiny_run), tiny_variance_settings())
    assert report.task == "reacher" and report.policy.startswith("checkpoint ")
    assert report.policy.endswith("final.safetensors")
    assert {r.repeats for r in report.rows} == {6, 3}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-episodes", "4,x"], "--batch-episodes must be comma-separated int"),
        (["--gammas", "0.9,1.5"], "--gammas must be in [0, 1], got 1.5."),
        (["--episodes", "10", "--batch-episodes", "4"], "at least three batches"),
    ],
)
def test_bad_variance_options_are_one_sentence(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["variance", "reacher", "--quick", *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_unknown_source_is_one_sentence() -> None:
    result = CliRunner().invoke(app, ["variance", "/no/such/run", "--quick"])
    assert result.exit_code == 2
    message = "'/no/such/run' is not a checkpoint file, a run directory or a task name."
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
