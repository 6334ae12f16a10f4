"""Watch a policy act live in MuJoCo's interactive viewer: the ``robopg view`` command.

The policy drives the arm the way a deployment does: ``Controller`` (numpy, no torch) inside a
MuJoCo control callback installed by ``Attachment`` (what ``Controller.attach`` returns), under
plain ``mujoco.mj_step``. What you watch is therefore what ``attach()`` does on a robot's
simulator, not a re-implementation; the episode starts where ``env.reset(seed)`` would
(``mujoco_control.reset_data``) and its reward is the task's own (``ArmTask.reward``), so the
return shown is the one ``robopg eval`` reports for that seed: bit for bit on robopg's own arms,
to the rounding of the action on reacher and pusher (``attach()`` applies gymnasium's float64
actions there, the batched engine float32 ones). A gymnasium MuJoCo task without an
``ArmTask`` (Hopper-v5, …) has no callback path; it is stepped through its gymnasium env, with
the same ``Controller.act``.

``mujoco.viewer.launch_passive`` owns the window and renders on its own thread; this module's
loop steps the physics, keeps simulated time in step with the wall clock (times ``speed``; it
steps several env steps per frame when drawing is slow) and hands each new state to the viewer
with ``sync``. Keys (read by the viewer's ``key_callback`` on its thread, applied by the loop):

- Space: pause / resume; → (right arrow): one env step while paused;
- Backspace: the next episode (seed + 1). Backspace is the viewer's own reset (the model's home
  pose); the loop sees it in the data after the ``sync`` that applied it (``viewer_reset``) and
  puts the data where the next seed's episode starts;
- Enter: switch between the mean action (deterministic) and sampled actions (stochastic);
- ``-`` / ``=`` (or keypad − / +): half / double speed (1/32× to 8×).

Letters are not used: the viewer binds every letter to a visualisation toggle already.

Without a display (no ``DISPLAY``/``WAYLAND_DISPLAY``, or GLFW cannot open a window there, which
is probed in a subprocess because ``launch_passive`` waits forever when its thread fails) the
command says so in one sentence and points at ``robopg render``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from robopg.deploy.controller import Controller
from robopg.errors import EnvError, RenderError

# GLFW key codes, which MuJoCo's viewer passes to key_callback (mjKEY_* equal them).
KEY_SPACE = 32
KEY_MINUS = 45
KEY_EQUAL = 61
KEY_ENTER = 257
KEY_RIGHT = 262
KEY_KP_SUBTRACT = 333
KEY_KP_ADD = 334
KEY_KP_ENTER = 335

SPEED_MIN, SPEED_MAX = 1.0 / 32.0, 8.0
MAX_LAG_S = 0.5  # wall seconds the simulation may fall behind before the clock is re-anchored
PAUSED_FRAME_S = 1.0 / 60.0
PROBE_TIMEOUT_S = 30.0
# the viewer's font is ASCII only
KEYS_HELP = "Space pause | Right: one step | Backspace next seed | Enter mean/sampled | -/= speed"


@dataclass
class ViewOptions:
    """What ``robopg view`` was asked for.

    ``episodes`` 0 means until the window is closed; ``max_seconds`` (wall clock, None: no limit),
    ``screenshot`` (a PNG of the screen at the end) and ``record`` (JSON of every observation and
    action the policy saw and gave) exist so that a test can run the viewer unattended.
    """

    seed: int = 0
    episodes: int = 0
    stochastic: bool = False
    speed: float = 1.0
    max_seconds: float | None = None
    screenshot: Path | None = None
    record: Path | None = None
    safety: bool = False  # act through the deployment safety layer (robopg.deploy.safety)


@dataclass(frozen=True)
class EpisodeResult:
    """One finished (or cut short) episode."""

    seed: int
    ret: float
    steps: int
    complete: bool  # False: the viewer was closed (or time ran out) before its last step
    stochastic: bool  # the mode at its last step (Enter switches it mid-episode)

    def summary(self) -> str:
        mode = "sampled" if self.stochastic else "mean action"
        cut = "" if self.complete else " (stopped early)"
        return f"seed {self.seed}: return {self.ret:.3f} over {self.steps} steps, {mode}{cut}"


@dataclass
class Controls:
    """The keyboard's effect: written by the viewer's thread (``on_key``), read by the loop.

    Every field is a plain value replaced whole, so the loop reads consistent values without a
    lock; ``take_step_once`` clears the one-shot request under the lock so no press is lost.
    """

    speed: float = 1.0
    paused: bool = False
    stochastic: bool = False
    _step_once: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def on_key(self, key: int) -> None:
        """The viewer's ``key_callback``: one key press (a GLFW key code)."""
        with self._lock:
            if key == KEY_SPACE:
                self.paused = not self.paused
            elif key == KEY_RIGHT:
                self._step_once = True
            elif key in (KEY_ENTER, KEY_KP_ENTER):
                self.stochastic = not self.stochastic
            elif key in (KEY_MINUS, KEY_KP_SUBTRACT):
                self.speed = max(SPEED_MIN, self.speed / 2.0)
            elif key in (KEY_EQUAL, KEY_KP_ADD):
                self.speed = min(SPEED_MAX, self.speed * 2.0)

    def take_step_once(self) -> bool:
        with self._lock:
            asked, self._step_once = self._step_once, False
            return asked


class LivePolicy:
    """The policy the callback calls: ``Controller.act`` of the mean or the sampling controller.

    Satisfies ``mujoco_control.ActsOnTask``. ``last`` is its latest (obs, action, sampled):
    (obs_dim,) and (act_dim,) float64, recorded after each env step (``--record``) so that a test
    can check that what the viewer applied is ``Controller.act`` of what it observed.
    """

    def __init__(self, mean: Controller, sampled: Controller, controls: Controls) -> None:
        self.mean = mean
        self.sampled = sampled
        self.controls = controls
        self.last: tuple[np.ndarray, np.ndarray, bool] | None = None

    @property
    def task(self) -> str:
        return self.mean.task

    @property
    def act_dim(self) -> int:
        return self.mean.act_dim

    def act(self, obs: np.ndarray) -> np.ndarray:
        stochastic = self.controls.stochastic
        action = (self.sampled if stochastic else self.mean).act(obs)
        self.last = (np.array(obs, dtype=np.float64), np.array(action), stochastic)
        return action


class Episodes(Protocol):
    """One task's physics under the policy: the arm tasks' callback path or a gymnasium env."""

    model: Any
    data: Any
    dt: float  # simulated seconds per env step

    def reset(self, seed: int) -> None:
        """Start the episode ``env.reset(seed=seed)`` starts."""
        ...

    def step(self) -> tuple[float, bool]:
        """One env step under the policy: (reward, episode over)."""
        ...

    def end_episode(self) -> None:
        """Stop acting until the next ``reset`` (the viewer may reset the data meanwhile)."""
        ...

    def close(self) -> None: ...


class ArmEpisodes:
    """An arm task of robopg's table on a plain MjData, driven by ``Attachment``'s callback.

    Each episode starts as ``mujoco_control`` documents: ``reset_data`` first, then a fresh
    ``Attachment`` (what ``Controller.attach`` returns), because the callback counts its calls to
    know when an action is due and every ``mj_forward`` made while it is installed is a call.
    """

    def __init__(self, policy: LivePolicy) -> None:
        import mujoco

        from robopg.deploy.mujoco_control import arm_class, task_model

        self._mujoco = mujoco
        self.policy = policy
        self.model, self.data = task_model(policy.task)
        self.arm = arm_class(policy.task)(self.model)
        self.dt = float(self.model.opt.timestep) * self.arm.frame_skip
        self._steps = 0
        self._attachment: Any = None

    def reset(self, seed: int) -> None:
        from robopg.deploy.mujoco_control import Attachment, reset_data

        self.end_episode()
        reset_data(self.policy.task, self.model, self.data, seed)
        # Controller.attach, with the recording wrapper in the controller's place
        self._attachment = Attachment(self.policy, self.model, self.data)
        self._steps = 0

    def step(self) -> tuple[float, bool]:
        self._mujoco.mj_step(self.model, self.data, nstep=self.arm.frame_skip)
        self._steps += 1
        # the engine's reward: body positions right after mj_step, the action as float32
        xpos = np.asarray(self.data.xpos)[None]
        action = np.asarray(self.data.ctrl, dtype=np.float32)[None]
        reward = float(self.arm.reward(xpos, action)[0])
        over = bool(self.arm.terminated(xpos)[0]) or self._steps >= self.arm.max_episode_steps
        return reward, over

    def end_episode(self) -> None:
        if self._attachment is not None:
            self._attachment.detach()
            self._attachment = None

    def close(self) -> None:
        self.end_episode()


class GymEpisodes:
    """A gymnasium MuJoCo env without an ``ArmTask``: ``env.step(Controller.act(obs))``."""

    def __init__(self, policy: LivePolicy, gym_id: str) -> None:
        import gymnasium as gym

        try:
            self.env = gym.make(gym_id)
        except gym.error.Error as exc:
            raise EnvError(f"Could not create gymnasium env '{gym_id}': {exc}") from exc
        unwrapped = self.env.unwrapped
        if not hasattr(unwrapped, "model") or not hasattr(unwrapped, "data"):
            self.env.close()
            raise RenderError(
                f"'{gym_id}' is not a MuJoCo env; robopg view shows MuJoCo tasks only."
            )
        self.policy = policy
        self.model, self.data = unwrapped.model, unwrapped.data
        self.dt = float(getattr(unwrapped, "dt", self.model.opt.timestep))
        self._obs = np.zeros(0)

    def reset(self, seed: int) -> None:
        obs, _ = self.env.reset(seed=seed)
        self._obs = np.asarray(obs, dtype=np.float64).reshape(-1)

    def step(self) -> tuple[float, bool]:
        action = self.policy.act(self._obs)
        obs, reward, terminated, truncated, _ = self.env.step(action.astype(np.float32))
        self._obs = np.asarray(obs, dtype=np.float64).reshape(-1)
        return float(reward), bool(terminated or truncated)

    def end_episode(self) -> None:
        pass  # the env acts only when stepped

    def close(self) -> None:
        self.env.close()


def make_episodes(policy: LivePolicy) -> Episodes:
    """The arm tasks run through ``attach()``; any other task through its gymnasium env."""
    from robopg.envs import resolve_task

    spec = resolve_task(policy.task)
    if spec.arm is not None:
        return ArmEpisodes(policy)
    return GymEpisodes(policy, spec.gym_id)


# ------------------------------------------------------------------------------------ display
_PROBE = """
import sys, glfw
glfw.ERROR_REPORTING = "ignore"
def fail(what):
    why = glfw.get_error()[1]
    print(why.decode(errors="replace") if why else what, file=sys.stderr)
    sys.exit(1)
if not glfw.init():
    fail("glfw.init failed")
glfw.window_hint(glfw.VISIBLE, glfw.FALSE)
w = glfw.create_window(64, 64, "robopg probe", None, None)
if not w:
    fail("glfw.create_window failed")
glfw.destroy_window(w)
glfw.terminate()
print("ok")
"""


def display_problem(timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """Why no viewer window can open here, or None when one can.

    ``launch_passive`` creates its window on a thread of its own and blocks until that thread
    reports back, so a GLFW failure there hangs the caller; a subprocess asks GLFW first.
    """
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "DISPLAY and WAYLAND_DISPLAY are unset"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return f"opening a window timed out after {timeout:.0f} s"
    if proc.returncode == 0 and proc.stdout.strip().endswith("ok"):
        return None
    lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
    reason = lines[-1] if lines else f"exit code {proc.returncode}"
    return f"GLFW cannot open a window: {reason.rstrip('.')}"


def require_display(source: str) -> None:
    """Raise the one-sentence RenderError when no window can open (see ``display_problem``)."""
    why = display_problem()
    if why is not None:
        raise RenderError(
            f"robopg view needs a display and none is usable here ({why}); write a video "
            f"instead with `robopg render {source}`."
        )


# ---------------------------------------------------------------------------------- the loop
def overlay_texts(
    task: str, seed: int, step: int, ret: float, controls: Controls
) -> list[tuple[Any, Any, str, str]]:
    """(font, grid position, left column, right column) boxes for ``Handle.set_texts``."""
    import mujoco

    mode = "sampled" if controls.stochastic else "mean action"
    speed = f"{controls.speed:g}x" + ("  PAUSED" if controls.paused else "")
    status = (
        mujoco.mjtFontScale.mjFONTSCALE_150,
        mujoco.mjtGridPos.mjGRID_TOPLEFT,
        "task\nseed\nstep\nreturn\npolicy\nspeed",
        f"{task}\n{seed}\n{step}\n{ret:.3f}\n{mode}\n{speed}",
    )
    keys = (
        mujoco.mjtFontScale.mjFONTSCALE_100,
        mujoco.mjtGridPos.mjGRID_BOTTOMLEFT,
        KEYS_HELP,
        "",
    )
    return [status, keys]


class _Clock:
    """Simulated time against the wall clock: how many env steps are due now.

    When drawing is slow, several env steps are due per frame, so the motion stays in real time
    at a low frame rate. The anchor moves on pause and speed changes, and when the simulation
    falls more than ``MAX_LAG_S`` behind (a stall): it then resumes from where it is rather than
    racing to catch up.
    """

    def __init__(self, dt: float, speed: float) -> None:
        self.dt = dt
        self.speed = speed
        self.anchor(0)

    def anchor(self, steps_done: int) -> None:
        self._wall0 = time.perf_counter()
        self._steps0 = steps_done

    def due(self, steps_done: int) -> int:
        """Env steps to take now so that simulated time catches up with the wall clock."""
        elapsed = (time.perf_counter() - self._wall0) * self.speed
        behind = elapsed - (steps_done - self._steps0) * self.dt
        most = max(1, math.ceil(MAX_LAG_S * self.speed / self.dt))
        due = max(0, math.floor(behind / self.dt + 1e-9))
        if due > most:
            self.anchor(steps_done + most)  # as if these steps had been on time
            return most
        return due

    def wait(self, steps_done: int) -> float:
        """Wall seconds until the next env step is due."""
        next_at = self._wall0 + (steps_done + 1 - self._steps0) * self.dt / self.speed
        return max(0.0, next_at - time.perf_counter())


@dataclass
class ViewResult:
    """Finished episodes, and how many frames were handed to the viewer."""

    episodes: list[EpisodeResult]
    frames: int
    log: list[tuple[np.ndarray, np.ndarray, bool]] = field(default_factory=list)


def view_policy(
    source: str,
    options: ViewOptions,
    on_episode: Callable[[EpisodeResult], None] | None = None,
) -> ViewResult:
    """Open the viewer on a run directory, checkpoint or task name (its shipped policy) and let
    the policy act until the window closes, ``options.episodes`` end or time runs out."""
    from robopg.runs.run_dir import resolve_policy_path

    if options.speed <= 0 or not math.isfinite(options.speed):
        raise RenderError(f"--speed must be a positive number, got {options.speed:g}.")
    if options.episodes < 0:
        raise RenderError(f"--episodes must be 0 (forever) or more, got {options.episodes}.")
    path = resolve_policy_path(source)
    if options.screenshot is not None:
        _check_png_path(options.screenshot)
    require_display(source)

    controls = Controls(speed=min(SPEED_MAX, max(SPEED_MIN, options.speed)))
    controls.stochastic = options.stochastic
    # The raw policy by default, as `robopg eval` scores it; --safety shows the deployed layer.
    mean = Controller.load(path, safety=options.safety)
    sampled = Controller.load(path, stochastic=True, seed=options.seed, safety=options.safety)
    policy = LivePolicy(mean, sampled, controls)
    camera = _camera_config(mean.task)  # before attaching: MuJoCo has one control callback
    episodes = make_episodes(policy)
    try:
        result = _run(episodes, policy, controls, options, camera, on_episode)
    finally:
        episodes.close()
    if options.record is not None:
        _write_record(options.record, mean.task, result)
    return result


def viewer_reset(data: Any, left_time: float, left_qpos: np.ndarray) -> bool:
    """Whether the viewer's own reset (Backspace: ``mj_resetData``, time back to 0, the model's
    home pose) hit ``data`` in the last ``sync``, given the time and (nq,) qpos it was left at.

    Backspace is the viewer's key and its reset reaches the data in whichever ``sync`` comes
    next, so the loop looks at the data rather than at the key to start the next seed.
    """
    if data.time < left_time:
        return True
    return bool(left_time == 0.0 and data.time == 0.0 and not np.array_equal(data.qpos, left_qpos))


def _run(
    episodes: Episodes,
    policy: LivePolicy,
    controls: Controls,
    options: ViewOptions,
    camera: dict[str, Any],
    on_episode: Callable[[EpisodeResult], None] | None,
) -> ViewResult:
    import mujoco.viewer

    seed = options.seed
    before = set(threading.enumerate())
    handle = mujoco.viewer.launch_passive(
        episodes.model,
        episodes.data,
        key_callback=controls.on_key,
        show_left_ui=False,
        show_right_ui=False,
    )
    viewer_threads = [t for t in threading.enumerate() if t not in before]
    episodes.reset(seed)  # after launch_passive, whose mj_forward would count as a callback call
    halo = TargetHalo.of(episodes.model)
    with handle.lock():
        for key, value in camera.items():
            if isinstance(value, np.ndarray):
                getattr(handle.cam, key)[:] = value
            else:
                setattr(handle.cam, key, value)
    done: list[EpisodeResult] = []
    log: list[tuple[np.ndarray, np.ndarray, bool]] = []
    frames, steps, ret = 0, 0, 0.0
    clock = _Clock(episodes.dt, controls.speed)
    start = time.perf_counter()

    def show() -> None:
        handle.set_texts(overlay_texts(policy.task, seed, steps, ret, controls))
        if halo is not None:
            halo.draw(handle, episodes.data)
        handle.sync()

    try:
        while handle.is_running():
            if (
                options.max_seconds is not None
                and time.perf_counter() - start >= options.max_seconds
            ):
                break
            if controls.speed != clock.speed or controls.paused:
                clock.speed = controls.speed
                clock.anchor(steps)
            todo = 0 if controls.paused else clock.due(steps)
            if controls.take_step_once() and controls.paused:
                todo = 1
            over = False
            for _ in range(todo):
                reward, over = episodes.step()
                steps, ret = steps + 1, ret + reward
                if options.record is not None and policy.last is not None:
                    log.append(policy.last)
                if over:
                    break
            left_time, left_qpos = float(episodes.data.time), np.array(episodes.data.qpos)
            show()
            frames += 1
            if over or viewer_reset(episodes.data, left_time, left_qpos):
                result = EpisodeResult(seed, ret, steps, over, controls.stochastic)
                done.append(result)
                if on_episode is not None:
                    on_episode(result)
                if options.episodes and len(done) >= options.episodes:
                    break
                seed, steps, ret = seed + 1, 0, 0.0
                episodes.reset(seed)
                clock.anchor(steps)
                show()
            pause = PAUSED_FRAME_S if controls.paused else clock.wait(steps)
            time.sleep(min(pause, PAUSED_FRAME_S * 4))
        if steps and (not done or done[-1].seed != seed):
            cut = EpisodeResult(seed, ret, steps, False, controls.stochastic)
            done.append(cut)
            if on_episode is not None:
                on_episode(cut)
        if options.screenshot is not None:
            handle.sync()
            _grab_screen(options.screenshot, handle.viewport)
    except KeyboardInterrupt:
        pass  # Ctrl-C in the terminal closes the viewer like its window's close button
    finally:
        handle.close()
        for thread in viewer_threads:  # the viewer must be gone before the interpreter exits
            thread.join(timeout=10.0)
    return ViewResult(done, frames, log)


@dataclass(frozen=True)
class TargetHalo:
    """A translucent sphere around the task's target, drawn in the viewer's user scene.

    The target is in the scene already (a sphere on a mocap body ``target`` or ``goal``), but a
    policy that reaches it hides it inside the hand or under the puck; the halo, 3 times its
    radius, stays visible around them.
    """

    body: int
    radius: float
    rgba: tuple[float, float, float, float]

    @classmethod
    def of(cls, model: Any) -> TargetHalo | None:
        """The halo of a model's target sphere, or None if it has none (e.g. Hopper)."""
        import mujoco

        sphere = mujoco.mjtGeom.mjGEOM_SPHERE
        for name in ("target", "goal"):
            body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)
            for geom in range(model.ngeom):
                if (
                    body >= 0
                    and model.geom_bodyid[geom] == body
                    and model.geom_type[geom] == sphere
                ):
                    r, g, b, _ = (float(c) for c in model.geom_rgba[geom])
                    return cls(body, 3.0 * float(model.geom_size[geom][0]), (r, g, b, 0.4))
        return None

    def draw(self, handle: Any, data: Any) -> None:
        """Put the halo at the target's current position (it moves on reset, or when dragged)."""
        import mujoco

        scene = handle.user_scn
        if scene is None:
            return
        with handle.lock():
            mujoco.mjv_initGeom(
                scene.geoms[0],
                type=mujoco.mjtGeom.mjGEOM_SPHERE,
                size=np.array([self.radius, 0.0, 0.0]),
                pos=np.array(data.xpos[self.body]),
                mat=np.eye(3).reshape(-1),
                rgba=np.array(self.rgba, dtype=np.float32),
            )
            scene.ngeom = 1


def _camera_config(task: str) -> dict[str, Any]:
    """The env's own camera settings where gymnasium defines them (as ``robopg render``)."""
    from robopg.envs import resolve_task
    from robopg.render.scenes import default_camera_config

    return default_camera_config(resolve_task(task).gym_id) or {}


# ------------------------------------------------------------------------------------- files
def _check_png_path(path: Path) -> None:
    if path.suffix.lower() != ".png":
        raise RenderError(f"--screenshot writes a PNG; give a name ending in .png, not '{path}'.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RenderError(f"Cannot write '{path}': {exc.strerror or exc}.") from None


def _atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RenderError(f"Cannot write '{path}': {exc.strerror or exc}.") from None


def _grab_screen(path: Path, viewport: Any, settle_s: float = 10.0) -> None:
    """A PNG of the screen's top-left ``viewport``-sized corner: the viewer's window where no
    window manager places it elsewhere, as under Xvfb (the whole screen if the size is unknown).

    The viewer draws on its own thread, possibly well behind the last ``sync`` on a slow
    software renderer, so the screen is grabbed until it has not changed for 0.8 s (the last
    state is drawn), for at most ``settle_s`` seconds.
    """
    try:
        from PIL import ImageGrab
    except ImportError:
        raise RenderError(
            "--screenshot needs Pillow; install it with pip install 'robopg[video]'."
        ) from None
    crop = None
    if viewport is not None and viewport.width > 0 and viewport.height > 0:
        crop = (0, 0, viewport.width, viewport.height)

    def grab() -> Any:
        image = ImageGrab.grab(xdisplay=os.environ.get("DISPLAY"))
        return image.crop(crop) if crop else image

    deadline = time.perf_counter() + settle_s
    final, same = grab(), 0
    while same < 2 and time.perf_counter() < deadline:
        time.sleep(0.4)
        image = grab()
        same = same + 1 if image.tobytes() == final.tobytes() else 0
        final = image
    _atomic_write(path, lambda tmp: final.save(tmp, format="PNG"))


def _write_record(path: Path, task: str, result: ViewResult) -> None:
    """JSON of the run: episodes, frames and every (obs, action, sampled) the policy saw."""
    doc = {
        "task": task,
        "frames": result.frames,
        "episodes": [
            {
                "seed": e.seed,
                "return": e.ret,
                "steps": e.steps,
                "complete": e.complete,
                "stochastic": e.stochastic,
            }
            for e in result.episodes
        ],
        "obs": [o.tolist() for o, _, _ in result.log],
        "actions": [a.tolist() for _, a, _ in result.log],
        "sampled": [s for _, _, s in result.log],
    }
    _atomic_write(path, lambda tmp: tmp.write_text(json.dumps(doc)))
