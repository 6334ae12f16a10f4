"""Probes of Pusher ideas that are not settings: train the preset with one internal change.

Issue 17 asks which levers move Pusher's 5M-step return. Some ideas are cheaper to measure than
to build: averaging the late policy iterates, a σ fixed to the annealing schedule or bent
(``--sigma-power``), a bent learning-rate decay (``--lr-power``), advantages rescaled per
episode step (``--adv-per-step``), the policy Adam's β1. This script trains ``--preset pusher``
(like ``learn.py``: periodic evaluations every 50 updates, a 500-episode final evaluation on
the seeds ``learn.py`` uses) with the change patched into the trainer for this process only, so
its numbers pair with ``learn.py``'s run of the same seed; ``--set key=value`` changes settings
on top, as in ``learn.py``. A probe that looks promising is built into the package with tests,
not left here: the value net's own activation and target λ (stop 30) and antithetic pairs of
envs (stop 31) were probes first; each became a setting that trains bitwise like its patch, and
its flag here now sets it. Since stop 31 the preset uses all three (benchmarks/README.md,
"Pusher"). The other probes lost or tied.

    .venv/bin/python benchmarks/probe_pusher.py --average --seed 0 --out average_s0.json
    .venv/bin/python benchmarks/probe_pusher.py --sigma-power 2 --seed 1
    .venv/bin/python benchmarks/probe_pusher.py --adv-per-step 5 --set std_final=0.1

The flags combine; with none it trains the preset unchanged (= ``learn.py``'s run of the seed).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import robopg.algo.reinforce as reinforce_mod
import robopg.train.trainer as trainer_mod
from robopg.config import resolve_config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from learn import parse_value

Params = list[torch.Tensor]

#: iterate averages scored by ``average``: EMA decays and uniform tails (fraction of updates)
EMA_DECAYS = (0.99, 0.995, 0.998)
TAILS = (0.05, 0.1, 0.2, 0.3)


def wrap_update(after: Callable[[int], None]) -> None:
    """Call ``after(k)`` after the trainer's k-th policy/value update (k = 1, 2, …)."""
    original = trainer_mod.update
    done = [0]

    def wrapped(*args: Any, **kwargs: Any) -> dict[str, float]:
        metrics = original(*args, **kwargs)
        done[0] += 1
        after(done[0])
        return metrics

    trainer_mod.update = wrapped  # type: ignore[assignment]


def per_step_scale(window: int, power: float, log: list[list[float]]) -> None:
    """Divide each episode step's advantages by (their spread across envs)^power.

    The batch holds whole, aligned 100-step episodes (row t of the (T, N) advantages is step t
    of every env's episode). The idea: one global standardisation lets the reaching phase, if
    its advantages spread widest, dominate the step; scaling row t by its own spread (its
    variance over envs, averaged over steps t ± ``window``) gives the pushing phase an equal
    say. The usual global standardisation follows. ``log`` collects each update's per-step
    spread. (Measured at stop 31: it loses, and the premise did not hold: late in training the
    spread is nearly flat over the episode.)"""
    original = reinforce_mod.compute_advantages

    def scaled(batch: Any, *args: Any, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        adv, targets = original(batch, *args, **kwargs)
        cuts = batch.terminated | batch.truncated
        if not bool(cuts[-1].all()) or bool(cuts[:-1].any()):
            raise SystemExit("--adv-per-step needs whole, aligned episodes per batch")
        var = adv.var(dim=1)  # (T,)
        kernel = torch.ones(1, 1, 2 * window + 1, dtype=var.dtype) / (2 * window + 1)
        padded = torch.nn.functional.pad(var[None, None], (window, window), mode="replicate")
        spread = torch.nn.functional.conv1d(padded, kernel)[0, 0].sqrt()
        log.append(spread.tolist())
        return adv / spread.clamp_min(1e-8)[:, None] ** power, targets

    reinforce_mod.compute_advantages = scaled  # type: ignore[assignment]


def reshape_schedules(sigma_power: float | None, lr_power: float | None) -> None:
    """Bend the σ ceiling's and the learning rate's schedules, keeping their ends.

    The σ ceiling goes from log σ init to log σ final as frac^p (p = 1: today's straight line
    in log σ; p < 1 drops early and holds, p > 1 holds and drops late); the learning rate's
    linear decay 1 − frac becomes (1 − frac)^p (p < 1 keeps it high longer)."""
    if sigma_power is not None:

        def ceiling(update_idx: int, total: int, log_std_init: float, std_final: float) -> float:
            frac = min(1.0, update_idx / total) ** sigma_power
            return (1.0 - frac) * log_std_init + frac * math.log(std_final)

        trainer_mod.log_std_ceiling = ceiling  # type: ignore[assignment]
    if lr_power is not None:

        def factor(update_idx: int, total: int, schedule: str, warmup: int) -> float:
            assert schedule == "linear" and warmup == 0
            return (1.0 - update_idx / total) ** lr_power

        trainer_mod.lr_factor = factor  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--average", action="store_true", help="score late-iterate averages")
    parser.add_argument("--fixed-sigma", action="store_true", help="σ = the annealing ceiling")
    parser.add_argument("--value-activation", default=None, help="the value net's: tanh|elu")
    parser.add_argument("--value-lambda", type=float, default=None, help="λ of value targets")
    parser.add_argument("--adam-beta1", type=float, default=None, help="the policy Adam's β1")
    parser.add_argument("--adv-per-step", type=int, default=None, help="window (steps): scale")
    parser.add_argument("--adv-power", type=float, default=1.0, help="… by spread^power")
    parser.add_argument("--sigma-power", type=float, default=None, help="σ ceiling's bend")
    parser.add_argument("--lr-power", type=float, default=None, help="lr decay's bend")
    parser.add_argument("--antithetic", action="store_true", help="paired envs, ±ε")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="as learn.py")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=float, default=5e6)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    # The value net's activation and target λ were probes here first (patched in); they are
    # settings now, which train bitwise like those patches did, so they pass through as such.
    overrides = {}
    for item in args.set:
        key, _, text = item.partition("=")
        overrides[key.replace("-", "_")] = parse_value(key, text)
    value = {"value_activation": args.value_activation, "value_lam": args.value_lambda}
    if args.antithetic:  # a probe first, now a setting that trains bitwise like the patch did
        overrides["antithetic"] = True
    cfg = resolve_config(
        {
            "env": "pusher",
            "seed": args.seed,
            "steps": int(args.steps),
            "out": tempfile.mkdtemp(prefix="robopg-probe-"),
            "eval_every": 50,
            "eval_episodes": 20,
            "final_eval_episodes": 500,
            **{k: v for k, v in value.items() if v is not None},
            **overrides,
        },
        preset="pusher",
    )
    trainer = trainer_mod.Trainer(cfg, show_progress=False)
    total = trainer.total_updates
    if args.adam_beta1 is not None:  # the same as constructing Adam with these betas
        trainer.policy_opt.param_groups[0]["betas"] = (args.adam_beta1, 0.999)
    mean_params = list(trainer.policy.mean_net.parameters())

    def snapshot() -> Params:
        return [p.detach().clone() for p in mean_params]

    ema: dict[float, Params] = {}
    tails: dict[float, tuple[Params, int]] = {}
    if args.average:

        def accumulate(k: int) -> None:
            # One copy per update, shared: every average below builds new tensors from it.
            now = snapshot()
            for d in EMA_DECAYS:
                ema[d] = (
                    now
                    if d not in ema
                    else [e * d + c * (1 - d) for e, c in zip(ema[d], now, strict=True)]
                )
            for t in TAILS:
                if k > total * (1 - t):
                    prev = tails.get(t)
                    tails[t] = (
                        (now, 1)
                        if prev is None
                        else ([s + c for s, c in zip(prev[0], now, strict=True)], prev[1] + 1)
                    )

        wrap_update(accumulate)
    if args.fixed_sigma:  # σ = the annealing ceiling after every update

        def pin_sigma(k: int) -> None:
            ceiling = trainer_mod.log_std_ceiling(k, total, cfg.log_std_init, cfg.std_final)
            with torch.no_grad():
                trainer.policy.log_std.fill_(ceiling)

        wrap_update(pin_sigma)

    reshape_schedules(args.sigma_power, args.lr_power)
    spreads: list[list[float]] = []
    if args.adv_per_step is not None:
        per_step_scale(args.adv_per_step, args.adv_power, spreads)

    t0 = time.perf_counter()
    result = trainer.train()
    assert result.final_eval is not None
    final = result.final_eval
    report: dict[str, Any] = {
        "probes": {k: v for k, v in vars(args).items() if k not in ("seed", "steps", "out")},
        "config": cfg.to_dict() if hasattr(cfg, "to_dict") else None,
        "seed": args.seed,
        "steps": result.env_steps,
        "final_return": final.mean,
        "final_stderr": final.stderr,
        "wall_s": time.perf_counter() - t0,
    }
    if spreads:  # the advantages' spread per episode step, at a few points of training
        report["adv_spread"] = {
            str(k): [round(spreads[k][t], 4) for t in (0, 10, 20, 30, 50, 70, 99)]
            for k in (0, len(spreads) // 4, len(spreads) // 2, len(spreads) - 1)
        }
    if args.average:  # the same 500 episodes, with averaged mean-net weights
        last = snapshot()
        candidates = {f"ema {d}": ema[d] for d in EMA_DECAYS}
        candidates |= {f"last {t:.0%} uniform": [s / n for s in w] for t, (w, n) in tails.items()}
        for name, weights in candidates.items():
            with torch.no_grad():
                for p, w in zip(mean_params, weights, strict=True):
                    p.copy_(w)
            r = trainer.evaluate(cfg.final_eval_episodes)
            report[name] = {"return": r.mean, "stderr": r.stderr, "vs_last": r.mean - final.mean}
        with torch.no_grad():
            for p, w in zip(mean_params, last, strict=True):
                p.copy_(w)
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
