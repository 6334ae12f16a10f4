"""One trial of ``robopg tune``: sample a config, train it as an ordinary run, score it.

The score is the mean deterministic return of the last ``last_k`` periodic evaluations (the
final one included), so one lucky evaluation at the end does not win. Every evaluation is
reported to Optuna at step = its index (1, 2, …), which is the same fraction of the budget in
every trial whatever its batch size, so the median pruner compares like with like.
"""

from __future__ import annotations

import math
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import optuna
from rich.console import Console

from robopg.config import TrainConfig
from robopg.deploy.evaluate import EvalResult
from robopg.errors import TrainingDiverged
from robopg.train.trainer import Trainer
from robopg.tune.space import Param, sample_overrides


class TrialStopped(Exception):
    """Ctrl-C (or SIGTERM) stopped a trial mid-run; the study stops after marking it failed."""


@dataclass(frozen=True)
class TrialSettings:
    """What every trial of a study shares."""

    base: TrainConfig  # defaults ← preset ← flags: task, budget (steps), seed
    space: dict[str, Param]
    trials_dir: Path  # each trial is the run directory trials_dir/trial_<number>
    evals: int = 10  # periodic evaluations per trial (what the pruner sees)
    last_k: int = 3  # the objective averages this many of the last evaluations
    num_threads: int = 0  # engine threads per trial (0: all cores)


def trial_config(settings: TrialSettings, trial: optuna.Trial) -> TrainConfig:
    """The base config with the trial's samples, evaluating ``evals`` times over the budget."""
    source = f"trial {trial.number}"
    cfg = settings.base.updated(sample_overrides(settings.space, trial, settings.base), source)
    updates = math.ceil(cfg.steps / cfg.steps_per_batch)
    extra = {
        "eval_every": math.ceil(updates / settings.evals),
        "out": str(settings.trials_dir),
        "num_threads": settings.num_threads,
        # No periodic checkpoints: a trial keeps final.safetensors (or the checkpoint written
        # where it was pruned or stopped). A stopped trial is rerun from scratch, so periodic
        # ones serve nothing, and at the default every 50 updates they took 31 MB per 5M-step
        # Pusher trial (543 MB for a 20-trial study).
        "checkpoint_every": updates + 1,
    }
    return cfg.updated(extra, source).validate()


def objective_value(returns: list[float], last_k: int) -> float:
    """Mean of the last ``last_k`` evaluation returns (all of them if there are fewer)."""
    tail = returns[-last_k:]
    return sum(tail) / len(tail)


def run_trial(settings: TrialSettings, trial: optuna.Trial, console: Console) -> float:
    """Train one sampled config; its score, or TrialPruned / TrialStopped / TrainingDiverged."""
    cfg = trial_config(settings, trial)
    trial.set_user_attr("config", cfg.to_dict())
    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
    returns: list[float] = []

    def on_eval(env_steps: int, result: EvalResult) -> bool:
        returns.append(result.mean)
        trial.report(result.mean, step=len(returns))
        return trial.should_prune()

    name = f"trial_{trial.number:04d}"
    trainer = Trainer(cfg, console=console, show_progress=False, on_eval=on_eval, run_name=name)
    try:
        result = trainer.train()
    except TrainingDiverged as exc:  # an lr too large is a result, not a reason to stop
        trial.set_user_attr("error", str(exc))
        raise
    finally:  # claim() may have suffixed the name if the folder was taken
        trial.set_user_attr("run_dir", str(trainer.run_dir or settings.trials_dir / name))
    trial.set_user_attr("evals", returns)
    if trainer.halted:
        raise optuna.TrialPruned(f"pruned after {len(returns)} evaluations")
    if result.interrupted:
        trial.set_user_attr("interrupted", True)
        raise TrialStopped(f"trial {trial.number} stopped at {result.env_steps:,} env steps")
    return objective_value(returns, settings.last_k)
