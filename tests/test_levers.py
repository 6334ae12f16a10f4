"""The training levers: a σ floor, the observation clip, reward scaling, a learning-rate
warm-up, and the value net's own activation and target λ. Each is off (bitwise today's
numbers) by default; set, it does exactly what it says, and what a deployed policy needs of
it travels in the checkpoint header."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from robopg.algo.batch import Rollout
from robopg.algo.distributed import DistContext
from robopg.algo.net_config import NetConfig
from robopg.algo.policy import GaussianPolicy, ValueNet
from robopg.algo.reinforce import UpdateSettings, compute_advantages, update
from robopg.cli import app
from robopg.deploy.controller import Controller
from robopg.runs.checkpoint import load_checkpoint
from robopg.runs.saved_policy import load_policy
from robopg.train.trainer import Trainer, lr_factor

from .conftest import tiny_config
from .test_update import batch

FLOOR = 0.3


def floored_policy() -> GaussianPolicy:
    """σ = (0.1, 0.5, 0.2) under a floor of 0.3: dims 0 and 2 sit below it."""
    torch.manual_seed(0)
    policy = GaussianPolicy(NetConfig(obs_dim=5, act_dim=3, log_std_floor=math.log(FLOOR)))
    with torch.no_grad():
        policy.log_std.copy_(torch.log(torch.tensor([0.1, 0.5, 0.2])))
        for p in policy.mean_net.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return policy


def test_sigma_floor_is_the_sigma_the_policy_explores_with() -> None:
    policy = floored_policy()
    obs, actions = torch.randn(64, 5), torch.randn(64, 3)
    sigma = torch.tensor([FLOOR, 0.5, FLOOR])
    ref = torch.distributions.Normal(policy.mean_action(obs), sigma)
    torch.testing.assert_close(policy.log_prob(obs, actions), ref.log_prob(actions).sum(-1))
    torch.testing.assert_close(policy.entropy(), ref.entropy()[0].sum())
    torch.testing.assert_close(policy.mean_std(obs), sigma.mean())
    samples = policy.act(obs[:1].expand(40000, 5), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(samples.std(0), sigma, rtol=0.02, atol=0)

    # Below the floor the free parameter gets no gradient; above it, the usual one.
    policy.log_prob(obs, actions).sum().backward()
    grad = policy.log_std.grad
    assert grad is not None
    assert grad[0] == 0 and grad[2] == 0 and grad[1] != 0


def test_sigma_floor_and_clip_travel_to_controller_and_export(tmp_path: Path) -> None:
    run = Trainer(tiny_config(tmp_path, std_floor=0.7, obs_clip=0.5), show_progress=False)
    result = run.train()
    assert result.run_dir is not None
    ckpt = load_checkpoint(result.run_dir / "final.safetensors")
    assert ckpt.meta["format_version"] == 3
    assert ckpt.meta["net"]["obs_clip"] == 0.5
    assert ckpt.meta["net"]["log_std_floor"] == pytest.approx(math.log(0.7))

    policy = load_policy(result.run_dir).policy.double()
    assert policy.obs_norm.clip == 0.5
    ctrl = Controller.load(result.run_dir)
    assert ctrl.obs_clip == 0.5
    # The tiny run's σ (≈ 0.6) is under the floor: the controller samples with 0.7.
    raw_sigma = np.exp(ckpt.tensors["policy.log_std"].numpy())
    assert raw_sigma.max() < 0.7
    np.testing.assert_allclose(ctrl.std_batch(np.zeros((1, ctrl.obs_dim)))[0], 0.7, rtol=1e-12)

    obs = np.random.default_rng(0).normal(size=(64, ctrl.obs_dim)) * 5  # far past the clip
    with torch.no_grad():
        mean = policy.mean_action(torch.as_tensor(obs)).numpy()
        unclipped = GaussianPolicy(dataclasses.replace(policy.cfg, obs_clip=10.0)).double()
        unclipped.load_state_dict(policy.state_dict())
        other = unclipped.mean_action(torch.as_tensor(obs)).numpy()
    assert np.abs(mean - other).max() > 1e-3  # the clip changes the actions here
    np.testing.assert_allclose(ctrl.act_batch(obs), np.clip(mean, -1, 1), atol=1e-12)

    out = tmp_path / "p.onnx"
    exported = CliRunner().invoke(app, ["export", str(result.run_dir), "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    import onnxruntime as ort

    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(
        ["action"], {"obs": obs.astype(np.float32)}
    )[0]
    np.testing.assert_allclose(got, ctrl.act_batch(obs.astype(np.float32)), atol=1e-5)


def test_default_runs_stay_format_1_and_old_headers_mean_no_floor_and_clip_10(
    tiny_run: Path,
) -> None:
    meta = load_checkpoint(tiny_run / "final.safetensors").meta
    assert meta["format_version"] == 1
    assert meta["net"]["log_std_floor"] is None and meta["net"]["obs_clip"] == 10.0
    old = {k: v for k, v in meta["net"].items() if k not in ("log_std_floor", "obs_clip")}
    net = NetConfig.from_dict(json.loads(json.dumps(old)))
    assert net.log_std_floor is None and net.obs_clip == 10.0


@pytest.mark.parametrize("baseline", ["none", "mean"])
def test_reward_scale_scales_returns_and_advantages_exactly(baseline: str) -> None:
    b = batch(3)
    policy = GaussianPolicy(NetConfig(obs_dim=5, act_dim=3))
    plain = UpdateSettings(0.99, 0.95, baseline, True, 0.5, 1, 1)
    scaled = UpdateSettings(0.99, 0.95, baseline, True, 0.5, 1, 1, reward_scale=4.0)
    adv, ret = compute_advantages(b, policy, None, plain)
    adv4, ret4 = compute_advantages(b, policy, None, scaled)
    torch.testing.assert_close(adv4, 4.0 * adv, rtol=0, atol=0)  # × a power of 2 is exact
    torch.testing.assert_close(ret4, 4.0 * ret, rtol=0, atol=0)


def test_reward_scale_leaves_the_standardised_policy_step_but_scales_value_targets() -> None:
    """With the value baseline the scale changes what V fits; with standardised advantages of
    a batch-mean baseline the policy's step is the same up to rounding."""
    torch.manual_seed(0)
    net = NetConfig(obs_dim=5, act_dim=3)
    steps = {}
    for scale in (1.0, 8.0):
        torch.manual_seed(0)
        policy = GaussianPolicy(net)
        opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
        s = UpdateSettings(0.99, 0.95, "mean", True, 0.0, 1, 1, reward_scale=scale)
        update(batch(1), policy, None, opt, None, s, DistContext(), torch.Generator())
        steps[scale] = torch.cat([p.detach().reshape(-1) for p in policy.parameters()])
    torch.testing.assert_close(steps[8.0], steps[1.0], rtol=0, atol=1e-6)

    value = ValueNet(net)
    for scale in (1.0, 8.0):
        s = UpdateSettings(0.99, 0.95, "value", True, 0.5, 1, 1, reward_scale=scale)
        adv, targets = compute_advantages(batch(1), GaussianPolicy(net), value, s)
        with torch.no_grad():
            v = value(GaussianPolicy(net).obs_norm(batch(1).obs))
        torch.testing.assert_close(targets - adv, v)  # targets are λ-returns of scaled rewards
        steps[scale] = targets
    assert not torch.allclose(steps[8.0], 8.0 * steps[1.0])  # V is not rescaled with them
    assert steps[8.0].abs().mean() > 4 * steps[1.0].abs().mean()


class FirstObsValue(torch.nn.Module):
    """V(s) = s[0]: a value 'net' whose values a test can write into the observations."""

    def forward(self, norm_obs: torch.Tensor) -> torch.Tensor:
        return norm_obs[..., 0]


@pytest.mark.parametrize(
    ("lam_v", "targets"), [(None, [2.5, 4.0]), (1.0, [3.0, 4.0]), (0.0, [2.0, 4.0])]
)
def test_value_lam_sets_the_targets_and_leaves_the_advantages(
    lam_v: float | None, targets: list[float]
) -> None:
    """One env, two steps, cut after the second; γ 0.5, λ 0.5; V(s0) 1, V(s1) 2, V(s2) 4:
    δ0 = 1 + 0.5·2 − 1 = 1, δ1 = 2 + 0.5·4 − 2 = 2, so Â1 = 2 and Â0 = 1 + 0.5·λ·2 = 1 + λ.
    The policy's advantages use λ = 0.5 whatever λ_v is; the targets are GAE(λ_v) + V."""
    obs = torch.tensor([[[1.0, 0.0]], [[2.0, 0.0]]])  # (T=2, N=1, obs_dim=2), V = obs[0]
    b = Rollout(
        obs=obs,
        actions=torch.zeros(2, 1, 1),
        rewards=torch.tensor([[1.0], [2.0]]),
        terminated=torch.zeros(2, 1, dtype=torch.bool),
        truncated=torch.tensor([[False], [True]]),
        next_obs=torch.tensor([[[2.0, 0.0]], [[4.0, 0.0]]]),
    )
    policy = GaussianPolicy(NetConfig(obs_dim=2, act_dim=1, obs_clip=100.0))
    s = UpdateSettings(0.5, 0.5, "value", True, 0.5, 1, 1, value_lam=lam_v)
    adv, got = compute_advantages(b, policy, FirstObsValue(), s)  # type: ignore[arg-type]
    torch.testing.assert_close(adv[:, 0], torch.tensor([1.5, 2.0]))
    torch.testing.assert_close(got[:, 0], torch.tensor(targets))


def test_value_net_takes_its_own_activation_and_lambda_from_the_config(tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, activation="relu", value_activation="tanh", value_lam=0.9)
    trainer = Trainer(cfg, show_progress=False)
    assert trainer.value is not None
    value_acts = {type(m) for m in trainer.value.net if not isinstance(m, torch.nn.Linear)}
    policy_acts = {type(m) for m in trainer.policy.mean_net if not isinstance(m, torch.nn.Linear)}
    assert value_acts == {torch.nn.Tanh} and policy_acts == {torch.nn.ReLU}
    assert trainer.settings.lam == cfg.lam and trainer.settings.value_lam == 0.9
    assert trainer.train().final_eval is not None
    # Unset, both follow the policy's: the defaults are today's nets and targets.
    plain = Trainer(tiny_config(tmp_path / "plain", activation="relu"), show_progress=False)
    assert plain.value is not None and plain.settings.value_lam == plain.cfg.lam
    assert {type(m) for m in plain.value.net if not isinstance(m, torch.nn.Linear)} == {
        torch.nn.ReLU
    }


def test_lr_warmup_ramps_then_follows_the_schedule() -> None:
    # 10 updates, warm-up over 4, linear: (1 - k/10) · (k+1)/4, then 1 - k/10.
    got = [lr_factor(k, 10, "linear", 4) for k in range(10)]
    want = [0.25, 0.45, 0.6, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert [lr_factor(k, 10, "constant", 2) for k in range(3)] == [0.5, 1.0, 1.0]
    assert [lr_factor(k, 4, "constant", 0) for k in range(4)] == [1.0] * 4


def test_lr_warmup_is_what_the_optimizer_used(tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, lr_warmup=3, lr_schedule="constant")
    result = Trainer(cfg, show_progress=False).train()
    assert result.run_dir is not None
    rows = [json.loads(x) for x in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    lrs = [r["train/lr"] for r in rows]
    np.testing.assert_allclose(lrs, [cfg.lr / 3, 2 * cfg.lr / 3, cfg.lr, cfg.lr], rtol=1e-12)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--std-floor", "-0.1"], "--std-floor must be ≥ 0 (0: none), got -0.1."),
        (["--std", "state", "--std-floor", "0.1"], "--std-floor applies to --std param"),
        (["--obs-clip", "0"], "--obs-clip must be positive, got 0.0."),
        (["--reward-scale", "-1"], "--reward-scale must be positive, got -1.0."),
        (["--lr-warmup", "-2"], "--lr-warmup must be ≥ 0 updates, got -2."),
        (["--value-lam", "1.5"], "--value-lam must be in [0, 1] (or -1: --lam), got 1.5."),
        (["--value-activation", "gelu"], "--value-activation must be tanh, relu or elu"),
    ],
)
def test_bad_lever_values_are_one_sentence(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["train", "reacher", *args])
    assert result.exit_code == 2
    assert message in result.output.replace("\n", "")


def test_sigma_ceiling_falls_log_linearly_from_init_to_final() -> None:
    from robopg.train.trainer import log_std_ceiling

    # log σ from −0.5 to log 0.05 ≈ −2.9957 over 4 updates: a quarter of the way per update
    end = math.log(0.05)
    for k, want in [(0, -0.5), (1, -0.5 + (end + 0.5) / 4), (2, (-0.5 + end) / 2), (4, end)]:
        assert log_std_ceiling(k, 4, -0.5, 0.05) == pytest.approx(want, abs=1e-12)


def test_std_final_holds_sigma_under_the_ceiling_after_every_update(tmp_path: Path) -> None:
    """Tiny run of 4 updates from log σ −0.5 with --std-final 0.1: the σ each update samples
    with (logged ``train/std``) is the previous update's ceiling, up to one Adam step (≤ lr in
    log σ); the saved σ is exactly 0.1; without the option σ stays near its start."""
    from robopg.train.trainer import log_std_ceiling

    result = Trainer(tiny_config(tmp_path, std_final=0.1), show_progress=False).train()
    assert result.run_dir is not None
    rows = [
        json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()
    ]
    logged = [r["train/std"] for r in rows if "train/std" in r]
    assert len(logged) == 4
    for k, std in enumerate(logged[1:], start=1):
        assert std <= math.exp(log_std_ceiling(k, 4, -0.5, 0.1) + 3e-3) + 1e-9, (k, std)
    assert logged[-1] < 0.25  # well under the start σ 0.61
    saved = load_checkpoint(result.run_dir / "final.safetensors").tensors["policy.log_std"]
    np.testing.assert_allclose(saved.exp().numpy(), 0.1, rtol=1e-6)
    plain = Trainer(tiny_config(tmp_path / "plain"), show_progress=False).train()
    assert plain.run_dir is not None
    free = load_checkpoint(plain.run_dir / "final.safetensors").tensors["policy.log_std"]
    assert np.all(np.abs(free.exp().numpy() - math.exp(-0.5)) < 0.02)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"std_final": -0.1}, "--std-final must be ≥ 0"),
        ({"std_final": 0.1, "std": "state"}, "--std-final anneals the free σ of --std param"),
        ({"std_final": 0.1, "std_floor": 0.2}, r"--std-final \(0.1\) must lie above --std-floor"),
    ],
)
def test_std_final_bad_values_are_one_sentence(tmp_path: Path, overrides, message) -> None:
    from robopg.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        tiny_config(tmp_path, **overrides).validate()
