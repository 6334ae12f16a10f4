"""Domain randomization on the device engine: per-world model fields, drawn in torch.

The torch twin of ``robopg.envs.randomize.Randomizer``, for ``WarpArmEnv``: the same settings,
the same rows of the same fields (``ModelLayout``), the same formulas, but every world's
parameters live in MuJoCo Warp's batched model fields (``put_model(batch_sizes=…)``, one row
per world, written in place through ``wp.to_torch`` views so recorded graphs keep reading
them) and are drawn from the engine's seeded ``torch.Generator`` at each reset: reproducible,
the same distributions as the CPU engine, not the same numbers (as the reset draws).
"""

from __future__ import annotations

import torch

from robopg.envs.randomize import NOISE_GROUPS, ModelLayout, RandomizeSettings


class DeviceRandomizer:
    """Per-world parameters, delayed actions and observation noise of N worlds on ``device``.

    ``bind(fields)`` takes the engine's (N, ...) views of the batched model fields;
    ``reset(gen, mask)`` draws every world's parameters (one draw for all N, kept where
    ``mask``) and writes them; ``command`` and ``perturb`` act per step.
    """

    def __init__(
        self,
        settings: RandomizeSettings,
        layout: ModelLayout,
        num_envs: int,
        device: torch.device,
        act_dim: int | None = None,
    ) -> None:
        self.settings = settings
        self.layout = layout
        self.num_envs = num_envs
        self.device = device

        def t(x: object, dtype: torch.dtype = torch.float32) -> torch.Tensor:
            return torch.as_tensor(x, dtype=dtype, device=device)

        self.nominal = {k: t(v) for k, v in layout.nominal.items()}
        self.bodies = t(layout.arm_bodies, torch.int64)
        self.dofs = t(layout.arm_dofs, torch.int64)
        self.pairs = t(layout.puck_pairs, torch.int64)
        n, nb, nd = num_envs, layout.arm_bodies.size, layout.arm_dofs.size
        self.link_mass = torch.ones(n, nb, device=device)
        self.damping = torch.ones(n, nd, device=device)
        self.frictionloss = self.nominal["dof_frictionloss"][self.dofs].repeat(n, 1)
        self.strength = torch.ones(n, layout.nu, device=device)
        self.delay = torch.zeros(n, dtype=torch.bool, device=device)
        self.puck_mass = torch.ones(n, device=device)
        self.puck_friction = torch.ones(n, layout.puck_pairs.size, device=device)
        width = layout.nu if act_dim is None else act_dim  # an action law's own size
        self.prev = torch.zeros(n, width, device=device)
        self.fields: dict[str, torch.Tensor] = {}

    def bind(self, fields: dict[str, torch.Tensor]) -> None:
        """The engine's (N, ...) views of each field of ``settings.model_fields``."""
        self.fields = fields

    def _uniform(self, gen: torch.Generator, r: tuple[float, float], *shape: int) -> torch.Tensor:
        u = torch.rand((self.num_envs, *shape), generator=gen, device=self.device)
        return r[0] + (r[1] - r[0]) * u

    def reset(self, gen: torch.Generator, mask: torch.Tensor) -> None:
        """Draw new episode parameters for the worlds where ``mask`` (N,) is True, in
        ``draw_episode``'s order, and write their model rows."""
        s, lay, m = self.settings, self.layout, mask[:, None]
        if s.link_mass:
            draw = self._uniform(gen, s.link_mass, lay.arm_bodies.size)
            self.link_mass.copy_(torch.where(m, draw, self.link_mass))
        if s.damping:
            draw = self._uniform(gen, s.damping, lay.arm_dofs.size)
            self.damping.copy_(torch.where(m, draw, self.damping))
        if s.frictionloss:
            draw = self._uniform(gen, s.frictionloss, lay.arm_dofs.size)
            self.frictionloss.copy_(torch.where(m, draw, self.frictionloss))
        if s.motor_strength:
            draw = self._uniform(gen, s.motor_strength, lay.nu)
            self.strength.copy_(torch.where(m, draw, self.strength))
        if s.delay_probability > 0:
            coin = self._uniform(gen, (0.0, 1.0)) < s.delay_probability
            self.delay.copy_(torch.where(mask, coin, self.delay))
        if lay.puck >= 0 and s.puck_mass:
            draw = self._uniform(gen, s.puck_mass)
            self.puck_mass.copy_(torch.where(mask, draw, self.puck_mass))
        if lay.puck >= 0 and s.puck_friction:
            draw = self._uniform(gen, s.puck_friction, lay.puck_pairs.size)
            self.puck_friction.copy_(torch.where(m, draw, self.puck_friction))
        self.prev.masked_fill_(m, 0.0)
        values = self.values()
        for name, rows in self.fields.items():
            shape = (-1,) + (1,) * (rows.dim() - 1)
            rows.copy_(torch.where(mask.view(shape), values[name].to(rows.dtype), rows))

    def values(self) -> dict[str, torch.Tensor]:
        """Every world's field values (N, *field shape): ``model_values``' formulas in torch."""
        n, nom, b = self.num_envs, self.nominal, self.bodies
        scale = torch.ones(n, nom["body_mass"].shape[0], device=self.device)
        scale[:, b] = self.link_mass
        if self.layout.puck >= 0:
            scale[:, self.layout.puck] = self.puck_mass
        gravcomp = nom["body_gravcomp"].repeat(n, 1)
        if self.settings.gravcomp == "nominal":
            gravcomp[:, b] = nom["body_gravcomp"][b] / self.link_mass
        damping = nom["dof_damping"].repeat(n, 1)
        damping[:, self.dofs] *= self.damping
        friction = nom["dof_frictionloss"].repeat(n, 1)
        friction[:, self.dofs] = self.frictionloss
        gear = nom["actuator_gear"].repeat(n, 1, 1)
        gain = nom["actuator_gainprm"].repeat(n, 1, 1)
        bias = nom["actuator_biasprm"].repeat(n, 1, 1)
        servo = nom["actuator_biasprm"][:, 1] != 0  # impedance actuators: scale K and D
        motor = ~servo
        gear[:, motor, 0] *= self.strength[:, motor]
        gain[:, servo, 0] *= self.strength[:, servo]
        bias[:, servo, 1:3] *= self.strength[:, servo, None]
        pair = nom["pair_friction"].repeat(n, 1, 1)
        pair[:, self.pairs, :2] *= self.puck_friction[:, :, None]
        return {
            "body_mass": nom["body_mass"] * scale,
            "body_inertia": nom["body_inertia"] * scale[:, :, None],
            "body_gravcomp": gravcomp,
            "dof_damping": damping,
            "dof_frictionloss": friction,
            "actuator_gear": gear,
            "actuator_gainprm": gain,
            "actuator_biasprm": bias,
            "pair_friction": pair,
        }

    def command(self, actions: torch.Tensor) -> torch.Tensor:
        """The (N, act_dim) actions applied this step (what an action law receives): the
        previous ones in delayed worlds."""
        if self.settings.delay_probability <= 0:
            return actions
        applied = torch.where(self.delay[:, None], self.prev, actions)
        self.prev.copy_(actions)
        return applied

    def perturb(
        self, gen: torch.Generator, qpos: torch.Tensor, qvel: torch.Tensor, xpos: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Noisy (N, nq), (N, nv), (N, nbody, 3), each group drawn only if its σ is positive."""
        out = []
        for group, x in zip(NOISE_GROUPS, (qpos, qvel, xpos), strict=True):
            sigma = self.settings.obs_noise.get(group, 0.0)
            if sigma > 0:
                eps = torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)
                x = x + sigma * eps
            out.append(x)
        return out[0], out[1], out[2]
