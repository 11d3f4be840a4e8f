"""What an edit must leave alone, shared by the three methods:

- ``mask.py``: regions (a mask PNG, a box, or an array; white / 1 = may change), checked against
  the generator's resolution, and the explicit feathered output blend;
- ``prompts.py``: composed prompts (several texts with their own weights in one edit) and keep-texts;
- ``loss.py``: the jittable terms latent optimisation and mapper training add: the composed CLIP
  loss, the keep term (CLIP similarity to each keep-text held at its starting value) and the
  outside-the-mask pixel term (HairCLIP's background loss).

Global directions use the same masks and keep-texts through ``global_directions/constrain.py``.
"""
