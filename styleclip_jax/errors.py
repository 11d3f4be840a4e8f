"""Exceptions with messages that name the problem (never a deep JAX traceback)."""


class StyleClipError(Exception):
    """Base class of every error this package raises on purpose."""


class CheckpointError(StyleClipError, ValueError):
    """A checkpoint is missing, corrupt, of the wrong kind, or does not fit the model."""


class UnsafeCheckpointError(CheckpointError):
    """A pickle asked for something other than plain tensors and containers; nothing was run."""


class InputError(StyleClipError, ValueError):
    """A user input (latent, prompt, path, option) has the wrong shape, value or type."""
