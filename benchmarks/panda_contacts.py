"""How hard does a panda-push policy press on the puck? Forces the limit monitor does not see.

Franka's robot also stops a motion when the external force it estimates passes the collision
thresholds the user sets (libfranka ``Robot::setCollisionBehavior``; libfranka's examples use
20 N along x, y, z). ``envs/franka.py``'s monitor counts velocity, torque rate and joint range
only, so this benchmark reads the contacts themselves: each trained policy drives the task's
model in plain MuJoCo under ``Controller.attach`` (the env's trajectory bit for bit, with the
policy's own action interface), and every 5 ms physics step sums the normal force of the
hand's and link 7's contacts with the puck and the table.

    .venv/bin/python benchmarks/panda_contacts.py panda-push [RUN ...] --episodes 20

Prints, per policy: the share of physics steps with a hand contact, the median, 95th percentile
and maximum of the summed normal force over those steps, and the share of episodes in which it
passes ``--threshold`` newtons (20: libfranka's example collision threshold) at some step.
"""

from __future__ import annotations

import argparse

import mujoco
import numpy as np

from robopg.deploy.controller import Controller
from robopg.deploy.mujoco_control import arm_class, reset_data, task_model

#: the geoms whose contacts the robot feels as external force (the arm's side of each pair)
ARM_GEOMS = ("hand", "link7")


def contact_forces(source: str, episodes: int) -> tuple[np.ndarray, np.ndarray]:
    """(episodes · steps,) summed normal force (N) of the arm's contacts at every physics step,
    and (episodes,) each episode's peak, for the policy ``source`` on episodes seeded 0…"""
    ctrl = Controller.load(source)
    model, data = task_model(ctrl.task, ctrl.action)
    arm_geoms = {model.geom(name).id for name in ARM_GEOMS}
    wrench = np.zeros(6)
    forces, peaks = [], []
    arm = arm_class(ctrl.task)
    steps = arm.max_episode_steps * arm.frame_skip  # physics steps per episode
    for seed in range(episodes):
        reset_data(ctrl.task, model, data, seed, ctrl.action)
        episode = np.zeros(steps)
        with ctrl.attach(model, data):
            for t in range(steps):
                mujoco.mj_step(model, data)
                for i in range(data.ncon):
                    contact = data.contact[i]
                    if contact.geom1 in arm_geoms or contact.geom2 in arm_geoms:
                        mujoco.mj_contactForce(model, data, i, wrench)
                        episode[t] += wrench[0]  # the normal component, in the contact frame
        forces.append(episode)
        peaks.append(episode.max())
    return np.concatenate(forces), np.array(peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("policies", nargs="+", help="run dirs, checkpoints or panda-push")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--threshold", type=float, default=20.0, help="N (libfranka example)")
    args = parser.parse_args()
    print(
        f"policy | steps in contact | force median | p95 | max | episodes over {args.threshold:g} N"
    )
    for source in args.policies:
        force, peak = contact_forces(source, args.episodes)
        touching = force[force > 0]
        stats = np.percentile(touching, [50, 95]) if touching.size else np.zeros(2)
        print(
            f"{source} | {touching.size / force.size:.1%} | {stats[0]:.1f} N | {stats[1]:.1f} N"
            f" | {force.max():.1f} N | {np.mean(peak > args.threshold):.0%} of {args.episodes}"
        )


if __name__ == "__main__":
    main()
