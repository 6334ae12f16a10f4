"""Exported ONNX, torch.export and TorchScript models compute the Controller's actions (1e-5)."""

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from typer.testing import CliRunner

from robopg.cli import app
from robopg.deploy.controller import Controller
from robopg.runs.checkpoint import load_checkpoint, save_checkpoint


def _observations(ctrl: Controller) -> np.ndarray:
    """Typical and far-out observations, so normaliser clipping and action clipping both act."""
    rng = np.random.default_rng(1)
    obs = ctrl.obs_mean + rng.normal(size=(256, ctrl.obs_dim)) * ctrl.obs_std
    obs[:32] *= 50.0
    return obs


def _saturating_copy(run: Path, out: Path) -> Path:
    """The tiny run's policy with a 300× larger output layer: its actions hit the clip bounds."""
    ckpt = load_checkpoint(run / "final.safetensors")
    for key in ("policy.mean_net.4.weight", "policy.mean_net.4.bias"):
        ckpt.tensors[key] = ckpt.tensors[key] * 300.0
    save_checkpoint(out, ckpt)
    return out


@pytest.mark.parametrize("source", ["saturating", "pusher"])
# torch.jit.load warns that TorchScript is deprecated: the legacy format is what this checks.
@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_every_format_matches_the_controller(tiny_run: Path, tmp_path: Path, source: str) -> None:
    if source == "saturating":
        src = str(_saturating_copy(tiny_run, tmp_path / "big.safetensors"))
    else:
        src = source  # the shipped policy, by task name
    ctrl = Controller.load(src)
    obs = _observations(ctrl)
    obs = obs.astype(np.float32)  # what a deployed model is fed; the controller gets the same
    expected = ctrl.act_batch(obs)
    if source == "saturating":  # the clipping really is part of the exported graph
        assert np.mean(np.abs(expected) == 1.0) > 0.2

    onnx_path, pt2_path, ts_path = tmp_path / "p.onnx", tmp_path / "p.pt2", tmp_path / "p.pt"
    for fmt, path in (("onnx", onnx_path), ("torch.export", pt2_path), ("torchscript", ts_path)):
        result = CliRunner().invoke(app, ["export", src, "--format", fmt, "--out", str(path)])
        assert result.exit_code == 0, result.output
        assert f"({fmt}: obs float32" in " ".join(result.output.split())

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got_onnx = session.run(["action"], {"obs": obs})[0]
    np.testing.assert_allclose(got_onnx, expected, atol=1e-5)
    meta = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}
    assert meta["robopg.task"] == ctrl.task

    module = torch.jit.load(str(ts_path))
    with torch.no_grad():
        got_ts = module(torch.as_tensor(obs, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(got_ts, expected, atol=1e-5)

    program = torch.export.load(str(pt2_path))
    with torch.no_grad():
        got_pt2 = program.module()(torch.as_tensor(obs, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(got_pt2, expected, atol=1e-5)
    with torch.no_grad():  # its batch axis is dynamic too
        got_one = program.module()(torch.as_tensor(obs[:1], dtype=torch.float32)).numpy()
    np.testing.assert_allclose(got_one, expected[:1], atol=1e-5)
    # a different batch size works too (the batch axis is dynamic)
    one = session.run(["action"], {"obs": obs[:1]})[0]
    np.testing.assert_allclose(one, expected[:1], atol=1e-5)


def test_unknown_format_is_a_clear_error() -> None:
    result = CliRunner().invoke(app, ["export", "reacher", "--format", "tflite"])
    assert result.exit_code == 2
    assert "--format must be one of onnx, torch.export, torchscript" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--format", "onnx", "--out", "model.txt"],
            "--out model.txt does not end in .onnx, the extension of --format onnx; "
            "name it model.onnx.",
        ),
        (
            ["--format", "torch.export", "--out", "model.onnx"],
            "--out model.onnx does not end in .pt2, the extension of --format torch.export; "
            "name it model.pt2.",
        ),
        (
            ["--out", "model.txt"],
            "--out model.txt has no model extension robopg knows; end it in one of "
            ".onnx (onnx), .pt2 (torch.export), .pt (torchscript).",
        ),
    ],
)
def test_a_mismatched_extension_is_refused_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["export", "reacher", *args], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert " ".join(result.output.split()) == f"error: {message}"
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_the_format_follows_the_extension(tmp_path: Path) -> None:
    """--out p.pt2 alone writes torch.export; the file loads as an ExportedProgram."""
    out = tmp_path / "p.pt2"
    result = CliRunner().invoke(app, ["export", "reacher", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "(torch.export: obs float32" in " ".join(result.output.split())
    assert isinstance(torch.export.load(str(out)), torch.export.ExportedProgram)
