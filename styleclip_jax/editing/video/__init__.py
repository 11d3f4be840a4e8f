"""Editing a face in a video (STIT's pipeline on this library's parts): ``config.py`` (settings),
``edits.py`` (one edit for every frame's code), ``run.py`` (the staged, resumable job)."""
