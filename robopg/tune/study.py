"""The Optuna study behind ``robopg tune``: storage, sampler, pruner, and the worker loop.

Every process that joins a study runs ``work``: it loads the study from the shared storage and
runs trials one at a time until the study holds ``trials`` of them (counted across every
process: complete, pruned, running, or diverged), so ``--trials 5`` on a study of 3 runs two
more, and several processes given the same ``--storage`` share the work. ``--jobs J`` starts J
such processes on this machine, one engine thread each.

A trial stopped by Ctrl-C is marked failed with ``interrupted`` and is not counted, so rerunning
the same command resumes the study; a finished trial is in the storage the moment it ends.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState
from rich.console import Console
from rich.markup import escape

from robopg.errors import ConfigError, RobopgError, TrainingDiverged
from robopg.train.stopping import GracefulStop
from robopg.tune.objective import TrialSettings, TrialStopped, run_trial

STORAGE_HINT = (
    "give an SQLAlchemy database URL such as sqlite:///study.db (one machine) or "
    "postgresql://user:password@host/dbname (several)"
)


@dataclass(frozen=True)
class StudySpec:
    """Everything a process needs to join the study (picklable: sent to --jobs workers)."""

    name: str
    storage: str
    trials: int  # the study's target count of trials, all processes together
    seed: int  # TPE's seed; worker k of --jobs uses seed + k
    trial: TrialSettings


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """An RDB storage (SQLite, PostgreSQL, MySQL, …), or one ConfigError sentence.

    Heartbeats let a trial whose process was killed (no Ctrl-C) be marked failed after
    ``grace_period`` seconds, so it is not counted as running forever.
    """
    engine: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # Several processes write one file: wait for the lock instead of failing at once.
        engine["connect_args"] = {"timeout": 60}
    for attempt in range(10):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # heartbeat is an experimental option
                return optuna.storages.RDBStorage(
                    url, engine_kwargs=engine, heartbeat_interval=30, grace_period=120
                )
        except Exception as exc:  # SQLAlchemy raises a dozen kinds for a bad URL
            text = str(exc)
            # Two processes creating a new database's tables at once: one of them loses the
            # race (a table "already exists", the schema version row is taken, the file is
            # "locked"); the tables are there a moment later.
            racing = ("already exists", "locked", "UNIQUE constraint failed: alembic_version")
            if attempt < 9 and any(r in text for r in racing):
                time.sleep(0.2 * (attempt + 1))
                continue
            reason = text.splitlines()[0] if text else type(exc).__name__
            raise ConfigError(
                f"Cannot open the study storage '{url}' ({reason}); {STORAGE_HINT}."
            ) from None
    raise AssertionError("unreachable")


def load_study(spec: StudySpec, worker: int = 0) -> optuna.Study:
    """Create the study, or join it if it exists (the same command resumes it)."""
    n_startup = max(2, min(10, spec.trials // 3))
    return optuna.create_study(
        storage=open_storage(spec.storage),
        study_name=spec.name,
        direction="maximize",
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=spec.seed + worker, n_startup_trials=n_startup),
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=3, n_warmup_steps=max(1, spec.trial.evals // 3)
        ),
    )


def counts_toward_budget(trial: FrozenTrial) -> bool:
    """Complete, pruned, running (here or elsewhere), or failed by divergence; not a trial
    stopped by Ctrl-C or left by a killed process (those are run again)."""
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING):
        return True
    return trial.state == TrialState.FAIL and "error" in trial.user_attrs


def budget_used(study: optuna.Study) -> int:
    return sum(counts_toward_budget(t) for t in study.get_trials(deepcopy=False))


def work(
    spec: StudySpec,
    console: Console,
    worker: int = 0,
    on_trial: Callable[[optuna.Study], None] | None = None,
) -> bool:
    """Run trials until the study has ``spec.trials``; False if stopped by Ctrl-C first."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # the table shows trial outcomes
    study = load_study(spec, worker)

    def after_trial(s: optuna.Study, t: FrozenTrial) -> None:
        if on_trial is not None:
            on_trial(s)

    with GracefulStop() as stop:  # between trials; a running trial's Trainer has its own
        while budget_used(study) < spec.trials:
            if stop.requested:
                return False
            try:
                study.optimize(
                    lambda trial: run_trial(spec.trial, trial, console),
                    n_trials=1,
                    catch=(TrainingDiverged,),
                    callbacks=[after_trial],
                )
            except TrialStopped:
                return False
    return True


def _worker_main(spec: StudySpec, worker: int) -> None:
    """Entry point of a --jobs worker process (spawned: a fresh interpreter).

    Its own process group: a terminal's Ctrl-C reaches the parent only, which passes each
    signal on once (so a worker sees one Ctrl-C as one, not as the parent's copy plus its own).
    """
    os.setpgrp()
    console = Console(stderr=True)
    try:
        work(spec, console, worker)
    except RobopgError as exc:  # one sentence, as the CLI would print it; the parent says more
        console.print(f"[bold red]error:[/] worker {worker}: {escape(str(exc))}", highlight=False)
        sys.exit(2)


def run_workers(spec: StudySpec, jobs: int, poll: Callable[[], None]) -> bool:
    """Run ``jobs`` worker processes on the study, calling ``poll`` every second while they
    work (the live table). Each Ctrl-C is passed on to every worker: the first makes each stop
    its trial cleanly, a second aborts them; this process waits for them. True if every worker
    finished its share."""
    spec = replace(spec, trial=replace(spec.trial, num_threads=1))
    ctx = multiprocessing.get_context("spawn")  # no fork of a process that holds torch/MuJoCo
    procs = [ctx.Process(target=_worker_main, args=(spec, k)) for k in range(jobs)]
    for proc in procs:
        proc.start()
    forwarded = 0
    with _SignalCounter() as stop:  # no signal aborts the parent while its workers run
        while any(p.is_alive() for p in procs):
            while forwarded < stop.count:
                forwarded += 1
                for proc in procs:
                    if proc.is_alive() and proc.pid is not None:
                        os.kill(proc.pid, signal.SIGINT)
            poll()
            time.sleep(0.5)
        poll()
    for proc in procs:
        proc.join()
    failed = [k for k, p in enumerate(procs) if p.exitcode not in (0, None)]
    if failed and not stop.count:
        raise RobopgError(
            f"tune worker(s) {', '.join(map(str, failed))} stopped with an error (printed above); "
            "finished trials are kept, rerun the command to resume."
        )
    return not stop.count


class _SignalCounter:
    """Counts SIGINT/SIGTERM while workers run (``run_workers`` passes each one on)."""

    def __init__(self) -> None:
        self.count = 0
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: object) -> None:
        self.count += 1

    def __enter__(self) -> _SignalCounter:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread: no handler then
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def study_folder(out: Path, name: str) -> Path:
    return out / f"tune-{name.replace('/', '_')}"


def default_storage(folder: Path) -> str:
    return f"sqlite:///{(folder / 'study.db').resolve()}"


def finished_trials(study: optuna.Study) -> list[FrozenTrial]:
    return [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]


def check_setup(study: optuna.Study, setup: dict[str, Any]) -> None:
    """Record what the study's trials are comparable under (task, budget, start config, space,
    evaluations) when it is created; refuse to add trials made under anything else."""
    known = study.user_attrs.get("setup")
    if known is None:
        study.set_user_attr("setup", setup)
        return
    changed = sorted(k for k in set(known) | set(setup) if known.get(k) != setup.get(k))
    if changed:
        raise ConfigError(
            f"Study '{study.study_name}' was run with other settings ({', '.join(changed)} "
            "differ); give the same ones to resume it, or a new --study name."
        )
