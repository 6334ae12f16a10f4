"""Two arms of our own: ``reacher3`` (a redundant planar arm) and ``arm7`` (a 7-DoF arm in 3-D).

They follow the conventions of gymnasium's MuJoCo arms so that what a user knows about Reacher
carries over: torque actions in a box, a distance reward with a quadratic control cost, a fixed
horizon with no termination, small reset noise around the home pose, and a target drawn per
episode from the env's own generator. MJCF lives in ``envs/assets``; gymnasium ids,
descriptions and solved bars are the task table's (``robopg.envs.tasks``).
"""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np

from robopg.envs.batched import ReachTask, target_in_disc

ASSETS = Path(__file__).parent / "assets"


class Reacher3Task(ReachTask):
    """reacher3: a 3-link planar arm brings its fingertip to a random target in a 0.2 m disc.

    The third joint makes the arm redundant: many joint configurations reach one target, so the
    policy must pick one, which Reacher's 2 links never ask.

    - action (3): joint torques in [-1, 1] (gear 200), as Reacher.
    - obs (13): cos θ (3), sin θ (3), target xy (2), θ̇ (3), (fingertip − target) xy (2).
    - reward: −‖fingertip − target‖ − 1·‖a‖² (Reacher-v5's weights).
    - reset: θ ~ U(−0.1, 0.1)³, θ̇ ~ U(−0.005, 0.005)³, target uniform in the disc r < 0.2
      (rejection-sampled, as Reacher).
    - episode: 50 steps of frame skip 2 (dt 0.02 s); never terminates.
    - solved: deterministic-eval return ≥ −3.75, Reacher's bar (set in ``robopg.envs.tasks``).
    """

    name = "reacher3"
    xml_path = ASSETS / "reacher3.xml"
    frame_skip = 2
    max_episode_steps = 50
    obs_dim = 13
    reward_dist_weight = 1.0
    reward_control_weight = 1.0
    target_radius = 0.2

    def reset_state(
        self, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        qpos = self.init_qpos + rng.uniform(low=-0.1, high=0.1, size=self.model.nq)
        qvel = self.init_qvel + rng.uniform(low=-0.005, high=0.005, size=self.model.nv)
        mocap = self.init_mocap_pos.copy()
        mocap[0, :2] = target_in_disc(rng, self.target_radius)
        return qpos, qvel, mocap

    def observe(self, qpos: np.ndarray, qvel: np.ndarray, xpos: np.ndarray) -> np.ndarray:
        obs = np.empty((qpos.shape[0], 13))
        obs[:, 0:3] = np.cos(qpos)
        obs[:, 3:6] = np.sin(qpos)
        obs[:, 6:8] = xpos[:, self.target, :2]
        obs[:, 8:11] = qvel
        obs[:, 11:13] = xpos[:, self.fingertip, :2] - xpos[:, self.target, :2]
        return obs


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
