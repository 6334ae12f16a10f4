"""``robopg tune``: hyperparameter search with Optuna (TPE + median pruning), shared storage.

Split by concern: ``space`` (what a trial samples; no Optuna), ``objective`` (one trial = one
ordinary run directory trained by ``Trainer``), ``study`` (storage, sampler, pruner, worker
processes), ``report`` (table, ``best.toml``, PNGs). Needs the ``tune`` extra; this module
imports Optuna only inside ``run_tune``, after ``require_optuna`` has said how to install it.

Layout of a study folder ``<out>/tune-<study>/``::

    study.db                 the SQLite storage (unless --storage names another database)
    trials/trial_0000/ …     one run directory per trial (config.json, metrics, checkpoints)
    best.toml                the best trial's settings: robopg train TASK --config best.toml
    history.png, importances.png
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from robopg.config import TrainConfig
from robopg.errors import ConfigError
from robopg.tune.space import Param, base_point, load_space

TUNE_HINT = 'robopg tune needs Optuna: pip install "robopg[tune]".'


def require_optuna() -> None:
    """ConfigError with the install command if Optuna (or matplotlib, for the PNGs) is absent."""
    try:
        import matplotlib  # noqa: F401
        import optuna  # noqa: F401
    except ImportError:
        raise ConfigError(TUNE_HINT) from None


@dataclass
class TuneOutcome:
    folder: Path
    storage: str
    finished: bool  # False: stopped by Ctrl-C (rerun the same command to resume)
    trials: int  # trials in the study now
    best_value: float | None
    written: list[Path]


def run_tune(
    base: TrainConfig,
    trials: int,
    study: str | None = None,
    storage: str | None = None,
    space_file: Path | None = None,
    jobs: int = 1,
    evals: int = 10,
    last_k: int = 3,
    out: Path = Path("runs"),
    console: Console | None = None,
    live: Callable[[Any], Any] | None = None,
) -> TuneOutcome:
    """Run (or resume, or join) a study of ``trials`` trials of ``base`` over the space.

    ``live(table)`` is called with a fresh rich table of the trials after each trial (every
    second with ``jobs`` > 1); the CLI shows it in a rich ``Live``.
    """
    require_optuna()
    if trials < 1:
        raise ConfigError(f"--trials must be at least 1, got {trials}.")
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}.")
    if evals < 1 or not 1 <= last_k <= evals:
        raise ConfigError(
            f"--evals must be ≥ 1 and --last between 1 and --evals, got {evals} and {last_k}."
        )
    space: dict[str, Param] = load_space(space_file)
    from robopg.tune.objective import TrialSettings
    from robopg.tune.report import trials_table, write_report
    from robopg.tune.study import (
        StudySpec,
        check_setup,
        default_storage,
        finished_trials,
        load_study,
        open_storage,
        run_workers,
        study_folder,
        work,
    )

    if storage is not None:
        open_storage(storage)  # a bad URL fails here, before anything is created

    name = study or base.env
    folder = study_folder(out, name)
    try:
        (folder / "trials").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"Cannot create the study folder '{folder}': {exc.strerror}; pass a writable --out."
        ) from None
    url = storage or default_storage(folder)
    settings = TrialSettings(base, space, folder / "trials", evals, last_k, base.num_threads)
    spec = StudySpec(name, url, trials, base.seed, settings)
    console = console or Console()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # the table shows what its logs say
    handle = load_study(spec)  # creates the study (and the tables) once, before any worker
    base_setup = {
        k: v for k, v in base.to_dict().items() if k not in ("seed", "num_threads", "out")
    }
    setup = {f"train.{k}": v for k, v in base_setup.items()}
    setup.update({f"space.{k}": p.describe() for k, p in space.items()})
    setup.update({"evals": evals, "last": last_k})
    check_setup(handle, setup)
    point = base_point(space, base)
    if point is not None and not handle.trials:  # a new study: the base config is trial 0
        handle.enqueue_trial(point, user_attrs={"base": True}, skip_if_exists=True)

    def refresh(s: Any = None) -> None:
        if live is not None:
            live(trials_table(handle, space))

    refresh()
    if jobs == 1:
        finished = work(spec, console, on_trial=refresh)
    else:
        finished = run_workers(spec, jobs, refresh)
    refresh()
    written = write_report(handle, folder)
    done = [t.value for t in finished_trials(handle) if t.value is not None]
    return TuneOutcome(
        folder, url, finished, len(handle.trials), max(done) if done else None, written
    )
