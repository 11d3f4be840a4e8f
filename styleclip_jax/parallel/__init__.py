"""More than one device or process: ``mesh.py`` (data-parallel shardings over local devices),
``distributed.py`` (``jax.distributed`` start-up and the helpers every multi-process job uses)."""
