"""Adding a task is one module plus its MJCF: a toy 1-link arm, written into a temporary package
that no file of robopg names, is registered by its module and trained, evaluated and deployed
through the public API."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

MJCF = """
<mujoco model="pointer">
  <option timestep="0.01"/>
  <worldbody>
    <body name="link" pos="0 0 0">
      <joint name="hinge" type="hinge" axis="0 0 1" damping="0.5"/>
      <geom type="capsule" fromto="0 0 0 0.2 0 0" size="0.02" mass="0.5"/>
      <body name="fingertip" pos="0.2 0 0"/>
    </body>
    <body name="target" mocap="true" pos="0.2 0 0"/>
  </worldbody>
  <actuator><motor joint="hinge" gear="1" ctrlrange="-1 1" ctrllimited="true"/></actuator>
</mujoco>
"""

MODULE = '''
"""pointer: one hinge turns a 0.2 m link's tip towards a random target on its circle."""

from pathlib import Path

import numpy as np

from robopg.envs import TaskSpec
from robopg.envs.batched import ReachTask


class PointerTask(ReachTask):
    name = "pointer"
    xml_path = Path(__file__).parent / "pointer.xml"
    frame_skip = 2
    max_episode_steps = 40
    obs_dim = 5
    reward_control_weight = 0.01

    def reset_state(self, rng):
        qpos = self.init_qpos + rng.uniform(-0.1, 0.1, size=1)
        angle = rng.uniform(-np.pi, np.pi)
        mocap = self.init_mocap_pos.copy()
        mocap[0, :2] = 0.2 * np.cos(angle), 0.2 * np.sin(angle)
        return qpos, self.init_qvel.copy(), mocap

    def observe(self, qpos, qvel, xpos):
        obs = np.empty((qpos.shape[0], 5))
        obs[:, 0:1], obs[:, 1:2], obs[:, 2:3] = np.cos(qpos), np.sin(qpos), qvel
        obs[:, 3:5] = xpos[:, self.fingertip, :2] - xpos[:, self.target, :2]
        return obs


SPEC = TaskSpec.of_arm(
    PointerTask, "toyarms/Pointer-v0", "a 1-link arm pointing at a target", registers_gym=True
)
'''


@pytest.fixture
def toy_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    pkg = tmp_path / "toyarms"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "pointer.py").write_text(textwrap.dedent(MODULE))
    (pkg / "pointer.xml").write_text(MJCF)
    monkeypatch.syspath_prepend(str(tmp_path))
    from robopg.envs import ARM_TASKS, TASKS

    tasks, arms = dict(TASKS), dict(ARM_TASKS)
    yield "toyarms.pointer"
    # leave the table and gymnasium's registry as they were, for the other tests
    TASKS.clear()
    TASKS.update(tasks)
    ARM_TASKS.clear()
    ARM_TASKS.update(arms)
    gym.registry.pop("toyarms/Pointer-v0", None)
    sys.modules.pop("toyarms.pointer", None)
    sys.modules.pop("toyarms", None)


def test_a_task_module_of_another_package_registers_trains_and_deploys(
    toy_package: str, tmp_path: Path
) -> None:
    from robopg.config import TrainConfig
    from robopg.deploy.controller import Controller
    from robopg.envs import TASKS, make_vector_env, register_task, resolve_task
    from robopg.train.trainer import Trainer

    spec = register_task(toy_package)
    assert register_task(toy_package) is spec  # idempotent
    assert resolve_task("pointer") is spec and TASKS["pointer"] is spec
    assert spec.engines == ("batch", "gym")  # no device twin named: no warp engine
    env = make_vector_env("pointer", 4, num_threads=1)
    obs = env.reset(0)
    assert obs.shape == (4, 5) and env.act_dim == 1
    env.close()
    single = gym.make("toyarms/Pointer-v0")  # its gymnasium id, from the spec
    assert single.observation_space.shape == (5,)
    single.close()

    cfg = TrainConfig(
        env="pointer", steps=4000, steps_per_batch=400, num_envs=4, final_eval_episodes=20,
        out=str(tmp_path / "runs"), eval_every=0,
    )  # fmt: skip
    result = Trainer(cfg, show_progress=False).train()
    assert result.final_checkpoint.exists()
    assert result.final_eval is not None and np.isfinite(result.final_eval.mean)
    ctrl = Controller.load(result.final_checkpoint)
    action = ctrl.act(np.zeros(5))
    assert ctrl.task == "pointer" and action.shape == (1,) and -1 <= action[0] <= 1


def test_a_module_without_a_spec_is_one_sentence(tmp_path: Path, monkeypatch) -> None:
    from robopg.envs import register_task
    from robopg.errors import EnvError

    (tmp_path / "nospec.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(EnvError, match=r"has no SPEC = TaskSpec.of_arm\(...\)"):
        register_task("nospec")
    with pytest.raises(EnvError, match="Cannot import task module 'no_such_module_here'"):
        register_task("no_such_module_here")
