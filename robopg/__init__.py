"""robopg: continuous control of MuJoCo arms with Gaussian policies and REINFORCE.

The library is importable without the CLI. The pieces, one concept per module:
policy (networks), returns (reward-to-go, GAE), normalize (running statistics),
reinforce (the update), rollout (batch collection), trainer (the loop),
checkpoint (safe save/load), controller (numpy-only deployment).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("robopg")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

from robopg.errors import RobopgError

__all__ = ["RobopgError", "__version__"]
