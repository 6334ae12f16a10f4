"""``arm7``: the Pusher arm's 7-DoF kinematics reaching a random reachable 3-D target.

Gymnasium's arm conventions (see ``reacher3``); its MJCF is ``envs/assets/arm7.xml``.

Solved bar: zero action −78, a scripted Jacobian-transpose controller −32 (it stalls near joint
limits), REINFORCE −15.4 at 1M steps and −14.9 at 3M: the bar is what a few million steps of
REINFORCE reach.
"""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np

from robopg.envs.batched import ReachTask
from robopg.envs.spec import Parity, TaskSpec

ASSETS = Path(__file__).parent.parent / "assets"


class Arm7Task(ReachTask):
    """arm7: a 7-DoF arm (Pusher's kinematics) brings its fingertip to a random 3-D target.

    Targets are the fingertip positions of random joint configurations, so every target is
    reachable; the 7 joints for a 3-D target leave a 4-D null space.

    - action (7): joint torques in [-2, 2], as Pusher.
    - obs (23): θ (7), θ̇ (7), fingertip xyz (3), target xyz (3), fingertip − target (3).
    - reward: −‖fingertip − target‖ − 0.1·‖a‖² (Pusher's control weight).
    - reset: θ = clip(U(−0.1, 0.1)⁷, joint range), θ̇ ~ U(−0.005, 0.005)⁷; target = fingertip
      of θ* drawn uniformly in the middle 80 % of each joint's range.
    - episode: 100 steps of frame skip 5 (dt 0.05 s); never terminates.
    - solved: deterministic-eval return ≥ −15 (set in ``robopg.envs.tasks``).
    """

    name = "arm7"
    xml_path = ASSETS / "arm7.xml"
    frame_skip = 5
    max_episode_steps = 100
    obs_dim = 23
    reward_dist_weight = 1.0
    reward_control_weight = 0.1
    target_margin = 0.1  # fraction of each joint range excluded at both ends for targets

    def __init__(self, model: mujoco.MjModel) -> None:
        super().__init__(model)
        lo, hi = model.jnt_range[:, 0].copy(), model.jnt_range[:, 1].copy()
        self.joint_low, self.joint_high = lo, hi
        span = hi - lo
        self.target_low = lo + self.target_margin * span
        self.target_high = hi - self.target_margin * span
        self._fk = mujoco.MjData(model)  # scratch data for forward kinematics at reset

    def reset_state(
        self, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        qpos = np.clip(
            self.init_qpos + rng.uniform(low=-0.1, high=0.1, size=self.model.nq),
            self.joint_low,
            self.joint_high,
        )
        qvel = self.init_qvel + rng.uniform(low=-0.005, high=0.005, size=self.model.nv)
        mocap = self.init_mocap_pos.copy()
        mocap[0] = self.fingertip_at(rng.uniform(low=self.target_low, high=self.target_high))
        return qpos, qvel, mocap

    def fingertip_at(self, qpos: np.ndarray) -> np.ndarray:
        """The fingertip's world position for joint angles ``qpos`` (forward kinematics)."""
        self._fk.qpos[:] = qpos
        mujoco.mj_kinematics(self.model, self._fk)
        return self._fk.xpos[self.fingertip].copy()

    def observe(self, qpos: np.ndarray, qvel: np.ndarray, xpos: np.ndarray) -> np.ndarray:
        obs = np.empty((qpos.shape[0], 23))
        tip = xpos[:, self.fingertip]
        target = xpos[:, self.target]
        obs[:, 0:7] = qpos
        obs[:, 7:14] = qvel
        obs[:, 14:17] = tip
        obs[:, 17:20] = target
        obs[:, 20:23] = tip - target
        return obs


#: the task table's row (``robopg.envs.spec``); the device twin runs it on MuJoCo Warp
SPEC = TaskSpec.of_arm(
    Arm7Task,
    "robopg/Arm7-v0",
    "7-DoF arm (Pusher kinematics) reaching a random 3-D target",
    solved=-15.0,
    registers_gym=True,
    device="robopg.collect.warp.tasks:Arm7Device",
    parity=Parity(episodes=1, obs=2e-3, reward=3e-5),
    rank=3,
)
