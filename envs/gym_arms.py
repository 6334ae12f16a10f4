"""gymnasium's Reacher-v5 and Pusher-v5, restated as batched ``ArmTask``s.

The MJCF is gymnasium's own file, loaded from the installed gymnasium, so the physics cannot drift
from the reference. Everything else (reset distributions, observation layout, reward terms and
weights, frame skip, episode length) is restated here from the v5 definitions and checked bit for
bit against gymnasium by ``tests/test_engine_equivalence.py``. Each reset draws from the env's own
generator in exactly gymnasium's order (arm noise, rejection-sampled goal, velocity noise), which
is why resets loop over envs while steps never do.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium.envs.mujoco as gym_mujoco
import mujoco
import numpy as np

from robopg.envs.batched import ArmTask, ReachTask, ctrl_cost, row_norm, target_in_disc

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


class PusherTask(ArmTask):
    """Pusher-v5: a 7-DoF arm pushes a cylinder to a fixed goal on a table.

    obs (23): qpos (7), qvel (7), fingertip xyz, object xyz, goal xyz.
    reward: −1·‖object − goal‖ − 0.1·‖a‖² − 0.5·‖object − fingertip‖. 100 steps, frame skip 5.
    """

    name = "pusher"
    xml_path = GYM_ASSETS / "pusher_v5.xml"
    frame_skip = 5
    max_episode_steps = 100
    obs_dim = 23
    reward_near_weight = 0.5
    reward_dist_weight = 1
    reward_control_weight = 0.1

    def __init__(self, model: mujoco.MjModel) -> None:
        super().__init__(model)
        self.tips_arm = self.body("tips_arm")
        self.object = self.body("object")
        self.goal = self.body("goal")
        self.goal_pos = np.asarray([0, 0])

    def reset_state(
        self, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        qpos = self.init_qpos.copy()
        while True:
            cylinder = np.concatenate(
                [rng.uniform(low=-0.3, high=0, size=1), rng.uniform(low=-0.2, high=0.2, size=1)]
            )
            if np.linalg.norm(cylinder - self.goal_pos) > 0.17:
                break
        qpos[-4:-2] = cylinder
        qpos[-2:] = self.goal_pos
        qvel = self.init_qvel + rng.uniform(low=-0.005, high=0.005, size=self.model.nv)
        qvel[-4:] = 0
        return qpos, qvel, None

    def observe(self, qpos: np.ndarray, qvel: np.ndarray, xpos: np.ndarray) -> np.ndarray:
        obs = np.empty((qpos.shape[0], 23))
        obs[:, 0:7] = qpos[:, :7]
        obs[:, 7:14] = qvel[:, :7]
        obs[:, 14:17] = xpos[:, self.tips_arm]
        obs[:, 17:20] = xpos[:, self.object]
        obs[:, 20:23] = xpos[:, self.goal]
        return obs

    def reward(self, xpos: np.ndarray, actions: np.ndarray) -> np.ndarray:
        obj = xpos[:, self.object]
        near = -row_norm(obj - xpos[:, self.tips_arm]) * self.reward_near_weight
        dist = -row_norm(obj - xpos[:, self.goal]) * self.reward_dist_weight
        return dist + ctrl_cost(actions, self.reward_control_weight) + near
