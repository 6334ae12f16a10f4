"""Shipped TOML presets of tuned TrainConfig settings, one per task (``robopg presets``)."""
