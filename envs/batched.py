"""The batched MuJoCo arm engine: N copies of one arm task stepped in C, observed with numpy.

Why it exists: one gymnasium env costs a Python ``env.step`` (wrappers, dict building, per-env
numpy calls) per environment per step, about as much again as the physics of Reacher, and a
``SyncVectorEnv`` runs on one core.
Here ``mujoco.batch.Batch`` steps every simulation in C across threads, and observations, rewards,
time limits and auto-resets are computed with numpy over the whole batch, so the Python work per
step is a fixed handful of array operations however many environments there are.

Exactness: a task reproduces its gymnasium counterpart bit for bit (see ``ArmTask``). The engine
keeps gymnasium's conventions that matter for that: env ``i`` is seeded with ``seed + i`` and
owns its own ``numpy.random.Generator`` that is only drawn from at reset; actions are rounded to
float32 (the action space's dtype, as the gymnasium backend sends them) and are not clipped (MuJoCo
clamps ``ctrl`` to the actuator range, the control cost sees the raw action); the time limit
truncates after ``max_episode_steps`` steps and the env auto-resets in the same step.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
from mujoco.batch import Batch, SimulationError

from robopg.envs.actions import ActionLaw
from robopg.envs.franka import JointLimits, LimitMonitor
from robopg.envs.randomize import Randomizer, RandomizeSettings
from robopg.envs.vector import StepResult, check_actions, pair_seeds, restore_rngs
from robopg.errors import EnvError

#: the physics state a snapshot holds per env: qpos, qvel, act, warmstart, time, ctrl, mocap …
STATE_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION
SNAPSHOT_VERSION = 1
#: a snapshot's keys for the frames an action law reads (body positions, joint anchors, axes)
FRAMES = ("frame_xpos", "frame_xanchor", "frame_xaxis")


def available_cores() -> int:
    """CPU cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def make_rng(seed: int) -> np.random.Generator:
    """The generator gymnasium gives an env reset with ``seed`` (PCG64 over a SeedSequence)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))


def ctrl_cost(actions: np.ndarray, weight: float) -> np.ndarray:
    """``-weight·‖a‖²`` per row, in the actions' own dtype, as gymnasium computes it.

    gymnasium evaluates ``-np.square(action).sum() * weight`` on the float32 action it was given,
    so the sum and the product are float32 (a Python float is a weak scalar under NEP 50).
    Rows of fewer than 8 elements are summed left to right by numpy, per row or per batch alike.
    """
    return -np.square(actions).sum(axis=1) * weight


def target_in_disc(rng: np.random.Generator, radius: float) -> np.ndarray:
    """A 2-D target uniform in the open disc of ``radius``, by rejection from the square.

    The draws are Reacher-v5's (pairs from U(−r, r)² until one falls inside), so the RNG stream
    stays gymnasium's; reacher3 reuses the same rule.
    """
    while True:
        goal = rng.uniform(low=-radius, high=radius, size=2)
        if np.linalg.norm(goal) < radius:
            return goal


def row_norm(v: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row of a (k, 3) or (k, 2) array, rounded as ``np.linalg.norm``.

    ``np.linalg.norm`` of a 1-D vector is ``sqrt(x.dot(x))``, a BLAS dot product whose rounding
    depends on the CPU kernel OpenBLAS picks at run time: left to right on some machines, a chain
    of fused multiply-adds on others (seen here with numpy 2.4's OpenBLAS 0.3.31, Haswell
    kernel). ``np.vecdot`` runs the same dot inner loop per row, so it rounds exactly as
    gymnasium's per-env ``np.linalg.norm`` on every machine; the equivalence tests compare
    rewards bit for bit and would say otherwise.
    """
    return np.sqrt(np.vecdot(v, v))


def can_collide(model: mujoco.MjModel) -> bool:
    """Whether any two geoms of ``model`` could ever make a contact.

    MuJoCo considers a geom pair only if ``contype`` of one and ``conaffinity`` of the other share
    a bit, or if the MJCF lists it explicitly (``<pair>``). Reacher's MJCF sets these so that no
    pair qualifies, yet MuJoCo still runs broad-phase collision detection every substep.
    """
    if model.npair or model.nflex:
        return True
    contype = model.geom_contype.astype(np.int64)
    conaffinity = model.geom_conaffinity.astype(np.int64)
    mask = (contype[:, None] & conaffinity[None, :]) | (contype[None, :] & conaffinity[:, None])
    np.fill_diagonal(mask, 0)
    return bool(mask.any())


def skip_impossible_collisions(model: mujoco.MjModel) -> None:
    """Turn off collision detection where ``can_collide`` says it can find nothing.

    An exact no-op on the results (there are zero contacts either way, which the equivalence
    tests check bit for bit) that saves about a fifth of Reacher's physics time.
    """
    if not can_collide(model):
        model.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_CONTACT)


class ArmTask:
    """What makes one arm task: its model and the numpy maths on top of the physics.

    Subclasses set the class attributes and implement ``reset_state``, ``observe`` and
    ``reward``. Every method works on a batch of rows, so the engine calls it once per step for
    all envs and the gymnasium env (``robopg.envs.gym_env``) calls it with one row: one
    definition serves both, and they agree bit for bit. What robopg calls the task (gymnasium
    id, description, solved bar) is its entry in the task table, ``robopg.envs.tasks``.
    """

    name: str = ""
    xml_path: Path = Path()
    frame_skip: int = 1
    max_episode_steps: int = 1000
    obs_dim: int = 0
    #: the action interface's law (``robopg.envs.actions``); None: the action is ``ctrl``
    #: itself (torque). ``TaskSpec.make_arm(action)`` sets it with the model it runs on.
    law: ActionLaw | None = None
    #: the real arm's limits (``robopg.envs.franka``): the engine then counts violations
    limits: JointLimits | None = None
    #: where the observation holds the arm's cos θ, sin θ and θ̇ (start indices, one entry per
    #: joint of ``limits`` each): what a deployment safety layer reads (``robopg.deploy.safety``)
    obs_joints: tuple[int, int, int] | None = None

    def __init__(self, model: mujoco.MjModel) -> None:
        self.model = model
        self.init_qpos = model.qpos0.copy()
        self.init_qvel = np.zeros(model.nv)
        self.init_mocap_pos = model.body_pos[model.body_mocapid >= 0].copy()

    @classmethod
    def load_model(cls) -> mujoco.MjModel:
        """The task's MjModel, freshly compiled (each engine or env owns its copy)."""
        return mujoco.MjModel.from_xml_path(str(cls.xml_path))

    @classmethod
    def make(cls) -> ArmTask:
        """The task on a fresh model."""
        return cls(cls.load_model())

    def body(self, name: str) -> int:
        """Body id by name, with a clear error for an MJCF that lacks it."""
        idx = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, name)
        if idx < 0:
            raise EnvError(f"Task '{self.name}': the model has no body named '{name}'.")
        return int(idx)

    def reset_state(
        self, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Draw one env's initial (qpos, qvel, mocap_pos or None) from its own generator."""
        raise NotImplementedError

    def observe(self, qpos: np.ndarray, qvel: np.ndarray, xpos: np.ndarray) -> np.ndarray:
        """Observations (k, obs_dim) float64 from (k, nq), (k, nv) and (k, nbody, 3)."""
        raise NotImplementedError

    def reset_data(self, data: mujoco.MjData, rng: np.random.Generator) -> np.ndarray:
        """gymnasium's ``env.reset`` on one MjData of this model; returns the (obs_dim,) obs.

        ``mj_resetData``, draw (qpos, qvel, mocap) from ``rng``, write them, ``mj_forward``:
        the steps ``MujocoEnv.reset`` takes, so with ``rng = make_rng(seed)`` the data is
        the state ``env.reset(seed=seed)`` starts from (the gymnasium env of our own arms
        calls this very method).
        """
        mujoco.mj_resetData(self.model, data)
        qpos, qvel, mocap = self.reset_state(rng)
        if mocap is not None:
            data.mocap_pos[:] = mocap
        data.qpos[:] = qpos
        data.qvel[:] = qvel
        if self.law is not None:  # the target (and its filter) start where the arm is
            data.ctrl[:] = data.act[:] = self.law.reset_ctrl(data.qpos[None])[0]
        mujoco.mj_forward(self.model, data)
        return self.observe(data.qpos[None], data.qvel[None], data.xpos[None])[0]

    def reward(self, xpos: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Rewards (k,) float64 from body positions after the step and the float32 actions."""
        raise NotImplementedError

    def terminated(self, xpos: np.ndarray) -> np.ndarray:
        """Termination flags (k,); arm tasks run to their time limit, so all False by default."""
        return np.zeros(xpos.shape[0], dtype=bool)

    @classmethod
    def eval_report(
        cls, final_obs: np.ndarray, peak_obs: np.ndarray, peak_action: np.ndarray
    ) -> list[str]:
        """Lines ``robopg eval`` prints after the return, from each episode's last observation
        and its peak |obs| / |action| per dimension ((episodes, obs_dim), (episodes, act_dim)).
        A task with a success criterion or safety numbers overrides it; none by default."""
        return []


class ReachTask(ArmTask):
    """An arm whose body ``fingertip`` is brought to a body ``target``: Reacher-v5, reacher3,
    arm7. They share the reward −w_d·‖fingertip − target‖ − w_c·‖a‖² (each sets its weights),
    written once here so the three cannot drift apart."""

    reward_dist_weight: float = 1.0
    reward_control_weight: float = 1.0

    def __init__(self, model: mujoco.MjModel) -> None:
        super().__init__(model)
        self.fingertip = self.body("fingertip")
        self.target = self.body("target")

    def reward(self, xpos: np.ndarray, actions: np.ndarray) -> np.ndarray:
        dist = -row_norm(xpos[:, self.fingertip] - xpos[:, self.target]) * self.reward_dist_weight
        return dist + ctrl_cost(actions, self.reward_control_weight)


class BatchedArmEnv:
    """``num_envs`` copies of an ``ArmTask`` on ``mujoco.batch``; satisfies ``VectorEnv``.

    ``num_threads`` defaults to the cores available; results do not depend on it (the batch is
    bit-identical to stepping each MjData alone). Call ``reset(seed)`` before ``step``.
    ``randomize`` (``robopg.envs.randomize``): per-episode model parameters, observation noise
    and action delay; the per-env parameters are rows of ``Batch.expand``'s per-simulation
    model fields. With noise, ``true_final_obs`` holds each step's noise-free ``final_obs``.
    """

    def __init__(
        self,
        task: ArmTask,
        num_envs: int,
        num_threads: int | None = None,
        randomize: RandomizeSettings | None = None,
    ) -> None:
        if num_envs < 1:
            raise EnvError(f"num_envs must be at least 1, got {num_envs}.")
        threads = available_cores() if num_threads is None else int(num_threads)
        if threads < 1:
            raise EnvError(f"num_threads must be at least 1, got {num_threads}.")
        self.arm = task  # the task definition (the VectorEnv field `task` is its name)
        self.task = task.name
        self.model = task.model
        self.num_envs = num_envs
        self.num_threads = min(threads, num_envs)
        self.obs_dim = task.obs_dim
        self.act_dim = int(self.model.nu)
        ranges = self.model.actuator_ctrlrange.astype(np.float32).astype(np.float64)
        self.action_low = ranges[:, 0].copy()
        self.action_high = ranges[:, 1].copy()
        self.law = task.law
        if self.law is not None:
            self.act_dim = self.law.action_dim
            self.action_low, self.action_high = self.law.action_low, self.law.action_high
        self.max_episode_steps = task.max_episode_steps
        self.dt = float(self.model.opt.timestep * task.frame_skip)
        #: per-episode limit statistics (tasks with ``limits``), and the abort setting
        # under an action law the monitor is given the joint torque itself (gear 1, bounded by
        # the actuators' force range) and the peak rate inside each step (``_physics``)
        torque_low, torque_high = self.action_low, self.action_high
        if self.law is not None:
            torque_low, torque_high = self.model.actuator_forcerange.T.copy()
        self.limits = (
            None
            if task.limits is None
            else LimitMonitor(
                task.limits,
                num_envs,
                self.dt,
                self.model.actuator_gear[:, 0],
                torque_low,
                torque_high,
            )
        )
        skip_impossible_collisions(self.model)
        self._batch = Batch(self.model, num_envs, self.num_threads)
        if self._batch.nstate != mujoco.mj_stateSize(self.model, STATE_SPEC):
            raise EnvError(
                "This mujoco build's batch state is not mjSTATE_INTEGRATION; install the "
                "mujoco version robopg was tested with."
            )
        # live views of the state rows (writable) and of the derived outputs (read-only)
        self._qpos = self._batch.bind("qpos")
        self._qvel = self._batch.bind("qvel")
        self._ctrl = self._batch.bind("ctrl")
        self._mocap = self._batch.bind("mocap_pos") if self.model.nmocap else None
        self._xpos = self._batch.bind("xpos")
        if self.law is not None:  # the law's state (act) and the frames it reads
            self._act = self._batch.bind("act")
            self._xanchor = self._batch.bind("xanchor")
            self._xaxis = self._batch.bind("xaxis")
            self._torque = self._batch.bind("actuator_force")
            self._last_torque = np.zeros((num_envs, self.model.nu))  # at the last substep
            # per-env force ranges: the law's torque-rate clamp sets them before each substep
            self._forcerange = self._batch.expand("actuator_forcerange")
        self._elapsed = np.zeros(num_envs, dtype=np.int64)
        self._rngs: list[np.random.Generator] = []
        self._obs: np.ndarray | None = None
        self.randomizer: Randomizer | None = None
        if randomize is not None:
            self.randomizer = Randomizer(randomize, self.model, num_envs, self.act_dim)
            self.randomizer.bind({f: self._batch.expand(f) for f in randomize.model_fields})
        self.true_final_obs: np.ndarray | None = None

    # -- the VectorEnv contract -------------------------------------------------------------

    def reset(self, seed: int, paired: bool = False) -> np.ndarray:
        """Reset every env; env i gets a fresh generator seeded with ``seed + i`` (with
        ``paired``, ``seed + i // 2``: a pair's generators then draw the same starts for as long
        as its episodes end together, as every time-limited one does)."""
        seeds = pair_seeds(seed, self.num_envs, paired)
        self._rngs = [make_rng(s) for s in seeds]
        if self.randomizer is not None:
            self.randomizer.seed(seeds, paired)
        ids = np.arange(self.num_envs)
        self._reset_envs(ids)
        obs = self._observe(None)
        self._obs = obs
        self._keep_frames()
        return obs.copy()

    def step(self, actions: np.ndarray) -> StepResult:
        """Apply actions for ``frame_skip`` substeps; auto-reset the envs that end, same step."""
        if self._obs is None:
            raise EnvError(f"Task '{self.task}': call reset(seed) before step(actions).")
        acts = check_actions(self.task, actions, self.num_envs, self.act_dim).astype(np.float32)
        applied = acts if self.randomizer is None else self.randomizer.command(acts)
        if self.law is None:
            self._ctrl[:] = applied
        else:
            self._ctrl[:] = self.law.command(applied, self._ctrl, self._qpos, *self._frames)
        inner_rate = self._physics()
        obs = self.arm.observe(self._qpos, self._qvel, self._xpos)
        reward = self.arm.reward(self._xpos, acts)
        terminated = self.arm.terminated(self._xpos)
        if self.randomizer is not None and self.randomizer.settings.noise:
            self.true_final_obs = obs
            obs = self._observe(None)
        if self.limits is not None:
            torque = applied if self.law is None else self._last_torque
            violated = self.limits.step(self._qpos, self._qvel, torque, inner_rate)
            if self.limits.abort:
                steps_left = self.max_episode_steps - 1 - self._elapsed
                reward = self.limits.abort_reward(violated, reward, steps_left)
                terminated = terminated | violated
            elif self.limits.shaped:
                reward = self.limits.shaped_reward(violated, reward)
        self._elapsed += 1
        truncated = self._elapsed >= self.max_episode_steps
        final_obs = obs.copy()
        done = np.flatnonzero(terminated | truncated)
        if done.size:
            self._reset_envs(done)
            obs[done] = self._observe(done)
        self._obs = obs
        self._keep_frames()
        return StepResult(
            obs=obs.copy(),
            reward=reward,
            terminated=terminated,
            truncated=truncated,
            final_obs=final_obs,
        )

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue bit for bit: physics rows, counters, generators.

        ``state["obs"]`` is the observation the next action should be computed from: it cannot
        be recomputed from the physics state, because observations after a step read body
        positions one substep behind the state (as gymnasium does after ``mj_step``); with an
        action law, ``state["frame_*"]`` are the body and joint frames its next command reads,
        for the same reason.
        """
        if self._obs is None:
            raise EnvError(f"Task '{self.task}': call reset(seed) before state_dict().")
        frames = {}
        if self.law is not None:
            frames = {key: f.copy() for key, f in zip(FRAMES, self._frames, strict=True)}
            frames["law_torque"] = self._last_torque.copy()
        return {
            **frames,
            "version": SNAPSHOT_VERSION,
            "task": self.task,
            "num_envs": self.num_envs,
            "state_spec": int(STATE_SPEC),
            "physics": self._batch.state.copy(),
            "elapsed": self._elapsed.copy(),
            "obs": self._obs.copy(),
            "rng": [rng.bit_generator.state for rng in self._rngs],
            **({} if self.limits is None else self.limits.state_dict()),
            **({} if self.randomizer is None else self.randomizer.state_dict()),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a ``state_dict()`` of an engine with the same task and number of envs."""
        expected = (SNAPSHOT_VERSION, self.task, self.num_envs, int(STATE_SPEC))
        got = tuple(state.get(k) for k in ("version", "task", "num_envs", "state_spec"))
        if got != expected:
            raise EnvError(
                f"This snapshot is of (version, task, num_envs, state) {got}, but this engine is "
                f"{expected}; resume with the task and number of envs the run was started with."
            )
        physics = np.asarray(state["physics"], dtype=np.float64)
        if physics.shape != self._batch.state.shape:
            raise EnvError(
                f"Task '{self.task}': the snapshot's physics has shape {physics.shape}, expected "
                f"{self._batch.state.shape}; it was saved with a different model or mujoco."
            )
        self._batch.state[...] = physics
        self._elapsed[:] = np.asarray(state["elapsed"], dtype=np.int64)
        self._obs = np.array(state["obs"], dtype=np.float64)
        if self.law is not None:
            xpos, xanchor, xaxis = (np.array(state[k], dtype=np.float64) for k in FRAMES)
            self._frames = (xpos, xanchor, xaxis)
            self._last_torque[:] = np.asarray(state["law_torque"], dtype=np.float64)
        self._rngs = restore_rngs(state["rng"])
        if self.limits is not None:
            self.limits.load_state_dict(state)
        if self.randomizer is not None:
            if "randomize_rng" not in state:
                raise EnvError(
                    f"Task '{self.task}': this snapshot was taken without randomization; resume "
                    "with the --randomize setting the run was started with."
                )
            self.randomizer.load_state_dict(state)

    def close(self) -> None:
        """Nothing to release beyond memory; present for the VectorEnv contract."""

    # -- rendering and inspection ------------------------------------------------------------

    def get_data(self, env: int) -> mujoco.MjData:
        """Env ``env``'s current MjData with derived fields computed, e.g. for mujoco.Renderer."""
        if not 0 <= env < self.num_envs:
            raise EnvError(f"Task '{self.task}' has envs 0..{self.num_envs - 1}, not {env}.")
        data = self._batch.get_data(env)
        mujoco.mj_forward(self.model, data)
        return data

    # -- internals ---------------------------------------------------------------------------

    def _physics(self) -> np.ndarray | None:
        """``frame_skip`` physics steps of every env. Under an action law, one substep at a
        time: before each, the law sets every env's actuator force range from its last
        substep's force (``ActionLaw.torque_range``, the torque-rate clamp); the (N, nu) peak
        |dτ/dt| over the substeps (from the last substep of the step before) is returned for
        the limit monitor, when there is one; else None."""
        if self.law is None:
            self._run(self._batch.step, None, nstep=self.arm.frame_skip)
            return None
        rate = np.zeros_like(self._last_torque)
        for _ in range(self.arm.frame_skip):
            self.law.torque_range(self._last_torque, self._forcerange)
            self._run(self._batch.step, None, nstep=1)
            np.maximum(rate, np.abs(self._torque - self._last_torque), out=rate)
            self._last_torque[:] = self._torque
        return None if self.limits is None else rate / self.model.opt.timestep

    def _keep_frames(self) -> None:
        """Copy the frames the action law's next command reads (body positions, joint anchors
        and axes, as the step left them): a snapshot restores them with the state."""
        if self.law is not None:
            self._frames = (self._xpos.copy(), self._xanchor.copy(), self._xaxis.copy())

    def _reset_envs(self, ids: np.ndarray) -> None:
        """gymnasium's reset for the envs ``ids``: mj_resetData, draw the state, mj_forward."""
        self._run(self._batch.reset, ids, stage=mujoco.mjtStage.mjSTAGE_NONE)
        for i in ids:
            qpos, qvel, mocap = self.arm.reset_state(self._rngs[i])
            self._qpos[i] = qpos
            self._qvel[i] = qvel
            if mocap is not None and self._mocap is not None:
                self._mocap[i] = mocap
        if self.law is not None:  # the target (and its filter) start where the arm is
            self._ctrl[ids] = self._act[ids] = self.law.reset_ctrl(self._qpos[ids])
        if self.randomizer is not None:
            self.randomizer.reset(ids)
        self._elapsed[ids] = 0
        if self.law is not None:  # the torque-rate clamp starts from rest torque
            rows = np.empty((ids.size, self.model.nu, 2))
            self.law.torque_range(np.zeros((ids.size, self.model.nu)), rows)
            self._forcerange[ids] = rows
        self._run(self._batch.forward, ids)
        if self.limits is not None:
            self.limits.reset(ids, self._qvel[ids])
        if self.law is not None:  # the torque the reset state commands (about −D·θ̇)
            self._last_torque[ids] = self._torque[ids]

    def _observe(self, ids: np.ndarray | None) -> np.ndarray:
        """Observations of envs ``ids`` (None: all) from the current state, from noisy
        measurements when the randomization adds observation noise."""
        sel = slice(None) if ids is None else ids
        q, qd, x = self._qpos[sel], self._qvel[sel], self._xpos[sel]
        if self.randomizer is not None and self.randomizer.settings.noise:
            q, qd, x = self.randomizer.perturb(q, qd, x, ids)
        return self.arm.observe(q, qd, x)

    def _run(self, call: Any, ids: np.ndarray | None, **kwargs: Any) -> None:
        """Run a batch call, turning a MuJoCo error into one actionable EnvError."""
        try:
            call(ids, **kwargs)
        except SimulationError as exc:
            raise EnvError(
                f"Task '{self.task}': MuJoCo failed in envs {exc.ids.tolist()[:5]} ({exc}); the "
                "actions or the model are producing an unstable simulation."
            ) from exc
