"""The training loop: collect → advantages + update → log → checkpoint, with exact resume.

Read ``Trainer.train`` top to bottom for the whole algorithm; helpers below it build things and
save/restore state. One process, or one rank of a torchrun job (only rank 0 writes files).
"""

from __future__ import annotations

import contextlib
import math
import signal
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import torch
from rich.console import Console

from robopg import __version__
from robopg.checkpoint import (
    Checkpoint,
    check_spaces,
    load_checkpoint,
    optimizer_from_tensors,
    optimizer_to_tensors,
    save_checkpoint,
)
from robopg.config import TrainConfig, save_json
from robopg.distributed import DistContext, init_distributed, shutdown_distributed
from robopg.envs import VectorEnv, make_vector_env, resolve_task
from robopg.errors import CheckpointError, ConfigError, RobopgError, TrainingDiverged
from robopg.evaluate import EvalResult, run_episodes
from robopg.metrics import MetricsWriter, TrainingProgress, require_tensorboard
from robopg.normalize import update_across_ranks
from robopg.policy import GaussianPolicy, NetConfig, ValueNet, load_state_strict
from robopg.reinforce import UpdateSettings, update
from robopg.rollout import RolloutCollector

EVAL_SEED_OFFSET = 1_000_003  # evaluation episodes never share seeds with training envs


@dataclass
class TrainResult:
    run_dir: Path | None
    final_checkpoint: Path | None
    final_eval: EvalResult | None
    env_steps: int
    interrupted: bool


def pick_device(name: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA GPU is available; use cpu.")
    return torch.device(name)


def derive_seeds(seed: int, rank: int) -> dict[str, int]:
    """Independent seeds for every random stream, all from one ``--seed``.

    Env seeds are laid out so that rank r's env i gets ``env + r·num_envs + i``: N ranks see
    exactly the episodes one process with N·num_envs envs would.
    """
    base = np.random.SeedSequence(seed)
    env_seed, init_seed, noise_seed, value_seed = (
        int(s.generate_state(1)[0] & 0x7FFFFFFF) for s in base.spawn(4)
    )
    rank_ss = np.random.SeedSequence([seed, rank])
    return {
        "env": env_seed,
        "init": init_seed,  # same on every rank: networks start identical
        "noise": int(rank_ss.spawn(1)[0].generate_state(1)[0] & 0x7FFFFFFF) ^ noise_seed,
        "value": value_seed + rank,
    }


class GracefulStop:
    """First SIGINT/SIGTERM asks the loop to stop after the current update and save; a second
    one aborts at once (checkpoint writes are atomic, so nothing on disk is left half-written)."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> GracefulStop:
        for sig in (signal.SIGINT, signal.SIGTERM):
            # ValueError: not the main thread (e.g. a test runner thread); no handler then.
            with contextlib.suppress(ValueError):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def claim_run_dir(out: Path, name: str) -> Path:
    """Create ``out/name`` (or ``name-2``, ``name-3`` …) and return it.

    ``mkdir`` itself is the claim: two runs started in the same second (parallel benchmark
    jobs, two terminals) can both see a name as free, but only one ``mkdir`` of it succeeds,
    so the other moves on to the next suffix instead of failing or sharing a directory.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
        n = 1
        while True:
            run_dir = out / (name if n == 1 else f"{name}-{n}")
            try:
                run_dir.mkdir()
                return run_dir
            except FileExistsError:
                n += 1
    except OSError as exc:
        raise ConfigError(
            f"Cannot create a run directory in '{out}': {exc.strerror}; "
            "pass a writable folder with --out."
        ) from None


class Trainer:
    """Owns the env, networks, optimisers, counters and run directory of one training run."""

    def __init__(
        self,
        cfg: TrainConfig,
        console: Console | None = None,
        resume: Path | None = None,
        show_progress: bool = True,
        dist: DistContext | None = None,
    ) -> None:
        self.cfg = cfg.validate()
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
        self.env: VectorEnv = make_vector_env(
            cfg.env, cfg.num_envs, engine=cfg.engine, num_threads=cfg.num_threads or None
        )
        torch.manual_seed(self.seeds["init"])
        self.net_cfg = NetConfig(
            obs_dim=self.env.obs_dim,
            act_dim=self.env.act_dim,
            hidden=cfg.hidden_sizes(),
            activation=cfg.activation,
            log_std_init=cfg.log_std_init,
        )
        self.policy = GaussianPolicy(self.net_cfg).to(self.device)
        self.value = ValueNet(self.net_cfg).to(self.device) if cfg.baseline == "value" else None
        self.dist.broadcast_parameters(self.policy)
        if self.value is not None:
            self.dist.broadcast_parameters(self.value)
        self.policy_opt = torch.optim.Adam(self.policy.parameters(), lr=cfg.lr)
        self.value_opt = (
            torch.optim.Adam(self.value.parameters(), lr=cfg.value_lr) if self.value else None
        )
        self.noise_gen = torch.Generator(device=self.device).manual_seed(self.seeds["noise"])
        self.value_gen = torch.Generator().manual_seed(self.seeds["value"])
        self.collector = RolloutCollector(self.env, self.policy, self.device, self.noise_gen)
        self.settings = UpdateSettings(
            gamma=cfg.gamma,
            lam=cfg.lam,
            baseline=cfg.baseline,
            normalize_adv=cfg.normalize_adv,
            max_grad_norm=cfg.max_grad_norm,
            value_epochs=cfg.value_epochs,
            value_minibatches=cfg.value_minibatches,
        )
        self.batch_steps = cfg.steps_per_batch * self.dist.world_size
        self.total_updates = math.ceil(cfg.steps / self.batch_steps)
        self.update_idx = 0
        self.env_steps = 0
        self.elapsed = 0.0
        self.last_return = float("nan")
        self.best_eval: float | None = None
        self.run_dir: Path | None = None
        self.last_checkpoint: Path | None = None  # newest file save() wrote (or resumed from)
        if resume is not None:
            self._restore(resume)
        else:
            self.collector.reset(self.seeds["env"] + self.dist.rank * cfg.num_envs)

    # ------------------------------------------------------------------ the loop
    def train(self) -> TrainResult:
        """Run updates until ``cfg.steps`` env steps; return where everything was written."""
        cfg = self.cfg
        writer = self._open_run_dir()
        final_eval: EvalResult | None = None
        final_ckpt: Path | None = None
        progress = TrainingProgress(
            self.total_updates * self.batch_steps,
            self.env_steps,
            self.console,
            enabled=self.show_progress and self.dist.is_main,
        )
        with GracefulStop() as stop, progress:
            while self.update_idx < self.total_updates and not self.dist.any(stop.requested):
                t0 = time.perf_counter()
                self._set_learning_rate()
                batch = self.collector.collect(cfg.rollout_len)
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
                    )
                except TrainingDiverged as exc:  # nothing of this update is saved
                    if writer is not None:
                        writer.close()
                    self.env.close()
                    raise TrainingDiverged(f"{exc} {self._diverged_where()}") from None
                if cfg.normalize_obs:  # after the step, so the gradient was on-policy
                    update_across_ranks(self.policy.obs_norm, batch.obs, self.dist)
                self.update_idx += 1
                self.env_steps += self.batch_steps
                dt = time.perf_counter() - t0
                self.elapsed += dt
                row = self._metrics_row(metrics, batch.episode_returns, batch.episode_lengths, dt)
                last = self.update_idx == self.total_updates
                periodic = cfg.eval_every and self.update_idx % cfg.eval_every == 0
                if self.dist.is_main and (last or periodic):
                    # The final evaluation lands in the metrics too (plots, `robopg info`).
                    evaluation = self.evaluate(cfg.eval_episodes)
                    row.update(self._eval_metrics(evaluation))
                    final_eval = evaluation if last else None
                if writer is not None:
                    writer.write(row)
                progress.update(self.env_steps, row["time/sps"], self.last_return, row["train/std"])
                if self.dist.is_main and self.update_idx % cfg.checkpoint_every == 0:
                    self.save(self._checkpoint_path())
                if cfg.video_every and self.update_idx % cfg.video_every == 0:
                    self._record_video()
            # Stopped early only by a signal (on any rank: the stop is collective).
            interrupted = self.update_idx < self.total_updates
            # Still inside GracefulStop: a second signal during these writes aborts cleanly
            # (atomic_write removes its temp file; the previous checkpoint stays intact).
            if self.dist.is_main and self.run_dir is not None:
                if interrupted:
                    final_ckpt = self.save(self._checkpoint_path())
                else:
                    if final_eval is None:  # resumed a run that had already finished
                        final_eval = self.evaluate(cfg.eval_episodes)
                    final_ckpt = self.save(self.run_dir / "final.safetensors", final_eval)
        if writer is not None:
            writer.close()
        self.env.close()
        if self._owns_dist:
            shutdown_distributed(self.dist)
        return TrainResult(self.run_dir, final_ckpt, final_eval, self.env_steps, interrupted)

    def _diverged_where(self) -> str:
        """Where the run stopped and which checkpoint is the last good one (never overwritten)."""
        where = f"Stopped in update {self.update_idx + 1} ({self.env_steps:,} env steps done)"
        if self.last_checkpoint is None:
            return f"{where}; no checkpoint had been written yet."
        return f"{where}; the last good checkpoint is {self.last_checkpoint}."

    # ------------------------------------------------------------------ pieces of a step
    def _set_learning_rate(self) -> None:
        if self.cfg.lr_schedule == "linear":
            frac = 1.0 - self.update_idx / self.total_updates
            for group in self.policy_opt.param_groups:
                group["lr"] = self.cfg.lr * frac

    def _metrics_row(
        self, metrics: dict[str, float], returns: list[float], lengths: list[int], dt: float
    ) -> dict[str, Any]:
        ep = torch.tensor(
            [sum(returns), float(len(returns)), float(sum(lengths))], dtype=torch.float64
        )
        self.dist.all_reduce_sum(ep)
        count = ep[1].item()
        if count > 0:
            self.last_return = ep[0].item() / count
        row: dict[str, Any] = {
            "time/update": self.update_idx,
            "time/env_steps": self.env_steps,
            "time/sps": self.batch_steps / dt,
            "time/elapsed": self.elapsed,
            "rollout/ep_return_mean": ep[0].item() / count if count else float("nan"),
            "rollout/ep_len_mean": ep[2].item() / count if count else float("nan"),
            "rollout/episodes": int(count),
            "train/lr": self.policy_opt.param_groups[0]["lr"],
        }
        row.update(metrics)
        return row

    def _eval_metrics(self, result: EvalResult) -> dict[str, float]:
        if self.best_eval is None or result.mean > self.best_eval:
            self.best_eval = result.mean
        return {"eval/return_mean": result.mean, "eval/return_std": result.std}

    def evaluate(self, episodes: int, deterministic: bool = True) -> EvalResult:
        """Deterministic evaluation on separate env instances with their own seeds."""
        policy, device = self.policy, self.device

        @torch.no_grad()
        def act(obs: np.ndarray) -> np.ndarray:
            o = torch.as_tensor(obs, dtype=torch.float32, device=device)
            a = policy.act(o, deterministic=deterministic).cpu().numpy().astype(np.float64)
            return np.clip(a, self.env.action_low, self.env.action_high)

        return run_episodes(
            self.cfg.env,
            act,
            episodes,
            seed=self.cfg.seed + EVAL_SEED_OFFSET,
            deterministic=deterministic,
            engine=self.cfg.engine,
        )

    def _record_video(self) -> None:
        """One short deterministic episode to ``videos/update_<n>.mp4`` (rank 0 only)."""
        if not self.dist.is_main or self.run_dir is None:
            return
        from robopg.render import record_training_video

        path = self.run_dir / "videos" / f"update_{self.update_idx:06d}.mp4"
        seed = self.cfg.seed + EVAL_SEED_OFFSET
        record_training_video(self.cfg.env, self.policy, self.device, path, seed)

    # ------------------------------------------------------------------ files
    def _open_run_dir(self) -> MetricsWriter | None:
        if not self.dist.is_main:
            return None
        if self.run_dir is None:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            name = f"{self.task.name.replace('/', '_')}-{stamp}"
            run_dir = claim_run_dir(Path(self.cfg.out), name)
            (run_dir / "checkpoints").mkdir()
            self.run_dir = run_dir
            save_json(run_dir / "config.json", self.cfg.to_dict())
        return MetricsWriter(self.run_dir, tensorboard=self.cfg.tensorboard)

    def _checkpoint_path(self) -> Path:
        assert self.run_dir is not None
        return self.run_dir / "checkpoints" / f"step_{self.env_steps:010d}.safetensors"

    def save(self, path: Path, final_eval: EvalResult | None = None) -> Path:
        """Write everything needed to act (policy + normaliser) and to resume exactly."""
        if not self.dist.is_main:
            return path
        tensors: dict[str, torch.Tensor] = {}
        tensors.update({f"policy.{k}": v for k, v in self.policy.state_dict().items()})
        optim_meta: dict[str, Any] = {}
        opt_t, optim_meta["policy"] = optimizer_to_tensors(self.policy_opt, "optim.policy")
        tensors.update(opt_t)
        if self.value is not None and self.value_opt is not None:
            tensors.update({f"value.{k}": v for k, v in self.value.state_dict().items()})
            opt_t, optim_meta["value"] = optimizer_to_tensors(self.value_opt, "optim.value")
            tensors.update(opt_t)
        tensors["rng.noise"] = self.noise_gen.get_state()
        tensors["rng.value"] = self.value_gen.get_state()
        for key, value in self.collector.state_dict().items():
            tensors[f"collector.{key}"] = torch.as_tensor(value)
        env_state = self.env.state_dict()
        env_json: dict[str, Any] | None = None
        if env_state is not None:
            env_json = {}
            for key, value in env_state.items():
                if isinstance(value, np.ndarray):
                    tensors[f"env.{key}"] = torch.from_numpy(np.ascontiguousarray(value))
                else:
                    env_json[key] = value
        meta: dict[str, Any] = {
            "robopg_version": __version__,
            "task": self.task.name,
            "gym_id": self.task.gym_id,
            "net": self.net_cfg.to_dict(),
            "action_low": self.env.action_low.tolist(),
            "action_high": self.env.action_high.tolist(),
            "dt": self.env.dt,
            "config": self.cfg.to_dict(),
            "update": self.update_idx,
            "env_steps": self.env_steps,
            "elapsed_s": self.elapsed,
            "last_return": None if math.isnan(self.last_return) else self.last_return,
            "best_eval": self.best_eval,
            "optim": optim_meta,
            "env_state": env_json,
            "world_size": self.dist.world_size,
            "device_type": self.device.type,
            "saved_at": datetime.now().isoformat(timespec="seconds"),
        }
        if final_eval is not None:
            meta["eval"] = {
                "mean": final_eval.mean,
                "std": final_eval.std,
                "episodes": len(final_eval.returns),
                "deterministic": final_eval.deterministic,
            }
        save_checkpoint(path, Checkpoint(tensors, meta))
        self.last_checkpoint = path
        return path

    def _restore(self, source: Path) -> None:
        """Load a checkpoint (or a run directory's latest one) and continue that run."""
        path = latest_checkpoint(source)
        ckpt = load_checkpoint(path)
        self.last_checkpoint = path
        meta = ckpt.meta
        if meta.get("task") != self.task.name:
            raise CheckpointError(
                f"Checkpoint '{path}' was trained on '{meta.get('task')}', not '{self.task.name}'."
            )
        if meta.get("policy_only"):
            raise CheckpointError(
                f"'{path}' holds only a policy (a shipped or stripped file), not the optimiser "
                "and RNG state a resume needs; pass the run directory it came from."
            )
        check_spaces(meta, self.task.name, self.env.obs_dim, self.env.act_dim, path)
        if meta.get("world_size", 1) != self.dist.world_size:
            raise CheckpointError(
                f"Checkpoint '{path}' came from {meta.get('world_size')} processes; resume it "
                f"with the same number (this run has {self.dist.world_size})."
            )
        load_state_strict(self.policy, ckpt.section("policy"), "policy")
        optimizer_from_tensors(
            self.policy_opt, ckpt.section("optim.policy"), meta["optim"]["policy"]
        )
        if self.value is not None and self.value_opt is not None:
            load_state_strict(self.value, ckpt.section("value"), "value")
            optimizer_from_tensors(
                self.value_opt, ckpt.section("optim.value"), meta["optim"]["value"]
            )
        if meta.get("device_type", "cpu") == self.device.type:
            self.noise_gen.set_state(ckpt.tensors["rng.noise"])
        else:  # CPU and CUDA generators have different states; the run continues, not exactly
            self.console.print(
                f"[yellow]Checkpoint was trained on {meta.get('device_type')}, resuming on "
                f"{self.device.type}: action noise is re-seeded, so the run is not bit-exact.[/]"
            )
        self.value_gen.set_state(ckpt.tensors["rng.value"])
        self.update_idx = int(meta["update"])
        self.env_steps = int(meta["env_steps"])
        self.elapsed = float(meta.get("elapsed_s", 0.0))
        self.best_eval = meta.get("best_eval")
        env_tensors = ckpt.section("env")
        env_json = meta.get("env_state")
        if env_json is not None:
            state: dict[str, Any] = dict(env_json)
            state.update({k: v.numpy() for k, v in env_tensors.items()})
            self.env.load_state_dict(state)
            self.collector.load_state_dict(
                {k: v.numpy() for k, v in ckpt.section("collector").items()}
            )
        else:
            self.console.print(
                "[yellow]This env cannot snapshot its state (MuJoCo-based tasks can): the "
                "resumed run starts fresh episodes, so it is not bit-exact.[/]"
            )
            self.collector.reset(self.seeds["env"] + 7919 * self.update_idx)
        self.run_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent


def latest_checkpoint(source: Path) -> Path:
    """A checkpoint file as given, or the newest periodic checkpoint of a run directory."""
    source = Path(source)
    if source.is_file():
        return source
    if source.is_dir():
        candidates = sorted((source / "checkpoints").glob("step_*.safetensors"))
        if candidates:
            return candidates[-1]
        if (source / "final.safetensors").is_file():
            return source / "final.safetensors"
        raise CheckpointError(f"Run directory '{source}' holds no checkpoint to resume from.")
    raise CheckpointError(f"'{source}' is neither a checkpoint file nor a run directory.")


def resume_config(source: Path, overrides: dict[str, Any]) -> TrainConfig:
    """The saved config of a run, with only ``steps`` (and display options) overridable."""
    meta = load_checkpoint(latest_checkpoint(source)).meta
    cfg = TrainConfig.from_dict(meta["config"], source=f"checkpoint '{source}'")
    allowed = {
        "steps",
        "device",
        "eval_every",
        "eval_episodes",
        "checkpoint_every",
        "video_every",
        "tensorboard",
    }
    bad = sorted(k for k, v in overrides.items() if v is not None and k not in allowed)
    if bad:
        raise ConfigError(
            f"--resume continues the saved run's settings; these cannot change: {', '.join(bad)}."
        )
    return cfg.updated({k: v for k, v in overrides.items() if v is not None}, "--resume")


__all__ = ["RobopgError", "TrainResult", "Trainer", "latest_checkpoint", "resume_config"]
