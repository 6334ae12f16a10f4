"""Reacher-v5 (gymnasium's 2-link planar arm), restated as a batched ``ArmTask``.

The MJCF is gymnasium's own file, loaded from the installed gymnasium, so the physics cannot drift
from the reference. Reset distributions, observation layout, reward terms and weights, frame skip
and episode length are restated from the v5 definition and checked bit for bit against gymnasium
by the engine tests. Each reset draws from the env's own generator in exactly gymnasium's order
(arm noise, rejection-sampled goal, velocity noise), which is why resets loop over envs while
steps never do.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium.envs.mujoco as gym_mujoco
import numpy as np

from robopg.envs.batched import ReachTask, target_in_disc
from robopg.envs.spec import Parity, TaskSpec

GYM_ASSETS = Path(gym_mujoco.__file__).parent / "assets"


class ReacherTask(ReachTask):
    """Reacher-v5: a 2-link planar arm brings its fingertip to a random target.

    obs (10): cos θ (2), sin θ (2), target xy (2), θ̇ (2), (fingertip − target) xy (2).
    reward: −‖fingertip − target‖ − 1·‖a‖² (v5's code defaults). 50 steps, frame skip 2.
    """

    name = "reacher"
    xml_path = GYM_ASSETS / "reacher.xml"
    frame_skip = 2
    max_episode_steps = 50
    obs_dim = 10
    reward_dist_weight = 1
    reward_control_weight = 1

    def reset_state(
        self, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        qpos = rng.uniform(low=-0.1, high=0.1, size=self.model.nq) + self.init_qpos
        qpos[-2:] = target_in_disc(rng, 0.2)
        qvel = self.init_qvel + rng.uniform(low=-0.005, high=0.005, size=self.model.nv)
        qvel[-2:] = 0
        return qpos, qvel, None

    def observe(self, qpos: np.ndarray, qvel: np.ndarray, xpos: np.ndarray) -> np.ndarray:
        obs = np.empty((qpos.shape[0], 10))
        theta = qpos[:, :2]
        obs[:, 0:2] = np.cos(theta)
        obs[:, 2:4] = np.sin(theta)
        obs[:, 4:6] = qpos[:, 2:]
        obs[:, 6:8] = qvel[:, :2]
        obs[:, 8:10] = xpos[:, self.fingertip, :2] - xpos[:, self.target, :2]
        return obs


#: the task table's row (``robopg.envs.spec``); the device twin runs it on MuJoCo Warp
SPEC = TaskSpec.of_arm(
    ReacherTask,
    "Reacher-v5",
    "2-link planar arm reaching a random target",
    solved=-3.75,
    registers_gym=False,
    device="robopg.collect.warp.tasks:ReacherDevice",
    parity=Parity(episodes=2, obs=1e-4, reward=2e-6),
    rank=0,
)
