"""Ablation of the defaults: change one setting at a time and measure the final return.

Run:  .venv/bin/python benchmarks/ablate.py --task reacher --seeds 0 1 --steps 1000000 --jobs 2
      .venv/bin/python benchmarks/ablate.py --task pusher --preset pusher --seeds 0 \
          --steps 5000000 --jobs 2

Every variant trains ``--steps`` env steps per seed from the task's defaults (or ``--preset``)
with exactly one setting changed relative to them, and reports the deterministic evaluation
(500 episodes, with its standard error) at the end: median and each seed. Prints a markdown
table and writes a JSON file (docs/experiments.md holds the tables that chose the presets).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from robopg.config import TrainConfig, resolve_config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from learn import run_one


def more_envs(c: TrainConfig) -> int:
    """4× the envs where the batch still splits evenly (Pusher: 64 × 25), else 2×."""
    return c.num_envs * (4 if c.steps_per_batch % (4 * c.num_envs) == 0 else 2)


Change = Callable[[TrainConfig], dict[str, Any]]

# (label, change): each is one change relative to the base config (the task's defaults or
# ``--preset``), so the same list ablates Reacher's defaults and Pusher's preset.
VARIANTS: list[tuple[str, Change]] = [
    ("base", lambda c: {}),
    ("lr ÷ 3", lambda c: {"lr": c.lr / 3}),
    ("lr × 3", lambda c: {"lr": c.lr * 3}),
    ("lr schedule constant", lambda c: {"lr_schedule": "constant"}),
    (
        "half batch (half the envs)",
        lambda c: {"steps_per_batch": c.steps_per_batch // 2, "num_envs": c.num_envs // 2},
    ),
    (
        "double batch (twice the envs)",
        lambda c: {"steps_per_batch": c.steps_per_batch * 2, "num_envs": c.num_envs * 2},
    ),
    ("same batch, more envs (shorter rollouts)", lambda c: {"num_envs": more_envs(c)}),
    ("λ = 1 (reward-to-go − V)", lambda c: {"lam": 1.0}),
    ("γ: half the horizon", lambda c: {"gamma": round(1 - 2 * (1 - c.gamma), 6)}),
    ("γ: twice the horizon", lambda c: {"gamma": round(1 - (1 - c.gamma) / 2, 6)}),
    ("baseline: batch mean", lambda c: {"baseline": "mean"}),
    ("baseline: none", lambda c: {"baseline": "none"}),
    ("no observation normalisation", lambda c: {"normalize_obs": False}),
    ("log σ init + 0.5", lambda c: {"log_std_init": c.log_std_init + 0.5}),
    ("log σ init − 0.5", lambda c: {"log_std_init": c.log_std_init - 0.5}),
    ("no gradient clipping", lambda c: {"max_grad_norm": 0.0}),
    ("value net 32-32", lambda c: {"value_hidden": "32,32"}),
    ("value net 128-128", lambda c: {"value_hidden": "128,128"}),
    ("entropy bonus 0.001", lambda c: {"ent_coef": 0.001}),
    ("entropy bonus 0.01", lambda c: {"ent_coef": 0.01}),
    ("value epochs 1", lambda c: {"value_epochs": 1}),
    # σ floors near the σ Reacher's defaults reach (0.19 at 0.5M, 0.145 at 1M steps).
    ("σ floor 0.1", lambda c: {"std_floor": 0.1}),
    ("σ floor 0.15", lambda c: {"std_floor": 0.15}),
    # σ ceilings falling to below the σ Pusher ends with when σ is only learned (≈ 0.2)
    ("σ anneal to 0.15", lambda c: {"std_final": 0.15}),
    ("σ anneal to 0.1", lambda c: {"std_final": 0.1}),
    ("σ anneal to 0.05", lambda c: {"std_final": 0.05}),
    ("reward × 0.1", lambda c: {"reward_scale": 0.1}),
    ("reward × 10", lambda c: {"reward_scale": 10.0}),
    ("observation clip 5", lambda c: {"obs_clip": 5.0}),
    ("observation clip 100", lambda c: {"obs_clip": 100.0}),
    ("lr warm-up 100 updates", lambda c: {"lr_warmup": 100}),
    # the hidden activation (the defaults use tanh, the pusher preset relu)
    ("activation elu", lambda c: {"activation": "elu"}),
    ("activation relu", lambda c: {"activation": "relu"}),
    ("activation tanh", lambda c: {"activation": "tanh"}),
    ("λ − 0.05", lambda c: {"lam": round(c.lam - 0.05, 6)}),
    ("λ + 0.03", lambda c: {"lam": round(c.lam + 0.03, 6)}),
    (
        "hidden × 2",
        lambda c: {"hidden": ",".join(str(2 * h) for h in c.hidden_sizes())},
    ),
    # the value net's own activation and target λ
    ("value net tanh", lambda c: {"value_activation": "tanh"}),
    ("value net relu", lambda c: {"value_activation": "relu"}),
    ("value targets λ 0.9", lambda c: {"value_lam": 0.9}),
    ("value targets λ = policy's", lambda c: {"value_lam": -1.0}),
    # antithetic pairs of envs (needs an even --num-envs)
    ("antithetic pairs", lambda c: {"antithetic": True}),
    ("no antithetic pairs", lambda c: {"antithetic": False}),
]


def effective(cfg: TrainConfig) -> dict[str, Any]:
    """The settings a run actually uses: the value net's "follow the policy" defaults (empty
    ``value_hidden``/``value_activation``, ``value_lam`` −1) resolved, so a variant that spells
    out what the base already does counts as the base."""
    return {
        **cfg.to_dict(),
        "value_hidden": cfg.value_hidden_sizes(),
        "value_activation": cfg.value_activation_name(),
        "value_lam": cfg.value_targets_lam(),
    }


def describe(over: dict[str, Any]) -> str:
    """The concrete overrides, e.g. ``lr=0.001, num_envs=8`` (empty for the base)."""
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in over.items())


def selected(label: str, only: list[str] | None) -> bool:
    """Whether ``--only`` picks this variant: a word equal to a label picks that label alone
    (``base`` is not ``baseline: none``); any other word picks every label containing it."""
    if not only:
        return True
    labels = {lab for lab, _ in VARIANTS}
    return any(label == o if o in labels else o in label for o in only)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="reacher")
    p.add_argument("--preset", default=None, help="Ablate this preset instead of the defaults")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--steps", type=int, default=1_000_000)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument(
        "--only",
        nargs="*",
        help="Run only these variants (an exact label, or words a label contains)",
    )
    p.add_argument("--out", default="benchmarks/results/ablate.json")
    args = p.parse_args()
    base = resolve_config({"env": args.task}, preset=args.preset)
    variants = [(label, change(base)) for label, change in VARIANTS if selected(label, args.only)]
    # A variant that sets what the base already has (e.g. "activation elu" on an elu preset)
    # would only rerun the base: leave it out and say so.
    same = [
        lab
        for lab, over in variants
        if over and effective(base.updated(over, lab)) == effective(base)
    ]
    if same:
        print(f"left out (the base already has these settings): {', '.join(same)}")
    variants = [(lab, over) for lab, over in variants if lab not in same]
    out_dir = Path(tempfile.mkdtemp(prefix="robopg-ablate-"))  # run directories, not results
    jobs = [(label, over, s) for label, over in variants for s in args.seeds]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [
            pool.submit(run_one, args.task, s, args.steps, args.preset, str(out_dir), 0,
                        {"num_threads": 1, **over})
            for _, over, s in jobs
        ]  # fmt: skip
        results = [f.result() for f in futures]
    rows = []
    seeds = ", ".join(map(str, args.seeds))
    base_name = f"preset {args.preset}" if args.preset else "defaults"
    head = f"{args.task} ({base_name}), {args.steps:,} steps"
    print(f"\n| {head} | change | median | SE/run | seeds ({seeds}) |")
    print("|---|---|---|---|---|")
    for label, over in variants:
        mine = [r for (lab, _, _), r in zip(jobs, results, strict=True) if lab == label]
        finals = [r["final_return"] for r in mine]
        # The standard error of each run's final eval: a gap between variants smaller than a
        # few of these is evaluation noise, not an effect.
        se = statistics.median(r["final_stderr"] for r in mine)
        med = statistics.median(finals)
        rows.append(
            {"variant": label, "overrides": over, "median": med, "stderr": se, "finals": finals}
        )
        each = " / ".join(f"{x:.2f}" for x in finals)
        print(f"| {label} | {describe(over)} | {med:.2f} | {se:.2f} | {each} |")
    Path(args.out).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2))
    print(f"\nresults: {args.out}")


if __name__ == "__main__":
    main()
