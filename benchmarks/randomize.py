"""What domain randomization costs the batched engine: env steps/s off vs on, side by side.

Run:  .venv/bin/python benchmarks/randomize.py            (options: --help; ~1 minute on 2 cores)

For panda-reach and panda-push it builds ``BatchedArmEnv`` with each setting below and times
``step`` under random actions (auto-resets included, which redraw the parameters), repeating
the settings in turn (``--rounds``) so that load from other processes falls on all of them; it
prints the median env steps per wall-clock second and per CPU second of the process (all its
threads: the cost, less sensitive to other processes on the cores), and their ratios to
``off``:

- ``off``: no randomizer (the engine as without ``--randomize``);
- ``model``: masses, inertias, damping, motor strength, the puck's mass and friction (the rows
  of ``Batch.expand``'s per-simulation fields, written at reset), no friction loss;
- ``frictionloss``: the joints' dry friction alone (it adds constraint rows to every substep);
- ``noise``: observation noise alone (a draw and a second ``observe`` per step);
- ``delay``: the one-step action delay alone;
- ``panda``: the shipped preset, everything at once.

With ``--ablate [POLICY ...]``, it scores policies instead (run directories, checkpoints or task
names; by default the shipped panda-reach and panda-push policies), as ``robopg eval POLICY
--episodes N --randomize …`` does (deterministic, episode i seeded i), nominally,
under the whole preset and under each of its parts alone (the delay at probability 1), so the
drop under randomization can be traced to its causes.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from robopg.envs.batched import BatchedArmEnv, available_cores
from robopg.envs.randomize import RandomizeSettings, load_settings
from robopg.envs.registry import ARM_TASKS


def variants() -> dict[str, RandomizeSettings | None]:
    panda = load_settings("panda")
    assert panda is not None
    none = RandomizeSettings(name="none")
    return {
        "off": None,
        "model": replace(
            panda, frictionloss=None, delay_probability=0.0, obs_noise={}, name="model"
        ),
        "frictionloss": replace(none, frictionloss=panda.frictionloss, name="frictionloss"),
        "noise": replace(none, obs_noise=panda.obs_noise, name="noise"),
        "delay": replace(none, delay_probability=panda.delay_probability, name="delay"),
        "panda": panda,
    }


def steps_per_second(
    task: str, settings: RandomizeSettings | None, num_envs: int, threads: int, steps: int
) -> tuple[float, float]:
    """(env steps per wall second, env steps per CPU second) of ``steps`` engine steps."""
    env = BatchedArmEnv(ARM_TASKS[task].make(), num_envs, threads, settings)
    env.reset(0)
    actions = np.random.default_rng(0).uniform(-0.3, 0.3, (64, num_envs, env.act_dim))
    for t in range(20):  # warm-up
        env.step(actions[t % 64])
    start, cpu = time.perf_counter(), time.process_time()
    for t in range(steps):
        env.step(actions[t % 64])
    n = steps * num_envs
    return n / (time.perf_counter() - start), n / (time.process_time() - cpu)


def parts() -> dict[str, RandomizeSettings | None]:
    """The preset's parts one at a time (``ablate``)."""
    panda = load_settings("panda")
    assert panda is not None
    none = RandomizeSettings()
    return {
        "nominal": None,
        "panda (all)": panda,
        "link masses": replace(none, link_mass=panda.link_mass),
        "link masses, exact gravcomp": replace(none, link_mass=panda.link_mass, gravcomp="actual"),
        "joint damping": replace(none, damping=panda.damping),
        "joint friction loss": replace(none, frictionloss=panda.frictionloss),
        "motor strength": replace(none, motor_strength=panda.motor_strength),
        "action delay (every episode)": replace(none, delay_probability=1.0),
        "observation noise": replace(none, obs_noise=panda.obs_noise),
        "puck mass and friction": replace(
            none, puck_mass=panda.puck_mass, puck_friction=panda.puck_friction
        ),
    }


def ablate(episodes: int, policies: list[str]) -> None:
    from robopg.deploy.controller import Controller
    from robopg.deploy.evaluate import run_episodes
    from robopg.envs.panda import PandaPushTask, PandaReachTask

    successes = {"panda-reach": PandaReachTask.success, "panda-push": PandaPushTask.success}
    for source in policies:
        ctrl = Controller.load(source, safety=False)
        task = ctrl.task
        if task not in successes:
            raise SystemExit(f"{source} is a {task} policy; --ablate scores the Panda tasks.")
        success = successes[task]
        print(f"{source}: a {task} policy, action interface {ctrl.action}")
        for name, settings in parts().items():
            if name.startswith("puck") and task != "panda-push":
                continue
            result = run_episodes(
                task,
                ctrl.act_batch,
                episodes,
                seed=0,
                on_chunk=ctrl.reset,
                randomize=settings,
                action=ctrl.action,
            )
            assert result.final_obs is not None
            ok = success(result.final_obs)
            print(
                f"{task:12s} {name:29s} success {ok.mean():6.1%}  return {result.mean:8.3f} "
                f"± {result.stderr:.3f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="panda-reach,panda-push")
    parser.add_argument("--num-envs", type=int, default=32)
    parser.add_argument("--threads", type=int, default=available_cores())
    parser.add_argument("--steps", type=int, default=400, help="timed steps per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--ablate",
        nargs="*",
        metavar="POLICY",
        help="score policies (default: the shipped panda-reach and panda-push) per part",
    )
    parser.add_argument("--episodes", type=int, default=200, help="episodes per score (--ablate)")
    args = parser.parse_args()
    if args.ablate is not None:
        ablate(args.episodes, args.ablate or ["panda-reach", "panda-push"])
        return
    table = variants()
    print(f"{args.num_envs} envs, {args.threads} threads, median of {args.rounds} rounds")
    for task in args.tasks.split(","):
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in table}
        for _ in range(args.rounds):
            for name, settings in table.items():
                runs[name].append(
                    steps_per_second(task, settings, args.num_envs, args.threads, args.steps)
                )
        base = np.median(np.array(runs["off"]), axis=0)
        for name, values in runs.items():
            wall, cpu = np.median(np.array(values), axis=0)
            print(
                f"{task:12s} {name:13s} {wall:7.0f} env steps/s ({wall / base[0]:4.2f}× off) · "
                f"{cpu:7.0f} per CPU-s ({cpu / base[1]:4.2f}× off)"
            )


if __name__ == "__main__":
    main()
