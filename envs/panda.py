"""The Franka Emika Panda (our MJCF, ``envs/assets/panda.xml``): panda-reach and panda-push.

The arm users know from panda-gym's PandaReach and Gymnasium-Robotics' FetchReach, but torque
controlled, as on the real robot's joint-torque interface: the model compensates gravity
(MuJoCo's ``gravcomp``), so the policy commands only the residual torque, and a zero action holds
the arm where it is (up to joint damping).
"""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np

from robopg.envs.batched import ArmTask, ReachTask, ctrl_cost, row_norm
from robopg.envs.franka import PANDA_LIMITS

ASSETS = Path(__file__).parent / "assets"

#: Franka's "ready" pose (rad), the home the reset perturbs: elbow bent, flange pointing down.
PANDA_HOME = np.array([0.0, -np.pi / 4, 0.0, -3 * np.pi / 4, 0.0, np.pi / 2, np.pi / 4])

#: Target workspace: an axis-aligned box in the base frame (m), in front of the robot. Every
#: point is reachable with the flange (0.30-0.72 m from the shoulder at z = 0.333, reach 0.855).
TARGET_LOW = np.array([0.3, -0.3, 0.15])
TARGET_HIGH = np.array([0.6, 0.3, 0.6])

#: success: the flange within this distance (m) of the target at the episode's last step
SUCCESS_RADIUS = 0.02

#: Franka's joint velocity limits (rad/s, ``robopg.envs.franka``); the model does not enforce
#: them: the engine counts every step over them (``ArmTask.limits``), ``robopg eval`` reports it.
VELOCITY_LIMITS = PANDA_LIMITS.velocity


def arm_start(
    rng: np.random.Generator, low: np.ndarray, high: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The arm's (7,) start angles and velocities: θ = clip(home + U(−0.1, 0.1)⁷, [low, high]),
    θ̇ ~ U(−0.005, 0.005)⁷, drawn in that order from ``rng`` (both Panda tasks)."""
    qpos = np.clip(PANDA_HOME + rng.uniform(low=-0.1, high=0.1, size=7), low, high)
    return qpos, rng.uniform(low=-0.005, high=0.005, size=7)


class PandaReachTask(ReachTask):
    """panda-reach: the Panda's flange to a random 3-D target, torque control over gravcomp.

    - action (7): in [-1, 1], scaled by the motors' gear to the joint torque limits (87 N·m on
      joints 1-4, 12 N·m on 5-7); the policy's torque adds to MuJoCo's gravity compensation.
    - obs (30): cos θ (7), sin θ (7), θ̇ (7), flange xyz (3), target xyz (3), flange − target (3).
    - reward: −‖flange − target‖ − 0.01·‖a‖² (c = 0.01: at full torque on every joint the
      control cost is 0.07 per step, a third of a typical starting distance of 0.2 m).
    - reset: θ = clip(home + U(−0.1, 0.1)⁷, joint range), θ̇ ~ U(−0.005, 0.005)⁷; target
      uniform in the box ``TARGET_LOW``..``TARGET_HIGH`` (m), drawn from the env's generator.
    - episode: 150 steps of frame skip 4 at 5 ms (dt 0.02 s, 3 s of simulated time); never
      terminates (unless ``--limits abort``).
    - success: ‖flange − target‖ < 2 cm at the last step (``success``).
    - limits: Franka's (``PANDA_LIMITS``); the batched engine counts the steps the real robot
      would abort on and, with ``--limits abort``, ends the episode there.
    """

    name = "panda-reach"
    limits = PANDA_LIMITS
    obs_joints = (0, 7, 14)
    xml_path = ASSETS / "panda.xml"
    frame_skip = 4
    max_episode_steps = 150
    obs_dim = 30
    reward_dist_weight = 1.0
    reward_control_weight = 0.01

    def __init__(self, model: mujoco.MjModel) -> None:
        super().__init__(model)
        self.joint_low = model.jnt_range[:, 0].copy()
        self.joint_high = model.jnt_range[:, 1].copy()

    def reset_state(
        self, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        qpos, qvel = arm_start(rng, self.joint_low, self.joint_high)
        mocap = self.init_mocap_pos.copy()
        mocap[0] = rng.uniform(low=TARGET_LOW, high=TARGET_HIGH)
        return qpos, qvel, mocap

    def observe(self, qpos: np.ndarray, qvel: np.ndarray, xpos: np.ndarray) -> np.ndarray:
        obs = np.empty((qpos.shape[0], 30))
        tip = xpos[:, self.fingertip]
        target = xpos[:, self.target]
        obs[:, 0:7] = np.cos(qpos)
        obs[:, 7:14] = np.sin(qpos)
        obs[:, 14:21] = qvel
        obs[:, 21:24] = tip
        obs[:, 24:27] = target
        obs[:, 27:30] = tip - target
        return obs

    @classmethod
    def success(cls, obs: np.ndarray) -> np.ndarray:
        """(k,) bool: the flange within 2 cm of the target, from (k, 30) observations."""
        return cls.final_distance(obs) < cls.success_radius

    @classmethod
    def eval_report(
        cls, final_obs: np.ndarray, peak_obs: np.ndarray, peak_action: np.ndarray
    ) -> list[str]:
        """What a roboticist asks of a reach controller: success rate, final distance (median,
        95th percentile), peak joint speed against Franka's limits, peak torque against the
        torque limits (an action of ±1 is the full rated torque; MuJoCo clamps beyond)."""
        dist = cls.final_distance(final_obs)
        return panda_report(dist, cls.success_radius, "within 2 cm", peak_obs, peak_action)

    success_radius = SUCCESS_RADIUS

    @classmethod
    def final_distance(cls, final_obs: np.ndarray) -> np.ndarray:
        """(episodes,) m from the flange to the target, from each episode's last observation."""
        return np.linalg.norm(final_obs[:, 27:30], axis=1)


def panda_report(
    final_dist: np.ndarray,
    radius: float,
    phrase: str,
    peak_obs: np.ndarray,
    peak_action: np.ndarray,
) -> list[str]:
    """``robopg eval``'s safety lines for a Panda task: success (``final_dist`` (episodes,) m
    below ``radius``, said as ``phrase``), final distance median / 95th percentile, and peak
    joint speed (obs 14:21 in both tasks) and |torque| against Franka's limits."""
    dist = final_dist * 1e3
    ok = final_dist < radius
    speed = peak_obs[:, 14:21] / VELOCITY_LIMITS  # (episodes, 7)
    torque = np.minimum(peak_action, 1.0)
    vj, tj = np.unravel_index(speed.argmax(), speed.shape)[1], torque.max(axis=0).argmax()
    return [
        f"success {ok.mean():.1%} ({ok.sum()}/{ok.size} {phrase} at the end) · final "
        f"distance median {np.median(dist):.1f} mm, 95th pct {np.percentile(dist, 95):.1f} mm",
        f"peak |joint speed| {speed.max():.2f}× Franka's limit (joint {vj + 1}) · peak "
        f"|torque| {torque.max():.2f}× the limit (joint {tj + 1})",
    ]


#: panda-push's puck start and goal regions on the table (base frame, m), and the least
#: distance between them: the arm must always push at least this far.
PUCK_LOW, PUCK_HIGH = np.array([0.35, -0.15]), np.array([0.55, 0.15])
GOAL_LOW, GOAL_HIGH = np.array([0.35, -0.2]), np.array([0.6, 0.2])
MIN_PUSH = 0.1

#: panda-push success: the puck's centre within 5 cm of the goal at the last step, panda-gym's
#: PandaPush threshold (``distance_threshold = 0.05``).
PUSH_SUCCESS_RADIUS = 0.05


class PandaPushTask(ArmTask):
    """panda-push: the Panda pushes a puck across the table to a random goal, with contacts.

    The arm, torque interface and gravity compensation are panda-reach's; the MJCF
    (``envs/assets/panda_push.xml``) adds a puck on two slide joints and four contact pairs.

    - action (7): in [-1, 1], the joint torque limits, as panda-reach.
    - obs (35): cos θ (7), sin θ (7), θ̇ (7), flange xyz (3), puck xy (2), puck velocity xy (2),
      goal xy (2), flange − puck (3), puck − goal xy (2).
    - reward: −‖puck − goal‖ − 0.5·‖flange − puck‖ − 0.01·‖a‖² (Pusher-v5's shaping: the
      "near" term leads the hand to the puck; panda-reach's control weight).
    - reset: θ = clip(home + U(−0.1, 0.1)⁷, joint range), θ̇ ~ U(−0.005, 0.005)⁷; puck uniform in
      ``PUCK_LOW``..``PUCK_HIGH``, goal uniform in ``GOAL_LOW``..``GOAL_HIGH`` and at least
      ``MIN_PUSH`` away (rejection sampling), both at rest.
    - episode: 200 steps of frame skip 4 at 5 ms (4 s); never terminates (unless
      ``--limits abort``).
    - success: ‖puck − goal‖ < 5 cm at the last step (``success``).
    - limits: Franka's, as panda-reach.
    """

    name = "panda-push"
    limits = PANDA_LIMITS
    obs_joints = (0, 7, 14)
    xml_path = ASSETS / "panda_push.xml"
    frame_skip = 4
    max_episode_steps = 200
    obs_dim = 35
    reward_dist_weight = 1.0
    reward_near_weight = 0.5
    reward_control_weight = 0.01

    def __init__(self, model: mujoco.MjModel) -> None:
        super().__init__(model)
        self.joint_low = model.jnt_range[:7, 0].copy()
        self.joint_high = model.jnt_range[:7, 1].copy()
        self.fingertip = self.body("fingertip")
        self.puck = self.body("puck")
        self.goal = self.body("target")
        self.puck_z = float(model.body_pos[self.puck][2])

    def reset_state(
        self, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        qpos, qvel = self.init_qpos.copy(), self.init_qvel.copy()
        qpos[:7], qvel[:7] = arm_start(rng, self.joint_low, self.joint_high)
        puck = rng.uniform(low=PUCK_LOW, high=PUCK_HIGH)
        while True:
            goal = rng.uniform(low=GOAL_LOW, high=GOAL_HIGH)
            if np.linalg.norm(goal - puck) >= MIN_PUSH:
                break
        qpos[7:9] = puck
        mocap = self.init_mocap_pos.copy()
        mocap[0] = (goal[0], goal[1], self.puck_z)
        return qpos, qvel, mocap

    def observe(self, qpos: np.ndarray, qvel: np.ndarray, xpos: np.ndarray) -> np.ndarray:
        obs = np.empty((qpos.shape[0], 35))
        tip = xpos[:, self.fingertip]
        puck = xpos[:, self.puck]
        goal = xpos[:, self.goal]
        obs[:, 0:7] = np.cos(qpos[:, :7])
        obs[:, 7:14] = np.sin(qpos[:, :7])
        obs[:, 14:21] = qvel[:, :7]
        obs[:, 21:24] = tip
        obs[:, 24:26] = puck[:, :2]
        obs[:, 26:28] = qvel[:, 7:9]
        obs[:, 28:30] = goal[:, :2]
        obs[:, 30:33] = tip - puck
        obs[:, 33:35] = puck[:, :2] - goal[:, :2]
        return obs

    def reward(self, xpos: np.ndarray, actions: np.ndarray) -> np.ndarray:
        puck = xpos[:, self.puck]
        dist = -row_norm(puck - xpos[:, self.goal]) * self.reward_dist_weight
        near = -row_norm(xpos[:, self.fingertip] - puck) * self.reward_near_weight
        return dist + near + ctrl_cost(actions, self.reward_control_weight)

    @classmethod
    def success(cls, obs: np.ndarray) -> np.ndarray:
        """(k,) bool: the puck within 5 cm of the goal, from (k, 35) observations."""
        return cls.final_distance(obs) < cls.success_radius

    @classmethod
    def eval_report(
        cls, final_obs: np.ndarray, peak_obs: np.ndarray, peak_action: np.ndarray
    ) -> list[str]:
        """panda-reach's safety lines, with success and distance of the puck to its goal."""
        dist = cls.final_distance(final_obs)
        phrase = "puck within 5 cm of the goal"
        return panda_report(dist, cls.success_radius, phrase, peak_obs, peak_action)

    success_radius = PUSH_SUCCESS_RADIUS

    @classmethod
    def final_distance(cls, final_obs: np.ndarray) -> np.ndarray:
        """(episodes,) m from the puck to its goal, from each episode's last observation."""
        return np.linalg.norm(final_obs[:, 33:35], axis=1)
