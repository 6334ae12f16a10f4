"""Frames of the evaluator's episodes: an ``EpisodeObserver`` that draws each step into a sink.

``run_episodes`` runs the episodes; this only watches. Frames: the reset state, then one per env
step (every k-th step for very fast simulators, see ``sinks.timing``) and always each episode's
last step. Sequence videos run one episode per chunk (``max_parallel=1``) so frames arrive in
order; a grid runs all episodes in one chunk, tiled, each finished episode frozen on its last
frame.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from robopg.render.overlay import Overlay
from robopg.render.renderer import OffscreenRenderer
from robopg.render.scenes import SceneSource, scene_source
from robopg.render.settings import RenderSettings
from robopg.render.sinks import SHEET_COLUMNS, FrameSink, open_sink, timing

if TYPE_CHECKING:
    from robopg.envs import VectorEnv


class FrameRecorder:
    """Draws every env of each chunk ``run_episodes`` starts and feeds one frame per step.

    The renderer and sink open on the first chunk (they need the env's model, dt and episode
    length). Call ``finish`` after the episodes, ``abort`` on failure, ``close`` always.
    """

    def __init__(
        self,
        out: Path,
        fmt: str,
        settings: RenderSettings,
        episodes: int,
        backend: str,
        camera_config: dict[str, Any] | None,
        label: str,
    ) -> None:
        self.out, self.fmt, self.settings, self.episodes = out, fmt, settings, episodes
        self.backend, self.label = backend, label
        self._camera_config = camera_config
        self.cols, self.rows = settings.layout(episodes)
        self.frames = 0
        self.fps = Fraction(0)
        self._stride = 1
        self._renderer: OffscreenRenderer | None = None
        self._sink: FrameSink | None = None
        self._overlay = Overlay(settings.height, label) if settings.overlay else None
        self._cam: Any = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the output frame, or of the whole PNG contact sheet."""
        w, h = self.settings.width * self.cols, self.settings.height * self.rows
        if self.fmt == ".png":
            return w * SHEET_COLUMNS, h * self._sheet_rows
        return w, h

    @property
    def _sheet_rows(self) -> int:
        return 1 if self.settings.grid else self.episodes

    # -- EpisodeObserver ------------------------------------------------------------------

    def started(self, env: VectorEnv, first: int) -> None:
        if self._renderer is None:
            self._open(env)
        self._scenes: SceneSource = scene_source(env)
        n = env.num_envs
        self._first, self._t = first, 0
        self._ret = np.zeros(n)
        self._steps = np.zeros(n, dtype=np.int64)
        self._tiles = [self._draw(self._scenes.data(i), i) for i in range(n)]
        self._pending: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._emit()

    def stepping(self, env: VectorEnv, actions: np.ndarray, live: np.ndarray) -> None:
        acts = np.asarray(actions, dtype=np.float64).reshape(env.num_envs, -1)
        self._pending = {
            int(i): (self._scenes.snapshot(int(i)), acts[i]) for i in np.flatnonzero(live)
        }

    def stepped(
        self, env: VectorEnv, reward: np.ndarray, live: np.ndarray, ended: np.ndarray
    ) -> None:
        moved = live | ended
        self._ret[moved] += reward[moved]
        self._steps[moved] += 1
        self._t += 1
        if self._t % self._stride and not ended.any():
            return
        for i in np.flatnonzero(live):
            self._tiles[i] = self._draw(self._scenes.data(int(i)), int(i))
        for i in np.flatnonzero(ended):  # the env already reset: rebuild its last state
            state, action = self._pending[int(i)]
            self._tiles[i] = self._draw(self._scenes.replay(int(i), state, action), int(i))
        self._emit()

    # -- output ---------------------------------------------------------------------------

    def finish(self) -> None:
        if self._sink is not None:
            self._sink.finish()

    def abort(self) -> None:
        if self._sink is not None:
            self._sink.abort()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def _open(self, env: VectorEnv) -> None:
        """Renderer, camera, timing and sink, from the first chunk's env."""
        model = scene_source(env).model
        w, h = self.settings.width, self.settings.height
        self._renderer = OffscreenRenderer(model, w, h, self.backend)
        self._cam = self._renderer.camera(model, self.settings.camera, self._camera_config)
        self.fps, self._stride = timing(env.dt, self.fmt, self.settings.fps)
        per_row = 1 + math.ceil(env.max_episode_steps / self._stride)
        frame_size = (w * self.cols, h * self.rows)
        self._sink = open_sink(self.fmt, self.out, frame_size, self.fps, self._sheet_rows, per_row)

    def _draw(self, data: Any, i: int) -> np.ndarray:
        """Env ``i``'s frame (H, W, 3) uint8, captioned with its episode, step and return."""
        assert self._renderer is not None
        img = self._renderer.render(self._scenes.models[i], data, self._cam)
        if self._overlay is not None:
            episode = self._first + i + 1
            text = f"ep {episode}/{self.episodes}  t {self._steps[i]}  return {self._ret[i]:.2f}"
            img = self._overlay.draw(img, text)
        return img

    def _emit(self) -> None:
        assert self._sink is not None
        if self.settings.grid:
            self._sink.add(self._tile(), 0, self._t)
        else:
            self._sink.add(self._tiles[0], self._first, self._t)
        self.frames += 1

    def _tile(self) -> np.ndarray:
        """All episodes' tiles in one (rows·H, cols·W, 3) frame, row-major."""
        h, w = self.settings.height, self.settings.width
        grid = np.zeros((self.rows * h, self.cols * w, 3), dtype=np.uint8)
        for k, img in enumerate(self._tiles):
            r, c = divmod(k, self.cols)
            grid[r * h : (r + 1) * h, c * w : (c + 1) * w] = img
        return grid
