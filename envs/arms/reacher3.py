"""``reacher3``: a 3-link planar arm with a redundant joint reaching a random target.

It follows the conventions of gymnasium's MuJoCo arms so that what a user knows about Reacher
carries over: torque actions in a box, a distance reward with a quadratic control cost, a fixed
horizon with no termination, small reset noise around the home pose, and a target drawn per
episode from the env's own generator. Its MJCF is ``envs/assets/reacher3.xml``.

Solved bar: zero action −11.5, a scripted Jacobian-transpose controller −6.1, REINFORCE −4.17 at
1M steps and −3.47 at 2M (Reacher-v5: −11.5, −6.5, −3.64 at 1M), so it gets Reacher's bar.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from robopg.envs.batched import ReachTask, target_in_disc
from robopg.envs.spec import Parity, TaskSpec

ASSETS = Path(__file__).parent.parent / "assets"


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


#: the task table's row (``robopg.envs.spec``); the device twin runs it on MuJoCo Warp
SPEC = TaskSpec.of_arm(
    Reacher3Task,
    "robopg/Reacher3-v0",
    "3-link planar arm (redundant joint) reaching a random target",
    solved=-3.75,
    registers_gym=True,
    device="robopg.collect.warp.tasks:Reacher3Device",
    parity=Parity(episodes=2, obs=1e-4, reward=2e-6),
    rank=2,
)
