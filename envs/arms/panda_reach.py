"""``panda-reach``: the Franka Panda's flange reaches a random target (torque control).

Its ``ArmTask`` lives in ``robopg.envs.panda`` beside ``panda-push``'s, with the arm's shared
parts (home pose, target box, reports); its MJCF is ``envs/assets/panda.xml``.

Solved bar: the hand-written operational-space controller's return at its best gains
(``benchmarks/panda_baseline.py``, kp 700 and kq 25 from a sweep of kp 50-1200 and kq 5-100,
episodes seeded 0-499): −2.02, 100 % success. A policy is solved when it does better than a
tuned model-based controller with the same torque limits.
"""

from __future__ import annotations

from robopg.envs.panda import PandaReachTask
from robopg.envs.spec import Parity, TaskSpec

#: the task table's row (``robopg.envs.spec``); the device twin runs it on MuJoCo Warp. The
#: parity gap (max |Δobs| 9.1e-3, |Δreward| 3.0e-4 over an episode whose joints reach 20 rad/s
#: under the test's actions) grows from 6e-6 at step 10 to 8e-3 at step 149.
SPEC = TaskSpec.of_arm(
    PandaReachTask,
    "robopg/PandaReach-v0",
    "Franka Panda (torque control, gravity compensated) reaching a random 3-D target",
    solved=-2.02,
    registers_gym=True,
    device="robopg.collect.warp.tasks:PandaReachDevice",
    parity=Parity(episodes=1, obs=2e-2, reward=1e-3),
    actions=("torque", "joint", "cartesian"),
    laws="robopg.envs.franka_control:panda_task",
    rank=4,
)
