"""Collect a (T, N) batch of transitions from a vector env with the current policy.

Per step: one policy forward over all N envs (in numpy with the numpy backend, see
``robopg.fast.sampler``; on a
GPU one host→device copy of the (N, obs_dim) observations and one device→host copy of the
actions); the batch goes to the device once at the end. No per-env Python loop touches the
policy. Actions are sampled unclipped (their log-probability is what REINFORCE differentiates)
and clipped to the actuator range only when sent to the simulator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import torch

from robopg.algo.antithetic import exploration_noise
from robopg.algo.batch import Rollout
from robopg.algo.policy import GaussianPolicy
from robopg.envs import VectorEnv

#: obs (N, obs_dim) float64 → (obs float32, unclipped action float32), both numpy
Sample = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


class SamplerFactory(Protocol):
    """Builds a batch's sampler from the policy as it is now (the backend's choice: e.g.
    ``robopg.fast.sampler.NumpySampler``); without one the collector samples in torch."""

    def __call__(
        self, policy: GaussianPolicy, generator: torch.Generator, antithetic: bool
    ) -> Sample: ...


class RolloutCollector:
    """Steps a VectorEnv under a policy, carrying unfinished episodes across batches."""

    def __init__(
        self,
        env: VectorEnv,
        policy: GaussianPolicy,
        device: torch.device,
        generator: torch.Generator,
        antithetic: bool = False,
        make_sampler: SamplerFactory | None = None,
    ) -> None:
        """``antithetic``: pair envs 2k and 2k+1 (same starts, opposite noise; needs an even
        number of envs; ``robopg.algo.antithetic``). ``make_sampler``: the backend's sampler
        (None: torch on ``device``)."""
        self.make_sampler = make_sampler
        self.env = env
        self.antithetic = antithetic
        self.policy = policy
        self.device = device
        self.generator = generator
        self.low = env.action_low
        self.high = env.action_high
        self._obs: np.ndarray | None = None
        self._ep_return = np.zeros(env.num_envs)
        self._ep_len = np.zeros(env.num_envs, dtype=np.int64)
        self._pin = device.type == "cuda"

    def reset(self, seed: int) -> None:
        self._obs = self.env.reset(seed, paired=self.antithetic)
        self._ep_return[:] = 0.0
        self._ep_len[:] = 0

    def _to_device(self, arr: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.asarray(arr, dtype=np.float32))
        if self._pin:
            t = t.pin_memory()
        return t.to(self.device, non_blocking=True)

    def _sampler(self) -> Sample:
        """This batch's sampler: the backend's, else torch on the device (one host→device copy
        of the observations, one device→host of the actions)."""
        if self.make_sampler is not None:
            return self.make_sampler(self.policy, self.generator, self.antithetic)
        n, act_dim = self.env.num_envs, self.env.act_dim

        def sample(obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            obs32 = np.asarray(obs, dtype=np.float32)
            noise = None
            if self.antithetic:
                noise = exploration_noise(n, act_dim, self.generator, True, self.device)
            action = self.policy.act(self._to_device(obs32), generator=self.generator, noise=noise)
            return obs32, action.cpu().numpy()

        return sample

    @torch.no_grad()
    def collect(self, rollout_len: int) -> Rollout:
        """Run ``rollout_len`` steps of every env and return the batch on the policy's device.

        The batch is built in host buffers and moved to the device once, at the end."""
        if self._obs is None:
            raise RuntimeError("RolloutCollector.reset(seed) must be called before collect().")
        T, N = rollout_len, self.env.num_envs
        sample = self._sampler()
        obs_buf = np.empty((T, N, self.env.obs_dim), dtype=np.float32)
        next_buf = np.empty_like(obs_buf)
        act_buf = np.empty((T, N, self.env.act_dim), dtype=np.float32)
        rew = np.empty((T, N))
        term = np.empty((T, N), dtype=bool)
        trunc = np.empty((T, N), dtype=bool)
        ep_returns: list[float] = []
        ep_lengths: list[int] = []
        obs = self._obs
        for t in range(T):
            obs_buf[t], act_buf[t] = sample(obs)
            clipped = np.clip(act_buf[t].astype(np.float64), self.low, self.high)
            res = self.env.step(clipped)
            rew[t], term[t], trunc[t] = res.reward, res.terminated, res.truncated
            self._ep_return += res.reward
            self._ep_len += 1
            done = res.terminated | res.truncated
            if done.any():
                next_buf[t] = res.final_obs
                idx = np.flatnonzero(done)
                ep_returns.extend(self._ep_return[idx].tolist())
                ep_lengths.extend(self._ep_len[idx].tolist())
                self._ep_return[idx] = 0.0
                self._ep_len[idx] = 0
            else:
                next_buf[t] = res.obs
            obs = self._obs = res.obs
        return Rollout(
            obs=self._tensor(obs_buf),
            actions=self._tensor(act_buf),
            rewards=self._tensor(rew.astype(np.float32)),
            terminated=self._tensor(term),
            truncated=self._tensor(trunc),
            next_obs=self._tensor(next_buf),
            episode_returns=ep_returns,
            episode_lengths=ep_lengths,
        )

    def _tensor(self, arr: np.ndarray) -> torch.Tensor:
        """A host buffer as a tensor on the device (shared memory on the CPU, one copy else)."""
        t = torch.from_numpy(arr)
        return t if self.device.type == "cpu" else t.to(self.device)

    def state_dict(self) -> dict[str, Any]:
        """Unfinished-episode bookkeeping, so a resumed run reports the same episode returns."""
        assert self._obs is not None
        return {
            "obs": self._obs.copy(),
            "ep_return": self._ep_return.copy(),
            "ep_len": self._ep_len.copy(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._obs = np.asarray(state["obs"], dtype=np.float64)
        self._ep_return = np.asarray(state["ep_return"], dtype=np.float64).copy()
        self._ep_len = np.asarray(state["ep_len"], dtype=np.int64).copy()
