"""The optimisers, in one place: ``adam.py`` (Adam in torch's operation order) and ``ranger.py``
(RAdam + Lookahead + gradient centralisation as optax parts, as StyleCLIP's mapper training uses it)."""
