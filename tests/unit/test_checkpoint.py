"""Checkpoints: parity, safety (no unpickling), atomicity and every load error."""

import json
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from robopg.algo.policy import GaussianPolicy
from robopg.deploy.controller import Controller
from robopg.errors import CheckpointError
from robopg.runs.checkpoint import (
    Checkpoint,
    atomic_write,
    load_checkpoint,
    save_checkpoint,
)
from robopg.runs.saved_policy import policy_from_checkpoint


def load_saved(path: Path) -> GaussianPolicy:
    ckpt = load_checkpoint(path)
    policy = policy_from_checkpoint(ckpt)
    return policy


def test_run_directory_contents(tiny_run: Path) -> None:
    assert json.loads((tiny_run / "config.json").read_text())["env"] == "reacher"
    rows = [json.loads(line) for line in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["time/env_steps"] for r in rows] == [400, 800, 1200, 1600]
    assert sorted(p.name for p in (tiny_run / "checkpoints").iterdir()) == [
        "step_0000000800.safetensors",
        "step_0000001600.safetensors",
    ]
    meta = load_checkpoint(tiny_run / "final.safetensors").meta
    assert meta["env_steps"] == 1600 and meta["eval"]["deterministic"] is True


def test_controller_matches_policy_mean_action_clipped(tiny_run: Path) -> None:
    path = tiny_run / "final.safetensors"
    policy = load_saved(path)
    ctrl = Controller.load(path)
    obs = np.random.default_rng(0).normal(size=(32, 10)) * 3
    with torch.no_grad():
        expected = policy.mean_action(torch.as_tensor(obs, dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(ctrl.act_batch(obs), np.clip(expected, -1, 1), atol=1e-6)
    np.testing.assert_allclose(ctrl.act(obs[0]), ctrl.act_batch(obs[:1])[0])
    # the normaliser really was saved: its statistics are not the initial ones
    assert not np.allclose(ctrl.obs_mean, 0.0)


def test_save_load_roundtrip_is_bit_exact(tmp_path: Path) -> None:
    tensors = {"a": torch.randn(3, 4), "b": torch.arange(5), "rng": torch.Generator().get_state()}
    save_checkpoint(tmp_path / "c.safetensors", Checkpoint(tensors, {"x": [1, 2]}))
    back = load_checkpoint(tmp_path / "c.safetensors")
    assert back.meta["x"] == [1, 2]
    for key, value in tensors.items():
        assert torch.equal(back.tensors[key], value)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.safetensors")
    with pytest.raises(CheckpointError, match="folder"):
        load_checkpoint(tmp_path)


def test_truncated_checkpoint_is_refused(tiny_run: Path, tmp_path: Path) -> None:
    data = (tiny_run / "final.safetensors").read_bytes()
    bad = tmp_path / "trunc.safetensors"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"corrupt|truncated|not a readable"):
        load_checkpoint(bad)


def test_foreign_safetensors_file_is_not_a_robopg_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="not a robopg checkpoint"):
        load_checkpoint(path)


def test_newer_format_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.safetensors"
    meta = {"format": "robopg-checkpoint", "format_version": 99}
    save_file({"w": torch.zeros(2)}, str(path), metadata={"robopg": json.dumps(meta)})
    with pytest.raises(CheckpointError, match="newer"):
        load_checkpoint(path)


class _Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {os.environ['ROBOPG_PWNED']}",))


def test_malicious_pickle_is_refused_without_executing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "pwned"
    monkeypatch.setenv("ROBOPG_PWNED", str(marker))
    for name in ("evil.safetensors", "evil.pt"):
        path = tmp_path / name
        path.write_bytes(pickle.dumps(_Exploit()))
        with pytest.raises(CheckpointError):
            load_checkpoint(path)
        with pytest.raises(CheckpointError):
            Controller.load(path)
    assert not marker.exists()


def test_shape_mismatch_names_the_tensor(tiny_run: Path, tmp_path: Path) -> None:
    ckpt = load_checkpoint(tiny_run / "final.safetensors")
    ckpt.tensors["policy.log_std"] = torch.zeros(5)
    bad = tmp_path / "bad.safetensors"
    save_checkpoint(bad, ckpt)
    with pytest.raises(CheckpointError, match="log_std"):
        Controller.load(bad)


def test_failed_write_keeps_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "ckpt.safetensors"
    atomic_write(target, b"old contents")

    def boom(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write(target, b"new contents that never land")
    assert target.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.safetensors"]  # no temp left


def test_header_is_plain_json(tiny_run: Path) -> None:
    """The format is inspectable without robopg: 8-byte length + JSON header."""
    raw = (tiny_run / "final.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    assert json.loads(header["__metadata__"]["robopg"])["task"] == "reacher"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval", "reacher", "--task", "pusher"], "use a policy trained on 'pusher'"),
        (["eval", "/no/such.safetensors"], "is not a checkpoint file, a run directory"),
    ],
)
def test_eval_errors_are_one_sentence(args: list[str], message: str) -> None:
    from typer.testing import CliRunner

    from robopg.cli import app

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output


def test_resume_refuses_a_checkpoint_whose_spaces_differ(tiny_run: Path, tmp_path: Path) -> None:
    """A checkpoint whose network sizes do not fit the env (e.g. the env's version changed)."""
    from robopg.train.trainer import Trainer, resume_config

    ckpt = load_checkpoint(tiny_run / "checkpoints" / "step_0000001600.safetensors")
    ckpt.meta["net"]["obs_dim"] = 11
    bad = tmp_path / "checkpoints" / "step_0000001600.safetensors"
    save_checkpoint(bad, ckpt)
    cfg = resume_config(bad, {"steps": 2400})
    with pytest.raises(CheckpointError, match="observations of size 11"):
        Trainer(cfg, show_progress=False, resume=bad)


def test_corrupt_json_metadata_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"robopg": "{not json"})
    with pytest.raises(CheckpointError, match="corrupt robopg metadata"):
        load_checkpoint(path)


def test_written_files_get_the_usual_permissions(tmp_path: Path) -> None:
    """Not mkstemp's 0600: other users of a shared run folder can read checkpoints."""
    umask = os.umask(0o022)
    try:
        atomic_write(tmp_path / "c.safetensors", b"x")
    finally:
        os.umask(umask)
    assert (tmp_path / "c.safetensors").stat().st_mode & 0o777 == 0o644
