"""Rendering benchmark: frames/s rendered + encoded, and wall time of a 3-episode Reacher video.

Run:  .venv/bin/python benchmarks/render.py [--size 480] [--episodes 3] [--repeats 3]

Prints, for the chosen size: the GL probe time; frames/s of the whole pipeline (simulate, render,
overlay, encode) for MP4, GIF and PNG; the split into render-only and encode-only frames/s; the
cost of one ``train --video-every`` video; and the end-to-end wall time of the CLI command
``robopg render reacher --random --episodes 3`` (Python start-up and GL probe included).
The policy is the untrained one (``--random``): the policy's cost is negligible next to rendering.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np


def best_of(repeats: int, fn: Callable[[], float]) -> float:
    """The fastest of ``repeats`` runs (the machine is shared; the minimum is the least noisy)."""
    return min(fn() for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=480, help="frame width = height in pixels")
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from robopg.render import gl, overlay, renderer, rollouts, settings, sinks

    t0 = time.perf_counter()
    backend = gl.choose_gl_backend()
    probe_s = time.perf_counter() - t0
    print(f"GL backend {backend}: probe {probe_s:.2f} s (subprocess, once per process)")

    import gymnasium as gym

    env = gym.make("Reacher-v5")
    low = np.asarray(env.action_space.low, dtype=np.float64)  # type: ignore[attr-defined]
    high = np.asarray(env.action_space.high, dtype=np.float64)  # type: ignore[attr-defined]
    act = rollouts.random_act(low, high, seed=0, log_std=-0.5)
    render_settings = settings.RenderSettings(width=args.size, height=args.size)
    size = f"{args.size}×{args.size}"

    with tempfile.TemporaryDirectory() as tmp:
        for fmt in (".mp4", ".gif", ".png"):
            results: list[rollouts.RenderResult] = []

            def run(fmt: str = fmt, results: list[rollouts.RenderResult] = results) -> float:
                out = Path(tmp) / f"bench{fmt}"
                res = rollouts.render_rollouts(
                    "reacher", act, out, args.episodes, 0, render_settings
                )
                results.append(res)
                return res.seconds

            wall = best_of(args.repeats, run)
            frames = results[0].frames
            print(
                f"{fmt[1:]:>4} {size}: {args.episodes} episodes, {frames} frames in {wall:.2f} s "
                f"→ {frames / wall:.0f} frames/s (simulate + render + overlay + encode)"
            )

        # The split: the same frames rendered only, then encoded only.
        model, data = env.unwrapped.model, env.unwrapped.data  # type: ignore[attr-defined]
        offscreen = renderer.OffscreenRenderer(model, args.size, args.size, backend)
        cam = offscreen.camera(model, "default")
        env.reset(seed=0)
        frames_list: list[np.ndarray] = []

        def render_only() -> float:
            frames_list.clear()
            t = time.perf_counter()
            for _ in range(150):
                env.step(act(np.zeros((1, 10)))[0].astype(np.float32))
                frames_list.append(offscreen.render(model, data, cam))
            return time.perf_counter() - t

        render_s = best_of(args.repeats, render_only)
        offscreen.close()
        caption = overlay.Overlay(args.size, "bench")

        def overlay_only() -> float:
            t = time.perf_counter()
            for i, f in enumerate(frames_list):
                caption.draw(f, f"ep 1/1  t {i}  return {-i / 10:.2f}")
            return time.perf_counter() - t

        overlay_s = best_of(args.repeats, overlay_only)

        def encode_only() -> float:
            t = time.perf_counter()
            sink = sinks.Mp4Sink(Path(tmp) / "enc.mp4", args.size, args.size, Fraction(50))
            for i, f in enumerate(frames_list):
                sink.add(f, 0, i)
            sink.finish()
            return time.perf_counter() - t

        encode_s = best_of(args.repeats, encode_only)
        n = len(frames_list)
        print(
            f"split {size}: render {n / render_s:.0f} frames/s, overlay {n / overlay_s:.0f} "
            f"frames/s, H.264 encode {n / encode_s:.0f} frames/s"
        )

        # One train --video-every video (1 episode, 256×256).
        def training_video() -> float:
            out = Path(tmp) / "train.mp4"
            return rollouts.render_rollouts(
                "reacher", act, out, 1, 0, settings.TRAINING_VIDEO, "bench"
            ).seconds

        print(f"train --video-every: {best_of(args.repeats, training_video):.2f} s per video")

        # End to end, as a user types it.
        robopg = str(Path(sys.executable).with_name("robopg"))
        walls = []
        for _ in range(args.repeats):
            cmd = [robopg, "render", "reacher", "--random", "--episodes", str(args.episodes)]
            cmd += ["--width", str(args.size), "--height", str(args.size)]
            t = time.perf_counter()
            subprocess.run(
                [*cmd, "--out", str(Path(tmp) / "cli.mp4")], check=True, capture_output=True
            )
            walls.append(time.perf_counter() - t)
        print(
            f"robopg render reacher --random --episodes {args.episodes} ({size} mp4): wall "
            f"{min(walls):.2f} s best, {statistics.median(walls):.2f} s median "
            f"(Python start-up, imports and GL probe included)"
        )
    env.close()


if __name__ == "__main__":
    main()
