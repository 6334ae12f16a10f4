"""Run directories: every run gets its own, even when several start in the same second."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from robopg.errors import ConfigError
from robopg.runs.run_dir import RunDir


def test_taken_names_get_the_next_suffix(tmp_path: Path) -> None:
    first = RunDir.claim(tmp_path / "runs", "reacher-20261126-120000").path
    second = RunDir.claim(tmp_path / "runs", "reacher-20261126-120000").path
    third = RunDir.claim(tmp_path / "runs", "reacher-20261126-120000").path
    assert [p.name for p in (first, second, third)] == [
        "reacher-20261126-120000",
        "reacher-20261126-120000-2",
        "reacher-20261126-120000-3",
    ]
    assert all(p.is_dir() for p in (first, second, third))


def test_simultaneous_claims_never_share_or_fail(tmp_path: Path) -> None:
    """16 runs asking for the same name at once (parallel benchmark jobs did this and one failed
    with 'File exists' when the name was checked before it was created)."""
    workers = 16
    barrier = threading.Barrier(workers)

    def claim(_: int) -> Path:
        barrier.wait()
        return RunDir.claim(tmp_path, "pusher-20261126-114041").path

    with ThreadPoolExecutor(workers) as pool:
        dirs = list(pool.map(claim, range(workers)))
    assert len(set(dirs)) == workers
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in dirs)


def test_unwritable_out_is_one_sentence(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match=r"Cannot create a run directory in .*writable folder"):
        RunDir.claim(blocker / "sub", "reacher-1")
