"""Reward-to-go and GAE against numbers computed by hand."""

import pytest
import torch

from robopg.algo.returns import discounted_returns, gae_advantages


def col(*xs: float) -> torch.Tensor:
    return torch.tensor(xs, dtype=torch.float64).unsqueeze(1)  # (T, 1)


def flags(*xs: int) -> torch.Tensor:
    return torch.tensor(xs, dtype=torch.bool).unsqueeze(1)


def test_reward_to_go_single_episode_terminated() -> None:
    # r = 1, 2, 3, terminates at t=2, γ = 0.5:
    # G2 = 3; G1 = 2 + 0.5·3 = 3.5; G0 = 1 + 0.5·3.5 = 2.75
    g = discounted_returns(col(1, 2, 3), flags(0, 0, 1), flags(0, 0, 0), col(9, 9, 9), 0.5)
    assert g.squeeze(1).tolist() == [2.75, 3.5, 3.0]


def test_reward_to_go_resets_at_episode_boundary_inside_batch() -> None:
    # Episode A = steps 0-1 (terminated at 1), episode B starts at 2 and is cut by the batch end,
    # bootstrapped with V(s_4) = 10. γ = 0.9.
    # A: G1 = 2, G0 = 1 + 0.9·2 = 2.8.   B: G3 = 4 + 0.9·10 = 13, G2 = 3 + 0.9·13 = 14.7
    g = discounted_returns(
        col(1, 2, 3, 4), flags(0, 1, 0, 0), flags(0, 0, 0, 0), col(0, 99, 0, 10), 0.9
    )
    assert g.squeeze(1).tolist() == pytest.approx([2.8, 2.0, 14.7, 13.0])


def test_truncation_bootstraps_from_final_observation_value() -> None:
    # Time limit at t=1 with V(final obs) = 5; next episode is one step and terminates.
    # G1 = 2 + 0.5·5 = 4.5, G0 = 1 + 0.5·4.5 = 3.25, G2 = 7
    g = discounted_returns(col(1, 2, 7), flags(0, 0, 1), flags(0, 1, 0), col(0, 5, 123), 0.5)
    assert g.squeeze(1).tolist() == [3.25, 4.5, 7.0]


def test_gae_hand_computed_with_boundary_and_truncation() -> None:
    # γ = 0.5, λ = 0.5. Steps: 0,1 = episode truncated at 1 (V(final) = 4); 2 = terminated.
    r, v, nv = col(1, 2, 3), col(0.5, 1.0, 2.0), col(1.0, 4.0, 77.0)
    term, trunc = flags(0, 0, 1), flags(0, 1, 0)
    # δ0 = 1 + 0.5·1 − 0.5 = 1.0 ; δ1 = 2 + 0.5·4 − 1 = 3.0 ; δ2 = 3 + 0 − 2 = 1.0
    # A2 = 1.0 ; A1 = 3.0 (episode cut, no carry) ; A0 = 1.0 + 0.25·3.0 = 1.75
    adv = gae_advantages(r, v, nv, term, trunc, gamma=0.5, lam=0.5)
    assert adv.squeeze(1).tolist() == [1.75, 3.0, 1.0]


def test_gae_lambda_one_equals_reward_to_go_minus_values() -> None:
    gen = torch.Generator().manual_seed(0)
    T, N = 12, 5
    r = torch.randn(T, N, generator=gen, dtype=torch.float64)
    v = torch.randn(T, N, generator=gen, dtype=torch.float64)
    nv = torch.randn(T, N, generator=gen, dtype=torch.float64)
    term = torch.rand(T, N, generator=gen) < 0.1
    trunc = (torch.rand(T, N, generator=gen) < 0.1) & ~term
    # Within an episode the successor's value is the next row's value (the telescoping GAE
    # relies on); at episode ends and the batch end it is V(final obs), here random.
    done = term | trunc
    nv[:-1] = torch.where(done[:-1], nv[:-1], v[1:])
    adv = gae_advantages(r, v, nv, term, trunc, gamma=0.97, lam=1.0)
    g = discounted_returns(r, term, trunc, nv, gamma=0.97)
    torch.testing.assert_close(adv, g - v)


def test_gae_lambda_zero_is_one_step_td_error() -> None:
    r, v, nv = col(1, 2), col(0.5, 0.25), col(3.0, 8.0)
    adv = gae_advantages(r, v, nv, flags(0, 0), flags(0, 0), gamma=0.9, lam=0.0)
    assert adv.squeeze(1).tolist() == pytest.approx([1 + 0.9 * 3 - 0.5, 2 + 0.9 * 8 - 0.25])
