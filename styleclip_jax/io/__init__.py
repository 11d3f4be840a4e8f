"""Everything that touches files: ``model_folder.py`` (our config.json + safetensors format),
``files.py`` (atomic writes, overwrite refusal), ``checkpoints.py`` (orbax training state),
``jobs.py`` (job locks and manifests), ``latents.py`` (the .npz latent contract),
``images.py`` (PNG in / out, grids), ``torch_pickle.py`` (code-free reading of torch / NVIDIA pickles)."""
