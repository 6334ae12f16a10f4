"""The arm tasks' observations, rewards and reset draws in torch, for the device engine.

Why a second definition next to ``ArmTask``'s numpy maths: the device engine keeps every array
on the accelerator, so it cannot call the numpy methods. Each class here mirrors one
``ArmTask`` term for term (same body ids, weights and ranges, read from the ``ArmTask`` itself
so constants are written once); ``tests/warp/test_warp_engine.py`` checks the two agree along whole
episodes. All tensors are float32, batch-major, on the engine's device.

Reset draws come from a seeded ``torch.Generator`` on the device, so they are reproducible but
are not gymnasium's numpy stream: they follow the same distributions (tested), not the same
numbers. Rejection sampling is replaced by draws that need no host synchronisation: a target
uniform in a disc by its polar form, Pusher's puck and panda-push's goal by the first accepted
of a fixed number of candidates.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from robopg.envs.arms.arm7 import Arm7Task
from robopg.envs.arms.pusher import PusherTask
from robopg.envs.arms.reacher import ReacherTask
from robopg.envs.arms.reacher3 import Reacher3Task
from robopg.envs.batched import ArmTask
from robopg.envs.panda import (
    GOAL_HIGH,
    GOAL_LOW,
    MIN_PUSH,
    PANDA_HOME,
    PUCK_HIGH,
    PUCK_LOW,
    TARGET_HIGH,
    TARGET_LOW,
    PandaPushTask,
    PandaReachTask,
)
from robopg.envs.tasks import TASKS
from robopg.errors import EnvError


@dataclass
class ResetDraw:
    """Initial states for k worlds: qpos (k, nq), qvel (k, nv), mocap_pos (k, nmocap, 3) or None."""

    qpos: torch.Tensor
    qvel: torch.Tensor
    mocap: torch.Tensor | None


def uniform(
    gen: torch.Generator, shape: tuple[int, ...], low: float, high: float, like: torch.Tensor
) -> torch.Tensor:
    """U(low, high) of ``shape`` on ``like``'s device and dtype."""
    u = torch.rand(shape, generator=gen, device=like.device, dtype=like.dtype)
    return low + (high - low) * u


def in_disc(gen: torch.Generator, k: int, radius: float, like: torch.Tensor) -> torch.Tensor:
    """(k, 2) points uniform in the open disc of ``radius``: r = R·√u, φ = 2πv."""
    r = radius * torch.sqrt(uniform(gen, (k,), 0.0, 1.0, like))
    phi = uniform(gen, (k,), 0.0, 2 * math.pi, like)
    return torch.stack((r * torch.cos(phi), r * torch.sin(phi)), dim=1)


def row_norm(v: torch.Tensor) -> torch.Tensor:
    """Euclidean norm of each row of (k, d)."""
    return torch.linalg.vector_norm(v, dim=1)


#: forward kinematics the engine lends a task at reset: angles (k, nq) → xpos (k, nbody, 3)
Kinematics = Callable[[torch.Tensor], torch.Tensor]


class DeviceTask:
    """Torch twin of one ``ArmTask``: ``reset_state``, ``observe``, ``reward``, ``terminated``."""

    #: whether an episode can end before its time limit (none of the arm tasks can)
    terminates = False
    #: whether ``reset_state`` needs forward kinematics (``fk``) from the engine
    needs_kinematics = False
    fk: Kinematics | None = None

    def __init__(self, arm: ArmTask, device: torch.device) -> None:
        self.arm = arm
        self.device = device
        self.init_qpos = self.tensor(arm.init_qpos)
        self.init_mocap = self.tensor(arm.init_mocap_pos)
        self.nq, self.nv = int(arm.model.nq), int(arm.model.nv)

    def tensor(self, x: object) -> torch.Tensor:
        """A constant of the task (array or number) as float32 on the engine's device."""
        return torch.as_tensor(x, dtype=torch.float32, device=self.device)

    def reset_state(self, gen: torch.Generator, k: int) -> ResetDraw:
        raise NotImplementedError

    def observe(self, qpos: torch.Tensor, qvel: torch.Tensor, xpos: torch.Tensor) -> torch.Tensor:
        """(k, obs_dim) from (k, nq), (k, nv), (k, nbody, 3)."""
        raise NotImplementedError

    def reward(self, xpos: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """(k,) from body positions after the step and the (clipped) actions sent."""
        raise NotImplementedError

    def terminated(self, xpos: torch.Tensor) -> torch.Tensor:
        return torch.zeros(xpos.shape[0], dtype=torch.bool, device=xpos.device)

    def ctrl_cost(self, actions: torch.Tensor, weight: float) -> torch.Tensor:
        return -actions.square().sum(dim=1) * weight


class ReacherDevice(DeviceTask):
    """Reacher-v5 (``ReacherTask``): obs cos θ, sin θ, target, θ̇, fingertip − target."""

    arm: ReacherTask

    def reset_state(self, gen: torch.Generator, k: int) -> ResetDraw:
        z = self.init_qpos
        qpos = z + uniform(gen, (k, self.nq), -0.1, 0.1, z)
        qpos[:, -2:] = in_disc(gen, k, 0.2, z)
        qvel = uniform(gen, (k, self.nv), -0.005, 0.005, z)
        qvel[:, -2:] = 0
        return ResetDraw(qpos, qvel, None)

    def observe(self, qpos: torch.Tensor, qvel: torch.Tensor, xpos: torch.Tensor) -> torch.Tensor:
        theta = qpos[:, :2]
        tip = xpos[:, self.arm.fingertip, :2] - xpos[:, self.arm.target, :2]
        return torch.cat((theta.cos(), theta.sin(), qpos[:, 2:], qvel[:, :2], tip), dim=1)

    def reward(self, xpos: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        a = self.arm
        dist = -row_norm(xpos[:, a.fingertip] - xpos[:, a.target]) * a.reward_dist_weight
        return dist + self.ctrl_cost(actions, a.reward_control_weight)


class Reacher3Device(DeviceTask):
    """reacher3 (``Reacher3Task``): the target is a mocap body placed in the disc at reset."""

    arm: Reacher3Task

    def reset_state(self, gen: torch.Generator, k: int) -> ResetDraw:
        z = self.init_qpos
        qpos = z + uniform(gen, (k, self.nq), -0.1, 0.1, z)
        qvel = uniform(gen, (k, self.nv), -0.005, 0.005, z)
        mocap = self.init_mocap.expand(k, -1, -1).clone()
        mocap[:, 0, :2] = in_disc(gen, k, self.arm.target_radius, z)
        return ResetDraw(qpos, qvel, mocap)

    def observe(self, qpos: torch.Tensor, qvel: torch.Tensor, xpos: torch.Tensor) -> torch.Tensor:
        target = xpos[:, self.arm.target, :2]
        tip = xpos[:, self.arm.fingertip, :2] - target
        return torch.cat((qpos.cos(), qpos.sin(), target, qvel, tip), dim=1)

    def reward(self, xpos: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        a = self.arm
        dist = -row_norm(xpos[:, a.fingertip] - xpos[:, a.target]) * a.reward_dist_weight
        return dist + self.ctrl_cost(actions, a.reward_control_weight)


class PusherDevice(DeviceTask):
    """Pusher-v5 (``PusherTask``): puck uniform in [−0.3, 0] × [−0.2, 0.2] outside r 0.17."""

    arm: PusherTask
    #: candidates per reset; all 32 rejected has probability ≈ 0.38³² ≈ 4e-14, then the first
    #: candidate is used (the only departure from the rejection sampler's distribution)
    candidates = 32

    def reset_state(self, gen: torch.Generator, k: int) -> ResetDraw:
        z = self.init_qpos
        c = self.candidates
        cand = torch.stack(
            (uniform(gen, (k, c), -0.3, 0.0, z), uniform(gen, (k, c), -0.2, 0.2, z)), dim=2
        )
        ok = torch.linalg.vector_norm(cand, dim=2) > 0.17  # goal at the origin, as Pusher-v5
        first = torch.argmax(ok.to(torch.int8), dim=1)  # first accepted (0 if none)
        cylinder = cand[torch.arange(k, device=z.device), first]
        qpos = z.expand(k, -1).clone()
        qpos[:, -4:-2] = cylinder
        qpos[:, -2:] = 0
        qvel = uniform(gen, (k, self.nv), -0.005, 0.005, z)
        qvel[:, -4:] = 0
        return ResetDraw(qpos, qvel, None)

    def observe(self, qpos: torch.Tensor, qvel: torch.Tensor, xpos: torch.Tensor) -> torch.Tensor:
        a = self.arm
        return torch.cat(
            (qpos[:, :7], qvel[:, :7], xpos[:, a.tips_arm], xpos[:, a.object], xpos[:, a.goal]),
            dim=1,
        )

    def reward(self, xpos: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        a = self.arm
        obj = xpos[:, a.object]
        near = -row_norm(obj - xpos[:, a.tips_arm]) * a.reward_near_weight
        dist = -row_norm(obj - xpos[:, a.goal]) * a.reward_dist_weight
        return dist + self.ctrl_cost(actions, a.reward_control_weight) + near


class Arm7Device(DeviceTask):
    """arm7 (``Arm7Task``): θ clipped to the joint range; the target (mocap) is the fingertip
    of θ* uniform in the middle of each joint's range, by the engine's forward kinematics."""

    arm: Arm7Task
    needs_kinematics = True

    def __init__(self, arm: ArmTask, device: torch.device) -> None:
        super().__init__(arm, device)
        a = self.arm
        self.joint_low, self.joint_high = self.tensor(a.joint_low), self.tensor(a.joint_high)
        self.target_low, self.target_high = self.tensor(a.target_low), self.tensor(a.target_high)

    def reset_state(self, gen: torch.Generator, k: int) -> ResetDraw:
        if self.fk is None:
            raise EnvError("arm7's device reset needs the engine's forward kinematics.")
        z = self.init_qpos
        qpos = z + uniform(gen, (k, self.nq), -0.1, 0.1, z)
        qpos = torch.minimum(torch.maximum(qpos, self.joint_low), self.joint_high)
        qvel = uniform(gen, (k, self.nv), -0.005, 0.005, z)
        u = uniform(gen, (k, self.nq), 0.0, 1.0, z)
        theta = self.target_low + (self.target_high - self.target_low) * u
        mocap = self.init_mocap.expand(k, -1, -1).clone()
        mocap[:, 0] = self.fk(theta)[:, self.arm.fingertip]
        return ResetDraw(qpos, qvel, mocap)

    def observe(self, qpos: torch.Tensor, qvel: torch.Tensor, xpos: torch.Tensor) -> torch.Tensor:
        tip, target = xpos[:, self.arm.fingertip], xpos[:, self.arm.target]
        return torch.cat((qpos, qvel, tip, target, tip - target), dim=1)

    def reward(self, xpos: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        a = self.arm
        dist = -row_norm(xpos[:, a.fingertip] - xpos[:, a.target]) * a.reward_dist_weight
        return dist + self.ctrl_cost(actions, a.reward_control_weight)


class PandaDevice(DeviceTask):
    """What both Panda tasks share: the arm's start, θ = clip(home + U(−0.1, 0.1)⁷, joint
    range), θ̇ ~ U(−0.005, 0.005)⁷ (``arm_start``); gravity compensation is the model's
    (``gravcomp``), so nothing here adds it."""

    arm: PandaReachTask | PandaPushTask

    def __init__(self, arm: ArmTask, device: torch.device) -> None:
        super().__init__(arm, device)
        self.home = self.tensor(PANDA_HOME)
        self.joint_low = self.tensor(self.arm.joint_low)
        self.joint_high = self.tensor(self.arm.joint_high)

    def arm_start(self, gen: torch.Generator, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(k, 7) start angles and velocities of the arm."""
        z = self.home
        qpos = z + uniform(gen, (k, 7), -0.1, 0.1, z)
        qpos = torch.minimum(torch.maximum(qpos, self.joint_low), self.joint_high)
        return qpos, uniform(gen, (k, 7), -0.005, 0.005, z)


class PandaReachDevice(PandaDevice):
    """panda-reach (``PandaReachTask``): the Panda's start, the target (mocap) uniform in the
    workspace box."""

    arm: PandaReachTask

    def __init__(self, arm: ArmTask, device: torch.device) -> None:
        super().__init__(arm, device)
        self.target_low, self.target_high = self.tensor(TARGET_LOW), self.tensor(TARGET_HIGH)

    def reset_state(self, gen: torch.Generator, k: int) -> ResetDraw:
        z = self.home
        qpos, qvel = self.arm_start(gen, k)
        u = uniform(gen, (k, 3), 0.0, 1.0, z)
        mocap = self.init_mocap.expand(k, -1, -1).clone()
        mocap[:, 0] = self.target_low + (self.target_high - self.target_low) * u
        return ResetDraw(qpos, qvel, mocap)

    def observe(self, qpos: torch.Tensor, qvel: torch.Tensor, xpos: torch.Tensor) -> torch.Tensor:
        tip, target = xpos[:, self.arm.fingertip], xpos[:, self.arm.target]
        return torch.cat((qpos.cos(), qpos.sin(), qvel, tip, target, tip - target), dim=1)

    def reward(self, xpos: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        a = self.arm
        dist = -row_norm(xpos[:, a.fingertip] - xpos[:, a.target]) * a.reward_dist_weight
        return dist + self.ctrl_cost(actions, a.reward_control_weight)


class PandaPushDevice(PandaDevice):
    """panda-push (``PandaPushTask``): the Panda's start; the puck (qpos 7:9, at rest) uniform in
    its region; the goal (mocap, at the puck's height) the first of ``candidates`` uniform draws
    at least ``MIN_PUSH`` from the puck, instead of the CPU engine's rejection loop."""

    arm: PandaPushTask
    #: a goal candidate is rejected with probability ≤ π·MIN_PUSH² / goal area ≈ 0.31, so all 32
    #: with ≤ 0.31³² ≈ 1e-16; then the first is used (the only departure from the distribution)
    candidates = 32

    def __init__(self, arm: ArmTask, device: torch.device) -> None:
        super().__init__(arm, device)
        self.puck_low, self.puck_high = self.tensor(PUCK_LOW), self.tensor(PUCK_HIGH)
        self.goal_low, self.goal_high = self.tensor(GOAL_LOW), self.tensor(GOAL_HIGH)

    def reset_state(self, gen: torch.Generator, k: int) -> ResetDraw:
        z = self.home
        c = self.candidates
        arm_q, arm_v = self.arm_start(gen, k)
        puck = self.puck_low + (self.puck_high - self.puck_low) * uniform(gen, (k, 2), 0, 1, z)
        u = uniform(gen, (k, c, 2), 0.0, 1.0, z)
        cand = self.goal_low + (self.goal_high - self.goal_low) * u
        ok = torch.linalg.vector_norm(cand - puck[:, None], dim=2) >= MIN_PUSH
        first = torch.argmax(ok.to(torch.int8), dim=1)  # first accepted (0 if none)
        goal = cand[torch.arange(k, device=z.device), first]
        qpos = self.init_qpos.expand(k, -1).clone()
        qvel = torch.zeros((k, self.nv), dtype=z.dtype, device=z.device)
        qpos[:, :7], qvel[:, :7], qpos[:, 7:9] = arm_q, arm_v, puck
        mocap = self.init_mocap.expand(k, -1, -1).clone()
        mocap[:, 0, :2] = goal
        mocap[:, 0, 2] = self.arm.puck_z
        return ResetDraw(qpos, qvel, mocap)

    def observe(self, qpos: torch.Tensor, qvel: torch.Tensor, xpos: torch.Tensor) -> torch.Tensor:
        a = self.arm
        tip, puck, goal = xpos[:, a.fingertip], xpos[:, a.puck], xpos[:, a.goal]
        q = qpos[:, :7]
        return torch.cat(
            (
                q.cos(),
                q.sin(),
                qvel[:, :7],
                tip,
                puck[:, :2],
                qvel[:, 7:9],
                goal[:, :2],
                tip - puck,
                puck[:, :2] - goal[:, :2],
            ),
            dim=1,
        )

    def reward(self, xpos: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        a = self.arm
        puck = xpos[:, a.puck]
        dist = -row_norm(puck - xpos[:, a.goal]) * a.reward_dist_weight
        near = -row_norm(xpos[:, a.fingertip] - puck) * a.reward_near_weight
        return dist + near + self.ctrl_cost(actions, a.reward_control_weight)


def device_task(arm: ArmTask, device: torch.device) -> DeviceTask:
    """The torch twin of ``arm`` its task spec names (``TaskSpec.device``), or one EnvError for
    a task the device engine lacks."""
    spec = TASKS.get(arm.name)
    if spec is None or spec.device is None:
        runs = ", ".join(name for name, s in TASKS.items() if s.device)
        raise EnvError(
            f"Task '{arm.name}' has no warp engine yet (it runs {runs}); use --engine batch."
        )
    module, _, name = spec.device.partition(":")
    cls = getattr(importlib.import_module(module), name)
    return cls(arm, device)
