"""Trained policies shipped with robopg: ``<task>.safetensors`` plus a ``<task>.json`` card."""

from pathlib import Path

POLICY_DIR = Path(__file__).resolve().parent


def shipped_policy(task: str) -> Path | None:
    """Path of the shipped checkpoint for a task, or None if we ship none."""
    path = POLICY_DIR / f"{task}.safetensors"
    return path if path.is_file() else None
