"""The device engine: N worlds of one arm task in MuJoCo Warp, observed in torch on the device.

Why it exists: the batched CPU engine is bounded by CPU physics and by one host↔device copy of
observations and actions per step. Here physics (``mujoco_warp.step`` over ``nworld =
num_envs``), observations, rewards, time limits and same-step auto-resets all stay on the
engine's device: torch reads and writes the Warp arrays through zero-copy ``wp.to_torch`` views,
so a step launches kernels and never waits for the host.

Conventions shared with ``robopg.envs.batched.BatchedArmEnv`` (and so with gymnasium): the same
MJCF and frame skip; actions go to ``ctrl`` as sent (the collector clips them to the actuator
range); observations and rewards after a step read body positions as ``mj_step`` leaves them
(computed at the start of the last substep, one substep behind ``qpos``, exactly as gymnasium);
after a reset, kinematics are recomputed so body positions match the new ``qpos``. Differences:
float32 physics (tolerances measured in ``tests/warp/test_warp_engine.py``), reset draws from one
seeded ``torch.Generator`` per engine instead of one numpy generator per env, and no snapshot
(``state_dict`` is None: a resumed run starts fresh episodes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from robopg.collect.warp.actions import device_law
from robopg.collect.warp.install import require_warp
from robopg.collect.warp.randomize import DeviceRandomizer
from robopg.collect.warp.tasks import device_task
from robopg.envs.batched import ArmTask, skip_impossible_collisions
from robopg.envs.franka_control import JointTargetLaw
from robopg.envs.randomize import ModelLayout, RandomizeSettings
from robopg.errors import EnvError


@dataclass(frozen=True)
class DeviceStep:
    """One step of N worlds, as tensors on the engine's device (float32, bools)."""

    obs: torch.Tensor  # (N, obs_dim), already the next episode's first obs where one ended
    reward: torch.Tensor  # (N,)
    terminated: torch.Tensor  # (N,) bool
    truncated: torch.Tensor  # (N,) bool
    final_obs: torch.Tensor  # (N, obs_dim), the last obs of the ended episode (= obs elsewhere)


def contact_overflow_bits() -> int:
    """The ``OverflowType`` bits meaning contacts or constraints were dropped."""
    _, mjw = require_warp()
    o = mjw.OverflowType
    return int(o.NEFC | o.NJMAX_NNZ | o.BROADPHASE | o.NARROWPHASE | o.CCD)


class WarpArmEnv:
    """``num_envs`` worlds of an ``ArmTask`` in MuJoCo Warp on ``device`` ("cpu" or "cuda[:k]").

    The same fields as a ``VectorEnv``; ``reset`` and ``step`` take and return tensors on
    ``self.device``. ``nconmax``/``njmax`` size the contact and constraint buffers per world
    (defaults: generous for the tasks with contacts, see ``CONTACT_BUFFERS``); an overflow is
    detected, not ignored: ``check_overflow`` (one host sync, called once per rollout) raises
    one sentence. ``graphs`` (default on) records each Warp sequence the engine repeats
    (physics, reset, kinematics) once and replays it; off, every kernel is launched from Python
    (the same numbers, bit for bit: ``tests/warp/test_warp_engine.py``). ``randomize``
    (``robopg.envs.randomize``): the fields it varies are batched per world and drawn at each
    reset from the engine's generator (``robopg.collect.warp.randomize``); with observation
    noise, ``true_final_obs`` holds each step's noise-free ``final_obs``.
    """

    device_resident = True
    #: per-task (nconmax, njmax) per world; over 20 random-action episodes on the CPU engine
    #: Pusher measured ≤ 5 contacts and ≤ 6 constraint rows, panda-push (full-range actions)
    #: ≤ 7 and ≤ 16, so these leave a wide margin
    CONTACT_BUFFERS: ClassVar[dict[str, tuple[int, int]]] = {
        "pusher": (64, 256),
        "panda-push": (64, 256),
    }

    def __init__(
        self,
        arm: ArmTask,
        num_envs: int,
        device: str | torch.device = "cpu",
        nconmax: int | None = None,
        njmax: int | None = None,
        log: Callable[[str], None] | None = None,
        graphs: bool = True,
        randomize: RandomizeSettings | None = None,
    ) -> None:
        if num_envs < 1:
            raise EnvError(f"num_envs must be at least 1, got {num_envs}.")
        wp, mjw = require_warp()
        self._wp, self._mjw = wp, mjw
        self.device = torch.device(device)
        if self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", torch.cuda.current_device())
        if self.device.type not in ("cpu", "cuda"):
            raise EnvError(f"--engine warp runs on cpu or cuda, not on '{self.device}'.")
        self._wp_device = "cpu" if self.device.type == "cpu" else f"cuda:{self.device.index}"
        self.arm = arm
        self.task = arm.name
        self.dtask = device_task(arm, self.device)
        model = arm.model
        skip_impossible_collisions(model)
        self.num_envs = num_envs
        self.obs_dim = arm.obs_dim
        self.act_dim = int(model.nu)
        ranges = model.actuator_ctrlrange.astype(np.float32).astype(np.float64)
        self.action_low = ranges[:, 0].copy()
        self.action_high = ranges[:, 1].copy()
        # the action interface's law (None: the action is ctrl), as the batched engine runs it
        self._law = None if arm.law is None else device_law(arm.law, self.device)
        if arm.law is not None:
            self.act_dim = arm.law.action_dim
            self.action_low, self.action_high = arm.law.action_low, arm.law.action_high
        self.max_episode_steps = arm.max_episode_steps
        self.dt = float(model.opt.timestep * arm.frame_skip)
        con, efc = self.CONTACT_BUFFERS.get(arm.name, (None, None))
        self.nconmax = nconmax if nconmax is not None else con
        self.njmax = njmax if njmax is not None else efc
        batched = {} if randomize is None else dict.fromkeys(randomize.model_fields, num_envs)
        if arm.law is not None:  # the law's torque-rate clamp sets a force range per world
            batched["actuator_forcerange"] = num_envs
        with self._scope():
            self._m = mjw.put_model(model, batch_sizes=batched)
            self._d = mjw.make_data(model, nworld=num_envs, nconmax=self.nconmax, njmax=self.njmax)
            self._reset_mask = wp.zeros(num_envs, dtype=bool)
        d = self._d
        self._qpos = wp.to_torch(d.qpos)
        self._qvel = wp.to_torch(d.qvel)
        self._ctrl = wp.to_torch(d.ctrl)
        self._xpos = wp.to_torch(d.xpos)
        self._mocap = wp.to_torch(d.mocap_pos) if model.nmocap else None
        if self._law is not None:  # the law's state (act) and the frames it reads
            self._act = wp.to_torch(d.act)
            self._xanchor = wp.to_torch(d.xanchor)
            self._xaxis = wp.to_torch(d.xaxis)
        self._overflow = wp.to_torch(d.overflow)
        self._mask = wp.to_torch(self._reset_mask)
        if self.dtask.needs_kinematics:  # a scratch copy of the worlds for reset-time FK
            with self._scope():
                self._fk_d = mjw.make_data(model, nworld=num_envs)
            self._fk_qpos = wp.to_torch(self._fk_d.qpos)
            self._fk_xpos = wp.to_torch(self._fk_d.xpos)
            self.dtask.fk = self._kinematics
        self._overflow_bits = contact_overflow_bits()
        self._seen_overflow = torch.zeros(num_envs, dtype=self._overflow.dtype, device=self.device)
        self._elapsed = torch.zeros(num_envs, dtype=torch.int64, device=self.device)
        self._lockstep: int | None = None  # steps since all worlds reset together, if they did
        self._gen = torch.Generator(device=self.device)
        self._obs: torch.Tensor | None = None
        self.randomizer: DeviceRandomizer | None = None
        if randomize is not None:
            self.randomizer = DeviceRandomizer(
                randomize, ModelLayout.of(model), num_envs, self.device, self.act_dim
            )
            fields = randomize.model_fields
            self.randomizer.bind({f: wp.to_torch(getattr(self._m, f)) for f in fields})
        self._rate_clamp = None
        if isinstance(arm.law, JointTargetLaw):
            from robopg.collect.warp.rate import DeviceTorqueRange

            self._force = wp.to_torch(d.actuator_force)
            self._rate_clamp = DeviceTorqueRange(
                arm.law, d.actuator_force, self._m.actuator_forcerange, self._wp_device
            )
        self.true_final_obs: torch.Tensor | None = None
        self._log = log
        # None while the kernels load (a capture cannot load modules), then {} if graphs are on
        self._graphs: dict[str, Any] | None = None
        self.compile_seconds = self._compile(log)
        if graphs:
            self._graphs = {}

    # -- the engine contract ----------------------------------------------------------------

    def reset(self, seed: int) -> torch.Tensor:
        """Reset every world from a generator seeded with ``seed``; (N, obs_dim) observations."""
        if seed < 0:
            raise EnvError(f"Seeds must be non-negative integers, got {seed}.")
        self._gen.manual_seed(int(seed))
        self._seen_overflow.zero_()
        self._reset_where(torch.ones(self.num_envs, dtype=torch.bool, device=self.device))
        self._lockstep = 0
        obs = self._observe()
        self._obs = obs
        return obs.clone()

    def step(self, actions: torch.Tensor) -> DeviceStep:
        """Write ``actions`` (N, act_dim) to ``ctrl``, run ``frame_skip`` substeps, auto-reset."""
        if self._obs is None:
            raise EnvError(f"Task '{self.task}': call reset(seed) before step(actions).")
        if tuple(actions.shape) != (self.num_envs, self.act_dim):
            raise EnvError(
                f"Task '{self.task}' expects actions of shape ({self.num_envs}, {self.act_dim}) "
                f"(num_envs, action_dim), got {tuple(actions.shape)}."
            )
        acts = actions.to(device=self.device, dtype=torch.float32)
        applied = acts if self.randomizer is None else self.randomizer.command(acts)
        if self._law is None:
            self._ctrl.copy_(applied)
        else:
            ctrl = self._law.command(
                applied, self._ctrl, self._qpos, self._xpos, self._xanchor, self._xaxis
            )
            self._ctrl.copy_(ctrl)
        self.simulate()
        self._seen_overflow |= self._overflow
        obs = self._observe()
        if self.randomizer is not None and self.randomizer.settings.noise:
            self.true_final_obs = self.dtask.observe(self._qpos, self._qvel, self._xpos)
        reward = self.dtask.reward(self._xpos, acts)
        terminated = self.dtask.terminated(self._xpos)
        self._elapsed += 1
        truncated = self._elapsed >= self.max_episode_steps
        final_obs = obs
        if self._may_end():
            done = terminated | truncated
            self._reset_where(done)
            fresh = self._observe()
            obs = torch.where(done[:, None], fresh, obs)
        self._obs = obs
        return DeviceStep(obs, reward, terminated, truncated, final_obs)

    def simulate(self) -> None:
        """Physics only: ``frame_skip`` substeps of every world from the ``ctrl`` already set
        (what ``step`` runs before observing; ``benchmarks/gpu.py`` times it alone)."""
        self._warp("physics", self._physics)

    def synchronize(self) -> None:
        """Wait for the device's queued work (for timing; the engine itself never waits)."""
        self._wp.synchronize_device(self._wp_device)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def reset_worlds(self, mask: torch.Tensor) -> torch.Tensor:
        """Reset the worlds where ``mask`` (N,) bool is True; the (N, obs_dim) observations."""
        self._reset_where(mask.to(device=self.device, dtype=torch.bool))
        self._lockstep = None  # worlds no longer share one step count
        obs = self._observe()
        self._obs = obs
        return obs.clone()

    def load_states(
        self, qpos: np.ndarray, qvel: np.ndarray, mocap: np.ndarray | None = None
    ) -> torch.Tensor:
        """Start every world's episode from given states (N, nq), (N, nv), (N, nmocap, 3).

        For comparing with another engine from the same initial states (the tests copy the CPU
        engine's reset states here). Returns the (N, obs_dim) observations.
        """
        if self._obs is None:
            raise EnvError(f"Task '{self.task}': call reset(seed) before load_states().")
        self._qpos.copy_(torch.as_tensor(qpos, dtype=torch.float32))
        self._qvel.copy_(torch.as_tensor(qvel, dtype=torch.float32))
        if mocap is not None and self._mocap is not None:
            self._mocap.copy_(torch.as_tensor(mocap, dtype=torch.float32))
        if self._law is not None:
            start = self._law.reset_ctrl(self._qpos)
            self._ctrl.copy_(start)
            self._act.copy_(start)
        self._elapsed.zero_()
        self._lockstep = 0
        self._warp("kinematics", self._kinematics_of_worlds)
        obs = self.dtask.observe(self._qpos, self._qvel, self._xpos)
        self._obs = obs
        return obs.clone()

    def check_overflow(self) -> None:
        """Raise one EnvError if any world dropped contacts or constraints since ``reset``.

        One host synchronisation; the collector calls it once per rollout, before the batch is
        used, so no update ever trains on a simulation with dropped contacts.
        """
        bad = torch.nonzero(self._seen_overflow & self._overflow_bits).flatten()
        if bad.numel():
            raise EnvError(
                f"Task '{self.task}': MuJoCo Warp ran out of contact/constraint buffers in "
                f"worlds {bad[:5].tolist()} (nconmax={self.nconmax}, njmax={self.njmax}); "
                "raise them (WarpArmEnv(nconmax=…, njmax=…)) rather than simulate dropped contacts."
            )

    def state_dict(self) -> dict[str, Any] | None:
        """None: the device engine does not snapshot (a resumed run starts fresh episodes)."""
        return None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise EnvError("The warp engine cannot restore a snapshot; resume starts fresh episodes.")

    def close(self) -> None:
        """Nothing to release beyond device memory, freed with the engine."""

    # -- internals ---------------------------------------------------------------------------

    def _observe(self) -> torch.Tensor:
        """(N, obs_dim) from the current state, from noisy measurements under observation
        noise (``robopg.envs.randomize``)."""
        q, qd, x = self._qpos, self._qvel, self._xpos
        if self.randomizer is not None and self.randomizer.settings.noise:
            q, qd, x = self.randomizer.perturb(self._gen, q, qd, x)
        return self.dtask.observe(q, qd, x)

    def _may_end(self) -> bool:
        """Whether an episode may end this step, known on the host without a device sync.

        The arm tasks never terminate, so while all worlds share one step count (they reset
        together) episodes end exactly every ``max_episode_steps`` steps.
        """
        if self.dtask.terminates or self._lockstep is None:
            return True
        self._lockstep += 1
        if self._lockstep >= self.max_episode_steps:
            self._lockstep = 0
            return True
        return False

    def _reset_where(self, mask: torch.Tensor) -> None:
        """``reset_data`` for the masked worlds, a fresh draw written there, then kinematics."""
        self._mask.copy_(mask)
        draw = self.dtask.reset_state(self._gen, self.num_envs)
        if self.randomizer is not None:
            self.randomizer.reset(self._gen, mask)
        self._warp("reset", self._reset_masked)
        m = mask[:, None]
        self._qpos.copy_(torch.where(m, draw.qpos, self._qpos))
        self._qvel.copy_(torch.where(m, draw.qvel, self._qvel))
        if draw.mocap is not None and self._mocap is not None:
            self._mocap.copy_(torch.where(mask[:, None, None], draw.mocap, self._mocap))
        if self._law is not None:  # the target (and its filter) start where the arm is
            start = self._law.reset_ctrl(self._qpos)
            self._ctrl.copy_(torch.where(m, start, self._ctrl))
            self._act.copy_(torch.where(m, start, self._act))
        if self._rate_clamp is not None:  # the torque-rate clamp starts from rest torque
            self._force.masked_fill_(m, 0.0)
        self._elapsed.masked_fill_(mask, 0)
        self._warp("kinematics", self._kinematics_of_worlds)

    def _kinematics(self, qpos: torch.Tensor) -> torch.Tensor:
        """Body positions (N, nbody, 3) of joint angles (N, nq), on the scratch worlds."""
        self._fk_qpos.copy_(qpos)
        self._warp("scratch kinematics", lambda: self._mjw.kinematics(self._m, self._fk_d))
        return self._fk_xpos.clone()

    # The Warp sequences the engine repeats. Each reads its inputs (ctrl, the reset mask, qpos)
    # from arrays allocated once in __init__, so one recording serves every later call.

    def _physics(self) -> None:
        for _ in range(self.arm.frame_skip):
            if self._rate_clamp is not None:  # the law's force range, from the last substep
                self._rate_clamp.launch()
            self._mjw.step(self._m, self._d)

    def _reset_masked(self) -> None:
        self._mjw.reset_data(self._m, self._d, reset=self._reset_mask)

    def _kinematics_of_worlds(self) -> None:
        self._mjw.kinematics(self._m, self._d)

    @property
    def graphs(self) -> tuple[str, ...]:
        """The Warp sequences recorded so far and replayed from then on (empty: graphs off)."""
        return tuple(self._graphs or ())

    def _warp(self, name: str, launches: Callable[[], None]) -> None:
        """Run the Warp kernels ``launches`` issues, on this engine's device and stream.

        Why graphs: one ``mujoco_warp.step`` is a few hundred kernel launches, each a Python
        call; at a few thousand worlds or fewer that overhead, not the physics, bounds a step.
        With graphs on, the first call records the launches (a CUDA graph on a GPU, Warp's API
        capture on its CPU device) and every call replays them at once. A recording does not
        run them, so the first call records and then replays. Should recording fail (an older
        driver, say), the engine says so once and launches from Python from then on.
        """
        graphs = self._graphs
        if graphs is not None and name not in graphs:
            try:
                graphs[name] = self._record(launches)
            except Exception as exc:  # any failure to record: run without graphs
                self._graphs = graphs = None
                if self._log is not None:
                    self._log(
                        f"Warp graph capture failed on {self._wp_device} ({exc}); launching "
                        "kernels one by one instead (same results, slower)."
                    )
        with self._scope():
            if graphs is None:
                launches()
            else:
                self._wp.capture_launch(graphs[name])

    def _record(self, launches: Callable[[], None]) -> Any:
        """A Warp graph of ``launches``, recorded without running them.

        CUDA cannot capture on torch's default stream (the legacy stream), so recording uses a
        side stream; replays run on torch's current stream (``_scope``), in order with the
        torch ops around them.
        """
        wp = self._wp
        with wp.ScopedDevice(self._wp_device):
            side = (
                wp.ScopedStream(wp.Stream(self._wp_device))
                if self.device.type == "cuda"
                else nullcontext()
            )
            with side, wp.ScopedCapture() as capture:
                launches()
        return capture.graph

    @contextmanager
    def _scope(self) -> Iterator[None]:
        """Run Warp on this engine's device and, on CUDA, on torch's current stream.

        Sharing torch's stream orders Warp's kernels after the torch ops that wrote ``ctrl``
        and before those that read ``xpos``, without a synchronisation.
        """
        wp = self._wp
        with wp.ScopedDevice(self._wp_device):
            if self.device.type == "cuda":
                stream = wp.stream_from_torch(torch.cuda.current_stream(self.device))
                ctx: Any = wp.ScopedStream(stream)
            else:
                ctx = nullcontext()
            with ctx:
                yield

    def _compile(self, log: Callable[[str], None] | None) -> float:
        """Load (compile on first use, then from Warp's cache) every kernel a step needs.

        Runs reset, one step and kinematics once; the state is discarded by the next
        ``reset``. Returns the seconds it took, and reports them through ``log``.
        """
        if log is not None:
            log(
                f"Loading MuJoCo Warp kernels for {self.task} on {self._wp_device} (compiled "
                "once, then cached)…"
            )
        start = time.perf_counter()
        self._reset_where(torch.ones(self.num_envs, dtype=torch.bool, device=self.device))
        with self._scope():
            if self._rate_clamp is not None:
                self._rate_clamp.launch()
            self._mjw.step(self._m, self._d)
            self._mjw.kinematics(self._m, self._d)
            self._wp.synchronize_device(self._wp_device)
        seconds = time.perf_counter() - start
        if log is not None:
            log(f"MuJoCo Warp kernels ready in {seconds:.1f} s.")
        return seconds
