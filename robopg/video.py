"""Render rollouts of a policy to an H.264 MP4, a GIF or a PNG contact sheet, headless.

Three facts shape this module:

- MuJoCo picks its OpenGL backend from ``MUJOCO_GL`` when ``mujoco`` is first imported, and a
  context that fails to open can abort the whole process instead of raising. So
  ``choose_gl_backend`` probes each candidate (EGL, then OSMesa) in a *subprocess* and only then
  sets ``MUJOCO_GL``; when none works the user gets one sentence naming the Debian packages.
- ``OffscreenRenderer`` opens the GL context of the chosen backend explicitly instead of relying
  on the backend mujoco chose at import, so rendering also works in a process (a training run,
  a test session) that imported mujoco before a backend was chosen.
- Video is encoded in-process with PyAV (no ffmpeg binary, no moviepy) and streamed frame by
  frame, so memory stays flat however long the video; GIF and PNG go through Pillow.

Episodes run on single gymnasium envs (``gym.make(task.gym_id)``), each seeded ``seed + i`` as in
``evaluate.run_episodes``, so a rendered episode is the same episode ``robopg eval`` scores.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from robopg.errors import RenderError

if TYPE_CHECKING:
    import gymnasium as gym
    import torch

    from robopg.policy import GaussianPolicy

# obs (N, obs_dim) float64 → actions (N, act_dim); clipped to the action range by the renderer
ActFn = Callable[[np.ndarray], np.ndarray]

FORMATS = (".mp4", ".gif", ".png")
GL_PACKAGES = {
    "egl": "libegl1 libegl-mesa0 libopengl0 libgl1-mesa-dri",
    "osmesa": "libosmesa6",
}
DEFAULT_BACKENDS = ("egl", "osmesa")
# MUJOCO_GL values → the mujoco module holding their GLContext ("glx" is GLFW in mujoco too).
_GL_MODULES = {"egl": "egl", "osmesa": "osmesa", "glfw": "glfw", "glx": "glfw"}
MAX_FPS = {".mp4": 60.0, ".gif": 50.0, ".png": 60.0}  # browsers slow GIF delays under 20 ms
SHEET_COLUMNS = 6  # frames per episode on a PNG contact sheet
PROBE_TIMEOUT_S = 60.0

_chosen_backend: str | None = None


# ------------------------------------------------------------------------------ OpenGL backend
def no_gl_message(failures: dict[str, str]) -> str:
    """The one sentence shown when no headless OpenGL backend can open a context.

    ``failures`` maps each backend tried to the first sentence of its error, kept short so
    the packages to install stay the point of the message.
    """
    tried = ", ".join(f"{b}: {_short(why)}" for b, why in failures.items())
    return (
        f"No headless OpenGL backend works here ({tried}); install EGL "
        f"(sudo apt-get install {GL_PACKAGES['egl']}) or OSMesa "
        f"(sudo apt-get install {GL_PACKAGES['osmesa']}) and run again."
    )


def _short(reason: str, limit: int = 90) -> str:
    first = reason.split(". ")[0].rstrip(".")
    return first if len(first) <= limit else first[: limit - 1] + "…"


def probe_gl_backend(backend: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """Render a tiny scene with ``backend`` in a fresh Python process.

    Returns None when it worked, else a short reason. A subprocess because a GL context that
    fails to open can abort the process, and because MUJOCO_GL only counts before import.
    """
    env = {**os.environ, "MUJOCO_GL": backend}
    code = "import sys, robopg.video as v; v._probe_main(sys.argv[1])"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, backend],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:.0f} s"
    if proc.returncode == 0 and proc.stdout.strip().endswith("ok"):
        return None
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit code {proc.returncode}"


def _probe_main(backend: str) -> None:
    """Subprocess side of ``probe_gl_backend``: open a context, render 16×16, print ok."""
    import mujoco

    model = mujoco.MjModel.from_xml_string(
        '<mujoco><worldbody><light pos="0 0 1"/><geom type="sphere" size=".1"/>'
        "</worldbody></mujoco>"
    )
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    try:
        renderer = OffscreenRenderer(model, 16, 16, backend)
    except RenderError as exc:  # report the backend's own words, not our wrapper
        print(exc.__cause__ or exc, file=sys.stderr)
        raise SystemExit(1) from None
    try:
        frame = renderer.render(model, data, renderer.camera(model, "default"))
    finally:
        renderer.close()
    assert frame.shape == (16, 16, 3)
    print("ok", flush=True)


def choose_gl_backend() -> str:
    """Pick and export MUJOCO_GL for this process; raise RenderError when nothing works.

    A MUJOCO_GL set by the user is respected (and checked). Otherwise the candidates are tried
    in order: ``ROBOPG_GL_BACKENDS`` (comma-separated) or egl, then osmesa. The answer is cached
    for the process. Call it before anything imports mujoco when you can.
    """
    global _chosen_backend
    if _chosen_backend is not None:
        return _chosen_backend
    forced = os.environ.get("MUJOCO_GL", "").strip().lower()
    if forced:
        if forced not in _GL_MODULES:
            raise RenderError(
                f"MUJOCO_GL={forced} is not a backend robopg can render with; unset it or set "
                "it to egl or osmesa."
            )
        why = probe_gl_backend(forced)
        if why is not None:
            fix = (
                f"install its packages (sudo apt-get install {GL_PACKAGES[forced]})"
                if forced in GL_PACKAGES
                else "check that a display is available"
            )
            raise RenderError(
                f"MUJOCO_GL={forced} cannot open an OpenGL context here ({_short(why)}); "
                f"{fix}, or unset MUJOCO_GL to let robopg try egl, then osmesa."
            )
        _chosen_backend = forced
        return forced
    wanted = os.environ.get("ROBOPG_GL_BACKENDS", "")
    candidates = [b.strip().lower() for b in wanted.split(",") if b.strip()] or list(
        DEFAULT_BACKENDS
    )
    failures: dict[str, str] = {}
    for backend in candidates:
        why = probe_gl_backend(backend) if backend in _GL_MODULES else "not a MUJOCO_GL backend"
        if why is None:
            os.environ["MUJOCO_GL"] = backend
            _chosen_backend = backend
            return backend
        failures[backend] = why
    raise RenderError(no_gl_message(failures))


def require_video_support() -> str:
    """Check PyAV/Pillow and pick the GL backend up front (``train --video-every``)."""
    _require_video_extra()
    return choose_gl_backend()


class OffscreenRenderer:
    """One offscreen GL context + MuJoCo scene for a model; ``render`` returns (H, W, 3) uint8.

    The context comes from the named backend's module (``mujoco.egl`` …), not from the backend
    mujoco fixed at import time, so it works however early mujoco was imported.
    """

    def __init__(self, model: Any, width: int, height: int, backend: str) -> None:
        import mujoco

        self.width, self.height = width, height
        # The offscreen framebuffer is sized from the model; grow it to fit the request.
        model.vis.global_.offwidth = max(int(model.vis.global_.offwidth), width)
        model.vis.global_.offheight = max(int(model.vis.global_.offheight), height)
        try:
            module = importlib.import_module(f"mujoco.{_GL_MODULES[backend]}")
            self._gl = module.GLContext(width, height)
        except (ImportError, RuntimeError, OSError) as exc:  # e.g. PYOPENGL_PLATFORM clash
            raise RenderError(
                f"Could not open an OpenGL context with MUJOCO_GL={backend} ({exc}); unset "
                "PYOPENGL_PLATFORM and MUJOCO_GL and run again."
            ) from exc
        self._gl.make_current()
        self._con = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_150)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._con)
        self._scene = mujoco.MjvScene(model, maxgeom=10_000)
        self._option = mujoco.MjvOption()
        self._rect = mujoco.MjrRect(0, 0, width, height)
        self._pixels = np.empty((height, width, 3), dtype=np.uint8)

    @staticmethod
    def camera(model: Any, spec: str, default_config: dict[str, Any] | None = None) -> Any:
        """An MjvCamera: ``default`` (the env's own view), ``top``, or a model camera name/id."""
        import mujoco

        cam = mujoco.MjvCamera()
        if spec == "default":
            for key, value in (default_config or {}).items():
                if isinstance(value, np.ndarray):
                    getattr(cam, key)[:] = value
                else:
                    setattr(cam, key, value)
            return cam
        if spec == "top":
            cam.lookat[:] = model.stat.center
            cam.distance = 1.6 * float(model.stat.extent)
            cam.azimuth, cam.elevation = 90.0, -90.0
            return cam
        names = [model.camera(i).name for i in range(model.ncam)]
        cam_id = int(spec) if spec.isdigit() else names.index(spec) if spec in names else -1
        if not 0 <= cam_id < model.ncam:
            choices = ", ".join(["default", "top", *names])
            raise RenderError(f"Unknown camera '{spec}'; this task has: {choices}.")
        cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
        cam.fixedcamid = cam_id
        return cam

    def render(self, model: Any, data: Any, cam: Any) -> np.ndarray:
        """Draw ``data`` (of ``model``, same structure as the context's model) from ``cam``."""
        import mujoco

        self._gl.make_current()
        mujoco.mjv_updateScene(
            model, data, self._option, None, cam, mujoco.mjtCatBit.mjCAT_ALL, self._scene
        )
        mujoco.mjr_render(self._rect, self._scene, self._con)
        mujoco.mjr_readPixels(self._pixels, None, self._rect, self._con)
        return np.flipud(self._pixels).copy()  # OpenGL rows run bottom-up

    def close(self) -> None:
        """Free GL resources now (OSMesa complains if this is left to interpreter shutdown)."""
        self._con.free()
        self._gl.free()


# ------------------------------------------------------------------------------ settings
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

    def check(self, out: Path) -> str:
        """Validate against the output path; return its format (``.mp4``, ``.gif``, ``.png``)."""
        fmt = out.suffix.lower()
        if fmt not in FORMATS:
            raise RenderError(
                f"Unknown video format '{out.suffix or out.name}'; name the output .mp4 (H.264), "
                ".gif or .png (contact sheet)."
            )
        for name, value in (("width", self.width), ("height", self.height)):
            if not 16 <= value <= 4096:
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
        return fmt


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


# ------------------------------------------------------------------------------ output sinks
class FrameSink(Protocol):
    def add(self, frame: np.ndarray, row: int, t: int) -> None: ...
    def finish(self) -> None: ...
    def abort(self) -> None: ...


def prepare_output(out: Path, settings: RenderSettings, episodes: int) -> str:
    """Every check that needs no rendering (format, size, PyAV/Pillow, writable path); returns
    the format. Cheap, so callers run it before the GL probe and before loading a policy."""
    fmt = settings.check(out)
    if episodes < 1:
        raise RenderError(f"--episodes must be at least 1, got {episodes}.")
    cols, rows = settings.layout(episodes)
    if max(settings.width * cols, settings.height * rows) > 4096:
        raise RenderError(
            f"A grid of {episodes} episodes would be {settings.width * cols}×"
            f"{settings.height * rows} pixels (at most 4096 a side); use fewer --episodes or a "
            "smaller --width/--height."
        )
    _require_video_extra()
    check_writable(out)
    return fmt


def _require_video_extra() -> None:
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


class _Mp4Sink:
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


class _GifSink:
    """Animated GIF via Pillow: each frame quantised to its own 256-colour palette (fast
    octree: 5× quicker than median cut here, and smaller files, with no visible difference)."""

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


class _SheetSink:
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


# ------------------------------------------------------------------------------ overlay
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
        from PIL import Image, ImageDraw

        out = frame.copy()
        out[: self.band] = (out[: self.band] * 0.35).astype(np.uint8)
        img = Image.fromarray(out)
        ImageDraw.Draw(img).text(
            (self.band // 4, self.band // 8), text, fill=(255, 255, 255), font=self._font
        )
        return np.asarray(img)


# ------------------------------------------------------------------------------ rendering
@dataclass
class RenderResult:
    path: Path
    returns: list[float]
    lengths: list[int]
    frames: int
    size: tuple[int, int]  # (width, height) of the output frame (or sheet)
    fps: Fraction
    seconds: float
    backend: str
    label: str = ""

    def summary(self) -> str:
        if self.path.suffix.lower() == ".png":
            what = f"contact sheet {self.size[0]}×{self.size[1]}"
        else:
            what = f"{self.frames} frames, {self.size[0]}×{self.size[1]} at {float(self.fps):g} fps"
        n = len(self.returns)
        return (
            f"wrote {self.path}: {what}, {n} episode{'s' if n != 1 else ''}, mean return "
            f"{np.mean(self.returns):.3f}, {self.label}; {self.seconds:.1f} s with {self.backend}"
        )


@dataclass
class _Episode:
    """One gymnasium env running one episode, with its return so far."""

    env: gym.Env[Any, Any]
    index: int
    obs: np.ndarray
    ret: float = 0.0
    steps: int = 0
    done: bool = False


def _make_env(gym_id: str) -> gym.Env[Any, Any]:
    import gymnasium as gym

    env = gym.make(gym_id)
    if not hasattr(env.unwrapped, "model") or not hasattr(env.unwrapped, "data"):
        env.close()
        raise RenderError(f"'{gym_id}' is not a MuJoCo env; robopg renders MuJoCo tasks only.")
    return env


def _camera_config(env: gym.Env[Any, Any]) -> dict[str, Any] | None:
    renderer = getattr(env.unwrapped, "mujoco_renderer", None)
    return getattr(renderer, "default_cam_config", None)


def render_rollouts(
    task: str,
    act: ActFn,
    out: Path | str,
    episodes: int = 3,
    seed: int = 0,
    settings: RenderSettings | None = None,
    label: str = "deterministic (mean action)",
) -> RenderResult:
    """Run ``episodes`` episodes of ``task`` under ``act`` and write them to ``out``.

    Episode i is seeded ``seed + i``. Frames: the reset state, then one per env step (every
    k-th step for very fast simulators, see ``timing``). In a sequence video that makes
    ``episodes · (1 + steps)`` frames; a grid video holds ``1 + longest episode`` frames, each
    finished episode frozen on its last frame.
    """
    from robopg.envs import resolve_task

    settings = settings or RenderSettings()
    out = Path(out)
    fmt = prepare_output(out, settings, episodes)
    backend = choose_gl_backend()
    spec = resolve_task(task)
    start = time.perf_counter()
    w, h = settings.width, settings.height
    cols, rows = settings.layout(episodes)
    sheet_rows = 1 if settings.grid else episodes

    with contextlib.ExitStack() as cleanup:  # closes the renderer, then the envs
        envs = []
        for _ in range(episodes if settings.grid else 1):
            envs.append(_make_env(spec.gym_id))
            cleanup.callback(envs[-1].close)
        first = envs[0]
        model = first.unwrapped.model  # type: ignore[attr-defined]
        dt = float(getattr(first.unwrapped, "dt", 1.0 / first.metadata.get("render_fps", 30)))
        max_steps = int(first.spec.max_episode_steps or 1000) if first.spec else 1000
        fps, stride = timing(dt, fmt, settings.fps)
        low = np.asarray(first.action_space.low, dtype=np.float64)  # type: ignore[attr-defined]
        high = np.asarray(first.action_space.high, dtype=np.float64)  # type: ignore[attr-defined]

        renderer = OffscreenRenderer(model, w, h, backend)
        cleanup.callback(renderer.close)
        cam = renderer.camera(model, settings.camera, _camera_config(first))
        overlay = Overlay(h, label) if settings.overlay else None

        def frame_of(ep: _Episode) -> np.ndarray:
            env = ep.env.unwrapped
            img = renderer.render(env.model, env.data, cam)  # type: ignore[attr-defined]
            if overlay is not None:
                text = f"ep {ep.index + 1}/{episodes}  t {ep.steps}  return {ep.ret:.2f}"
                img = overlay.draw(img, text)
            return img

        sink: FrameSink
        if fmt == ".mp4":
            sink = _Mp4Sink(out, w * cols, h * rows, fps)
        elif fmt == ".gif":
            sink = _GifSink(out, fps)
        else:
            sink = _SheetSink(out, sheet_rows, 1 + math.ceil(max_steps / stride), SHEET_COLUMNS)
        returns: list[float] = []
        lengths: list[int] = []
        n_frames = 0
        try:
            if settings.grid:
                eps = [_reset(env, i, seed) for i, env in enumerate(envs)]
                tiles = [frame_of(ep) for ep in eps]
                for t in _steps(eps, act, low, high, stride):
                    for k, ep in enumerate(eps):
                        if ep.steps == t:  # stepped this time; finished episodes stay frozen
                            tiles[k] = frame_of(ep)
                    sink.add(_tile(tiles, rows, cols, h, w), 0, t)
                    n_frames += 1
                returns = [ep.ret for ep in eps]
                lengths = [ep.steps for ep in eps]
            else:
                for i in range(episodes):
                    ep = _reset(first, i, seed)
                    for t in _steps([ep], act, low, high, stride):
                        sink.add(frame_of(ep), i, t)
                        n_frames += 1
                    returns.append(ep.ret)
                    lengths.append(ep.steps)
            sink.finish()
        except BaseException:
            sink.abort()
            raise
    if fmt == ".png":
        size = (w * cols * SHEET_COLUMNS, h * rows * sheet_rows)
    else:
        size = (w * cols, h * rows)
    return RenderResult(
        out, returns, lengths, n_frames, size, fps, time.perf_counter() - start, backend, label
    )


def _reset(env: gym.Env[Any, Any], index: int, seed: int) -> _Episode:
    obs, _ = env.reset(seed=seed + index)
    return _Episode(env, index, np.asarray(obs, dtype=np.float64).reshape(-1))


def _steps(
    eps: list[_Episode], act: ActFn, low: np.ndarray, high: np.ndarray, stride: int
) -> Iterator[int]:
    """Yield t = 0 (reset state), then every ``stride``-th step and each episode's last step,
    stepping every live episode (batched through ``act``) in between."""
    t = 0
    yield t
    while not all(ep.done for ep in eps):
        live = [ep for ep in eps if not ep.done]
        actions = np.asarray(act(np.stack([ep.obs for ep in live])), dtype=np.float64)
        actions = np.clip(actions.reshape(len(live), -1), low, high)
        ended = False
        for ep, a in zip(live, actions, strict=True):
            obs, reward, terminated, truncated, _ = ep.env.step(a.astype(np.float32))
            ep.obs = np.asarray(obs, dtype=np.float64).reshape(-1)
            ep.ret += float(reward)
            ep.steps += 1
            if terminated or truncated:
                ep.done = ended = True
        t += 1
        if t % stride == 0 or ended:
            yield t


def _tile(tiles: list[np.ndarray], rows: int, cols: int, h: int, w: int) -> np.ndarray:
    grid = np.zeros((rows * h, cols * w, 3), dtype=np.uint8)
    for k, img in enumerate(tiles):
        r, c = divmod(k, cols)
        grid[r * h : (r + 1) * h, c * w : (c + 1) * w] = img
    return grid


# ------------------------------------------------------------------------------ policies
def random_act(low: np.ndarray, high: np.ndarray, seed: int, log_std: float) -> ActFn:
    """An untrained policy: zero-mean Gaussian with the initial σ = exp(log_std_init).

    That is what a fresh GaussianPolicy does (its last layer starts near zero, so its mean
    action is ≈ 0); sampling matters, since the deterministic mean would hold the arm still.
    Numpy only, no torch.
    """
    rng = np.random.default_rng(seed)
    std = math.exp(log_std)

    def act(obs: np.ndarray) -> np.ndarray:
        noise = rng.standard_normal((obs.shape[0], low.shape[0])) * std
        return np.clip(noise, low, high)

    return act


def render_policy(
    source: str,
    out: Path | str,
    episodes: int = 3,
    seed: int = 0,
    settings: RenderSettings | None = None,
    stochastic: bool = False,
    random: bool = False,
) -> RenderResult:
    """Render a run directory, checkpoint, or task name (its shipped policy; ``random``: an
    untrained one) — the ``robopg render`` command as a function."""
    settings = settings or RenderSettings()
    prepare_output(Path(out), settings, episodes)  # bad paths and sizes fail before slow work
    if random:
        import gymnasium as gym

        from robopg.config import TrainConfig
        from robopg.envs import resolve_task

        spec = resolve_task(source)
        probe = gym.make(spec.gym_id)
        low = np.asarray(probe.action_space.low, dtype=np.float64)  # type: ignore[attr-defined]
        high = np.asarray(probe.action_space.high, dtype=np.float64)  # type: ignore[attr-defined]
        probe.close()
        log_std = TrainConfig().log_std_init
        act = random_act(low, high, seed, log_std)
        label = f"untrained, sampled σ={math.exp(log_std):.2f}"
        return render_rollouts(spec.name, act, out, episodes, seed, settings, label)

    from robopg.controller import Controller
    from robopg.runs import resolve_policy_path

    ctrl = Controller.load(resolve_policy_path(source), stochastic=stochastic, seed=seed)
    label = "stochastic (sampled)" if stochastic else "deterministic (mean action)"
    return render_rollouts(ctrl.task, ctrl.act_batch, out, episodes, seed, settings, label)


TRAINING_VIDEO = RenderSettings(width=256, height=256)


def record_training_video(
    task: str, policy: GaussianPolicy, device: torch.device, out: Path, seed: int
) -> RenderResult:
    """One deterministic 256×256 episode of the live policy, for ``train --video-every``."""
    import torch

    @torch.no_grad()
    def act(obs: np.ndarray) -> np.ndarray:
        o = torch.as_tensor(obs, dtype=torch.float32, device=device)
        mean = policy.act(o, deterministic=True)
        return mean.cpu().numpy().astype(np.float64)

    return render_rollouts(task, act, out, episodes=1, seed=seed, settings=TRAINING_VIDEO)
