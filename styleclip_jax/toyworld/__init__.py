"""A toy world whose truth we know: procedural scenes, a trained 32 px StyleGAN2 and small CLIP
(bundled in ``weights/``), attribute readers as judges, and edit-quality evaluation."""
