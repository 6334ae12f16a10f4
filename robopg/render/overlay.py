"""The caption band drawn on each frame: which episode, which step, the return so far."""

from __future__ import annotations

from typing import Any

import numpy as np


class Overlay:
    """Writes ``episode · step · return`` on a dark band at the top of a frame (Pillow)."""

    def __init__(self, height: int, label: str) -> None:
        from PIL import ImageFont

        self.label = label
        size = max(10, height // 26)
        try:
            self._font: Any = ImageFont.load_default(size=size)
        except (TypeError, OSError):  # Pillow without FreeType: fixed bitmap font
            self._font = ImageFont.load_default()
        self.band = size + size // 2

    def draw(self, frame: np.ndarray, text: str) -> np.ndarray:
        """A copy of ``frame`` (H, W, 3) uint8 with the top band darkened and ``text`` on it."""
        from PIL import Image, ImageDraw

        out = frame.copy()
        out[: self.band] = (out[: self.band] * 0.35).astype(np.uint8)
        img = Image.fromarray(out)
        ImageDraw.Draw(img).text(
            (self.band // 4, self.band // 8), text, fill=(255, 255, 255), font=self._font
        )
        return np.asarray(img)
