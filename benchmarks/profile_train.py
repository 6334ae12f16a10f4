"""Where a training run's wall-clock goes: pyinstrument over `robopg train`, with a headline.

Run:  .venv/bin/python benchmarks/profile_train.py --task reacher --steps 200000
      (needs `pip install pyinstrument`; prints one line and stops if it is absent)

It trains with the task's defaults (or ``--preset``) under pyinstrument's sampling profiler,
in one process exactly as `robopg train` runs it (periodic checkpoints included) but with no
progress bar, then prints

- the headline: the share of the training loop spent collecting and updating (advantages,
  policy step, value fit), from the profile's call tree;
- the trainer's own per-update split (``time/collect_s``, ``time/update_policy_s``, …
  averaged over the run), an independent check of the profiler's figures;
- the profile's text tree trimmed to frames of at least ``--min-share`` of the time
  (``--html FILE`` writes pyinstrument's interactive page as well).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from robopg.config import resolve_config
from robopg.train.trainer import Trainer

# The collector's engine step vs policy forward is not split here: the engine releases the GIL
# inside Batch.step and the sampler then charges the following Python frames' time to it (the
# forward vanishes from the tree). collector_split() times them with perf_counter instead.


def matches(root: Any, function: str, file_suffix: str) -> list[Any]:
    """The outermost frames under ``root`` named ``function`` in a file ending ``file_suffix``
    (pyinstrument may keep several copies of one call site; nested calls count once)."""
    found: list[Any] = []

    def visit(frame: Any) -> None:
        if frame.function == function and (frame.file_path or "").endswith(file_suffix):
            found.append(frame)
            return
        for child in frame.children:
            visit(child)

    visit(root)
    return found


def headline(root: Any) -> list[tuple[str, float]]:
    """(label, seconds) of the loop's parts; the policy step is the update minus its other two."""

    def seconds(scopes: list[Any], function: str, suffix: str) -> float:
        return sum(f.time for scope in scopes for f in matches(scope, function, suffix))

    updates = matches(root, "update", "reinforce.py")
    update = seconds([root], "update", "reinforce.py")
    advantages = seconds(updates, "compute_advantages", "reinforce.py")
    value_fit = seconds(updates, "fit_value", "reinforce.py")
    return [
        ("collect", seconds([root], "collect", "rollout.py")),
        ("update", update),
        ("  advantages (GAE)", advantages),
        ("  value fit", value_fit),
        ("  policy step (+ KL, entropy)", update - advantages - value_fit),
        ("final evaluation", seconds([root], "evaluate", "trainer.py")),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--task", default="reacher")
    ap.add_argument("--preset", default=None)
    ap.add_argument("--steps", type=float, default=2e5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-share", type=float, default=0.02, help="trim the tree below this")
    ap.add_argument("--html", type=Path, default=None)
    args = ap.parse_args()
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("pyinstrument is not installed; `pip install pyinstrument` to run this profile.")
        sys.exit(0)

    with tempfile.TemporaryDirectory() as out:
        flags = {"env": args.task, "steps": int(args.steps), "seed": args.seed, "out": out}
        cfg = resolve_config(flags, args.preset)
        trainer = Trainer(cfg, show_progress=False)
        profiler = Profiler(interval=0.0005)
        profiler.start()
        result = trainer.train()
        session = profiler.stop()
        assert result.run_dir is not None
        rows = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").open()]

    root = session.root_frame()
    total = sum(f.time for f in matches(root, "train", "trainer.py")) or root.time
    print(f"profile of `robopg train {args.task}` for {int(args.steps):,} steps, seed {args.seed}")
    print(f"{'part':<32}{'seconds':>9}{'share':>8}")
    for label, sec in headline(root):
        print(f"{label:<32}{sec:>9.2f}{sec / total:>8.1%}")
    print(f"{'training (Trainer.train)':<32}{total:>9.2f}{1:>8.0%}")
    keys = [k for k in rows[-1] if k.startswith("time/") and k.endswith("_s")]
    if keys:
        print("\ntrainer's own split, mean per update:")
        for key in keys:
            vals = [r[key] for r in rows if r.get(key) is not None]
            print(f"  {key:<24}{1e3 * sum(vals) / len(vals):>8.2f} ms")
    print(f"\nend-to-end {rows[-1]['time/env_steps'] / rows[-1]['time/elapsed']:,.0f} env steps/s")
    print(f"\ncollector, µs per step of all {cfg.num_envs} envs (perf_counter, no profiler):")
    split = collector_split(cfg)
    for part, us in split.items():
        print(f"  {part:<26}{us:>8.1f} µs")
    per_batch = sum(split.values()) * cfg.rollout_len / 1e3
    print(f"  = {per_batch:.1f} ms per batch of {cfg.steps_per_batch} steps")
    print()
    print(session_text(profiler, args.min_share))
    if args.html is not None:
        args.html.write_text(profiler.output_html())
        print(f"wrote {args.html}")


def collector_split(cfg: Any, steps: int = 2000) -> dict[str, float]:
    """µs per env-batch step of the collector's three parts, timed with perf_counter in a
    copy of its loop (the trainer's engine, threads and sampler, a fresh policy): policy
    forward + sample, the clip and copy to float64, the engine step."""
    import numpy as np
    import torch
    from threadpoolctl import threadpool_limits

    from robopg.algo.policy import GaussianPolicy
    from robopg.collect.build import make_engine
    from robopg.fast import sampler as numpy_sampler

    torch.set_num_threads(1)
    env = make_engine(cfg.env, cfg.num_envs, engine=cfg.engine, device=torch.device("cpu"))
    policy = GaussianPolicy(cfg.net_config(env.obs_dim, env.act_dim))
    gen = torch.Generator().manual_seed(0)
    assert numpy_sampler.usable(policy), "the trainer samples in numpy"
    sample = numpy_sampler.NumpySampler(policy, gen).sample
    obs = env.reset(0)
    spent = np.zeros(3)
    with threadpool_limits(limits=1, user_api="blas"):  # as in Trainer.train
        for k in range(steps + 100):
            t0 = time.perf_counter()
            _, action = sample(obs)
            t1 = time.perf_counter()
            clipped = np.clip(action.astype(np.float64), env.action_low, env.action_high)
            t2 = time.perf_counter()
            obs = env.step(clipped).obs
            t3 = time.perf_counter()
            if k >= 100:  # warm-up
                spent += (t1 - t0, t2 - t1, t3 - t2)
    env.close()
    us = 1e6 * spent / steps
    return {"policy forward + sample": us[0], "clip + copy": us[1], "engine step": us[2]}


def session_text(profiler: Any, min_share: float) -> str:
    from pyinstrument.renderers import ConsoleRenderer

    renderer = ConsoleRenderer(
        unicode=True, color=False, show_all=False, time="seconds", flat=False
    )
    renderer.processors.append(_trim(min_share))
    return str(profiler.output(renderer))


def _trim(min_share: float) -> Any:
    from pyinstrument import processors

    def trim(frame: Any, options: dict[str, Any]) -> Any:
        return processors.remove_irrelevant_nodes(frame, {**options, "filter_threshold": min_share})

    return trim


if __name__ == "__main__":
    main()
