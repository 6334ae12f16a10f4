"""robopg tune: a tiny study completes, writes a preset `--config` accepts, resumes, is shared by
two processes, stops cleanly on Ctrl-C, and bad input is one sentence."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

optuna = pytest.importorskip("optuna")

from robopg.cli import app  # noqa: E402
from robopg.config import TrainConfig, resolve_config  # noqa: E402
from robopg.errors import ConfigError  # noqa: E402
from robopg.tune import TUNE_HINT, require_optuna  # noqa: E402
from robopg.tune.objective import objective_value  # noqa: E402
from robopg.tune.space import parse_param, sample_overrides  # noqa: E402

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]

# Each trial: 3200 steps in 400-step batches (8 updates, ~1 s), 3 evaluations of 2 episodes.
SPACE = """
steps_per_batch = 400
num_envs = 8
hidden = { choices = [[32, 32], "16,16"] }
value_epochs = { low = 1, high = 3 }
eval_episodes = 2
"""


def tune_args(tmp_path: Path, trials: int, *extra: str) -> list[str]:
    space = tmp_path / "space.toml"
    space.write_text(SPACE)
    return [
        "tune", "reacher", "--trials", str(trials), "--steps", "3200", "--evals", "3",
        "--last", "2", "--space", str(space), "--out", str(tmp_path), *extra,
    ]  # fmt: skip


def load(tmp_path: Path, name: str = "reacher") -> "optuna.Study":
    url = f"sqlite:///{tmp_path / f'tune-{name}' / 'study.db'}"
    return optuna.load_study(study_name=name, storage=url)


def eval_returns(run_dir: Path) -> list[float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["eval/return_mean"] for r in rows if r["eval/return_mean"] is not None]


def test_tiny_study_writes_a_preset_train_accepts_and_resumes(tmp_path: Path) -> None:
    result = runner.invoke(app, tune_args(tmp_path, 3))
    assert result.exit_code == 0, result.output
    folder = tmp_path / "tune-reacher"
    study = load(tmp_path)
    trials = study.trials
    assert len(trials) == 3
    first = [(t.number, t.params, t.state) for t in trials]
    for t in trials:
        run_dir = Path(t.user_attrs["run_dir"])
        assert run_dir.parent == folder / "trials" and run_dir.name == f"trial_{t.number:04d}"
        hidden = [int(h) for h in t.params["hidden"].split(",")]  # a choice like "64,64"
        assert json.loads((run_dir / "config.json").read_text())["hidden"] == hidden
        # no periodic checkpoints: a finished trial keeps its final policy, a pruned one the
        # checkpoint written where it stopped
        saved = list((run_dir / "checkpoints").glob("*.safetensors"))
        if t.state == optuna.trial.TrialState.COMPLETE:
            assert (run_dir / "final.safetensors").is_file() and saved == []
        else:
            assert len(saved) == 1
        if t.state == optuna.trial.TrialState.COMPLETE:
            # The score is the mean of the last 2 evaluations the run itself logged.
            evals = eval_returns(run_dir)
            assert len(evals) == 3
            assert t.value == pytest.approx((evals[-1] + evals[-2]) / 2, abs=1e-12)

    best = study.best_trial
    preset = folder / "best.toml"
    cfg = resolve_config({}, config_file=preset)
    assert cfg.hidden == tuple(int(h) for h in best.params["hidden"].split(","))
    assert cfg.value_epochs == best.params["value_epochs"]
    assert cfg.lr == best.params["lr"] and cfg.steps == 3200 and cfg.num_envs == 8
    for png in ("history.png", "importances.png"):
        assert (folder / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    train = runner.invoke(
        app,
        ["train", "reacher", "--config", str(preset), "--steps", "400", "--quiet",
         "--out", str(tmp_path / "again")],
    )  # fmt: skip
    assert train.exit_code == 0, train.output
    (again,) = (tmp_path / "again").iterdir()
    assert json.loads((again / "config.json").read_text())["lr"] == best.params["lr"]

    changed = runner.invoke(app, tune_args(tmp_path, 5, "--evals", "4"))  # not comparable
    assert changed.exit_code == 2
    assert "Study 'reacher' was run with other settings (evals differ)" in changed.output
    # The same command with a larger budget resumes; --jobs 2 runs the rest in two processes.
    result = runner.invoke(app, tune_args(tmp_path, 5, "--jobs", "2"))
    assert result.exit_code == 0, result.output
    trials = load(tmp_path).trials
    assert len(trials) in (5, 6)  # two workers may both start the last trial
    assert [(t.number, t.params, t.state) for t in trials[:3]] == first
    assert {t.user_attrs["config"]["num_threads"] for t in trials[3:]} == {1}
    assert "study reacher: " in result.output and "best score" in result.output


def test_two_processes_on_one_sqlite_study_both_contribute(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "robopg", *tune_args(tmp_path, 4)]
    procs = [
        subprocess.Popen([*cmd, "--seed", str(seed)], env=env, cwd=tmp_path, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for seed in (0, 1)
    ]  # fmt: skip
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    trials = load(tmp_path).trials
    # Each process checks the shared count before starting a trial; one may start between the
    # other's check and its insert, so the study can overshoot by at most one per extra process.
    assert 4 <= len(trials) <= 5
    workers = {t.user_attrs["worker"] for t in trials}
    assert len(workers) == 2, workers


def test_ctrl_c_stops_cleanly_and_the_same_command_resumes(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = tune_args(tmp_path, 1, "--steps", "24000")  # 60 updates: stopped after the first
    proc = subprocess.Popen(
        [sys.executable, "-m", "robopg", *args], env=env, cwd=tmp_path, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    run_dir = tmp_path / "tune-reacher" / "trials" / "trial_0000"
    deadline = time.monotonic() + 120
    while not (run_dir / "metrics.jsonl").is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, output
    text = " ".join(output.split())
    assert "stopped (rerun the same command to resume)" in text and "Traceback" not in output
    (trial,) = load(tmp_path).trials
    assert trial.state == optuna.trial.TrialState.FAIL and trial.user_attrs["interrupted"]
    assert list((run_dir / "checkpoints").glob("step_*.safetensors"))  # saved on the way out

    result = runner.invoke(app, args)  # the same command; the stopped trial does not count
    assert result.exit_code == 0, result.output
    states = [t.state for t in load(tmp_path).trials]
    assert states[0] == optuna.trial.TrialState.FAIL and len(states) == 2


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ("learning_rate = { low = 1e-4, high = 1e-2 }", "Unknown parameter 'learning_rate'"),
        ("steps = { low = 1000, high = 2000 }", "Unknown parameter 'steps'"),
        ("lr = { low = 1e-2, high = 1e-4 }", "'lr' in"),
        ("hidden = { choices = [] }", "'hidden' in"),
        ("gamma = { low = 0.9 }", "'gamma' in"),
        ("lam = { low = 0.9, high = 1.2 }", "--lam must be in [0, 1], got 1.2."),
    ],
)
def test_bad_space_file_is_one_sentence(tmp_path: Path, space: str, message: str) -> None:
    path = tmp_path / "space.toml"
    path.write_text(space + "\n")
    result = runner.invoke(app, ["tune", "reacher", "--space", str(path), "--out", str(tmp_path)])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert message in text and "Traceback" not in result.output
    assert not (tmp_path / "tune-reacher").exists()  # nothing created before the space is checked


def test_empty_ranges_and_choices_say_so() -> None:
    with pytest.raises(ConfigError, match=r"empty range: low \(0.01\) is above high \(0.0001\)"):
        parse_param("lr", {"low": 1e-2, "high": 1e-4}, "test")
    with pytest.raises(ConfigError, match="empty choice list"):
        parse_param("hidden", {"choices": []}, "test")
    with pytest.raises(ConfigError, match="log range needs low > 0"):
        parse_param("log_std_init", {"low": 0.0, "high": 1.0, "log": True}, "test")
    with pytest.raises(ConfigError, match="must be int"):
        parse_param("value_epochs", {"low": 1, "high": "many"}, "test")


def test_bad_storage_url_is_one_sentence(tmp_path: Path) -> None:
    for url in ("notadb://x", "postgresql+nosuchdriver://h/db", "sqlite:////no/such/dir/x.db"):
        result = runner.invoke(
            app, ["tune", "reacher", "--storage", url, "--out", str(tmp_path), "--trials", "1"]
        )
        assert result.exit_code == 2, result.output
        text = " ".join(result.output.split())
        assert f"Cannot open the study storage '{url}'" in text and "sqlite:///" in text
        assert "Traceback" not in result.output


def test_objective_is_the_mean_of_the_last_k_evaluations() -> None:
    assert objective_value([-40.0, -10.0, -6.0, -4.0], 3) == pytest.approx(-20.0 / 3)
    assert objective_value([-5.0], 3) == -5.0


def test_steps_per_batch_is_rounded_up_to_a_multiple_of_num_envs() -> None:
    space = {p.name: p for p in (parse_param("steps_per_batch", {"choices": [400]}, "t"),
                                 parse_param("num_envs", {"choices": [32]}, "t"))}  # fmt: skip
    trial = optuna.trial.FixedTrial({"steps_per_batch": 400, "num_envs": 32})
    values = sample_overrides(space, trial, TrainConfig())
    assert values == {"steps_per_batch": 416, "num_envs": 32}
    TrainConfig().updated(values, "t").validate()


def test_without_optuna_one_sentence_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ConfigError) as info:
        require_optuna()
    assert str(info.value) == TUNE_HINT == 'robopg tune needs Optuna: pip install "robopg[tune]".'


def test_a_new_study_runs_the_base_config_first_when_it_lies_in_the_space(tmp_path: Path) -> None:
    """Trial 0 of a new study is the base config (the defaults here: hidden 64,64, 5 value
    epochs, lr 3e-3, …) when every searched value lies in the space, marked in the table;
    trial 1 is sampled. The other tests' space has no 64,64, so their studies have no base."""
    space = tmp_path / "space.toml"
    text = SPACE.replace('[[32, 32], "16,16"]', '["64,64", "16,16"]').replace(
        "high = 3", "high = 5"
    )
    args = tune_args(tmp_path, 2)
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "base" not in load(tmp_path).trials[0].user_attrs  # 64,64 is not in SPACE

    space.write_text(text)
    other = tmp_path / "with-base"
    result = runner.invoke(app, [*args[:-4], "--space", str(space), "--out", str(other)])
    assert result.exit_code == 0, result.output
    first, second = load(other).trials
    defaults = TrainConfig()
    assert first.user_attrs["base"] is True and "base" not in second.user_attrs
    assert first.params == {
        "lr": defaults.lr, "lam": defaults.lam, "gamma": defaults.gamma,
        "log_std_init": defaults.log_std_init, "value_epochs": defaults.value_epochs,
        "hidden": "64,64", "activation": defaults.activation,  # sizes as the CLI spells them
    }  # fmt: skip
    assert "0 base" in result.output
