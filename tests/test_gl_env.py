"""MUJOCO_GL counts only where robopg renders: elsewhere a bad value is ignored, and commands
that render say what is wrong in one sentence (exit code 2). Each case runs the real CLI in a
fresh process, because MUJOCO_GL acts when mujoco is first imported."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOGUS = (
    "MUJOCO_GL=bogus is not a backend robopg can render with; unset it or set it to egl or osmesa."
)
NO_OSMESA = (
    "MUJOCO_GL=osmesa cannot open an OpenGL context here (its OpenGL library could not be "
    "loaded); install its packages (sudo apt-get install libosmesa6), or unset MUJOCO_GL to let "
    "robopg try egl, then osmesa."
)
TINY_TRAIN = [
    "train", "reacher", "--steps", "400", "--num-envs", "4", "--steps-per-batch", "400",
    "--final-eval-episodes", "2", "--quiet",
]  # fmt: skip


def _broken_gl_env(case: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a user whose MUJOCO_GL cannot work.

    ``osmesa``: libOSMesa cannot be loaded. PyOpenGL tries ``libOSMesa.so`` and
    ``libOSMesa.so.0`` … ``.9`` by name, so files of those names that are not libraries, first
    on LD_LIBRARY_PATH, stand for a machine without OSMesa (the same AttributeError inside
    ``import mujoco`` as there).
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "400"}
    env.pop("ROBOPG_HELD_MUJOCO_GL", None)
    if case == "bogus":
        env["MUJOCO_GL"] = "bogus"
        return env
    fake = tmp_path / "no-osmesa"
    fake.mkdir()
    for suffix in ["", *(f".{i}" for i in range(10))]:
        (fake / f"libOSMesa.so{suffix}").write_text("not a library\n")
    env["MUJOCO_GL"] = "osmesa"
    env["LD_LIBRARY_PATH"] = f"{fake}:{env.get('LD_LIBRARY_PATH', '')}"
    return env


def _robopg(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "robopg", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_simulated_broken_osmesa_really_breaks_import_mujoco(tmp_path: Path) -> None:
    """The premise of the osmesa cases: without robopg's care, importing mujoco fails."""
    env = _broken_gl_env("osmesa", tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", "import mujoco"], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert "AttributeError: 'NoneType' object has no attribute 'glGetError'" in proc.stderr


@pytest.mark.parametrize("case", ["bogus", "osmesa"])
def test_commands_that_do_not_render_ignore_mujoco_gl(case: str, tmp_path: Path) -> None:
    env = _broken_gl_env(case, tmp_path)
    envs = _robopg(["envs"], env, tmp_path)
    assert envs.returncode == 0, envs.stderr
    assert "Reacher-v5" in envs.stdout

    evaluated = _robopg(["eval", "reacher", "--episodes", "2"], env, tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    assert "over 2 episodes, deterministic" in " ".join(evaluated.stdout.split())

    trained = _robopg([*TINY_TRAIN, "--out", str(tmp_path / "runs")], env, tmp_path)
    assert trained.returncode == 0, trained.stderr
    (run,) = (tmp_path / "runs").iterdir()
    assert (run / "final.safetensors").is_file()


@pytest.mark.parametrize(("case", "message"), [("bogus", BOGUS), ("osmesa", NO_OSMESA)])
def test_commands_that_render_say_what_to_do_in_one_sentence(
    case: str, message: str, tmp_path: Path
) -> None:
    env = _broken_gl_env(case, tmp_path)
    rendered = _robopg(["render", "reacher", "--out", "r.png", "--episodes", "1"], env, tmp_path)
    assert rendered.returncode == 2
    assert rendered.stderr.strip() == f"error: {message}"
    assert not (tmp_path / "r.png").exists()

    videos = [*TINY_TRAIN, "--video-every", "1", "--out", str(tmp_path / "runs")]
    trained = _robopg(videos, env, tmp_path)
    assert trained.returncode == 2
    assert trained.stderr.strip() == f"error: {message}"


def test_a_command_that_does_not_render_imports_no_opengl(tmp_path: Path) -> None:
    """With MUJOCO_GL=osmesa, `import mujoco` alone imports PyOpenGL; `robopg envs` must not.

    (The ``glfw`` package itself is imported by gymnasium's MuJoCo env module whatever
    MUJOCO_GL says; it loads the windowing library without opening a context.)
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MUJOCO_GL": "osmesa"}
    code = (
        "import sys\n"
        "sys.argv = ['robopg', 'envs']\n"
        "from robopg.cli import app\n"
        "try:\n"
        "    app(prog_name='robopg')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        "gl = sorted(m for m in sys.modules if m.split('.')[0] == 'OpenGL'\n"
        "            or m in ('mujoco.egl', 'mujoco.osmesa', 'mujoco.glfw'))\n"
        "print('mujoco' in sys.modules, gl)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "True []"
