"""Where frames go: H.264 MP4, GIF or PNG contact sheet, each written to a temp file and
renamed into place on success, so a failed or interrupted render never leaves a half file.

Also the output-side checks that need no rendering (``prepare_output``) and the frame timing
(``timing``), both of which depend on the format. Video is encoded in-process with PyAV (no
ffmpeg binary, no moviepy) and streamed frame by frame, so memory stays flat however long the
video; GIF and PNG go through Pillow.
"""

from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from robopg.errors import RenderError
from robopg.render.settings import MAX_FPS, RenderSettings

SHEET_COLUMNS = 6  # frames per episode on a PNG contact sheet


def timing(dt: float, fmt: str, fps: float | None) -> tuple[Fraction, int]:
    """(playback fps, simulation steps per frame) for an env step of ``dt`` seconds.

    Default: real time. A fast simulator (e.g. 125 steps/s) gets every k-th step rendered so
    playback stays real time at a rate players handle; an explicit fps renders every step.
    GIF frame delays are whole centiseconds, so a GIF's rate is rounded to 100/n fps.
    """
    if fps is not None:
        rate, stride = Fraction(fps).limit_denominator(1001), 1
    else:
        stride = max(1, math.ceil(1.0 / dt / MAX_FPS[fmt] - 1e-9))
        if fmt == ".gif":  # prefer a stride whose frame time is whole centiseconds
            stride = next(
                (k for k in range(stride, stride + 10) if _near_whole(100 * dt * k)), stride
            )
        rate = Fraction(1.0 / (dt * stride)).limit_denominator(1001)
    if fmt == ".gif":
        rate = Fraction(100, max(2, round(100 / rate)))
    return rate, stride


def _near_whole(x: float) -> bool:
    return abs(x - round(x)) < 0.02 * x


def prepare_output(out: Path, settings: RenderSettings, episodes: int) -> str:
    """Every check that needs no rendering (options, PyAV/Pillow, writable path); returns
    the format. Cheap, so callers run it before the GL probe and before loading a policy."""
    fmt = settings.check(out, episodes)
    require_video_extra()
    check_writable(out)
    return fmt


def require_video_extra() -> None:
    """PyAV and Pillow are an optional extra; say how to get them."""
    try:
        import av  # noqa: F401
        import PIL  # noqa: F401
    except ImportError:
        raise RenderError(
            "Rendering needs PyAV and Pillow; install them with pip install 'robopg[video]'."
        ) from None


def _temp_path(out: Path) -> Path:
    return out.with_name(f".{out.name}.{os.getpid()}.part")


def check_writable(out: Path) -> None:
    """Fail before any rendering if ``out`` cannot be written (creating its folder if needed)."""
    probe = _temp_path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise RenderError(
            f"Cannot write '{out}': {exc.strerror or exc}; choose a writable path with --out."
        ) from None
    if out.is_dir():
        raise RenderError(f"'{out}' is a folder; give a file name such as {out / 'rollout.mp4'}.")


class FrameSink(Protocol):
    """Takes (H, W, 3) uint8 frames; ``row`` is the episode's row on a contact sheet."""

    def add(self, frame: np.ndarray, row: int, t: int) -> None: ...
    def finish(self) -> None: ...
    def abort(self) -> None: ...


class Mp4Sink:
    """H.264 (yuv420p) in an MP4 container, encoded in-process by PyAV as frames arrive."""

    def __init__(self, out: Path, width: int, height: int, fps: Fraction) -> None:
        import av

        self.out, self.tmp = out, _temp_path(out)
        self._container = av.open(str(self.tmp), mode="w", format="mp4")
        self._stream = self._container.add_stream("libx264", rate=fps)
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = "yuv420p"
        # crf 20 keeps thin arm links sharp; veryfast keeps encoding far cheaper than rendering
        self._stream.options = {"crf": "20", "preset": "veryfast"}

    def add(self, frame: np.ndarray, row: int, t: int) -> None:
        import av

        video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
        self._container.mux(self._stream.encode(video_frame))

    def finish(self) -> None:
        self._container.mux(self._stream.encode(None))
        self._container.close()
        os.replace(self.tmp, self.out)

    def abort(self) -> None:
        self._container.close()
        self.tmp.unlink(missing_ok=True)


class GifSink:
    """Animated GIF via Pillow: each frame quantised to its own 256-colour palette (fast
    octree: quicker than median cut, and smaller files, with no visible difference)."""

    def __init__(self, out: Path, fps: Fraction) -> None:
        self.out, self.tmp = out, _temp_path(out)
        self._delay_ms = round(1000 / fps)  # whole centiseconds: see ``timing``
        self._frames: list[Any] = []

    def add(self, frame: np.ndarray, row: int, t: int) -> None:
        from PIL import Image

        self._frames.append(Image.fromarray(frame).quantize(256, method=Image.Quantize.FASTOCTREE))

    def finish(self) -> None:
        first, *rest = self._frames
        first.save(
            self.tmp,
            format="GIF",
            save_all=True,
            append_images=rest,
            duration=self._delay_ms,
            loop=0,
        )
        os.replace(self.tmp, self.out)

    def abort(self) -> None:
        self.tmp.unlink(missing_ok=True)


class SheetSink:
    """PNG contact sheet: one row per episode (or one for a grid), ``columns`` frames evenly
    spaced over the episode, the last column always the episode's final frame."""

    def __init__(self, out: Path, rows: int, frames_per_row: int, columns: int) -> None:
        self.out, self.tmp = out, _temp_path(out)
        self.rows, self.columns = rows, columns
        picks = np.linspace(0, frames_per_row - 1, columns).round().astype(int)
        self._picks = {int(p): c for c, p in enumerate(picks)}
        self._cells: dict[tuple[int, int], np.ndarray] = {}
        self._last: dict[int, np.ndarray] = {}
        self._count: dict[int, int] = {}

    def add(self, frame: np.ndarray, row: int, t: int) -> None:
        k = self._count.get(row, 0)
        self._count[row] = k + 1
        col = self._picks.get(k)
        if col is not None and col < self.columns - 1:
            self._cells[(row, col)] = frame
        self._last[row] = frame

    def finish(self) -> None:
        from PIL import Image

        h, w = next(iter(self._last.values())).shape[:2]
        sheet = np.zeros((self.rows * h, self.columns * w, 3), dtype=np.uint8)
        for row, last in self._last.items():
            self._cells[(row, self.columns - 1)] = last
        for (row, col), img in self._cells.items():
            sheet[row * h : (row + 1) * h, col * w : (col + 1) * w] = img
        Image.fromarray(sheet).save(self.tmp, format="PNG")
        os.replace(self.tmp, self.out)

    def abort(self) -> None:
        self.tmp.unlink(missing_ok=True)


def open_sink(
    fmt: str, out: Path, frame_size: tuple[int, int], fps: Fraction, rows: int, frames_per_row: int
) -> FrameSink:
    """The sink for ``fmt``; ``frame_size`` is (width, height) of one whole output frame."""
    if fmt == ".mp4":
        return Mp4Sink(out, frame_size[0], frame_size[1], fps)
    if fmt == ".gif":
        return GifSink(out, fps)
    return SheetSink(out, rows, frames_per_row, SHEET_COLUMNS)
