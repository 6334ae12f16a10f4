"""What to render and how, and every rule those options must follow, checked in one place.

``RenderSettings.check`` is the only validator of render options: the CLI, ``render_policy``
and ``render_rollouts`` all go through it (via ``sinks.prepare_output``), so a rule and its
message exist once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from robopg.errors import RenderError

FORMATS = (".mp4", ".gif", ".png")
MAX_FPS = {".mp4": 60.0, ".gif": 50.0, ".png": 60.0}  # browsers slow GIF delays under 20 ms
MAX_SIDE = 4096  # pixels, of one frame or of a whole grid


@dataclass(frozen=True)
class RenderSettings:
    """What to render and how. ``fps=None`` means the env's real-time rate.

    ``width``/``height`` are the size of one episode's frame; ``grid`` tiles the episodes side
    by side in one video instead of playing them one after another.
    """

    width: int = 480
    height: int = 480
    fps: float | None = None
    camera: str = "default"
    grid: bool = False
    overlay: bool = True

    def layout(self, episodes: int) -> tuple[int, int]:
        """(columns, rows) of episode tiles in one frame: a near-square grid, or 1×1."""
        if not self.grid:
            return 1, 1
        cols = math.ceil(math.sqrt(episodes))
        return cols, math.ceil(episodes / cols)

    def check(self, out: Path, episodes: int) -> str:
        """Validate against the output path and episode count; return the format
        (``.mp4``, ``.gif``, ``.png``). The camera is checked later, against the model."""
        fmt = out.suffix.lower()
        if fmt not in FORMATS:
            raise RenderError(
                f"Unknown video format '{out.suffix or out.name}'; name the output .mp4 (H.264), "
                ".gif or .png (contact sheet)."
            )
        for name, value in (("width", self.width), ("height", self.height)):
            if not 16 <= value <= MAX_SIDE:
                raise RenderError(f"--{name} must be between 16 and 4096 pixels, got {value}.")
            if fmt == ".mp4" and value % 2:
                raise RenderError(
                    f"H.264 needs an even frame size; --{name} {value} is odd (try {value + 1})."
                )
        if self.fps is not None and not (0 < self.fps <= 240 and math.isfinite(self.fps)):
            raise RenderError(f"--fps must be between 0 and 240, got {self.fps}.")
        if fmt == ".gif" and self.fps is not None and self.fps > MAX_FPS[".gif"]:
            raise RenderError(
                f"GIF players slow down frames shorter than 20 ms; use --fps 50 or less "
                f"(got {self.fps:g}) or write an .mp4."
            )
        if episodes < 1:
            raise RenderError(f"--episodes must be at least 1, got {episodes}.")
        cols, rows = self.layout(episodes)
        if max(self.width * cols, self.height * rows) > MAX_SIDE:
            raise RenderError(
                f"A grid of {episodes} episodes would be {self.width * cols}×"
                f"{self.height * rows} pixels (at most 4096 a side); use fewer --episodes or a "
                "smaller --width/--height."
            )
        return fmt


TRAINING_VIDEO = RenderSettings(width=256, height=256)
