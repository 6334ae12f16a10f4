"""Render a policy's episodes to a file: the ``robopg render`` command and ``train --video-every``.

The episodes are run by ``evaluate.run_episodes`` (the loop ``robopg eval`` scores with), with a
``FrameRecorder`` watching, so episode i is seeded ``seed + i`` and a rendered episode is the same
episode, with the same return, that ``robopg eval`` reports.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from robopg.render.gl import choose_gl_backend
from robopg.render.recorder import FrameRecorder
from robopg.render.scenes import default_camera_config
from robopg.render.settings import TRAINING_VIDEO, RenderSettings
from robopg.render.sinks import prepare_output

if TYPE_CHECKING:
    import torch

    from robopg.algo.policy import GaussianPolicy

# obs (N, obs_dim) float64 → actions (N, act_dim), already clipped to the action range
ActFn = Callable[[np.ndarray], np.ndarray]


@dataclass
class RenderResult:
    """What was written: the episodes' returns and lengths, and the file's frames and rate."""

    path: Path
    returns: list[float]
    lengths: list[int]
    frames: int
    size: tuple[int, int]  # (width, height) of the output frame (or sheet)
    fps: Fraction
    seconds: float
    backend: str
    label: str = ""

    def summary(self) -> str:
        if self.path.suffix.lower() == ".png":
            what = f"contact sheet {self.size[0]}×{self.size[1]}"
        else:
            what = f"{self.frames} frames, {self.size[0]}×{self.size[1]} at {float(self.fps):g} fps"
        n = len(self.returns)
        return (
            f"wrote {self.path}: {what}, {n} episode{'s' if n != 1 else ''}, mean return "
            f"{np.mean(self.returns):.3f}, {self.label}; {self.seconds:.1f} s with {self.backend}"
        )


def render_rollouts(
    task: str,
    act: ActFn,
    out: Path | str,
    episodes: int = 3,
    seed: int = 0,
    settings: RenderSettings | None = None,
    label: str = "deterministic (mean action)",
    engine: str = "auto",
    action: str = "torque",
) -> RenderResult:
    """Run ``episodes`` episodes of ``task`` under ``act`` and write them to ``out``.

    In a sequence video that makes ``episodes · (1 + steps)`` frames; a grid video holds
    ``1 + longest episode`` frames (fewer for very fast simulators, see ``sinks.timing``).
    """
    from robopg.deploy.evaluate import run_episodes
    from robopg.envs import resolve_task

    settings = settings or RenderSettings()
    out = Path(out)
    fmt = prepare_output(out, settings, episodes)
    backend = choose_gl_backend()
    spec = resolve_task(task)
    camera_config = default_camera_config(spec.gym_id)
    start = time.perf_counter()
    recorder = FrameRecorder(out, fmt, settings, episodes, backend, camera_config, label)
    try:
        scored = run_episodes(
            spec.name,
            act,
            episodes,
            seed,
            engine=engine,
            max_parallel=episodes if settings.grid else 1,  # sequence: frames in episode order
            observer=recorder,
            action=action,
        )
        recorder.finish()
    except BaseException:
        recorder.abort()
        raise
    finally:
        recorder.close()
    seconds = time.perf_counter() - start
    return RenderResult(
        out,
        scored.returns,
        scored.lengths,
        recorder.frames,
        recorder.size,
        recorder.fps,
        seconds,
        backend,
        label,
    )


def random_act(low: np.ndarray, high: np.ndarray, seed: int, log_std: float) -> ActFn:
    """An untrained policy: zero-mean Gaussian with the initial σ = exp(log_std_init).

    That is what a fresh GaussianPolicy does (its last layer starts near zero, so its mean
    action is ≈ 0); sampling matters, since the deterministic mean would hold the arm still.
    Numpy only, no torch.
    """
    rng = np.random.default_rng(seed)
    std = math.exp(log_std)

    def act(obs: np.ndarray) -> np.ndarray:
        noise = rng.standard_normal((obs.shape[0], low.shape[0])) * std
        return np.clip(noise, low, high)

    return act


def render_policy(
    source: str,
    out: Path | str,
    episodes: int = 3,
    seed: int = 0,
    settings: RenderSettings | None = None,
    stochastic: bool = False,
    random: bool = False,
) -> RenderResult:
    """Render a run directory, checkpoint, or task name (its shipped policy; ``random``: an
    untrained one) — the ``robopg render`` command as a function."""
    settings = settings or RenderSettings()
    prepare_output(Path(out), settings, episodes)  # bad paths and sizes fail before slow work
    if random:
        import gymnasium as gym

        from robopg.config import TrainConfig
        from robopg.envs import resolve_task

        spec = resolve_task(source)
        probe = gym.make(spec.gym_id)
        low = np.asarray(probe.action_space.low, dtype=np.float64)  # type: ignore[attr-defined]
        high = np.asarray(probe.action_space.high, dtype=np.float64)  # type: ignore[attr-defined]
        probe.close()
        log_std = TrainConfig().log_std_init
        act = random_act(low, high, seed, log_std)
        label = f"untrained, sampled σ={math.exp(log_std):.2f}"
        return render_rollouts(spec.name, act, out, episodes, seed, settings, label)

    from robopg.deploy.controller import Controller
    from robopg.runs.run_dir import resolve_policy_path

    # the raw policy, as `robopg eval` scores it (not the deployment safety layer)
    ctrl = Controller.load(
        resolve_policy_path(source), stochastic=stochastic, seed=seed, safety=False
    )
    label = "stochastic (sampled)" if stochastic else "deterministic (mean action)"
    return render_rollouts(
        ctrl.task, ctrl.act_batch, out, episodes, seed, settings, label, action=ctrl.action
    )


def record_training_video(
    task: str,
    policy: GaussianPolicy,
    device: torch.device,
    out: Path,
    seed: int,
    action: str = "torque",
) -> RenderResult:
    """One deterministic 256×256 episode of the live policy, for ``train --video-every``."""
    from robopg.algo.acting import policy_act_fn
    from robopg.envs import make_vector_env

    probe = make_vector_env(task, 1, action=action)
    low, high = probe.action_low, probe.action_high
    probe.close()
    act = policy_act_fn(policy, device, low, high, deterministic=True)
    return render_rollouts(
        task, act, out, episodes=1, seed=seed, settings=TRAINING_VIDEO, action=action
    )
