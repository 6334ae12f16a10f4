"""robopg against Stable-Baselines3's A2C and PPO on Reacher-v5, side by side in one run.

Run:  .venv/bin/python benchmarks/peers.py --seeds 0 1 2 --steps 1000000
      (SB3 is installed only for this benchmark: `pip install stable-baselines3`; without it
      the peers' rows are skipped with one line saying so and robopg still runs)

Every run trains in a fresh process, one after another (runs never share the 2 cores), and
reports:

- env steps/s: env steps over *training* wall time (evaluations excluded, for every method);
- the deterministic return after ``--steps`` env steps over ``--final-episodes`` episodes
  (500: a standard error ≈ 0.07 on Reacher), scored for every method by robopg's batched
  engine (bitwise Reacher-v5) on the same episode seeds;
- training wall time to deterministic returns of −10, −5 and −4.5, from an evaluation of
  ``--eval-episodes`` episodes every ``--eval-every`` env steps (the same grid and the same
  episode seeds for every method: robopg's own periodic evaluation);
- peak resident memory (RSS) of the run's process.

Settings: robopg at its defaults. SB3 at each algorithm's documented defaults with 8
environments (``make_vec_env``, gymnasium's ``Reacher-v5``) and ``VecNormalize``
(observations and rewards), the usual setup for MuJoCo tasks, torch on the CPU with its
default thread count. These are the peers' out-of-the-box numbers, not tuned zoo settings.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

THRESHOLDS = (-10.0, -5.0, -4.5)
FINAL_SEED = 50_000  # episode seeds of every method's final evaluation
SB3_ENVS = 8
SB3_MISSING = "stable_baselines3 is not installed (`pip install stable-baselines3`): skipping {}."


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def final_score(act: Callable[[np.ndarray], np.ndarray], episodes: int) -> tuple[float, float]:
    """(mean, standard error) of ``episodes`` deterministic Reacher episodes under ``act``."""
    from robopg.deploy.evaluate import run_episodes

    result = run_episodes("reacher", act, episodes, seed=FINAL_SEED, engine="batch")
    return result.mean, result.stderr


def run_robopg(seed: int, steps: int, eval_every: int, eval_eps: int, final_eps: int) -> dict:
    from robopg.algo.acting import policy_act_fn
    from robopg.config import resolve_config
    from robopg.train.trainer import Trainer

    with tempfile.TemporaryDirectory() as out:
        flags = {"env": "reacher", "seed": seed, "steps": steps, "out": out}
        cfg = resolve_config(flags)
        if eval_every % cfg.steps_per_batch:
            raise SystemExit(f"--eval-every must be a multiple of {cfg.steps_per_batch}.")
        cfg = cfg.updated(
            {
                "eval_every": eval_every // cfg.steps_per_batch,
                "eval_episodes": eval_eps,
                "final_eval_episodes": eval_eps,
            },
            "peers.py",
        )
        trainer = Trainer(cfg, show_progress=False)
        result = trainer.train()
        assert result.run_dir is not None
        curve = [
            (r["time/env_steps"], r["eval/return_mean"], r["time/elapsed"])
            for r in map(json.loads, (result.run_dir / "metrics.jsonl").open())
            if r.get("eval/return_mean") is not None
        ]
    env = trainer.env
    act = policy_act_fn(trainer.policy, trainer.device, env.action_low, env.action_high)
    mean, se = final_score(act, final_eps)
    return {
        "env_steps": trainer.env_steps,
        "train_s": trainer.elapsed,
        "curve": curve,
        "final": mean,
        "final_se": se,
        "rss_mb": peak_rss_mb(),
    }


def run_sb3(
    algo: str, seed: int, steps: int, eval_every: int, eval_eps: int, final_eps: int
) -> dict:
    import stable_baselines3 as sb3
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    from robopg.deploy.evaluate import run_episodes
    from robopg.train.trainer import EVAL_SEED_OFFSET

    venv = VecNormalize(make_vec_env("Reacher-v5", n_envs=SB3_ENVS, seed=seed))
    model = {"a2c": sb3.A2C, "ppo": sb3.PPO}[algo]("MlpPolicy", venv, seed=seed, device="cpu")

    def act(obs: np.ndarray) -> np.ndarray:
        action, _ = model.predict(venv.normalize_obs(obs), deterministic=True)
        return np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)

    class Grid(BaseCallback):
        """Evaluates every ``eval_every`` env steps; its time is kept out of training time."""

        def __init__(self) -> None:
            super().__init__()
            self.curve: list[tuple[int, float, float]] = []
            self.eval_s = 0.0
            self.t0 = time.perf_counter()
            self.next = eval_every

        def _on_step(self) -> bool:
            if self.num_timesteps >= self.next:
                self.next += eval_every
                t = time.perf_counter()
                train_s = t - self.t0 - self.eval_s
                ret = run_episodes(
                    "reacher", act, eval_eps, seed=seed + EVAL_SEED_OFFSET, engine="batch"
                )
                self.curve.append((self.num_timesteps, ret.mean, train_s))
                self.eval_s += time.perf_counter() - t
            return True

    grid = Grid()
    model.learn(total_timesteps=steps, callback=grid)
    train_s = time.perf_counter() - grid.t0 - grid.eval_s
    mean, se = final_score(act, final_eps)
    return {
        "env_steps": int(model.num_timesteps),
        "train_s": train_s,
        "curve": grid.curve,
        "final": mean,
        "final_se": se,
        "rss_mb": peak_rss_mb(),
    }


def one_run(method: str, seed: int, args: dict[str, int]) -> dict[str, Any]:
    out = run_robopg(seed, **args) if method == "robopg" else run_sb3(method, seed, **args)
    out.update(method=method, seed=seed, sps=out["env_steps"] / out["train_s"])
    out["to"] = {str(thr): first_reach(out["curve"], thr) for thr in THRESHOLDS}
    return out


def first_reach(curve: list[tuple[int, float, float]], threshold: float) -> float | None:
    """Training seconds at the first evaluation ≥ ``threshold`` (None: never reached)."""
    return next((s for _, ret, s in curve if ret >= threshold), None)


def fmt_reach(times: list[float | None]) -> str:
    hit = [t for t in times if t is not None]
    if not hit:
        return f"— (0/{len(times)})"
    return f"{statistics.median(hit):.1f} s ({len(hit)}/{len(times)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--methods", nargs="+", default=["robopg", "a2c", "ppo"])
    ap.add_argument("--eval-every", type=int, default=20_000)
    ap.add_argument("--eval-episodes", type=int, default=20)
    ap.add_argument("--final-episodes", type=int, default=500)
    ap.add_argument("--out", default="benchmarks/results/peers_reacher.json")
    args = ap.parse_args()
    try:
        import stable_baselines3

        sb3_version = stable_baselines3.__version__
    except ImportError:
        sb3_version = None
    methods = []
    for m in args.methods:
        if m not in ("robopg", "a2c", "ppo"):
            raise SystemExit(f"Unknown method '{m}'; choose from robopg, a2c, ppo.")
        if m != "robopg" and sb3_version is None:
            print(SB3_MISSING.format(m))
            continue
        methods.append(m)
    common = {
        "steps": args.steps,
        "eval_every": args.eval_every,
        "eval_eps": args.eval_episodes,
        "final_eps": args.final_episodes,
    }
    runs: list[dict[str, Any]] = []
    spawn = get_context("spawn")
    for seed in args.seeds:  # interleaved by seed, so slow drifts of the machine hit all alike
        for method in methods:
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                run = pool.submit(one_run, method, seed, common).result()
            runs.append(run)
            print(
                f"{method:>7} seed {seed}: {run['sps']:>8,.0f} env steps/s, "
                f"return {run['final']:.3f} ± {run['final_se']:.3f} at {run['env_steps']:,}, "
                f"train {run['train_s']:.1f} s, RSS {run['rss_mb']:.0f} MB",
                flush=True,
            )
    print(f"\nReacher-v5, {args.steps:,} env steps, seeds {args.seeds}; SB3 {sb3_version}")
    head = f"{'method':>7} | {'env steps/s':>11} | {'return (median)':>15} | "
    head += " | ".join(f"{'to ' + str(t):>14}" for t in THRESHOLDS) + f" | {'peak RSS':>8}"
    print(head)
    summary = {}
    base_sps = None
    for method in methods:
        mine = [r for r in runs if r["method"] == method]
        sps = statistics.median(r["sps"] for r in mine)
        base_sps = sps if method == "robopg" else base_sps
        ret = statistics.median(r["final"] for r in mine)
        reach = [fmt_reach([r["to"][str(t)] for r in mine]) for t in THRESHOLDS]
        rss = max(r["rss_mb"] for r in mine)
        print(
            f"{method:>7} | {sps:>11,.0f} | {ret:>15.3f} | "
            + " | ".join(f"{x:>14}" for x in reach)
            + f" | {rss:>5.0f} MB"
        )
        summary[method] = {"sps": sps, "final_median": ret, "rss_mb": rss}
    if base_sps is not None:
        for method in methods:
            if method != "robopg":
                print(f"robopg / {method} env steps/s: {base_sps / summary[method]['sps']:.1f}×")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    data = {"args": vars(args), "sb3": sb3_version, "summary": summary, "runs": runs}
    out.write_text(json.dumps(data, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
