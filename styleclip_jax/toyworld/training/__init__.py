"""Trainers of the toy world's own networks (GAN, decoder recipe, CLIP); all run on the shared loop in
``styleclip_jax.training.loop``."""
