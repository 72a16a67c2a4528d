"""Callback modules, one per feature; each exposes register(app, mapdata)."""
