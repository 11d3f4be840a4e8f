"""The three StyleCLIP editing methods (latent optimisation so far)."""

from .optimization import OptimizeConfig, lr_ramp
from .optimize import OptimizeResult, optimize

__all__ = ["OptimizeConfig", "OptimizeResult", "lr_ramp", "optimize"]
