"""Run directories and what they hold: checkpoints and their format, saved policies, metrics."""
