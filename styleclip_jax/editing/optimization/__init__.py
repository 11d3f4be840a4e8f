"""Method A, text-driven latent optimisation: ``config.py`` (OptimizeConfig, lr ramp), ``core.py``
(losses, one jitted step), ``run.py`` (``optimize()``: start latents, host loop, result)."""
