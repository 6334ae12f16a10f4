"""The one-step linear-Gaussian problem with a known policy gradient, shared by the tests of
the REINFORCE update (test_gradient.py) and of the variance measurement (test_variance.py).

One step, fixed state s, action a ~ N(μ, σ²) with μ = W s + b, reward r(a) = −‖a − c‖².
Then J = −‖μ − c‖² − Σσ², so ∇_W J = −2(μ − c) sᵀ, ∇_b J = −2(μ − c), ∇_{log σ} J = −2σ².
"""

import torch

from robopg.algo.policy import GaussianPolicy, NetConfig

S = torch.tensor([0.5, -1.0, 2.0])
C = torch.tensor([0.3, -0.7])


def make_policy() -> GaussianPolicy:
    """A linear-mean policy (no hidden layer) with fixed, hand-picked weights."""
    policy = GaussianPolicy(NetConfig(obs_dim=3, act_dim=2, hidden=(), log_std_init=-0.7))
    with torch.no_grad():
        linear = policy.mean_net[0]
        linear.weight.copy_(torch.tensor([[0.2, 0.1, -0.3], [0.0, 0.4, 0.1]]))
        linear.bias.copy_(torch.tensor([0.1, -0.2]))
    return policy


def reward(actions: torch.Tensor) -> torch.Tensor:
    """r(a) = −‖a − c‖², over the last axis."""
    return -(actions - C).square().sum(-1)


def true_gradient_parts(policy: GaussianPolicy) -> dict[str, torch.Tensor]:
    """∇J by parameter: ``weight`` (2, 3), ``bias`` (2,), ``log_std`` (2,)."""
    with torch.no_grad():
        mu = policy.mean_action(S[None])[0]
        sigma2 = policy.log_std.exp().square()
    return {"weight": torch.outer(-2 * (mu - C), S), "bias": -2 * (mu - C), "log_std": -2 * sigma2}
