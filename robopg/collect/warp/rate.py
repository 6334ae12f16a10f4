"""The joint impedance law's torque-rate clamp as a Warp kernel (twin of ``torque_range``).

Why a kernel: the clamp sets each world's actuator force range from its last substep's force
before every substep, inside the physics sequence the engine records as one graph; a torch op
would fall outside Warp's capture. It mirrors ``JointTargetLaw.torque_range`` term for term,
with the law's own constants (``tests/warp/test_warp_actions.py`` compares the engines).
Imported only once ``require_warp`` has succeeded: ``warp`` is an optional extra.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import warp as wp

from robopg.envs.franka_control import JointTargetLaw


@wp.kernel
def _torque_range(
    force: wp.array2d(dtype=wp.float32),  # type: ignore[valid-type]
    step: wp.float32,
    limit: wp.array(dtype=wp.float32),  # type: ignore[valid-type]
    out: wp.array2d(dtype=wp.vec2),  # type: ignore[valid-type]
) -> None:
    world, i = wp.tid()  # type: ignore[misc]  # Warp types tid() as int, not a tuple
    f = force[world, i]
    out[world, i] = wp.vec2(wp.max(-limit[i], f - step), wp.min(limit[i], f + step))


class DeviceTorqueRange:
    """Before each substep: ``forcerange`` (nworld, nu) vec2 ← ``force`` (nworld, nu) ± the
    law's ``rate_step``, within its torque limit; both arrays are MuJoCo Warp's own."""

    def __init__(self, law: JointTargetLaw, force: Any, forcerange: Any, device: str) -> None:
        self.force, self.forcerange = force, forcerange
        self.step = float(law.rate_step)
        self.limit: Any = wp.array(np.asarray(law.torque_limit, np.float32), device=device)

    def launch(self) -> None:
        wp.launch(
            _torque_range,
            dim=self.force.shape,
            inputs=[self.force, self.step, self.limit, self.forcerange],
        )
