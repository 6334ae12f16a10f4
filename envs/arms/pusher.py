"""Pusher-v5 (gymnasium's 7-DoF arm pushing a puck), restated as a batched ``ArmTask``.

The MJCF is gymnasium's own file, so the physics cannot drift from the reference; everything
else is restated from the v5 definition and checked bit for bit against gymnasium by the engine
tests (resets draw from the env's own generator in gymnasium's order).
"""

from __future__ import annotations

from pathlib import Path

import gymnasium.envs.mujoco as gym_mujoco
import mujoco
import numpy as np

from robopg.envs.batched import ArmTask, ctrl_cost, row_norm
from robopg.envs.spec import Parity, TaskSpec

GYM_ASSETS = Path(gym_mujoco.__file__).parent / "assets"


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


#: the task table's row (``robopg.envs.spec``); the device twin runs it on MuJoCo Warp
SPEC = TaskSpec.of_arm(
    PusherTask,
    "Pusher-v5",
    "7-DoF arm pushing a puck to a goal",
    solved=0.0,
    registers_gym=False,
    device="robopg.collect.warp.tasks:PusherDevice",
    parity=Parity(episodes=1, obs=5e-5, reward=2e-6),
    rank=1,
)
