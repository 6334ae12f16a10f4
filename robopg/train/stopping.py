"""Graceful stop on SIGINT/SIGTERM: finish the update, save, exit; a second signal aborts."""

from __future__ import annotations

import contextlib
import signal
from types import FrameType
from typing import Any


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
