"""The package version, in the lowest layer so that anything may read it."""

__version__ = "0.1.0"
