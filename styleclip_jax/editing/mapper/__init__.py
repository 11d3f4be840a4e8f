"""Method B, latent mapper training: ``config.py`` (MapperTrainConfig), ``core.py`` (losses, the
jitted train steps), ``run.py`` (``train_mapper()``: experiment folder, validation, resume). The
mapper network and its loaded handle live in ``styleclip_jax.models.mapper``."""
