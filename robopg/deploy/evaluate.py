"""Deterministic (mean-action) evaluation of a policy on fresh env instances.

Evaluation uses its own env and seeds, separate from training, so it never perturbs the
training stream. Deterministic by default: exploration noise alone costs about 2σ² per step on
Reacher, which is not the policy's skill.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from robopg.deploy.safety import safety_report
from robopg.envs import VectorEnv, make_vector_env
from robopg.envs.franka import LimitMonitor, LimitRecord, limit_report
from robopg.envs.randomize import RandomizeSettings, load_settings

# obs (N, obs_dim) float64 → actions (N, act_dim), already clipped to the action range
ActFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class EvalResult:
    """Per-episode returns and lengths, and what a task's own report reads (``ArmTask.
    eval_report``): each episode's last observation and the peak |obs| and |action| per
    dimension over its steps, (episodes, obs_dim) / (episodes, act_dim); None when not kept.
    ``limits``: each episode's count of steps over the real arm's limits and its peak ratios
    (tasks with ``ArmTask.limits`` on the batched engine; None otherwise). ``safety``: the
    deployment safety layer's intervention counts over all episodes, when it ran. ``action``:
    the task's action interface the episodes ran on (its actions are torques only for
    ``torque``)."""

    returns: list[float]
    lengths: list[int]
    deterministic: bool
    final_obs: np.ndarray | None = None
    peak_obs: np.ndarray | None = None
    peak_action: np.ndarray | None = None
    limits: LimitRecord | None = None
    safety: dict[str, int] | None = None
    action: str = "torque"

    @property
    def mean(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std(self) -> float:
        """Spread of the episode returns (population std): how much one episode varies."""
        return float(np.std(self.returns))

    @property
    def stderr(self) -> float:
        """Standard error of ``mean`` (sample std / √n; NaN for one episode).

        Why it is reported: two settings are told apart by their means only when the difference
        is several standard errors; 50 Pusher episodes (std ≈ 4) give ≈ 0.6, as large as the
        effects being ranked, 500 give ≈ 0.2.
        """
        n = len(self.returns)
        if n < 2:
            return float("nan")
        return float(np.std(self.returns, ddof=1) / np.sqrt(n))

    def summary(self) -> str:
        mode = "deterministic (mean action)" if self.deterministic else "stochastic (sampled)"
        n = len(self.returns)
        spread = f"± {self.stderr:.3f} (standard error), " if n > 1 else ""
        return (
            f"return {self.mean:.3f} {spread}episode std {self.std:.3f}, over {n} episodes, {mode}"
        )


class EpisodeObserver(Protocol):
    """Watches ``run_episodes`` step by step (the renderer draws frames with it).

    Env ``i`` of a chunk runs episode ``first + i``. Episodes auto-reset in the step they end
    (the VectorEnv contract), so an env that ended holds the next episode's reset state by the
    time ``stepped`` runs; ``stepping`` is the last look at the state that step starts from.
    """

    def started(self, env: VectorEnv, first: int) -> None:
        """A chunk was reset: every env holds its episode's initial state."""
        ...

    def stepping(self, env: VectorEnv, actions: np.ndarray, live: np.ndarray) -> None:
        """``actions`` (N, act_dim) are about to be applied; ``live`` (N,) marks live episodes."""
        ...

    def stepped(
        self, env: VectorEnv, reward: np.ndarray, live: np.ndarray, ended: np.ndarray
    ) -> None:
        """The step is done: ``live`` (N,) still running, ``ended`` (N,) finished in this step;
        ``reward`` (N,) is this step's reward (meaningful where ``live | ended``)."""
        ...


def run_episodes(
    task: str,
    act: ActFn,
    episodes: int,
    seed: int,
    deterministic: bool = True,
    engine: str = "auto",
    max_parallel: int = 64,
    observer: EpisodeObserver | None = None,
    action: str = "torque",
    on_chunk: Callable[[], None] | None = None,
    randomize: RandomizeSettings | None = None,
) -> EvalResult:
    """Run exactly ``episodes`` episodes (one per env, in chunks) and collect their returns.

    Episode i of a call is always seeded ``seed + i``, so results are reproducible and
    independent of ``max_parallel``. This is the one episode loop: ``robopg eval`` scores with
    it and ``robopg render`` draws it through ``observer``, so both see the same episodes.
    ``action`` is the task's action interface (a policy runs on the one it was trained on:
    ``recorded_action``). ``on_chunk`` is called before each chunk's first action (a stateful
    controller resets there: every env of a chunk starts a new episode). ``randomize``: score
    under domain randomization (``robopg.envs.randomize``); episode i's perturbations are drawn
    from seed ``seed + i`` too, and success and peaks read the noise-free observations.
    """
    returns: list[float] = []
    lengths: list[int] = []
    finals, peak_obs, peak_act = [], [], []
    records: list[LimitRecord] = []
    start = 0
    while start < episodes:
        n = min(max_parallel, episodes - start)
        env = make_vector_env(task, n, engine=engine, action=action, randomize=randomize)
        if on_chunk is not None:
            on_chunk()
        try:
            chunk = _run_chunk(env, act, seed, start, observer)
        finally:
            env.close()
        returns.extend(chunk.total.tolist())
        lengths.extend(chunk.length.tolist())
        finals.append(chunk.final_obs)
        peak_obs.append(chunk.peak_obs)
        peak_act.append(chunk.peak_action)
        if chunk.limits is not None:
            records.append(chunk.limits)
        start += n
    return EvalResult(
        returns,
        lengths,
        deterministic,
        final_obs=np.concatenate(finals),
        peak_obs=np.concatenate(peak_obs),
        peak_action=np.concatenate(peak_act),
        limits=LimitRecord.concatenate(records) if records else None,
        action=action,
    )


@dataclass(frozen=True)
class _Chunk:
    """One chunk's episodes: returns, lengths (n,), last obs and peaks (n, obs/act dim)."""

    total: np.ndarray
    length: np.ndarray
    final_obs: np.ndarray
    peak_obs: np.ndarray
    peak_action: np.ndarray
    limits: LimitRecord | None


def _run_chunk(
    env: VectorEnv, act: ActFn, seed: int, first: int, observer: EpisodeObserver | None
) -> _Chunk:
    """One episode per env of ``env``, seeded ``seed + first + i``."""
    n = env.num_envs
    obs = env.reset(seed + first)
    if observer is not None:
        observer.started(env, first)
    total = np.zeros(n)
    length = np.zeros(n, dtype=np.int64)
    finished = np.zeros(n, dtype=bool)
    peak_obs = np.abs(obs)
    final_obs = np.zeros_like(obs)
    peak_act = np.zeros((n, env.act_dim))
    # the engine's limit monitor archives each episode's statistics when it auto-resets it
    monitor: LimitMonitor | None = getattr(env, "limits", None)
    record = None
    if monitor is not None:
        record = LimitRecord(np.zeros_like(monitor.counts), np.zeros_like(monitor.peaks))
    while not finished.all():
        live = ~finished
        actions = act(obs)
        if observer is not None:
            observer.stepping(env, actions, live)
        res = env.step(actions)
        total[live] += res.reward[live]
        length[live] += 1
        peak_act[live] = np.maximum(peak_act[live], np.abs(actions[live]))
        # final_obs is the step's observation before any auto-reset; under observation noise
        # the engine's true_final_obs is the noise-free one, which success and peaks read
        truth: np.ndarray | None = getattr(env, "true_final_obs", None)
        last = res.final_obs if truth is None else truth
        peak_obs[live] = np.maximum(peak_obs[live], np.abs(last[live]))
        ended = live & (res.terminated | res.truncated)
        final_obs[ended] = last[ended]
        if monitor is not None and record is not None:
            record.counts[ended] = monitor.last_counts[ended]
            record.peaks[ended] = monitor.last_peaks[ended]
        finished |= ended
        obs = res.obs
        if observer is not None:
            observer.stepped(env, res.reward, ~finished, ended)
    return _Chunk(total, length, final_obs, peak_obs, peak_act, record)


def task_report(task: str, result: EvalResult) -> list[str]:
    """The task's own lines about an evaluation (success rate, safety numbers), if it has any."""
    from robopg.envs import TASKS

    spec = TASKS.get(task)
    if spec is None or spec.arm is None or result.final_obs is None:
        return []
    assert result.peak_obs is not None and result.peak_action is not None
    peak_torque = result.peak_action  # |torque| / limit under the torque interface
    if result.action != "torque" and result.limits is not None:
        peak_torque = result.limits.peaks[:, 3]  # the impedance law's torque, from the monitor
    lines = spec.arm.eval_report(result.final_obs, result.peak_obs, peak_torque)
    if result.limits is not None and spec.arm.limits is not None:
        lines += limit_report(result.limits)
    if result.safety is not None:
        lines += safety_report(result.safety)
    return lines


def evaluate_saved_policy(
    source: str | Path,
    episodes: int,
    seed: int,
    stochastic: bool = False,
    engine: str = "auto",
    task: str | None = None,
    safety: bool = False,
    randomize: str = "",
) -> tuple[Path, str, EvalResult]:
    """Evaluate a checkpoint, run directory or shipped policy (by task name) with a Controller.

    ``safety``: act through the task's deployment safety layer (``robopg.deploy.safety``), as
    the deployed controller does, and report its interventions; off, the bare policy is scored.
    ``randomize``: a randomization preset or TOML file (``robopg.envs.randomize``; "": none).

    ``task`` evaluates on another task than the one trained on; its observation and action sizes
    must match the policy's (checked first, so a mismatch is one clear error, not a crash).
    Returns (checkpoint path, task evaluated, result).
    """
    from robopg.deploy.controller import Controller
    from robopg.envs import resolve_task
    from robopg.envs.actions import recorded_action
    from robopg.runs.checkpoint import check_spaces, load_checkpoint
    from robopg.runs.run_dir import resolve_policy_path

    path = resolve_policy_path(source)
    meta = load_checkpoint(path).meta
    name = resolve_task(task).name if task else str(meta["task"])
    action = recorded_action(meta)
    settings = load_settings(randomize)
    probe = make_vector_env(name, 1, engine=engine, action=action)
    try:
        check_spaces(meta, name, probe.obs_dim, probe.act_dim, path)
    finally:
        probe.close()
    ctrl = Controller.load(path, stochastic=stochastic, seed=seed, safety=safety)
    result = run_episodes(
        name,
        ctrl.act_batch,
        episodes,
        seed=seed,
        deterministic=not stochastic,
        engine=engine,
        action=action,
        on_chunk=ctrl.reset,
        randomize=settings,
    )
    if ctrl.safety is not None:
        result = dataclasses.replace(result, safety=dict(ctrl.safety.counts))
    return path, name, result
