"""Rendering rollouts: decoded MP4/GIF/PNG files, grid layout, training videos, clear errors.

Every output is decoded again (PyAV for MP4, Pillow for GIF/PNG) and checked for frame count,
size, rate and content. The GL-failure message is checked in a subprocess, where EGL is made to
fail the way it does when the Mesa vendor library is missing.
"""

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from robopg.cli import app
from robopg.config import TrainConfig
from robopg.deploy.controller import Controller
from robopg.deploy.evaluate import run_episodes
from robopg.errors import RenderError
from robopg.render import gl, rollouts, settings, sinks
from robopg.train.trainer import Trainer

runner = CliRunner()
REACHER_STEPS = 50  # Reacher-v5 episodes: 50 steps at dt 0.02 s → real time is 50 fps


def decode_mp4(path: Path) -> tuple[list[np.ndarray], Fraction, tuple[int, int]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return frames, Fraction(stream.average_rate), (stream.width, stream.height)


def changed_pixels(a: np.ndarray, b: np.ndarray) -> int:
    """Pixels whose colour differs clearly (the arm is a few pixels wide at test sizes)."""
    return int((np.abs(a.astype(float) - b.astype(float)).max(-1) > 40).sum())


def test_mp4_of_a_trained_policy_decodes_with_moving_content(tiny_run: Path, tmp_path: Path):
    out = tmp_path / "rollout.mp4"
    args = ["render", str(tiny_run), "--out", str(out), "--episodes", "2"]
    size_args = ["--width", "160", "--height", "128", "--camera", "top", "--stochastic"]
    result = runner.invoke(app, [*args, *size_args])
    assert result.exit_code == 0, result.output
    assert "episode 1 (seed 0): return" in result.output
    assert "episode 2 (seed 1): return" in result.output

    frames, fps, size = decode_mp4(out)
    assert len(frames) == 2 * (1 + REACHER_STEPS)
    assert fps == 50 and size == (160, 128)
    assert frames[0].shape == (128, 160, 3)
    scene = [f[40:].astype(float) for f in frames]  # below the text band
    assert min(f.mean() for f in scene) > 20, "frames are black"
    # the arm moves within an episode, and the second episode has another target
    assert changed_pixels(scene[REACHER_STEPS], scene[0]) >= 5
    assert changed_pixels(scene[REACHER_STEPS + 1], scene[0]) >= 5
    assert not list(tmp_path.glob(".*.part")), "temporary file left behind"


def test_rendered_episodes_are_the_episodes_eval_scores(tiny_run: Path, tmp_path: Path):
    ctrl = Controller.load(tiny_run / "final.safetensors")
    small = settings.RenderSettings(width=32, height=32, overlay=False)
    result = rollouts.render_rollouts(
        "reacher", ctrl.act_batch, tmp_path / "a.png", episodes=3, seed=5, settings=small
    )
    scored = run_episodes("reacher", ctrl.act_batch, 3, seed=5)
    np.testing.assert_allclose(result.returns, scored.returns, rtol=0, atol=1e-9)
    assert result.lengths == [REACHER_STEPS] * 3


def test_grid_gif_decodes_with_one_tile_per_episode(tmp_path: Path):
    out = tmp_path / "grid.gif"
    args = ["render", "reacher", "--random", "--grid", "--episodes", "4", "--out", str(out)]
    result = runner.invoke(app, [*args, "--width", "64", "--height", "48", "--seed", "3"])
    assert result.exit_code == 0, result.output
    with Image.open(out) as gif:
        assert gif.format == "GIF" and gif.size == (2 * 64, 2 * 48)
        assert gif.n_frames == 1 + REACHER_STEPS
        assert gif.info["duration"] == 20  # ms: real time at 50 fps
        gif.seek(gif.n_frames - 1)
        last = np.asarray(gif.convert("RGB"), dtype=float)
    tiles = [
        last[r * 48 + 12 : (r + 1) * 48, c * 64 : (c + 1) * 64] for r in (0, 1) for c in (0, 1)
    ]
    assert min(t.mean() for t in tiles) > 20
    assert changed_pixels(tiles[0], tiles[1]) >= 5, "episodes with other seeds look the same"


def test_png_contact_sheet_has_a_row_per_episode(tmp_path: Path):
    out = tmp_path / "sheet.png"
    args = ["render", "reacher", "--random", "--episodes", "2", "--out", str(out)]
    result = runner.invoke(app, [*args, "--width", "64", "--height", "64", "--camera", "top"])
    assert result.exit_code == 0, result.output
    with Image.open(out) as img:
        assert img.format == "PNG"
        assert img.size == (sinks.SHEET_COLUMNS * 64, 2 * 64)
        sheet = np.asarray(img.convert("RGB"), dtype=float)
    first, last = sheet[16:64, :64], sheet[16:64, -64:]
    assert first.mean() > 20 and changed_pixels(first, last) >= 5


def test_video_every_writes_decodable_training_videos(tmp_path: Path, tiny_run: Path):
    settings = {"steps": 800, "num_envs": 8, "steps_per_batch": 400, "eval_episodes": 2}
    cfg = TrainConfig().updated({**settings, "device": "cpu", "out": str(tmp_path)}, "test")
    cfg = cfg.updated({"video_every": 1}, "test")
    result = Trainer(cfg, show_progress=False).train()
    assert result.run_dir is not None
    videos = sorted((result.run_dir / "videos").iterdir())
    assert [v.name for v in videos] == ["update_000001.mp4", "update_000002.mp4"]
    frames, fps, size = decode_mp4(videos[-1])
    assert len(frames) == 1 + REACHER_STEPS and fps == 50 and size == (256, 256)
    assert not (tiny_run / "videos").exists(), "videos written although --video-every is 0"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--out", "{tmp}/clip.avi"], "Unknown video format '.avi'"),
        (["--out", "{tmp}/clip.mp4", "--width", "161"], "--width 161 is odd"),
        (["--out", "{tmp}/clip.mp4", "--height", "99"], "--height 99 is odd"),
        (["--out", "{tmp}/blocker/sub/clip.mp4"], "Cannot write"),
        (["--out", "{tmp}/clip.gif", "--fps", "100"], "use --fps 50 or less"),
        (["--out", "{tmp}/clip.mp4", "--camera", "nope"], "Unknown camera 'nope'"),
        (["--out", "{tmp}/clip.mp4", "--episodes", "0"], "--episodes"),
        (["--out", "{tmp}/c.mp4", "--grid", "--episodes", "200", "--width", "480"], "at most 4096"),
    ],
)
def test_bad_render_options_are_one_clear_sentence(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    (tmp_path / "blocker").write_text("a file, not a folder")
    args = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    result = runner.invoke(app, ["render", "reacher", "--random", "--width", "32", *args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"], "left a file behind"


def test_task_without_shipped_policy_is_a_clear_error(tmp_path: Path):
    result = runner.invoke(app, ["render", "Hopper-v5", "--out", str(tmp_path / "h.mp4")])
    assert result.exit_code == 2
    assert "ships no trained policy for 'Hopper-v5'" in " ".join(result.output.split())


def test_real_time_rate_and_frame_stride():
    assert sinks.timing(0.02, ".mp4", None) == (Fraction(50), 1)  # Reacher
    assert sinks.timing(0.05, ".gif", None) == (Fraction(20), 1)  # Pusher
    assert sinks.timing(0.008, ".mp4", None) == (Fraction(125, 3), 3)  # 125 steps/s
    assert sinks.timing(0.008, ".mp4", 30.0) == (Fraction(30), 1)
    # GIF delays are whole centiseconds: 5 steps of 8 ms = 4 cs plays exactly in real time
    assert sinks.timing(0.008, ".gif", None) == (Fraction(25), 5)
    assert sinks.timing(0.02, ".gif", 30.0) == (Fraction(100, 3), 1)


def test_backend_choice_order_and_export(monkeypatch: pytest.MonkeyPatch):
    tried: list[str] = []

    def fake_probe(backend: str, timeout: float = 0) -> str | None:
        tried.append(backend)
        return None if backend == "osmesa" else "no EGL device"

    monkeypatch.setattr(gl, "probe_gl_backend", fake_probe)
    monkeypatch.setattr(gl, "_chosen_backend", None)
    monkeypatch.delenv("MUJOCO_GL", raising=False)
    monkeypatch.delenv("ROBOPG_GL_BACKENDS", raising=False)
    assert gl.choose_gl_backend() == "osmesa"
    assert tried == ["egl", "osmesa"] and os.environ["MUJOCO_GL"] == "osmesa"
    assert gl.choose_gl_backend() == "osmesa" and len(tried) == 2  # cached

    monkeypatch.setattr(gl, "_chosen_backend", None)
    monkeypatch.setenv("ROBOPG_GL_BACKENDS", "egl")
    monkeypatch.delenv("MUJOCO_GL")
    with pytest.raises(RenderError, match="libegl1 libegl-mesa0 libopengl0 libgl1-mesa-dri"):
        gl.choose_gl_backend()


def _render_in_subprocess(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`robopg render` in a fresh process whose EGL finds no vendor library (as without
    libegl-mesa0), so the probe fails for real."""
    full = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "ROBOPG_GL_BACKENDS")}
    full.update(__EGL_VENDOR_LIBRARY_FILENAMES=str(tmp_path / "none.json"), COLUMNS="400", **env)
    robopg = Path(sys.executable).with_name("robopg")
    out = tmp_path / "x.mp4"
    cmd = [str(robopg), "render", "reacher", "--random", "--out", str(out)]
    return subprocess.run(cmd, env=full, capture_output=True, text=True, timeout=120)


def test_no_working_gl_backend_names_the_packages(tmp_path: Path):
    proc = _render_in_subprocess(tmp_path, ROBOPG_GL_BACKENDS="egl")
    assert proc.returncode == 2, proc.stderr
    msg = " ".join(proc.stderr.split())
    assert "No headless OpenGL backend works here (egl: " in msg
    assert "libegl1 libegl-mesa0 libopengl0 libgl1-mesa-dri" in msg and "libosmesa6" in msg
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "x.mp4").exists()


def test_forced_mujoco_gl_that_fails_is_named(tmp_path: Path):
    proc = _render_in_subprocess(tmp_path, MUJOCO_GL="egl")
    assert proc.returncode == 2, proc.stderr
    msg = " ".join(proc.stderr.split())
    assert "MUJOCO_GL=egl cannot open an OpenGL context here (" in msg
    assert "libegl1 libegl-mesa0 libopengl0 libgl1-mesa-dri" in msg


@pytest.mark.parametrize("engine", ["batch", "gym"])
def test_rendered_returns_equal_eval_returns_on_either_engine(
    tiny_run: Path, tmp_path: Path, engine: str
):
    """The renderer only watches run_episodes: same seeds, same returns, on both backends,
    and a grid still ends on every episode's last step (rebuilt after the auto-reset)."""
    ctrl = Controller.load(tiny_run / "final.safetensors")
    small = settings.RenderSettings(width=32, height=32, overlay=False, grid=True)
    out = tmp_path / "g.gif"
    result = rollouts.render_rollouts(
        "reacher", ctrl.act_batch, out, episodes=2, seed=7, settings=small, engine=engine
    )
    scored = run_episodes("reacher", ctrl.act_batch, 2, seed=7, engine=engine)
    assert result.returns == scored.returns and result.lengths == scored.lengths
    assert result.frames == 1 + REACHER_STEPS


@pytest.mark.parametrize("engine", ["batch", "gym"])
def test_replay_rebuilds_the_state_a_step_ends_in(engine: str):
    """SceneSource.replay of (state before a step, its action) is the state after the step."""
    from robopg.envs import make_vector_env
    from robopg.render.scenes import scene_source

    env = make_vector_env("reacher", 2, engine=engine)
    try:
        env.reset(3)
        scenes = scene_source(env)
        rng = np.random.default_rng(0)
        for _ in range(5):
            actions = rng.uniform(-1, 1, (2, env.act_dim))
            before = [scenes.snapshot(i) for i in range(2)]
            env.step(actions)
            for i in range(2):
                rebuilt = scenes.replay(i, before[i], actions[i])
                np.testing.assert_array_equal(rebuilt.qpos, scenes.data(i).qpos)
                np.testing.assert_array_equal(rebuilt.qvel, scenes.data(i).qvel)
    finally:
        env.close()
