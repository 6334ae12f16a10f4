"""``panda-push``: the Franka Panda pushes a puck across a table to a random goal (contacts).

Its ``ArmTask`` lives in ``robopg.envs.panda`` beside ``panda-reach``'s; its MJCF is
``envs/assets/panda_push.xml`` (``panda.xml`` unchanged, plus the puck and four contact pairs).
No solved bar yet. Its device twin follows the batched engine along scripted pushes (tested
step by step in the warp engine tests, not by the generic parity test: the two colliders find
the hand's first touch of the puck one substep apart).
"""

from __future__ import annotations

from robopg.envs.panda import PandaPushTask
from robopg.envs.spec import TaskSpec

#: the task table's row (``robopg.envs.spec``)
SPEC = TaskSpec.of_arm(
    PandaPushTask,
    "robopg/PandaPush-v0",
    "Franka Panda pushing a puck across a table to a random goal (contacts)",
    registers_gym=True,
    device="robopg.collect.warp.tasks:PandaPushDevice",
    actions=("torque", "joint", "cartesian"),
    laws="robopg.envs.franka_control:panda_task",
    rank=5,
)
