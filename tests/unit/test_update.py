"""The update's speed-ups compute what the textbook step computes.

``update`` reuses one forward for the surrogate and the KL check, clears gradients by hand,
slices value minibatches from one gather per epoch, runs Adam with ``foreach`` and fits the
value net per minibatch; the numpy backend takes the policy step and the value fit in numpy
(``robopg.fast``). This test runs the plain version of each (a separate forward, ``zero_grad``,
per-minibatch index gathers, per-tensor Adam, autograd) from the same weights and generator:
the torch policy step is bitwise equal, the numpy one and the value fits equal to float32
rounding.
"""

import copy

import pytest
import torch

from robopg.algo.batch import Rollout
from robopg.algo.distributed import DistContext
from robopg.algo.net_config import NetConfig
from robopg.algo.policy import GaussianPolicy, ValueNet
from robopg.algo.reinforce import UpdateSettings, compute_advantages, standardize, update
from robopg.train.backend import Backend, numpy_backend, torch_backend

T, N, OBS, ACT = 10, 8, 5, 3
SETTINGS = UpdateSettings(0.99, 0.95, "value", True, 0.5, 3, 4)


def batch(seed: int) -> Rollout:
    g = torch.Generator().manual_seed(seed)
    term = torch.rand((T, N), generator=g) < 0.05
    trunc = torch.zeros((T, N), dtype=torch.bool)
    trunc[-1] = True
    return Rollout(
        obs=torch.randn((T, N, OBS), generator=g),
        actions=torch.randn((T, N, ACT), generator=g),
        rewards=torch.randn((T, N), generator=g),
        terminated=term,
        truncated=trunc & ~term,
        next_obs=torch.randn((T, N, OBS), generator=g),
    )


def reference_update(
    b: Rollout,
    policy: GaussianPolicy,
    value: ValueNet,
    popt: torch.optim.Optimizer,
    vopt: torch.optim.Optimizer,
    gen: torch.Generator,
) -> dict[str, float]:
    """The update written the plain way, line by line."""
    dist = DistContext()
    adv, targets = compute_advantages(b, policy, value, SETTINGS)
    obs, actions = b.obs.reshape(-1, OBS), b.actions.reshape(-1, ACT)
    adv_flat = standardize(adv.reshape(-1), dist)
    old_logp = policy.log_prob(obs, actions).detach()
    loss = -(policy.log_prob(obs, actions) * adv_flat).mean()
    popt.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(list(policy.parameters()), SETTINGS.max_grad_norm)
    popt.step()
    with torch.no_grad():
        log_ratio = policy.log_prob(obs, actions) - old_logp
        kl = ((log_ratio.exp() - 1) - log_ratio).mean()
    norm_obs, flat_t = policy.obs_norm(obs).detach(), targets.reshape(-1)
    B = flat_t.shape[0]
    mb = B // SETTINGS.value_minibatches
    for _ in range(SETTINGS.value_epochs):
        perm = torch.randperm(B, generator=gen)
        for i in range(SETTINGS.value_minibatches):
            idx = perm[i * mb : (i + 1) * mb]
            vloss = 0.5 * (value(norm_obs[idx]) - flat_t[idx]).square().mean()
            vopt.zero_grad(set_to_none=True)
            vloss.backward()
            vopt.step()
    return {
        "train/policy_loss": float(loss.detach()),
        "train/approx_kl": float(kl),
        "train/grad_norm": float(grad_norm),
    }


@pytest.mark.parametrize(
    "backend", [torch_backend("test"), numpy_backend("test")], ids=["torch", "numpy"]
)
def test_update_is_the_plain_reinforce_step(backend: Backend) -> None:
    """The torch policy step is bitwise the textbook one, the numpy one equal to float32
    rounding; the value fit matches autograd + ``Adam.step`` to float32 rounding, so later
    steps agree closely."""
    policy_in_numpy = backend.name == "numpy"
    torch.manual_seed(0)
    cfg = NetConfig(OBS, ACT)
    policy, value = GaussianPolicy(cfg), ValueNet(cfg)
    policy.obs_norm.update(torch.randn(64, OBS) * 3 + 1)
    ref_policy, ref_value = copy.deepcopy(policy), copy.deepcopy(value)
    popt = torch.optim.Adam(policy.parameters(), lr=3e-3, foreach=True)
    vopt = torch.optim.Adam(value.parameters(), lr=1e-3, foreach=True)
    ref_popt = torch.optim.Adam(ref_policy.parameters(), lr=3e-3, foreach=False)
    ref_vopt = torch.optim.Adam(ref_value.parameters(), lr=1e-3, foreach=False)
    gen, ref_gen = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    for step in range(3):  # several steps: Adam's moments are in play from the second on
        b = batch(step)
        got = update(
            b,
            policy,
            value,
            popt,
            vopt,
            SETTINGS,
            DistContext(),
            gen,
            policy_step=backend.policy_step,
            value_fit=backend.value_fit,
        )
        want = reference_update(b, ref_policy, ref_value, ref_popt, ref_vopt, ref_gen)
        for name, number in want.items():
            if step == 0 and not policy_in_numpy:  # the same value net before the first fit:
                assert got[name] == number, name  # the torch policy step is exact
            else:
                assert got[name] == pytest.approx(number, rel=1e-4, abs=1e-7), name
        if step == 0 and not policy_in_numpy:
            for (name, p), q in zip(
                policy.named_parameters(), ref_policy.parameters(), strict=True
            ):
                assert torch.equal(p, q), name
    for mine, ref in ((policy, ref_policy), (value, ref_value)):
        for (name, p), q in zip(mine.named_parameters(), ref.parameters(), strict=True):
            torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=name)
    for opt, ref_opt in ((popt, ref_popt), (vopt, ref_vopt)):
        for state, ref_state in zip(
            opt.state_dict()["state"].values(), ref_opt.state_dict()["state"].values(), strict=True
        ):
            assert torch.equal(state["step"], ref_state["step"])
            torch.testing.assert_close(state["exp_avg_sq"], ref_state["exp_avg_sq"])
    assert got["time/update_policy_s"] > 0 and got["time/update_value_s"] > 0


def test_entropy_bonus_adds_its_exact_gradient_to_log_std() -> None:
    """With --ent-coef c the loss is the surrogate − c·H(π); for a free log σ, ∂H/∂log σ_i = 1,
    so the log σ gradient moves by exactly −c and nothing else changes."""
    import dataclasses

    grads = {}
    for c in (0.0, 0.25):
        torch.manual_seed(0)
        policy, value = GaussianPolicy(NetConfig(OBS, ACT)), ValueNet(NetConfig(OBS, ACT))
        popt = torch.optim.Adam(policy.parameters(), lr=1e-3)
        vopt = torch.optim.Adam(value.parameters(), lr=1e-3)
        s = dataclasses.replace(SETTINGS, max_grad_norm=0.0, ent_coef=c)
        update(batch(0), policy, value, popt, vopt, s, DistContext(), torch.Generator())
        grads[c] = {n: p.grad.clone() for n, p in policy.named_parameters()}  # type: ignore[union-attr]
    torch.testing.assert_close(grads[0.25]["log_std"], grads[0.0]["log_std"] - 0.25)
    for name in grads[0.0]:
        if name != "log_std":
            assert torch.equal(grads[0.25][name], grads[0.0][name]), name
