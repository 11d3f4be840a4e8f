"""Exceptions with messages that name the problem (never a deep JAX traceback).

Everything a user can cause raises a ``StyleClipError``; the CLI turns each into one line and
exit code 2. The subclasses also derive from the builtin a caller would expect (``ValueError``,
``FileExistsError``, ``FloatingPointError``), so ``except ValueError`` keeps working.
"""


class StyleClipError(Exception):
    """Base class of every error this package raises on purpose."""


class CheckpointError(StyleClipError, ValueError):
    """A checkpoint is missing, corrupt, of the wrong kind, or does not fit the model."""


class UnsafeCheckpointError(CheckpointError):
    """A pickle asked for something other than plain tensors and containers; nothing was run."""


class InputError(StyleClipError, ValueError):
    """A user input (latent, prompt, path, option) has the wrong shape, value or type."""


class ConfigError(InputError):
    """A config's fields do not fit together (raised by the frozen config dataclasses)."""


class OutputExistsError(StyleClipError, FileExistsError):
    """An output exists and overwriting was not asked for."""


class NonFiniteError(StyleClipError, FloatingPointError):
    """A weight, input, loss or output became NaN or infinite; nothing non-finite is written."""


class JobFolderError(StyleClipError):
    """A long job's folder is locked by another run, or was made by other models or settings."""
