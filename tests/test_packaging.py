"""The wheel carries every module of the checkout: a subpackage missing from the package list
installs fine and then fails only when a user runs the command that imports it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _checkout_files() -> set[str]:
    """Every .py/.xml/.toml/.json/.safetensors file under robopg/, symlinked folders followed."""
    keep = {".py", ".xml", ".toml", ".json", ".safetensors"}
    found: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(ROOT / "robopg", followlinks=True):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in filenames:
            if Path(name).suffix in keep:
                found.add((Path(dirpath) / name).relative_to(ROOT).as_posix())
    return found


def test_wheel_holds_every_module_and_asset(tmp_path: Path):
    # Build from a clean copy: setuptools reuses an in-tree build/ folder, whose stale files
    # would hide a package the configuration leaves out.
    src = tmp_path / "src"
    junk = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__")

    def ignore(folder: str, names: list[str]) -> set[str]:
        # run directories live in the root's runs/; robopg/runs/ is a package
        root_runs = {"runs"} if Path(folder) == ROOT else set()
        return set(junk(folder, names)) | root_runs

    shutil.copytree(ROOT, src, symlinks=True, ignore=ignore)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(src), "-w", str(tmp_path)],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("robopg-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(_checkout_files() - names)
    assert not missing, f"not in the wheel: {missing}"
    assert not [n for n in names if n.split("/")[0] in {"cli.py", "envs", "policies", "tests"}]
