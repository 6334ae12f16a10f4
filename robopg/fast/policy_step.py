"""REINFORCE's one policy step on the CPU in numpy: the score-function gradient by hand.

Why: the policy step runs once per update on a few hundred rows of a 64-64 net; in torch the
autograd graph, ``clip_grad_norm_`` and ``Adam.step`` cost more in dispatch than in arithmetic
(see ``robopg.fast.mlp``). For a diagonal Gaussian with a free log σ the gradient is short enough to
write out. With z = (a − μ(s))/σ, per-sample weights w_b = Â_b / B and the surrogate
L = −Σ_b w_b log π(a_b|s_b) − c·H:

    ∂L/∂μ_b     = −w_b · z_b / σ                     (backpropagated through the mean MLP)
    ∂L/∂log σ_i = −Σ_b w_b (z_bi² − 1) − c           (0 below a ``log_std_floor``)

then the global-norm clip and one Adam step, as ``reinforce.update``'s torch path takes them;
equal to it to float32 rounding (tests/unit/test_fast_policy_step.py). It covers what CPU training
uses by default: a float32 ``param``-σ policy, one process; anything else steps in torch.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from robopg.algo.distributed import DistContext
from robopg.algo.policy import GaussianPolicy
from robopg.algo.reinforce import UpdateSettings, check_finite
from robopg.fast.adam import FlatAdam, activation_names, adam_usable, plain_mlp
from robopg.fast.mlp import MLP

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_HALF_LOG_2PIE = 0.5 * math.log(2 * math.pi * math.e)


def usable(policy: GaussianPolicy, opt: torch.optim.Optimizer) -> bool:
    """Whether ``NumpyPolicyStep`` can take ``policy``'s step: a free log σ, a plain float32
    MLP mean on the CPU with every parameter trained, plain Adam."""
    params = list(policy.parameters())
    return (
        not policy.state_std
        and plain_mlp(policy.mean_net)
        and all(p.requires_grad for p in params)
        and adam_usable(params, opt)
    )


class NumpyPolicyStep:
    """One policy step on flat copies of ``policy``'s parameters and ``opt``'s state.

    ``run`` computes the step and its diagnostics without touching the torch objects;
    ``write_back`` then commits it, so a step whose numbers are not finite can be refused with
    the policy left as it was.
    """

    def __init__(self, policy: GaussianPolicy, opt: torch.optim.Optimizer) -> None:
        # mean_net's parameters, then log σ (parameters() lists log σ first)
        self._adam = FlatAdam([*policy.mean_net.parameters(), policy.log_std], opt)
        self._mlp = MLP(
            activation_names(policy.mean_net), self._adam.weights[:-1], self._adam.grads[:-1]
        )
        self._floor = policy.cfg.log_std_floor
        self.params_finite = True  # after ``run``: whether every stepped parameter is finite

    def _log_std(self) -> np.ndarray:
        raw = self._adam.weights[-1]
        return raw if self._floor is None else np.maximum(raw, np.float32(self._floor))

    def _log_prob(
        self, norm_obs: np.ndarray, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
        """(log π(a|s) (B,), z (B, act_dim), 1/σ (act_dim,), the mean MLP's layer inputs)."""
        mean, inputs = self._mlp.forward(norm_obs)
        log_std = self._log_std()
        inv_std = np.exp(-log_std)
        z = (actions - mean) * inv_std
        per_dim = np.float32(-0.5) * z * z - log_std - np.float32(_HALF_LOG_2PI)
        return per_dim.sum(-1), z, inv_std, inputs

    def run(
        self,
        norm_obs: torch.Tensor,
        actions: torch.Tensor,
        adv: torch.Tensor,
        *,
        max_grad_norm: float,
        ent_coef: float = 0.0,
    ) -> dict[str, float]:
        """The step on normalised observations (B, obs_dim) (``policy.obs_norm(obs)``),
        unclipped actions (B, act_dim) and (standardised) advantages (B,); returns the loss
        before it, gradient norm before the clip, and approx-KL, entropy and mean σ after it,
        as ``reinforce.update`` reports them.
        """
        norm = norm_obs.numpy()
        a, w = actions.numpy(), adv.numpy() * np.float32(1.0 / adv.shape[0])
        logp, z, inv_std, inputs = self._log_prob(norm, a)
        entropy = float((np.float32(_HALF_LOG_2PIE) + self._log_std()).sum())
        loss = -float(np.dot(logp, w)) - ent_coef * entropy

        wz = w[:, None] * z
        self._mlp.backward(inputs, -(wz * inv_std))
        g_log_std = self._adam.grads[-1]
        g_log_std[:] = -(wz * z).sum(0) + w.sum() - np.float32(ent_coef)
        if self._floor is not None:  # clamp_min passes the gradient only at or above the floor
            g_log_std[self._adam.weights[-1] < np.float32(self._floor)] = 0.0
        grad = self._adam.grad
        grad_norm = float(np.sqrt(np.dot(grad, grad)))
        if max_grad_norm > 0:  # torch.nn.utils.clip_grad_norm_'s rule
            grad *= np.float32(min(1.0, max_grad_norm / (grad_norm + 1e-6)))
        self._adam.step()

        new_logp = self._log_prob(norm, a)[0]
        log_ratio = new_logp - logp
        log_std = self._log_std()
        self.params_finite = bool(np.isfinite(self._adam.flat).all())
        return {
            "train/policy_loss": loss,
            "train/entropy": float((np.float32(_HALF_LOG_2PIE) + log_std).sum()),
            "train/approx_kl": float(np.mean(np.expm1(log_ratio) - log_ratio)),
            "train/grad_norm": grad_norm,
            "train/std": float(np.exp(log_std).mean()),
        }

    def write_back(self) -> None:
        """Commit the step to the torch policy and optimizer."""
        self._adam.write_back()


def policy_step(
    policy: GaussianPolicy,
    policy_opt: torch.optim.Optimizer,
    obs: torch.Tensor,
    norm_obs: torch.Tensor,
    actions: torch.Tensor,
    adv_flat: torch.Tensor,
    s: UpdateSettings,
    dist: DistContext,
) -> dict[str, torch.Tensor]:
    """``robopg.algo.reinforce.torch_policy_step``'s signature over ``NumpyPolicyStep``: the
    step is committed only once its numbers are finite, with the torch step's checks and
    sentences. One process only (``dist`` must be inactive)."""
    if dist.active:
        raise ValueError("the numpy policy step runs in one process; use the torch backend.")
    step = NumpyPolicyStep(policy, policy_opt)
    with np.errstate(all="ignore"):  # a diverging step is caught below, with its sentence
        numbers = step.run(
            norm_obs, actions, adv_flat, max_grad_norm=s.max_grad_norm, ent_coef=s.ent_coef
        )
    metrics = {k: torch.tensor(v, dtype=torch.float32) for k, v in numbers.items()}
    check_finite("the policy loss", metrics["train/policy_loss"])
    check_finite("the policy gradient", metrics["train/grad_norm"])
    check_finite("the policy parameters", torch.tensor(0.0 if step.params_finite else math.nan))
    check_finite("the policy's action log-probabilities", metrics["train/approx_kl"])
    step.write_back()
    return metrics
