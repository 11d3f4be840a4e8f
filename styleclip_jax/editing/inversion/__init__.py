"""Photos to W+, in one home: ``photos.py`` (photo files -> W+ through an encoder, aligned first
when asked, and edits pasted back), ``core.py`` (latent refinement of an inversion at the
generator resolution), ``training.py`` (e4e encoder training). The encoder network, its
preprocessing and ``check_fits`` belong to ``styleclip_jax.models.e4e``."""
