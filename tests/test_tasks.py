"""The task table: one TaskSpec per task, and everything else derived from it."""

import gymnasium as gym
import pytest

from robopg.envs import ARM_TASKS, TASKS, TaskSpec, resolve_task
from robopg.envs.batched import ArmTask
from robopg.errors import EnvError


def test_every_named_task_is_one_entry_with_its_arm() -> None:
    assert list(TASKS) == ["reacher", "pusher", "reacher3", "arm7", "panda-reach", "panda-push"]
    for spec in TASKS.values():
        assert spec.arm is not None and issubclass(spec.arm, ArmTask)
        assert spec.arm.name == spec.name  # named by the class, written once
        assert ARM_TASKS[spec.name] is spec.arm
        assert spec.engines == ("batch", "gym", "warp")
        # panda-push (a stretch task) has no bar yet: what REINFORCE reaches is reported
        assert (spec.solved is None) == (spec.name == "panda-push")


def test_gymnasium_registration_comes_from_the_table() -> None:
    registered = {s.name for s in TASKS.values() if s.registers_gym}
    assert registered == {"reacher3", "arm7", "panda-reach", "panda-push"}
    for name in registered:
        spec = TASKS[name]
        gym_spec = gym.spec(spec.gym_id)
        assert spec.arm is not None
        assert gym_spec.reward_threshold == spec.solved
        assert gym_spec.max_episode_steps == spec.arm.max_episode_steps
        assert gym_spec.kwargs == {"task": name}
    # gymnasium's own ids keep gymnasium's registration
    assert gym.spec("Reacher-v5").entry_point != "robopg.envs.gym_env:ArmGymEnv"


def test_a_gymnasium_only_task_has_only_the_gym_engine() -> None:
    spec = resolve_task("InvertedPendulum-v5")
    assert spec.arm is None and spec.engines == ("gym",)
    with pytest.raises(EnvError, match="gymnasium-only"):
        spec.arm_task()
    with pytest.raises(ValueError, match="needs an ArmTask"):
        TaskSpec("x", "X-v0", "no arm", registers_gym=True)


def test_each_task_module_is_named_after_its_task_and_the_help_lists_them() -> None:
    """The CLI's help lists the tasks from envs/arms' file names (no MuJoCo import)."""
    from robopg.config import TrainConfig, _own_task_names

    own = [name for name, spec in TASKS.items() if spec.arm is not None]
    assert _own_task_names() == sorted(own)
    help_text = TrainConfig.__dataclass_fields__["env"].metadata["help"]
    assert all(name in help_text for name in own)
