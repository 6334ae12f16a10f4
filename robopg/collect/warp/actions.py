"""The action interfaces' laws in torch, for the device engine (twins of ``franka_control``).

Why a second definition: the device engine keeps ``ctrl`` on the accelerator, so the numpy
``ActionLaw.command`` cannot run there. Each function mirrors its numpy law term for term, with
the constants read from the numpy law itself (written once); ``tests/warp/test_warp_actions.py``
checks the two engines agree along episodes. The joint impedance law itself needs no twin: it is the
model's actuators, which MuJoCo Warp runs like MuJoCo; its torque-rate clamp is a Warp kernel
(``robopg.collect.warp.rate``) that sets each world's force range before every substep.
"""

from __future__ import annotations

import torch

from robopg.envs.actions import ActionLaw
from robopg.envs.franka_control import (
    ARM,
    CARTESIAN_STEP,
    IK_DAMPING,
    PANDA_HOME,
    POSTURE_GAIN,
    CartesianLaw,
    JointTargetLaw,
)
from robopg.errors import EnvError


class DeviceJointLaw:
    """``JointTargetLaw`` in torch: q* ← clip(clip(q* + clip(a, ±1)·Δ, joint range), q ± δ)."""

    def __init__(self, law: JointTargetLaw, device: torch.device) -> None:
        def tensor(x: object) -> torch.Tensor:
            return torch.as_tensor(x, dtype=torch.float32, device=device)

        self.bound = tensor(law.step_bound)
        self.low, self.high = tensor(law.low), tensor(law.high)
        self.tracking = tensor(law.tracking_bound)
        self.home = tensor(PANDA_HOME)
        self.flange = getattr(law, "flange", -1)
        self.cartesian = isinstance(law, CartesianLaw)

    def reset_ctrl(self, qpos: torch.Tensor) -> torch.Tensor:
        """(k, 7) target and filter state at reset: the arm's (k, nq) angles."""
        return qpos[:, :ARM].clone()

    def command(
        self,
        actions: torch.Tensor,
        ctrl: torch.Tensor,
        qpos: torch.Tensor,
        xpos: torch.Tensor,
        xanchor: torch.Tensor,
        xaxis: torch.Tensor,
    ) -> torch.Tensor:
        """The next (k, 7) target, as ``JointTargetLaw.command`` / ``CartesianLaw``'s."""
        a = actions.clamp(-1.0, 1.0)
        if not self.cartesian:
            step = a * self.bound
        else:
            step = self._cartesian_step(a, ctrl, xpos, xanchor, xaxis)
        target = torch.minimum(torch.maximum(ctrl + step, self.low), self.high)
        q = qpos[:, :ARM]
        return torch.minimum(torch.maximum(target, q - self.tracking), q + self.tracking)

    def _cartesian_step(
        self,
        a: torch.Tensor,
        ctrl: torch.Tensor,
        xpos: torch.Tensor,
        xanchor: torch.Tensor,
        xaxis: torch.Tensor,
    ) -> torch.Tensor:
        """``CartesianLaw.joint_step``: dq = z + J⁺(dx − J z), scaled to the rate bound."""
        flange = xpos[:, self.flange]
        cols = torch.linalg.cross(xaxis[:, :ARM], flange[:, None, :] - xanchor[:, :ARM], dim=2)
        jac = cols.transpose(1, 2)  # (k, 3, 7)
        eye = torch.eye(3, dtype=jac.dtype, device=jac.device)
        jjt = jac @ jac.transpose(1, 2) + IK_DAMPING**2 * eye
        z = POSTURE_GAIN * (self.home - ctrl)
        rhs = a * CARTESIAN_STEP - (jac @ z[:, :, None])[:, :, 0]
        y = torch.linalg.solve(jjt, rhs[:, :, None])
        dq = z + (jac.transpose(1, 2) @ y)[:, :, 0]
        over = (dq.abs() / self.bound).amax(dim=1, keepdim=True)
        return dq / over.clamp(min=1.0)


def device_law(law: ActionLaw, device: torch.device) -> DeviceJointLaw:
    """The torch twin of ``law``, or one EnvError for a law without one."""
    if isinstance(law, JointTargetLaw):
        return DeviceJointLaw(law, device)
    raise EnvError(f"The '{law.name}' action interface has no warp engine yet; use --engine batch.")
