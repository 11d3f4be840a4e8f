"""The resumable training loop shared by every trainer (mapper, encoder, toy world)."""
