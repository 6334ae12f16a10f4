"""Where a training run's wall-clock goes: pyinstrument over `robopg train`, with a headline.

Run:  .venv/bin/python benchmarks/profile_train.py --task reacher --steps 200000
      (needs `pip install pyinstrument`; prints one line and stops if it is absent)

It trains with the task's defaults (or ``--preset``) under pyinstrument's sampling profiler,
in one process exactly as `robopg train` runs it (periodic checkpoints included) but with no
progress bar, then prints

- the headline: the share of the training loop spent collecting (engine step, policy forward,
  the rest of the collector) and updating (advantages, policy step, value fit), from the
  profile's call tree;
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from robopg.config import resolve_config
from robopg.trainer import Trainer

# Call-tree frames (function name, file suffix) whose inclusive time makes a headline row.
HEADLINE: list[tuple[str, str, str]] = [
    ("collect", "collect", "rollout.py"),
    ("  engine step", "step", "envs/engine.py"),
    ("  policy forward + sample", "act", "policy.py"),
    ("update", "update", "reinforce.py"),
    ("  advantages (GAE)", "compute_advantages", "reinforce.py"),
    ("  value fit", "fit_value", "reinforce.py"),
    ("final evaluation", "evaluate", "trainer.py"),
]


def walk(frame: Any) -> Iterator[Any]:
    yield frame
    for child in frame.children:
        yield from walk(child)


def inclusive(root: Any, function: str, file_suffix: str) -> float:
    """Seconds under frames named ``function`` in a file ending with ``file_suffix``.

    Only outermost matches count, so a recursive or nested call is not counted twice."""
    total = 0.0

    def visit(frame: Any) -> None:
        nonlocal total
        if frame.function == function and (frame.file_path or "").endswith(file_suffix):
            total += frame.time
            return
        for child in frame.children:
            visit(child)

    visit(root)
    return total


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
    total = inclusive(root, "train", "trainer.py") or root.time
    print(f"profile of `robopg train {args.task}` for {int(args.steps):,} steps, seed {args.seed}")
    print(f"{'part':<28}{'seconds':>9}{'share':>8}")
    for label, function, suffix in HEADLINE:
        sec = inclusive(root, function, suffix)
        print(f"{label:<28}{sec:>9.2f}{sec / total:>8.1%}")
    print(f"{'training (Trainer.train)':<28}{total:>9.2f}{1:>8.0%}")
    keys = [k for k in rows[-1] if k.startswith("time/") and k.endswith("_s")]
    if keys:
        print("\ntrainer's own split, mean per update:")
        for key in keys:
            vals = [r[key] for r in rows if r.get(key) is not None]
            print(f"  {key:<24}{1e3 * sum(vals) / len(vals):>8.2f} ms")
    print(f"\nend-to-end {rows[-1]['time/env_steps'] / rows[-1]['time/elapsed']:,.0f} env steps/s")
    print()
    print(session_text(profiler, args.min_share))
    if args.html is not None:
        args.html.write_text(profiler.output_html())
        print(f"wrote {args.html}")


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
