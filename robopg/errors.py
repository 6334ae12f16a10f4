"""One exception family, so the CLI can turn any expected failure into one actionable line.

Every message is a full sentence that says what is wrong and how to fix it. Anything that is not
a RobopgError is a bug and keeps its traceback.
"""


class RobopgError(Exception):
    """Base class of every error a user can cause and fix."""


class ConfigError(RobopgError):
    """An invalid hyperparameter, option or config file."""


class EnvError(RobopgError):
    """An unknown task, or bad input (shape, NaN) given to an environment."""


class CheckpointError(RobopgError):
    """A missing, corrupt, foreign or incompatible checkpoint."""


class TrainingDiverged(RobopgError):
    """NaN/Inf appeared in the loss, gradients or parameters."""


class RenderError(RobopgError):
    """No working headless OpenGL backend, or an unusable video output."""


class RunDirError(RobopgError):
    """A run directory that is missing or holds no metrics (``robopg plot`` / ``robopg info``)."""


class WriteError(CheckpointError, OSError):
    """A file could not be written (disk full, permissions); the previous version is intact.

    Also an OSError, so code that handles I/O failures generically still catches it.
    """
