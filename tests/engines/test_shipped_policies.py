"""Shipped policies: each loads, acts, and scores what its card says (fixed seeds)."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from robopg.cli import app
from robopg.deploy.controller import Controller
from robopg.deploy.evaluate import evaluate_saved_policy, run_episodes, task_report
from robopg.policies import POLICY_DIR, shipped_policy
from robopg.runs.checkpoint import load_checkpoint
from robopg.runs.run_dir import resolve_policy_path

CARDS = sorted(POLICY_DIR.glob("*.json"))


def test_reacher_and_pusher_are_shipped() -> None:
    assert {p.stem for p in CARDS} >= {"reacher", "pusher"}
    for card in CARDS:
        assert shipped_policy(card.stem) == card.with_suffix(".safetensors")
        # small files in the repository: pusher's 128-128 policy and value nets are the
        # largest (≈ 170 KB of float32 weights); an optimiser state would double it
        assert card.with_suffix(".safetensors").stat().st_size < 250_000


@pytest.mark.parametrize("card_path", CARDS, ids=[p.stem for p in CARDS])
def test_eval_return_matches_the_card(card_path: Path) -> None:
    card = json.loads(card_path.read_text())
    ctrl = Controller.load(card["task"], safety=False)  # the shipped file, the bare policy
    assert ctrl.task == card["task"]
    first_seed = int(card["eval"]["seeds"].split("-")[0])
    episodes = card["eval"]["episodes"]
    result = run_episodes(card["task"], ctrl.act_batch, episodes, first_seed, action=ctrl.action)
    assert ctrl.action == card.get("action", "torque")  # the interface it was trained in
    # Same seeds, deterministic actions: equal up to floating-point differences between builds.
    assert result.mean == pytest.approx(card["eval"]["mean"], abs=0.02 * abs(card["eval"]["mean"]))
    assert result.std == pytest.approx(card["eval"]["std"], rel=0.1, abs=0.05)
    if "report" in card["eval"]:  # the success part of the task's report (panda-reach)
        got = task_report(card["task"], result)
        assert got[0].split(" · ")[0] == card["eval"]["report"][0].split(" · ")[0]
    if "randomized" in card["eval"]:  # the same episodes under the card's randomization
        shaken = card["eval"]["randomized"]
        _, _, got_r = evaluate_saved_policy(
            card["task"], episodes, first_seed, randomize=shaken["preset"]
        )
        assert got_r.mean == pytest.approx(shaken["mean"], abs=0.02 * abs(shaken["mean"]))
        line = task_report(card["task"], got_r)[0].split(" · ")[0]
        assert line == shaken["report"][0].split(" · ")[0]
    meta = load_checkpoint(resolve_policy_path(card["task"])).meta
    assert meta["env_steps"] == card["steps"] and meta["config"]["seed"] == card["seed"]


def test_eval_with_a_task_name_uses_the_shipped_policy() -> None:
    result = CliRunner().invoke(app, ["eval", "reacher", "--episodes", "4"])
    assert result.exit_code == 0, result.output
    assert "policies/reacher.safetensors" in result.output.replace("\n", "")
    assert "over 4 episodes, deterministic" in result.output.replace("\n", "")


def test_shipped_policy_cannot_be_resumed() -> None:
    result = CliRunner().invoke(
        app, ["train", "--resume", str(shipped_policy("reacher")), "--quiet"]
    )
    assert result.exit_code == 2
    assert "holds only a policy" in " ".join(result.output.split())
