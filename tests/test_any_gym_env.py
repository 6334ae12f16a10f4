"""Any gymnasium env from any package: ``module:EnvId`` tasks and Dict observations.

Toy envs (``tests/helpers/toy_dict_envs.py``) give hand-computed flattening and the refusals;
gymnasium-robotics' PointMaze (extra ``robopg[robot]``, in ``dev``) is trained through the CLI,
then evaluated, rendered, exported and driven through a ``Controller`` fed dicts.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from safetensors import safe_open
from typer.testing import CliRunner

from robopg.cli import app
from robopg.config import TrainConfig
from robopg.deploy.controller import Controller
from robopg.deploy.evaluate import evaluate_saved_policy
from robopg.deploy.export import export_policy
from robopg.envs import make_vector_env, resolve_task
from robopg.envs.gym_vector import GymVectorEnv
from robopg.errors import CheckpointError, EnvError
from robopg.render import RenderSettings
from robopg.render.rollouts import render_policy
from robopg.runs.format import read_obs_keys
from robopg.train.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
HELPERS = Path(__file__).resolve().parent / "helpers"
TOY = "toy_dict_envs:ToyDict-v0"
MAZE = "gymnasium_robotics:PointMaze_UMazeDense-v3"
MAZE_KEYS = [
    {"key": "achieved_goal", "shape": [2]},
    {"key": "desired_goal", "shape": [2]},
    {"key": "observation", "shape": [4]},
]


def _robopg(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m robopg ...`` in a fresh process (so ``module:`` imports really happen)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HELPERS)])}
    return subprocess.run(
        [sys.executable, "-m", "robopg", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------------- module:EnvId and refusals
def test_module_env_id_names_the_task_with_the_whole_string() -> None:
    spec = resolve_task(TOY)
    assert (spec.name, spec.gym_id, spec.engines) == (TOY, TOY, ("gym",))
    assert "ToyDict-v0" in gym.registry  # the module was imported and registered it


def test_module_form_of_our_own_id_is_our_task() -> None:
    assert resolve_task("robopg.envs:robopg/Reacher3-v0").name == "reacher3"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "no_such_pkg_xyz:Foo-v0",
            "Cannot import 'no_such_pkg_xyz' for the env 'Foo-v0' (No module named "
            "'no_such_pkg_xyz'); install the package that provides it",
        ),
        ("toy_dict_envs:Nope-v0", "Importing 'toy_dict_envs' registered no env 'Nope-v0'"),
        ("a:b:c", "'a:b:c' has more than one ':'; write a third-party env as module:EnvId"),
    ],
)
def test_bad_module_env_ids_are_one_sentence(name: str, message: str) -> None:
    with pytest.raises(EnvError) as err:
        resolve_task(name)
    assert message in str(err.value)


def test_gym_backend_flattens_a_dict_in_sorted_key_order() -> None:
    """Leaves goal (1, 2) = [[1, 2]], position = x, velocity = last action: [1, 2, x, v]."""
    env = make_vector_env(TOY, 2)
    assert isinstance(env, GymVectorEnv) and env.obs_layout is not None
    assert env.obs_layout.keys == ("goal", "position", "velocity")
    assert env.obs_layout.describe() == "goal (1×2), position (1), velocity (1)"
    assert env.obs_dim == 4
    np.testing.assert_array_equal(env.reset(seed=5), [[1, 2, 5, 0], [1, 2, 6, 0]])
    actions = np.array([[0.5], [-1.0]])
    res = env.step(actions)
    np.testing.assert_array_equal(res.obs, [[1, 2, 5.5, 0.5], [1, 2, 5, -1]])
    np.testing.assert_array_equal(res.reward, [-4.5, -4.0])
    env.step(actions)
    res = env.step(actions)  # the third step ends both episodes (time limit 3)
    assert res.truncated.all()
    np.testing.assert_array_equal(res.final_obs, [[1, 2, 6.5, 0.5], [1, 2, 3, -1]])
    np.testing.assert_array_equal(res.obs, [[1, 2, 0, 0], [1, 2, 0, 0]])  # reset, seed None
    env.close()


def test_layout_flattens_as_gymnasium_does() -> None:
    env = make_vector_env(TOY, 1)
    assert isinstance(env, GymVectorEnv) and env.obs_layout is not None
    space = gym.make(TOY).observation_space
    rng = np.random.default_rng(0)
    obs = {k: rng.normal(size=s.shape) for k, s in space.spaces.items()}
    np.testing.assert_array_equal(env.obs_layout.flatten(obs), gym.spaces.flatten(space, obs))
    env.close()


@pytest.mark.parametrize(
    ("env_id", "message"),
    [
        (
            "toy_dict_envs:ToyDiscreteAction-v0",
            "Env 'toy_dict_envs:ToyDiscreteAction-v0' has a Discrete action space; robopg's "
            "Gaussian policies need a Box (continuous) action space.",
        ),
        (
            "toy_dict_envs:ToyDiscreteLeaf-v0",
            "Env 'toy_dict_envs:ToyDiscreteLeaf-v0' has a Dict observation whose entries "
            "'mode' (Discrete) are not Box spaces; robopg flattens a Dict of Boxes only.",
        ),
    ],
)
def test_unsupported_spaces_are_one_sentence(env_id: str, message: str) -> None:
    with pytest.raises(EnvError) as err:
        make_vector_env(env_id, 2)
    assert str(err.value) == message


def test_cli_refuses_an_unsupported_space_with_exit_2() -> None:
    result = CliRunner().invoke(
        app, ["train", "toy_dict_envs:ToyDiscreteLeaf-v0", "--steps", "100"]
    )
    assert result.exit_code == 2, result.output
    out = _one_line(result.output)
    assert "'mode' (Discrete) are not Box spaces; robopg flattens a Dict of Boxes only." in out
    assert "Traceback" not in out


# ------------------------------------------------------------------------ the checkpoint field
def test_obs_keys_header_is_optional_and_checked() -> None:
    assert read_obs_keys({"net": {"obs_dim": 10}}, "x") is None  # every older checkpoint
    entries = read_obs_keys({"obs_keys": MAZE_KEYS, "net": {"obs_dim": 8}}, "x")
    assert entries == [("achieved_goal", (2,)), ("desired_goal", (2,)), ("observation", (4,))]
    with pytest.raises(CheckpointError, match="corrupt 'obs_keys' header"):
        read_obs_keys({"obs_keys": [{"key": 3}]}, "x")
    with pytest.raises(CheckpointError, match="flattens its dict observation to 8 numbers but"):
        read_obs_keys({"obs_keys": MAZE_KEYS, "net": {"obs_dim": 9}}, "x")


def test_a_flat_policy_refuses_a_dict() -> None:
    ctrl = Controller.load("reacher")  # shipped, written before the field existed
    assert ctrl.obs_layout is None
    with pytest.raises(ValueError, match="trained on flat observations; pass an array of shape"):
        ctrl.act({"observation": np.zeros(10)})


def test_controller_of_a_dict_policy_takes_dicts(tmp_path: Path) -> None:
    cfg = TrainConfig().updated(
        {
            "env": TOY,
            "steps": 24,
            "num_envs": 2,
            "steps_per_batch": 12,
            "final_eval_episodes": 2,
            "out": str(tmp_path),
        },
        "test",
    )
    result = Trainer(cfg, show_progress=False).train()
    ctrl = Controller.load(result.final_checkpoint)
    assert ctrl.task == TOY
    assert ctrl.obs_layout is not None and ctrl.obs_layout.keys == ("goal", "position", "velocity")
    obs = {"velocity": np.array([0.25]), "goal": np.array([[1.0, 2.0]]), "position": [3.0]}
    np.testing.assert_array_equal(ctrl.flatten(obs), [1.0, 2.0, 3.0, 0.25])
    np.testing.assert_array_equal(ctrl.act(obs), ctrl.act(np.array([1.0, 2.0, 3.0, 0.25])))
    batch = {
        "velocity": [[0.25], [0.0]],
        "goal": [[[1.0, 2.0]], [[1.0, 2.0]]],
        "position": [[3], [4]],
    }
    flat = np.array([[1.0, 2.0, 3.0, 0.25], [1.0, 2.0, 4.0, 0.0]])
    np.testing.assert_array_equal(ctrl.act_batch(batch), ctrl.act_batch(flat))
    with pytest.raises(EnvError) as err:
        ctrl.act({"goal": np.array([[1.0, 2.0]]), "position": [3.0]})
    assert str(err.value) == (
        "The observation lacks 'velocity'; this policy takes a dict of goal (1×2), "
        "position (1), velocity (1)."
    )


# ------------------------------------------------------------- gymnasium-robotics' PointMaze
@pytest.fixture(scope="module")
def maze_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,400 steps of PointMaze (Dict observation) trained through the CLI."""
    out = tmp_path_factory.mktemp("maze")
    result = _robopg(
        "train", MAZE, "--steps", "2400", "--num-envs", "4", "--steps-per-batch", "1200",
        "--final-eval-episodes", "2", "--out", str(out), "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (run,) = out.iterdir()
    assert run.name.startswith("PointMaze_UMazeDense-v3-")  # no ':' in the folder name
    return run


def _dict_episode(ctrl: Controller, seed: int) -> tuple[float, list[np.ndarray]]:
    """One episode of a plain ``gym.make`` env, acting on its dict observations; returns the
    return and the flattened observations seen."""
    env = gym.make(MAZE)
    obs, _ = env.reset(seed=seed)
    total, seen, done = 0.0, [], False
    while not done:
        seen.append(ctrl.flatten(obs))
        action = ctrl.act(obs).astype(np.float32)  # the precision the vector env sends
        obs, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        done = terminated or truncated
    env.close()
    return total, seen


def test_maze_run_records_the_env_string_and_key_order(maze_run: Path) -> None:
    assert json.loads((maze_run / "config.json").read_text())["env"] == MAZE
    with safe_open(str(maze_run / "final.safetensors"), "numpy") as fh:
        meta = json.loads(fh.metadata()["robopg"])
    assert meta["task"] == MAZE
    assert meta["obs_keys"] == MAZE_KEYS
    assert meta["format_version"] == 1  # the field needs no new version


def test_maze_eval_re_imports_the_package_and_equals_a_dict_controller(maze_run: Path) -> None:
    result = _robopg("eval", str(maze_run), "--episodes", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    found = re.search(r"return (-?[\d.]+) ±", _one_line(result.stdout))
    assert found, result.stdout

    ctrl = Controller.load(maze_run)
    assert ctrl.obs_layout is not None
    assert ctrl.obs_layout.describe() == "achieved_goal (2), desired_goal (2), observation (4)"
    mine = [_dict_episode(ctrl, seed)[0] for seed in (0, 1)]
    _, task, scored = evaluate_saved_policy(maze_run, episodes=2, seed=0)
    assert task == MAZE
    np.testing.assert_allclose(scored.returns, mine, rtol=0, atol=1e-9)
    assert float(found.group(1)) == pytest.approx(np.mean(mine), abs=1e-3)


def test_maze_onnx_export_takes_the_flat_vector(maze_run: Path, tmp_path: Path) -> None:
    ctrl = Controller.load(maze_run)
    _, seen = _dict_episode(ctrl, seed=3)
    obs = np.array(seen[::10], dtype=np.float32)
    path = export_policy(maze_run, "onnx", tmp_path / "maze.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(["action"], {"obs": obs})[0]
    np.testing.assert_allclose(got, ctrl.act_batch(obs), atol=1e-5)
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert meta["robopg.obs_keys"] == "achieved_goal [2], desired_goal [2], observation [4]"
    assert meta["robopg.task"] == MAZE


def test_maze_renders_and_attach_says_it_is_for_our_arms(maze_run: Path, tmp_path: Path) -> None:
    probe = make_vector_env(MAZE, 1)
    assert isinstance(probe, GymVectorEnv)
    assert (probe.frame_skip, probe.dt) == (1, 0.01)  # PointMaze steps its inner point_env
    probe.close()
    settings = RenderSettings(width=64, height=64)
    rendered = render_policy(str(maze_run), tmp_path / "maze.png", episodes=1, settings=settings)
    ctrl = Controller.load(maze_run)
    assert rendered.returns == [pytest.approx(_dict_episode(ctrl, seed=0)[0], abs=1e-9)]
    assert (tmp_path / "maze.png").stat().st_size > 0

    env = gym.make(MAZE).unwrapped
    with pytest.raises(EnvError, match=f"attach\\(\\) supports the tasks .*'{MAZE}' has no"):
        ctrl.attach(env.model, env.data)  # type: ignore[attr-defined]


def test_only_envs_whose_state_we_know_are_snapshotted() -> None:
    """PointMaze keeps its goal outside MjData: a resume starts fresh episodes instead of a
    half-restored one; gymnasium's own MuJoCo envs still resume bit for bit."""
    maze, reacher = make_vector_env(MAZE, 1), make_vector_env("Reacher-v5", 1, engine="gym")
    assert maze.state_dict() is None
    state = reacher.state_dict()
    assert state is not None and state["gym.qpos"].shape == (1, 4)
    maze.close()
    reacher.close()
