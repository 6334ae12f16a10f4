"""Deterministic (mean-action) evaluation of a policy on fresh env instances.

Evaluation uses its own env and seeds, separate from training, so it never perturbs the
training stream. Deterministic by default: exploration noise alone costs about 2σ² per step on
Reacher, which is not the policy's skill.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robopg.envs import make_vector_env

# obs (N, obs_dim) float64 → actions (N, act_dim), already clipped to the action range
ActFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class EvalResult:
    returns: list[float]
    lengths: list[int]
    deterministic: bool

    @property
    def mean(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std(self) -> float:
        return float(np.std(self.returns))

    def summary(self) -> str:
        mode = "deterministic (mean action)" if self.deterministic else "stochastic (sampled)"
        return f"return {self.mean:.3f} ± {self.std:.3f} over {len(self.returns)} episodes, {mode}"


def run_episodes(
    task: str,
    act: ActFn,
    episodes: int,
    seed: int,
    deterministic: bool = True,
    engine: str = "auto",
    max_parallel: int = 64,
) -> EvalResult:
    """Run exactly ``episodes`` episodes (one per env, in chunks) and collect their returns.

    Episode i of a call is always seeded ``seed + i``, so results are reproducible and
    independent of ``max_parallel``.
    """
    returns: list[float] = []
    lengths: list[int] = []
    start = 0
    while start < episodes:
        n = min(max_parallel, episodes - start)
        env = make_vector_env(task, n, engine=engine)
        try:
            obs = env.reset(seed + start)
            total = np.zeros(n)
            length = np.zeros(n, dtype=np.int64)
            finished = np.zeros(n, dtype=bool)
            while not finished.all():
                res = env.step(act(obs))
                live = ~finished
                total[live] += res.reward[live]
                length[live] += 1
                finished |= res.terminated | res.truncated
                obs = res.obs
        finally:
            env.close()
        returns.extend(total.tolist())
        lengths.extend(length.tolist())
        start += n
    return EvalResult(returns, lengths, deterministic)


def evaluate_saved_policy(
    source: str | Path,
    episodes: int,
    seed: int,
    stochastic: bool = False,
    engine: str = "auto",
    task: str | None = None,
) -> tuple[Path, str, EvalResult]:
    """Evaluate a checkpoint, run directory or shipped policy (by task name) with a Controller.

    ``task`` evaluates on another task than the one trained on; its observation and action sizes
    must match the policy's (checked first, so a mismatch is one clear error, not a crash).
    Returns (checkpoint path, task evaluated, result).
    """
    from robopg.checkpoint import check_spaces, load_checkpoint
    from robopg.controller import Controller
    from robopg.envs import resolve_task
    from robopg.runs import resolve_policy_path

    path = resolve_policy_path(source)
    meta = load_checkpoint(path).meta
    name = resolve_task(task).name if task else str(meta["task"])
    probe = make_vector_env(name, 1, engine=engine)
    try:
        check_spaces(meta, name, probe.obs_dim, probe.act_dim, path)
    finally:
        probe.close()
    ctrl = Controller.load(path, stochastic=stochastic, seed=seed)
    result = run_episodes(
        name, ctrl.act_batch, episodes, seed=seed, deterministic=not stochastic, engine=engine
    )
    return path, name, result
