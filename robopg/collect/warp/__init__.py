"""The MuJoCo Warp device engine (optional extra ``robopg[gpu]``).

``robopg.envs`` stays free of torch (its import contract), so the device engine, whose
observations and rewards are torch on the device, lives here: ``install`` (importing Warp with
one clear sentence when it is missing), ``tasks`` (the arm tasks' maths in torch) and
``engine`` (``WarpArmEnv``). Nothing here imports Warp until an engine is built.
"""

from robopg.collect.warp.install import INSTALL_HINT, require_warp, warp_available

__all__ = ["INSTALL_HINT", "require_warp", "warp_available"]
