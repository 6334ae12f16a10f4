"""Importing the optional MuJoCo Warp stack, with one sentence when it is missing.

Why a module of its own: ``--engine warp`` is an optional extra (``robopg[gpu]``); every path
that needs ``warp``/``mujoco_warp`` goes through ``require_warp`` so a user without it gets the
install command, not an ImportError traceback.
"""

from __future__ import annotations

from types import ModuleType

from robopg.errors import EnvError

INSTALL_HINT = 'pip install "robopg[gpu]"'


def require_warp() -> tuple[ModuleType, ModuleType]:
    """``(warp, mujoco_warp)``, imported, or one EnvError naming the install command."""
    try:
        import mujoco_warp
        import warp
    except ImportError as exc:
        raise EnvError(
            f"--engine warp needs MuJoCo Warp, which is not installed ({exc.name} is missing); "
            f"install it with: {INSTALL_HINT}"
        ) from exc
    warp.config.log_level = warp.LOG_WARNING  # no per-kernel load lines: one status line of ours
    return warp, mujoco_warp


def warp_available() -> bool:
    """Whether ``--engine warp`` can run here (the extra is installed)."""
    try:
        require_warp()
    except EnvError:
        return False
    return True
