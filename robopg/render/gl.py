"""Choosing a headless OpenGL backend, safely, before MuJoCo renders anything.

MuJoCo picks its OpenGL backend from ``MUJOCO_GL`` when ``mujoco`` is first imported, and a
context that fails to open can abort the whole process instead of raising. So
``choose_gl_backend`` probes each candidate (EGL, then OSMesa) in a *subprocess* and only then
sets ``MUJOCO_GL``; when none works the user gets one sentence naming the Debian packages.

Commands that never draw call ``hold_gl`` first: mujoco acts on ``MUJOCO_GL`` inside ``import
mujoco`` itself (``mujoco/rendering/classic/gl_context.py``, imported by ``mujoco/__init__``): an
unknown value raises RuntimeError there, and ``egl``/``osmesa`` import PyOpenGL for that backend,
which ends in an AttributeError when the library is missing. With ``MUJOCO_GL=disable`` mujoco
imports no GL at all, so such a command works whatever the variable says.
"""

from __future__ import annotations

import os
import subprocess
import sys

from robopg.errors import RenderError
from robopg.render.renderer import GL_MODULES, OffscreenRenderer
from robopg.render.sinks import require_video_extra

GL_PACKAGES = {
    "egl": "libegl1 libegl-mesa0 libopengl0 libgl1-mesa-dri",
    "osmesa": "libosmesa6",
}
DEFAULT_BACKENDS = ("egl", "osmesa")
PROBE_TIMEOUT_S = 60.0

#: where ``hold_gl`` keeps the user's own MUJOCO_GL (child processes inherit it with the rest)
HELD_ENV = "ROBOPG_HELD_MUJOCO_GL"

_chosen_backend: str | None = None


def hold_gl() -> None:
    """Let mujoco import without OpenGL in a process that does not render (yet).

    Sets ``MUJOCO_GL=disable`` and keeps the user's value in ``ROBOPG_HELD_MUJOCO_GL``, where
    ``choose_gl_backend`` finds it if this process renders after all (``train --video-every``):
    the offscreen renderer opens its backend's context explicitly, whatever mujoco's import saw.
    Does nothing once mujoco is imported, when the variable no longer counts.
    """
    if "mujoco" in sys.modules:
        return
    os.environ.setdefault(HELD_ENV, os.environ.get("MUJOCO_GL", ""))
    os.environ["MUJOCO_GL"] = "disable"


def _users_mujoco_gl() -> str:
    """The MUJOCO_GL the user asked for: the held one if ``hold_gl`` ran, else the variable."""
    value = os.environ.get(HELD_ENV, os.environ.get("MUJOCO_GL", ""))
    return value.strip().lower()


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
    code = "import sys, robopg.render.gl as g; g._probe_main(sys.argv[1])"
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
    if not lines:
        return f"exit code {proc.returncode}"
    if "'NoneType' object has no attribute" in lines[-1]:  # PyOpenGL found no library to load
        return "its OpenGL library could not be loaded"
    return lines[-1]


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
    forced = _users_mujoco_gl()
    if forced:
        _chosen_backend = _check_forced(forced)
        _export_backend(forced)
        return forced
    wanted = os.environ.get("ROBOPG_GL_BACKENDS", "")
    candidates = [b.strip().lower() for b in wanted.split(",") if b.strip()] or list(
        DEFAULT_BACKENDS
    )
    failures: dict[str, str] = {}
    for backend in candidates:
        why = probe_gl_backend(backend) if backend in GL_MODULES else "not a MUJOCO_GL backend"
        if why is None:
            _export_backend(backend)
            _chosen_backend = backend
            return backend
        failures[backend] = why
    raise RenderError(no_gl_message(failures))


def _export_backend(backend: str) -> None:
    """MUJOCO_GL=backend for this process's later imports and its children; nothing held."""
    os.environ.pop(HELD_ENV, None)
    os.environ["MUJOCO_GL"] = backend


def _check_forced(forced: str) -> str:
    """A user's own MUJOCO_GL: use it if it works, else say how to fix or drop it."""
    if forced not in GL_MODULES:
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
    return forced


def require_video_support() -> str:
    """Check PyAV/Pillow and pick the GL backend up front (``train --video-every``)."""
    require_video_extra()
    return choose_gl_backend()
