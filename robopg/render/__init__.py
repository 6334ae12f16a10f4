"""Render rollouts of a policy to an H.264 MP4, a GIF or a PNG contact sheet, headless.

One concern per module: ``gl`` (choosing a headless OpenGL backend in a subprocess),
``renderer`` (GL context + scene → frame), ``scenes`` (each episode's MjData in a vector env),
``settings`` (the options and their rules), ``sinks`` (files, timing, atomic writes),
``overlay`` (the caption), ``recorder`` (frames of ``evaluate.run_episodes``' episodes) and
``rollouts`` (the entry points). Importing this package does not import mujoco, so
``choose_gl_backend`` can still set MUJOCO_GL first.
"""

from robopg.render.gl import choose_gl_backend, require_video_support
from robopg.render.rollouts import RenderResult, record_training_video, render_policy
from robopg.render.settings import RenderSettings
from robopg.render.sinks import prepare_output

__all__ = [
    "RenderResult",
    "RenderSettings",
    "choose_gl_backend",
    "prepare_output",
    "record_training_video",
    "render_policy",
    "require_video_support",
]
