"""The training loop: collect → advantages + update → log → checkpoint, with exact resume.

``Trainer.step`` is one update of the algorithm, top to bottom; ``Trainer._loop`` calls it and
keeps the books (metrics rows, evaluations, checkpoints, videos, stop signals); helpers below
build things and save/restore state. One process, or one rank of a torchrun job (only rank 0
writes files).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from threadpoolctl import threadpool_limits

from robopg import __version__
from robopg.algo.acting import policy_act_fn
from robopg.algo.distributed import DistContext, init_distributed, shutdown_distributed
from robopg.algo.normalize import update_across_ranks
from robopg.algo.policy import GaussianPolicy, ValueNet
from robopg.algo.reinforce import UpdateSettings, update
from robopg.collect.build import Engine, host_engine, make_collector, make_engine
from robopg.config import TrainConfig, save_json
from robopg.deploy.evaluate import EvalResult, run_episodes
from robopg.envs import resolve_task
from robopg.envs.flatten import obs_keys_meta
from robopg.envs.franka import apply_limits
from robopg.envs.randomize import load_settings
from robopg.errors import ConfigError, RobopgError, TrainingDiverged
from robopg.runs.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from robopg.runs.header import RunCounters, check_resumable, same_device, training_header
from robopg.runs.metrics import (
    MetricsWriter,
    TrainingProgress,
    drop_torn_lines,
    require_tensorboard,
)
from robopg.runs.run_dir import RunDir, checkpoint_for_resume
from robopg.train.backend import pick_backend
from robopg.train.setup import derive_seeds, pick_device
from robopg.train.state import TrainState, pack_state, unpack_state
from robopg.train.stopping import GracefulStop

EVAL_SEED_OFFSET = 1_000_003  # evaluation episodes never share seeds with training envs


@dataclass
class TrainResult:
    run_dir: Path | None
    final_checkpoint: Path | None
    final_eval: EvalResult | None
    env_steps: int
    interrupted: bool


def lr_factor(update_idx: int, total_updates: int, schedule: str, warmup: int) -> float:
    """Multiplier of ``lr`` in update ``update_idx`` (0-based) of ``total_updates``: the
    linear schedule's 1 − k/K (1 for ``constant``), times a warm-up ramp (k+1)/W over the
    first W = ``warmup`` updates (the first batches come from an unfitted baseline)."""
    frac = 1.0 - update_idx / total_updates if schedule == "linear" else 1.0
    if update_idx < warmup:
        frac *= (update_idx + 1) / warmup
    return frac


def update_settings(cfg: TrainConfig) -> UpdateSettings:
    """What one REINFORCE update needs of a run's config."""
    return UpdateSettings(
        gamma=cfg.gamma,
        lam=cfg.lam,
        baseline=cfg.baseline,
        normalize_adv=cfg.normalize_adv,
        max_grad_norm=cfg.max_grad_norm,
        value_epochs=cfg.value_epochs,
        value_minibatches=cfg.value_minibatches,
        ent_coef=cfg.ent_coef,
        reward_scale=cfg.reward_scale,
        value_lam=cfg.value_targets_lam(),
    )


def log_std_ceiling(
    update_idx: int, total_updates: int, log_std_init: float, std_final: float
) -> float:
    """The ceiling on the free log σ after update ``update_idx`` (1-based count of updates done)
    of ``total_updates``: linear in log σ from ``log_std_init`` to log(``std_final``).

    Why a ceiling and not a fixed σ: σ stays learned below it (the gradient may lower it
    faster), while the schedule guarantees the late, fine-tuning updates are estimated from
    trajectories with little noise (on Pusher the learned σ stays 7-20× the mean action's
    energy while pushing; docs/experiments.md, "Pusher")."""
    frac = min(1.0, update_idx / total_updates)
    return (1.0 - frac) * log_std_init + frac * math.log(std_final)


class Trainer:
    """Owns the env, networks, optimisers, counters and run directory of one training run."""

    def __init__(
        self,
        cfg: TrainConfig,
        console: Console | None = None,
        resume: Path | None = None,
        show_progress: bool = True,
        dist: DistContext | None = None,
        on_eval: Callable[[int, EvalResult], bool] | None = None,
        run_name: str | None = None,
    ) -> None:
        """``on_eval(env_steps, result)`` is called after every deterministic evaluation
        (periodic and final, rank 0); returning True stops the run as a signal would (a
        checkpoint is written, ``interrupted`` is set): ``robopg tune`` prunes trials with it.
        ``run_name`` names the run directory instead of ``<task>-<time>``."""
        self.cfg = cfg.validate()
        self.on_eval = on_eval
        self.run_name = run_name
        self.halted = False  # on_eval asked to stop
        self.console = console or Console()
        self.show_progress = show_progress
        self.device = pick_device(cfg.device)
        self._owns_dist = dist is None
        self.dist = dist or init_distributed(str(self.device))
        if self.dist.active and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        self.task = resolve_task(cfg.env)
        if cfg.tensorboard and self.dist.is_main:
            require_tensorboard()  # fail now with the install hint, not after the first update
        self.seeds = derive_seeds(cfg.seed, self.dist.rank)
        if self.device.type == "cpu":
            # Small MLPs run fastest single-threaded; the physics engine gets the cores.
            torch.set_num_threads(1)

        if cfg.video_every and self.dist.is_main:
            from robopg.render import require_video_support

            require_video_support()  # fail now (and set MUJOCO_GL early), not after training
        self.randomize = load_settings(cfg.randomize)
        self.env: Engine = make_engine(
            cfg.env,
            cfg.num_envs,
            engine=cfg.engine,
            device=self.device,
            num_threads=cfg.num_threads or None,
            log=self._status if self.dist.is_main else None,
            action=cfg.action,
            randomize=self.randomize,
        )
        apply_limits(self.env, cfg.limits, cfg.limit_penalty, self.task.name)
        torch.manual_seed(self.seeds["init"])
        self.net_cfg = cfg.net_config(self.env.obs_dim, self.env.act_dim)
        self.policy = GaussianPolicy(self.net_cfg).to(self.device)
        self.value = (
            ValueNet(self.net_cfg, cfg.value_hidden_sizes(), cfg.value_activation_name()).to(
                self.device
            )
            if cfg.baseline == "value"
            else None
        )
        self.dist.broadcast_parameters(self.policy)
        if self.value is not None:
            self.dist.broadcast_parameters(self.value)
        # foreach: the same arithmetic as the per-tensor loop (bitwise, tested), fewer dispatches.
        self.policy_opt = torch.optim.Adam(self.policy.parameters(), lr=cfg.lr, foreach=True)
        self.value_opt = (
            torch.optim.Adam(self.value.parameters(), lr=cfg.value_lr, foreach=True)
            if self.value
            else None
        )
        self.noise_gen = torch.Generator(device=self.device).manual_seed(self.seeds["noise"])
        self.value_gen = torch.Generator().manual_seed(self.seeds["value"])
        # The implementation of the hot operations, chosen once for the whole run.
        self.backend = pick_backend(
            self.policy, self.policy_opt, self.value, self.value_opt, self.device, self.dist
        )
        self.collector = make_collector(
            self.env,
            self.policy,
            self.device,
            self.noise_gen,
            cfg.antithetic,
            make_sampler=self.backend.make_sampler,
        )
        self.settings = update_settings(cfg)
        self.batch_steps = cfg.steps_per_batch * self.dist.world_size
        self.total_updates = math.ceil(cfg.steps / self.batch_steps)
        self.update_idx = 0
        self.env_steps = 0
        self.elapsed = 0.0
        self.last_return = float("nan")
        self.best_eval: float | None = None
        self.run: RunDir | None = None
        self.last_checkpoint: Path | None = None  # newest file save() wrote (or resumed from)
        if resume is not None:
            self._restore(resume)
        else:
            self.collector.reset(self.seeds["env"] + self.dist.rank * cfg.num_envs)

    def _status(self, line: str) -> None:
        """A one-line status message (the warp engine's kernel compilation, for one)."""
        self.console.print(f"[dim]{line}[/]", highlight=False)

    @property
    def run_dir(self) -> Path | None:
        """The run directory's path (None on ranks > 0 and before the first ``train``)."""
        return None if self.run is None else self.run.path

    # ------------------------------------------------------------------ the loop
    def train(self) -> TrainResult:
        """Run updates until ``cfg.steps`` env steps; return where everything was written.

        Whatever happens (a finished run, a signal, a diverged update, a full disk, a bug), the
        env, the run-directory lock and the process group are released on the way out.
        """
        with ExitStack() as cleanup:
            cleanup.push(self._close)
            if self.device.type == "cpu":
                # The rollout's sampler, the policy step and the value fit run numpy matrix
                # products of a few hundred rows: OpenBLAS would split them over threads that
                # then contend with the physics threads (measured with other runs on the cores:
                # the policy step 3 ms with one thread, 70-90 ms with OpenBLAS's default).
                cleanup.enter_context(threadpool_limits(limits=1, user_api="blas"))
            writer = self._open_run_dir(cleanup)
            return self._loop(writer)

    def _close(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        """Release the env and leave the process group. After an error, leave it without the
        final barrier: the other ranks may never reach it, and waiting would turn one rank's
        crash into a hang of the whole job (torchrun stops the others when this one exits)."""
        self.env.close()
        if self._owns_dist:
            if exc_type is None:
                shutdown_distributed(self.dist)
            elif torch.distributed.is_initialized():
                torch.distributed.destroy_process_group()

    def _loop(self, writer: MetricsWriter | None) -> TrainResult:
        """Call ``step`` until the step budget or a stop; around each: timing, the metrics row,
        evaluations, checkpoints and videos (rank 0 writes, every rank steps)."""
        cfg = self.cfg
        final_eval: EvalResult | None = None
        final_ckpt: Path | None = None
        progress = TrainingProgress(
            self.total_updates * self.batch_steps,
            self.env_steps,
            self.console,
            enabled=self.show_progress and self.dist.is_main,
        )
        # A periodic checkpoint is written after its update's row, so its time is in the next.
        checkpoint_s = 0.0
        with GracefulStop() as stop, progress:
            # halted is set on rank 0 only; dist.any makes the stop collective like a signal's.
            while self.update_idx < self.total_updates and not self.dist.any(
                stop.requested or self.halted
            ):
                metrics = self.step()
                dt = metrics["time/collect_s"] + metrics["time/update_s"]  # what SPS divides
                self.elapsed += dt
                row = self._metrics_row(metrics, dt)
                row["time/checkpoint_s"] = checkpoint_s
                last = self.update_idx == self.total_updates
                periodic = cfg.eval_every and self.update_idx % cfg.eval_every == 0
                if self.dist.is_main and (last or periodic):
                    evaluation = self._evaluate_into(row, last)
                    final_eval = evaluation if last else None
                if writer is not None:
                    writer.write(row)
                progress.update(self.env_steps, row["time/sps"], self.last_return, row["train/std"])
                checkpoint_s = 0.0
                if self.dist.is_main and self.update_idx % cfg.checkpoint_every == 0:
                    t_save = time.perf_counter()
                    self.save(self._checkpoint_path())
                    checkpoint_s = time.perf_counter() - t_save
                if cfg.video_every and self.update_idx % cfg.video_every == 0:
                    self._record_video()
            # Stopped early only by a signal (on any rank: the stop is collective) or on_eval.
            interrupted = self.update_idx < self.total_updates
            # Still inside GracefulStop: a second signal during these writes aborts cleanly
            # (atomic_write removes its temp file; the previous checkpoint stays intact).
            if self.dist.is_main and self.run is not None:
                if interrupted:
                    final_ckpt = self.save(self._checkpoint_path())
                else:
                    if final_eval is None:  # resumed with no update left to run
                        final_eval = self.evaluate(cfg.final_eval_episodes)
                    final_ckpt = self.save(self.run.final, final_eval)
        return TrainResult(self.run_dir, final_ckpt, final_eval, self.env_steps, interrupted)

    # ------------------------------------------------------------------ one update
    def step(self) -> dict[str, Any]:
        """One REINFORCE update: learning rate → collect a batch → policy step and value fit →
        observation normaliser → σ ceiling; advances ``update_idx`` and ``env_steps``.

        Returns the update's metrics: the batch's episode statistics (summed over ranks), the
        learning rate it used and the update's own (losses, gradient norm, σ …), with
        ``time/collect_s`` and ``time/update_s`` saying where its wall-clock time went.
        Every rank calls it (the update and the statistics are collective); it writes no file.
        """
        cfg = self.cfg
        t0 = time.perf_counter()
        self._set_learning_rate()
        batch = self.collector.collect(cfg.rollout_len)
        t_collected = time.perf_counter()
        try:
            metrics = update(
                batch,
                self.policy,
                self.value,
                self.policy_opt,
                self.value_opt,
                self.settings,
                self.dist,
                self.value_gen,
                policy_step=self.backend.policy_step,
                value_fit=self.backend.value_fit,
            )
        except TrainingDiverged as exc:  # nothing of this update is saved
            raise TrainingDiverged(f"{exc} {self._diverged_where()}") from None
        if cfg.normalize_obs:  # after the step, so the gradient was on-policy
            update_across_ranks(self.policy.obs_norm, batch.obs, self.dist)
        self.update_idx += 1
        if cfg.std_final is not None:
            self._cap_log_std(cfg.std_final)
        self.env_steps += self.batch_steps
        t_end = time.perf_counter()
        return {
            **self._episode_stats(batch.episode_returns, batch.episode_lengths),
            "train/lr": self.policy_opt.param_groups[0]["lr"],
            **metrics,
            "time/collect_s": t_collected - t0,
            "time/update_s": t_end - t_collected,
        }

    def _diverged_where(self) -> str:
        """Where the run stopped and which checkpoint is the last good one (never overwritten)."""
        where = f"Stopped in update {self.update_idx + 1} ({self.env_steps:,} env steps done)"
        if self.last_checkpoint is None:
            return f"{where}; no checkpoint had been written yet."
        return f"{where}; the last good checkpoint is {self.last_checkpoint}."

    # ------------------------------------------------------------------ pieces of a step
    def _cap_log_std(self, std_final: float) -> None:
        """Project the free log σ under this update's ceiling (identical on every rank)."""
        ceiling = log_std_ceiling(
            self.update_idx, self.total_updates, self.cfg.log_std_init, std_final
        )
        with torch.no_grad():
            self.policy.log_std.clamp_(max=ceiling)

    def _set_learning_rate(self) -> None:
        """The policy step size of this update: ``lr`` × schedule × warm-up."""
        factor = lr_factor(
            self.update_idx, self.total_updates, self.cfg.lr_schedule, self.cfg.lr_warmup
        )
        for group in self.policy_opt.param_groups:
            group["lr"] = self.cfg.lr * factor

    def _episode_stats(self, returns: list[float], lengths: list[int]) -> dict[str, Any]:
        """Mean return and length of the episodes this batch finished, over every rank; the
        mean return is also the progress display's ``last_return``."""
        ep = torch.tensor(
            [sum(returns), float(len(returns)), float(sum(lengths))], dtype=torch.float64
        )
        self.dist.all_reduce_sum(ep)
        count = ep[1].item()
        if count > 0:
            self.last_return = ep[0].item() / count
        return {
            "rollout/ep_return_mean": ep[0].item() / count if count else float("nan"),
            "rollout/ep_len_mean": ep[2].item() / count if count else float("nan"),
            "rollout/episodes": int(count),
        }

    # ------------------------------------------------------------------ bookkeeping
    def _metrics_row(self, metrics: dict[str, Any], dt: float) -> dict[str, Any]:
        """The metrics file's row of the update ``step`` just did (``dt``: its seconds)."""
        row: dict[str, Any] = {
            "time/update": self.update_idx,
            "time/env_steps": self.env_steps,
            "time/sps": self.batch_steps / dt,
            "time/elapsed": self.elapsed,
        }
        row.update(metrics)
        return row

    def _evaluate_into(self, row: dict[str, Any], last: bool) -> EvalResult:
        """Evaluate (the final evaluation after the last update, else a periodic one), add it
        to the update's ``row`` (plots, `robopg info`) and let ``on_eval`` halt the run."""
        t_eval = time.perf_counter()
        evaluation = self.evaluate(self.cfg.final_eval_episodes if last else self.cfg.eval_episodes)
        row["time/eval_s"] = time.perf_counter() - t_eval
        row.update(self._eval_metrics(evaluation))
        if self.on_eval is not None and self.on_eval(self.env_steps, evaluation):
            self.halted = not last
        return evaluation

    def _eval_metrics(self, result: EvalResult) -> dict[str, float]:
        if self.best_eval is None or result.mean > self.best_eval:
            self.best_eval = result.mean
        return {
            "eval/return_mean": result.mean,
            "eval/return_std": result.std,
            "eval/return_stderr": result.stderr,
            "eval/episodes": len(result.returns),
        }

    def evaluate(self, episodes: int, deterministic: bool = True) -> EvalResult:
        """Deterministic evaluation on separate env instances with their own seeds."""
        act = policy_act_fn(
            self.policy, self.device, self.env.action_low, self.env.action_high, deterministic
        )
        return run_episodes(
            self.cfg.env,
            act,
            episodes,
            seed=self.cfg.seed + EVAL_SEED_OFFSET,
            deterministic=deterministic,
            engine=host_engine(self.cfg.engine),
            action=self.cfg.action,
        )

    def _record_video(self) -> None:
        """One short deterministic episode to ``videos/update_<n>.mp4`` (rank 0 only)."""
        if not self.dist.is_main or self.run is None:
            return
        from robopg.render import record_training_video

        path = self.run.video_path(self.update_idx)
        seed = self.cfg.seed + EVAL_SEED_OFFSET
        record_training_video(
            self.cfg.env, self.policy, self.device, path, seed, action=self.cfg.action
        )

    # ------------------------------------------------------------------ files
    def _open_run_dir(self, cleanup: ExitStack) -> MetricsWriter | None:
        """Create (or take over, on resume) the run directory; rank 0 only.

        The directory is locked for the whole run (``RunDir.owned``); a resumed run rewrites
        ``config.json`` with its settings (atomically) and cuts a half-written metrics line left
        by a killed process.
        """
        if not self.dist.is_main:
            return None
        if self.run is None:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            # the env id alone names the folder: no ':' of module:EnvId, no '/' of a namespace
            stem = self.task.name.split(":")[-1].replace("/", "_")
            name = self.run_name or f"{stem}-{stamp}"
            self.run = RunDir.claim(Path(self.cfg.out), name)
            cleanup.enter_context(self.run.owned())
            save_json(self.run.config, {**self._config_record(), "backend": self.backend.name})
        else:
            cleanup.enter_context(self.run.owned())
            # The resumed settings (a larger --steps above all) are now the run's: config.json
            # says what the run trains to, which `robopg info` measures progress against.
            save_json(self.run.config, self._config_record())
            for note in drop_torn_lines(self.run.path):
                self.console.print(f"[yellow]{note}[/]", highlight=False)
        writer = MetricsWriter(self.run.path, tensorboard=self.cfg.tensorboard)
        cleanup.callback(writer.close)
        return writer

    def _config_record(self) -> dict[str, Any]:
        """``config.json``: the settings, and the resolved randomization when one is on."""
        if self.randomize is None:
            return self.cfg.to_dict()
        return {**self.cfg.to_dict(), "randomization": self.randomize.to_dict()}

    def _checkpoint_path(self) -> Path:
        assert self.run is not None
        return self.run.checkpoint_path(self.env_steps)

    def _state(self) -> TrainState:
        """The parts of this run a checkpoint holds, by the names they are stored under."""
        return TrainState(
            modules={"policy": self.policy, "value": self.value},
            optimizers={"policy": self.policy_opt, "value": self.value_opt},
            generators={"noise": self.noise_gen, "value": self.value_gen},
            collector=self.collector,
            env=self.env,
        )

    def save(self, path: Path, final_eval: EvalResult | None = None) -> Path:
        """Write everything needed to act (policy + normaliser) and to resume exactly."""
        if not self.dist.is_main:
            return path
        ckpt = pack_state(self._state())
        meta = training_header(
            version=__version__,
            task=self.task.name,
            gym_id=self.task.gym_id,
            net=self.net_cfg,
            space=self.env,
            config=self.cfg.to_dict(),
            counters=RunCounters(
                self.update_idx, self.env_steps, self.elapsed, self.last_return, self.best_eval
            ),
            state_meta=ckpt.meta,  # optim, env_state
            world_size=self.dist.world_size,
            device_type=self.device.type,
            final_eval=final_eval,
            obs_keys=obs_keys_meta(self.env),  # the key order of a Dict observation, if any
        )
        save_checkpoint(path, Checkpoint(ckpt.tensors, meta))
        self.last_checkpoint = path
        return path

    def _restore(self, source: Path) -> None:
        """Load a checkpoint (or a run directory's latest one) and continue that run."""
        path = checkpoint_for_resume(source)
        ckpt = load_checkpoint(path)
        self.last_checkpoint = path
        meta = ckpt.meta
        check_resumable(
            meta,
            path,
            task=self.task.name,
            obs_dim=self.env.obs_dim,
            act_dim=self.env.act_dim,
            steps=self.cfg.steps,
            world_size=self.dist.world_size,
        )
        on_same_device = same_device(meta, self.device.type)
        if not on_same_device:  # CPU and CUDA generators have different states
            self.console.print(
                f"[yellow]Checkpoint was trained on {meta.get('device_type')}, resuming on "
                f"{self.device.type}: action noise is re-seeded, so the run is not bit-exact.[/]"
            )
        resumed_env = unpack_state(ckpt, self._state(), () if on_same_device else ("noise",))
        counters = RunCounters.from_header(meta)
        self.update_idx = counters.update
        self.env_steps = counters.env_steps
        self.elapsed = counters.elapsed_s
        self.best_eval = counters.best_eval
        if not resumed_env:
            self.console.print(
                "[yellow]This env cannot snapshot its state (MuJoCo-based tasks can): the "
                "resumed run starts fresh episodes, so it is not bit-exact.[/]"
            )
            self.collector.reset(self.seeds["env"] + 7919 * self.update_idx)
        self.run = RunDir.of_checkpoint(path)


def resume_config(source: Path, overrides: dict[str, Any]) -> TrainConfig:
    """The saved config of a run, with only ``steps``, display options and the limits' reward
    (``limits``, ``limit_penalty``: a second stage that trains against Franka's limits, e.g.
    ``--limits penalize``) overridable."""
    meta = load_checkpoint(checkpoint_for_resume(source)).meta
    cfg = TrainConfig.from_dict(meta["config"], source=f"checkpoint '{source}'")
    allowed = {
        "steps",
        "device",
        "eval_every",
        "eval_episodes",
        "final_eval_episodes",
        "checkpoint_every",
        "video_every",
        "tensorboard",
        "limits",
        "limit_penalty",
    }
    bad = sorted(k for k, v in overrides.items() if v is not None and k not in allowed)
    if bad:
        raise ConfigError(
            f"--resume continues the saved run's settings; these cannot change: {', '.join(bad)}."
        )
    return cfg.updated({k: v for k, v in overrides.items() if v is not None}, "--resume")


__all__ = ["RobopgError", "TrainResult", "Trainer", "resume_config"]
