"""The browser editor (``styleclip-jax ui``); needs the ``ui`` extra (Gradio)."""
