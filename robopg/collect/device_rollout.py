"""Collect a (T, N) batch from a device engine without leaving its device.

The device twin of ``robopg.collect.rollout.RolloutCollector`` for ``WarpArmEnv``: observations come
from the engine as tensors on the policy's device, actions are clipped there and written to
``ctrl`` by the engine, and the storage is preallocated there. The only host synchronisations
are once per batch: the engine's contact-overflow check and the finished episodes' returns.
It returns the same ``Rollout`` as the CPU collector, so the update cannot tell them apart.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from robopg.algo.batch import Rollout
from robopg.algo.policy import GaussianPolicy
from robopg.collect.warp.engine import WarpArmEnv
from robopg.errors import ConfigError


class DeviceRolloutCollector:
    """Steps a ``WarpArmEnv`` under a policy, carrying unfinished episodes across batches."""

    def __init__(
        self,
        env: WarpArmEnv,
        policy: GaussianPolicy,
        device: torch.device,
        generator: torch.Generator,
    ) -> None:
        if env.device != torch.device(device) and not (
            env.device.type == device.type == "cuda" and device.index is None
        ):
            raise ConfigError(
                f"The warp engine runs on {env.device} but the policy on {device}; train with "
                "--device set to the engine's device."
            )
        self.env = env
        self.policy = policy
        self.device = env.device
        self.generator = generator
        self.low = torch.as_tensor(env.action_low, dtype=torch.float32, device=self.device)
        self.high = torch.as_tensor(env.action_high, dtype=torch.float32, device=self.device)
        n = env.num_envs
        self._obs: torch.Tensor | None = None
        self._ep_return = torch.zeros(n, dtype=torch.float64, device=self.device)
        self._ep_len = torch.zeros(n, dtype=torch.int64, device=self.device)

    def reset(self, seed: int) -> None:
        self._obs = self.env.reset(seed)
        self._ep_return.zero_()
        self._ep_len.zero_()

    @torch.no_grad()
    def collect(self, rollout_len: int) -> Rollout:
        """Run ``rollout_len`` steps of every world; the batch stays on the engine's device."""
        if self._obs is None:
            raise RuntimeError("DeviceRolloutCollector.reset(seed) must be called first.")
        T, N, dev = rollout_len, self.env.num_envs, self.device
        obs_buf = torch.empty((T, N, self.env.obs_dim), device=dev)
        next_buf = torch.empty_like(obs_buf)
        act_buf = torch.empty((T, N, self.env.act_dim), device=dev)
        rew = torch.empty((T, N), device=dev)
        term = torch.empty((T, N), dtype=torch.bool, device=dev)
        trunc = torch.empty_like(term)
        ended_return = torch.empty((T, N), dtype=torch.float64, device=dev)
        ended_len = torch.empty((T, N), dtype=torch.int64, device=dev)
        obs_t = self._obs
        for t in range(T):
            action = self.policy.act(obs_t, generator=self.generator)
            obs_buf[t] = obs_t
            act_buf[t] = action
            res = self.env.step(torch.clamp(action, self.low, self.high))
            rew[t], term[t], trunc[t] = res.reward, res.terminated, res.truncated
            next_buf[t] = res.final_obs
            self._ep_return += res.reward
            self._ep_len += 1
            ended_return[t], ended_len[t] = self._ep_return, self._ep_len
            done = res.terminated | res.truncated
            self._ep_return.masked_fill_(done, 0.0)
            self._ep_len.masked_fill_(done, 0)
            obs_t = res.obs
        self._obs = obs_t
        self.env.check_overflow()
        done_all = term | trunc  # row-major: the CPU collector's order (by step, then env)
        return Rollout(
            obs=obs_buf,
            actions=act_buf,
            rewards=rew,
            terminated=term,
            truncated=trunc,
            next_obs=next_buf,
            episode_returns=ended_return[done_all].tolist(),
            episode_lengths=ended_len[done_all].tolist(),
        )

    def state_dict(self) -> dict[str, Any]:
        """Unfinished-episode bookkeeping as numpy (the checkpoint format's arrays)."""
        assert self._obs is not None
        return {
            "obs": self._obs.double().cpu().numpy(),
            "ep_return": self._ep_return.cpu().numpy(),
            "ep_len": self._ep_len.cpu().numpy(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._obs = torch.as_tensor(
            np.asarray(state["obs"]), dtype=torch.float32, device=self.device
        )
        self._ep_return = torch.as_tensor(
            state["ep_return"], dtype=torch.float64, device=self.device
        )
        self._ep_len = torch.as_tensor(state["ep_len"], dtype=torch.int64, device=self.device)
