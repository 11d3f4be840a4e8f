"""Photos to W+: ``training.py`` (e4e encoder training), ``core.py`` (latent refinement of an
inversion, photos at the generator resolution). The encoder network is ``styleclip_jax.models.e4e``."""
