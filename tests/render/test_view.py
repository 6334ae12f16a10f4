"""robopg view: MuJoCo's viewer in a real X server (Xvfb), driven through Controller/attach().

The viewer runs as the CLI does, in a subprocess, on a virtual display this module starts; the
test grabs that display while the policy acts. Without Xvfb the viewer tests skip, except in CI
(CI=true), where .ci/run installs it and a missing Xvfb is a failure.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from robopg.deploy.controller import Controller
from robopg.deploy.evaluate import run_episodes
from robopg.deploy.mujoco_control import reset_data, task_model
from robopg.render.viewer import (
    KEY_ENTER,
    KEY_EQUAL,
    KEY_KP_ADD,
    KEY_MINUS,
    KEY_RIGHT,
    KEY_SPACE,
    SPEED_MAX,
    SPEED_MIN,
    Controls,
    viewer_reset,
)
from robopg.train.trainer import Trainer

from ..conftest import tiny_config

ROOT = Path(__file__).resolve().parents[2]
SCREEN = (1280, 720)
WINDOW = (853, 480)  # the viewer opens a window of 2/3 of the screen, at its top-left corner


def _tool_or_skip(*names: str, package: str) -> str:
    """The first tool's path; skip without them, except in CI, which must have them."""
    paths = [shutil.which(name) for name in names]
    if None in paths:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must have {package} (apt-get install {package}): .ci/run installs it.")
        pytest.skip(f"{package} is not installed (apt-get install {package})")
    return str(paths[0])


def _xvfb_or_skip() -> str:
    return _tool_or_skip("Xvfb", "xvfb-run", package="xvfb")


@pytest.fixture(scope="module")
def xdisplay() -> Iterator[str]:
    """A fresh Xvfb server; ``-displayfd`` makes it pick a free display number and print it.

    ``-noreset``: by default an X server resets when its last client disconnects, and a viewer
    that connects during that reset is refused. The tests open one viewer after another, so
    without it a loaded machine can land a connection in that window.
    """
    xvfb = _xvfb_or_skip()
    read, write = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write), "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24",
         "-nolisten", "tcp", "-noreset"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    assert number.isdigit(), "Xvfb did not start"
    yield f":{number}"
    proc.terminate()
    proc.wait(timeout=10)


def _view(
    args: list[str], display: str | None, mujoco_gl: str | None = None
) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    if mujoco_gl is not None:
        env["MUJOCO_GL"] = mujoco_gl
    if display is not None:
        env["DISPLAY"] = display
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [sys.executable, "-m", "robopg", "view", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _grab(display: str) -> np.ndarray:
    """The window's corner of the virtual screen, (h, w, 3) uint8."""
    from PIL import ImageGrab

    image = ImageGrab.grab(xdisplay=display).crop((0, 0, *WINDOW))
    return np.asarray(image.convert("RGB"))


def _drawn(frame: np.ndarray) -> bool:
    """A rendered scene, not an empty screen: shades of many colours, not one flat colour."""
    pixels = frame[::4, ::4].reshape(-1, 3).astype(np.int64)  # a sample keeps it cheap
    colours = np.unique(pixels[:, 0] << 16 | pixels[:, 1] << 8 | pixels[:, 2])
    return float(pixels.std()) > 10.0 and len(colours) > 100


def _record(path: Path) -> dict:
    return json.loads(path.read_text())


def _wait_for_window(proc: subprocess.Popen[str], display: str) -> None:
    while not _drawn(_grab(display)):
        assert proc.poll() is None, proc.communicate()[1]
        time.sleep(0.2)


def test_panda_reach_window_frames_screenshot_and_actions(xdisplay: str, tmp_path: Path) -> None:
    shot, record = tmp_path / "shot.png", tmp_path / "record.json"
    args = ["panda-reach", "--episodes", "1", "--max-seconds", "120"]
    proc = _view([*args, "--screenshot", str(shot), "--record", str(record)], xdisplay)
    frames = []
    while proc.poll() is None:  # grab the live window from outside while the policy acts
        frame = _grab(xdisplay)
        if _drawn(frame):
            frames.append(frame)
        time.sleep(0.3)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert err == ""
    # a window opened and what it showed changed while the episode ran (3 s at real time)
    assert len(frames) >= 2
    assert any(np.abs(f.astype(int) - frames[0]).max() > 50 for f in frames[1:])

    from PIL import Image

    with Image.open(shot) as image:
        assert image.format == "PNG"
        assert image.size == WINDOW
        assert _drawn(np.asarray(image.convert("RGB")))

    doc = _record(record)
    assert doc["task"] == "panda-reach"
    assert doc["frames"] >= 2
    [episode] = doc["episodes"]
    assert (episode["seed"], episode["steps"], episode["complete"]) == (0, 150, True)
    # one action per env step, each exactly Controller.act of the observation it was given
    obs, actions = np.array(doc["obs"]), np.array(doc["actions"])
    assert obs.shape == (150, 30) and actions.shape == (150, 7)
    ctrl = Controller.load("panda-reach", safety=False)
    np.testing.assert_array_equal(actions, np.array([ctrl.act(o) for o in obs]))
    # and the episode is robopg eval's seed-0 episode: same first observation, same return
    model, data = task_model("panda-reach")
    np.testing.assert_array_equal(obs[0], reset_data("panda-reach", model, data, 0))
    assert episode["return"] == run_episodes("panda-reach", ctrl.act_batch, 1, 0).returns[0]
    assert out.splitlines() == [
        f"episode seed 0: return {episode['return']:.3f} over 150 steps, mean action"
    ]


def test_stochastic_reacher_samples_with_the_seeded_controller(
    xdisplay: str, tmp_path: Path
) -> None:
    record = tmp_path / "record.json"
    args = ["reacher", "--stochastic", "--seed", "5", "--episodes", "2", "--speed", "4"]
    proc = _view([*args, "--max-seconds", "120", "--record", str(record)], xdisplay)
    _, err = proc.communicate()
    assert proc.returncode == 0, err
    doc = _record(record)
    assert [(e["seed"], e["steps"], e["stochastic"]) for e in doc["episodes"]] == [
        (5, 50, True),
        (6, 50, True),
    ]
    assert doc["sampled"] == [True] * 100
    sampled = Controller.load("reacher", stochastic=True, seed=5)
    expected = [sampled.act(o) for o in np.array(doc["obs"])]  # the same draws, in order
    np.testing.assert_array_equal(np.array(doc["actions"]), np.array(expected))
    # the returns are eval's for seeds 5 and 6 up to the action's float32 rounding (the batched
    # engine applies float32 actions, attach() Reacher-v5's own float64 ones)
    again = Controller.load("reacher", stochastic=True, seed=5)
    sequential = [run_episodes("reacher", again.act_batch, 1, s).returns[0] for s in (5, 6)]
    np.testing.assert_allclose([e["return"] for e in doc["episodes"]], sequential, rtol=1e-5)


def test_gymnasium_task_without_arm_steps_its_env(xdisplay: str, tmp_path: Path) -> None:
    """InvertedPendulum-v5 has no ArmTask: the viewer steps gymnasium's env with the policy."""
    config = tiny_config(tmp_path, env="InvertedPendulum-v5", engine="gym", steps=400)
    run = Trainer(config, show_progress=False).train().run_dir
    assert run is not None
    record = tmp_path / "record.json"
    args = [str(run), "--episodes", "3", "--speed", "4", "--max-seconds", "120"]
    proc = _view([*args, "--record", str(record)], xdisplay)
    _, err = proc.communicate()
    assert proc.returncode == 0, err
    doc = _record(record)
    ctrl = Controller.load(run)
    np.testing.assert_array_equal(
        np.array(doc["actions"]), np.array([ctrl.act(o) for o in np.array(doc["obs"])])
    )
    expected = run_episodes("InvertedPendulum-v5", ctrl.act_batch, 3, 0, engine="gym")
    assert [e["return"] for e in doc["episodes"]] == expected.returns
    assert [e["steps"] for e in doc["episodes"]] == expected.lengths


def test_keys_in_the_window(xdisplay: str, tmp_path: Path) -> None:
    """Real key presses (XTEST, through xdotool): Backspace starts seed 1 where env.reset(seed=1)
    starts (not at the viewer's own reset pose), Enter switches to sampled actions, Space
    pauses (the window stops changing, step counter included)."""
    xdotool = _tool_or_skip("xdotool", package="xdotool")
    record = tmp_path / "record.json"
    args = ["panda-reach", "--speed", "0.25", "--max-seconds", "12", "--record", str(record)]
    proc = _view(args, xdisplay)
    _wait_for_window(proc, xdisplay)

    def press(key: str) -> None:
        # no window manager: the keyboard goes to the window under the pointer
        env = {**os.environ, "DISPLAY": xdisplay}
        subprocess.run([xdotool, "mousemove", "400", "300", "key", key], env=env, check=True)
        time.sleep(1.0)

    press("BackSpace")
    press("Return")
    press("space")
    time.sleep(1.0)  # let the window draw the paused state
    paused = _grab(xdisplay)
    time.sleep(1.0)
    np.testing.assert_array_equal(_grab(xdisplay), paused)
    _, err = proc.communicate()
    assert proc.returncode == 0, err

    doc = _record(record)
    first, second = doc["episodes"]
    assert (first["seed"], first["complete"], second["seed"]) == (0, False, 1)
    assert 0 < first["steps"] < 150  # cut short by Backspace
    obs, actions = np.array(doc["obs"]), np.array(doc["actions"])
    assert len(obs) == first["steps"] + second["steps"]  # one action per env step, no other
    model, data = task_model("panda-reach")
    np.testing.assert_array_equal(obs[first["steps"]], reset_data("panda-reach", model, data, 1))
    # mean actions until Enter, then the seeded sampling controller's, in order
    switch = doc["sampled"].index(True)
    assert first["steps"] < switch < len(obs)
    assert doc["sampled"] == [False] * switch + [True] * (len(obs) - switch)
    mean = Controller.load("panda-reach", safety=False)
    sampled = Controller.load("panda-reach", stochastic=True, seed=0, safety=False)
    expected = [mean.act(o) for o in obs[:switch]] + [sampled.act(o) for o in obs[switch:]]
    np.testing.assert_array_equal(actions, np.array(expected))


def test_without_a_display_one_sentence_and_exit_2() -> None:
    proc = _view(["reacher"], display=None)
    out, err = proc.communicate(timeout=120)
    assert out == ""
    assert proc.returncode == 2
    assert " ".join(err.split()) == (
        "error: robopg view needs a display and none is usable here (DISPLAY and "
        "WAYLAND_DISPLAY are unset); write a video instead with `robopg render reacher`."
    )


@pytest.mark.parametrize("mujoco_gl", ["bogus", "egl"])
def test_mujoco_gl_cannot_stop_the_viewer(xdisplay: str, mujoco_gl: str) -> None:
    """MUJOCO_GL chooses an offscreen backend; the viewer's window is GLFW's, so a bad or
    offscreen value neither stops it nor turns into a traceback, with a display or without."""
    proc = _view(["reacher", "--episodes", "1", "--speed", "8"], xdisplay, mujoco_gl)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert "episode seed 0: return" in out
    bare = _view(["reacher"], display=None, mujoco_gl=mujoco_gl)
    _, err = bare.communicate(timeout=120)
    assert bare.returncode == 2
    assert " ".join(err.split()).startswith("error: robopg view needs a display")


def test_unreachable_display_one_sentence_and_exit_2() -> None:
    proc = _view(["reacher"], display=":65123")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    message = " ".join(err.split())
    assert message.startswith(
        "error: robopg view needs a display and none is usable here (GLFW cannot open a window:"
    )
    assert message.endswith("write a video instead with `robopg render reacher`.")
    assert "Traceback" not in err


def test_bad_speed_is_refused_before_any_window() -> None:
    proc = _view(["reacher", "--speed", "0"], display=None)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert " ".join(err.split()) == "error: --speed must be a positive number, got 0."


def test_keys() -> None:
    controls = Controls(speed=1.0)
    controls.on_key(KEY_SPACE)
    assert controls.paused
    controls.on_key(KEY_SPACE)
    assert not controls.paused
    controls.on_key(KEY_MINUS)
    controls.on_key(KEY_MINUS)
    assert controls.speed == 0.25
    controls.on_key(KEY_EQUAL)
    controls.on_key(KEY_KP_ADD)
    controls.on_key(KEY_KP_ADD)
    assert controls.speed == 2.0
    for _ in range(10):
        controls.on_key(KEY_KP_ADD)
    assert controls.speed == SPEED_MAX
    for _ in range(20):
        controls.on_key(KEY_MINUS)
    assert controls.speed == SPEED_MIN
    controls.on_key(KEY_ENTER)
    assert controls.stochastic
    controls.on_key(KEY_ENTER)
    assert not controls.stochastic
    # a one-shot request: taken once per press
    assert not controls.take_step_once()
    controls.on_key(KEY_RIGHT)
    assert controls.take_step_once()
    assert not controls.take_step_once()
    # Backspace is the viewer's own reset (see viewer_reset); letters are its visualisation
    # toggles: both leave the controls alone
    controls.on_key(259)
    controls.on_key(ord("S"))
    assert (controls.paused, controls.stochastic, controls.speed) == (False, False, SPEED_MIN)
    assert not controls.take_step_once()


def test_viewer_reset_is_seen_in_the_data() -> None:
    import mujoco

    model, data = task_model("panda-reach")
    reset_data("panda-reach", model, data, 4)
    left = (data.time, data.qpos.copy())
    assert not viewer_reset(data, *left)  # nothing happened
    mujoco.mj_resetData(model, data)  # Backspace at the very start of an episode
    assert viewer_reset(data, *left)
    reset_data("panda-reach", model, data, 4)
    mujoco.mj_step(model, data, nstep=8)
    left = (data.time, data.qpos.copy())
    assert not viewer_reset(data, *left)
    mujoco.mj_step(model, data)  # an env step moves on: not a reset
    assert not viewer_reset(data, *left)
    mujoco.mj_resetData(model, data)  # Backspace mid-episode
    assert viewer_reset(data, *left)
