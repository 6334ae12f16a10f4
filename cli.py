"""The robopg command line: train, eval and list arm tasks.

Installed as ``robopg.app.cli`` with the ``robopg`` entry point. Every expected failure is a
RobopgError, printed as one red sentence with exit code 2; anything else is a bug and keeps its
traceback. The ``train`` options are generated from TrainConfig, the single source of defaults.
"""

import dataclasses
import inspect
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from robopg.config import TrainConfig, resolve_config
from robopg.errors import RobopgError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Learn continuous control of MuJoCo arms with Gaussian policies and REINFORCE.",
)
console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Turn RobopgError into one red line and exit code 2 (no traceback)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RobopgError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------- train
_TRAIN_EXTRA = {"env"}  # given positionally


def _train_options() -> list[inspect.Parameter]:
    """One ``--kebab-case`` option per TrainConfig field, defaulting to None ("not given").

    None lets presets and config files supply the value: precedence is resolved in
    ``resolve_config``, and the help shows the real default from the dataclass.
    """
    params = []
    defaults = TrainConfig()
    for f in dataclasses.fields(TrainConfig):
        if f.name in _TRAIN_EXTRA:
            continue
        kind = type(getattr(defaults, f.name))
        flag = "--" + f.name.replace("_", "-")
        decls = [f"{flag}/--no-{flag[2:]}"] if kind is bool else [flag]
        option = typer.Option(
            None,
            *decls,
            help=f"{f.metadata['help']} [default: {getattr(defaults, f.name)}]",
            show_default=False,
        )
        params.append(
            inspect.Parameter(
                f.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=option,
                annotation=kind | None,
            )
        )
    return params


def train(
    env: Annotated[str, typer.Argument(help="Task: reacher, pusher, … or a gymnasium id.")] = "",
    preset: Annotated[
        str | None, typer.Option(help="Shipped preset of tuned settings (see `robopg presets`).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML file of settings (overrides the preset).")
    ] = None,
    resume: Annotated[
        Path | None, typer.Option(help="Continue a run directory or checkpoint exactly.")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No live progress display.")] = False,
    **flags: Any,
) -> None:
    """Train a Gaussian policy with REINFORCE on a task (default: reacher)."""
    from robopg.trainer import Trainer, resume_config

    if resume is not None:
        if preset or config or env:
            raise RobopgError(
                "--resume takes the saved run's settings; drop the task, --preset and --config."
            )
        cfg = resume_config(resume, flags)
    else:
        flags["env"] = env or None
        cfg = resolve_config(flags, preset=preset, config_file=config)
    trainer = Trainer(cfg, console=console, resume=resume, show_progress=not quiet)
    if trainer.dist.is_main:
        _print_start(cfg, trainer)
    result = trainer.train()
    if not trainer.dist.is_main:
        return
    if result.interrupted:
        console.print(
            f"[yellow]Stopped at {result.env_steps:,} steps.[/] Checkpoint: "
            f"{result.final_checkpoint}\nResume with: robopg train --resume {result.run_dir}"
        )
        raise typer.Exit(code=130)
    if result.final_eval is not None:
        console.print(
            f"[bold green]done[/] {result.env_steps:,} steps — final eval "
            f"{result.final_eval.summary()}"
        )
    console.print(f"run directory: {result.run_dir}\ncheckpoint: {result.final_checkpoint}")


def _print_start(cfg: TrainConfig, trainer: Any) -> None:
    where = f"{trainer.device}" + (
        f" × {trainer.dist.world_size} processes" if trainer.dist.active else ""
    )
    console.print(
        f"[bold]robopg train[/] {trainer.task.name} ({trainer.task.gym_id}) on {where}, "
        f"engine {type(trainer.env).__name__}, {trainer.total_updates} updates of "
        f"{trainer.batch_steps:,} steps → {trainer.run_dir or 'new run directory'}",
        highlight=False,
    )
    settings = ", ".join(f"{k}={v}" for k, v in cfg.to_dict().items())
    console.print(f"[dim]{settings}[/]", highlight=False)


train.__signature__ = inspect.signature(train).replace(  # type: ignore[attr-defined]
    parameters=[p for p in inspect.signature(train).parameters.values() if p.kind != p.VAR_KEYWORD]
    + _train_options()
)
app.command()(friendly_errors(train))


# ----------------------------------------------------------------------------------------- eval
@app.command("eval")
@friendly_errors
def eval_cmd(
    source: Annotated[
        str,
        typer.Argument(
            help="Run directory, checkpoint file, or task name (uses the shipped policy)."
        ),
    ],
    episodes: Annotated[int, typer.Option(min=1, help="Episodes to run.")] = 50,
    seed: Annotated[int, typer.Option(help="Seed of the first episode (i-th gets seed+i).")] = 0,
    stochastic: Annotated[bool, typer.Option(help="Sample actions instead of the mean.")] = False,
    engine: Annotated[str, typer.Option(help="auto, batch or gym.")] = "auto",
    task: Annotated[
        str | None, typer.Option(help="Evaluate on this task instead of the trained one.")
    ] = None,
) -> None:
    """Evaluate a saved policy: mean ± std return (deterministic mean action by default)."""
    from robopg.evaluate import evaluate_saved_policy

    path, name, result = evaluate_saved_policy(source, episodes, seed, stochastic, engine, task)
    console.print(f"{name} · {path}\n{result.summary()}", highlight=False)


# --------------------------------------------------------------------------------------- export
@app.command("export")
@friendly_errors
def export_cmd(
    source: Annotated[
        str, typer.Argument(help="Run directory, checkpoint file, or task name (shipped policy).")
    ],
    format: Annotated[str, typer.Option("--format", help="onnx or torchscript.")] = "onnx",
    out: Annotated[
        Path | None, typer.Option(help="Output file [default: <task>.onnx or <task>.pt].")
    ] = None,
) -> None:
    """Export a policy as one self-contained model (normaliser and action clipping included)."""
    from robopg.export import export_policy

    path = export_policy(source, format, out)
    console.print(f"wrote {path} ({format}: obs float32 (batch, obs_dim) → action)")


# ----------------------------------------------------------------------------------------- envs
@app.command()
@friendly_errors
def envs() -> None:
    """List the arm tasks with their sizes and backing engine."""
    from robopg.envs import task_rows

    table = Table(title="robopg tasks")
    rows = task_rows()
    for col in rows[0]:
        table.add_column(col)
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)
    console.print("Any other gymnasium id with a Box action space also works (engine: gym).")


@app.command()
def presets() -> None:
    """List the shipped presets."""
    from robopg.config import preset_names

    for name in preset_names():
        console.print(name)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="robopg")


if __name__ == "__main__":
    main()
