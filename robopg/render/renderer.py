"""One offscreen OpenGL context and MuJoCo scene: MjData in, (H, W, 3) uint8 frame out.

``OffscreenRenderer`` opens the GL context of the chosen backend explicitly instead of relying
on the backend mujoco chose at import, so rendering also works in a process (a training run,
a test session) that imported mujoco before a backend was chosen. mujoco is imported inside the
methods so that importing this module never fixes MUJOCO_GL too early.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from robopg.errors import RenderError

# MUJOCO_GL values → the mujoco module holding their GLContext ("glx" is GLFW in mujoco too).
GL_MODULES = {"egl": "egl", "osmesa": "osmesa", "glfw": "glfw", "glx": "glfw"}


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
            module = importlib.import_module(f"mujoco.{GL_MODULES[backend]}")
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
