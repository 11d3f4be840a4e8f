"""Method C, global directions in StyleSpace: ``config.py`` (``TextEdit``, one typed edit),
``stats.py`` (style means / stds), ``relevance.py`` (the fs3 channel-relevance precompute),
``text.py`` (Δt from prompt pairs), ``core.py`` (Δs from fs3 · Δt, β threshold, α edits:
``global_edit``), ``run.py`` (``precompute``: the resumable stats + fs3 job)."""
